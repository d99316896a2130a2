"""inferstream.transports."""
