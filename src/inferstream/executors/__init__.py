"""inferstream.executors."""
