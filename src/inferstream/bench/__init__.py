"""The performance harness behind ``inferstream bench``: modes, processes, measurements, charts."""
