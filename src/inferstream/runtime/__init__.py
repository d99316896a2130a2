"""inferstream.runtime."""
