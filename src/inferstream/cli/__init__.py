"""Command-line interface (typer): thin, parses arguments and calls the layers below."""
