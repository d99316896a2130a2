"""inferstream.apps."""
