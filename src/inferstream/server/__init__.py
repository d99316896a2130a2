"""inferstream.server."""
