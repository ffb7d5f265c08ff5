"""The router's handlers, one module per family."""
