"""The kernel's own hook implementations, registered like any addon (datasette's
DEFAULT_PLUGINS): pricing from price lists, cash and card payments, kernel permissions."""
