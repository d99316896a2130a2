"""The performance harness behind ``inferstream bench``: modes, processes, measurements, charts."""

__all__: list[str] = []  # the modules are the API
