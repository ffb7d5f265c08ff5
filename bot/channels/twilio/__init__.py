"""Twilio's WhatsApp channel: the inbound form as an `InboundTurn` (`inbound`), messages sent through the REST
API (`sender`) over a lean kept-alive transport (`transport`)."""
