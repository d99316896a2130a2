"""Command-line interface (typer): thin, parses arguments and calls the layers below."""

__all__: list[str] = []  # the modules are the API
