"""inferstream.observability."""
