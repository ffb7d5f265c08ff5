"""Answering one stored turn: read the pending turn, route it (the router holds only the handlers' order),
store the reply, hand its parts to delivery."""
