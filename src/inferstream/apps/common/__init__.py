"""Parts the fraud and recommender apps share: model folders, egresses."""

__all__: list[str] = []  # the modules are the API
