"""inferstream.protos."""
