"""inferstream.apps: the fraud detector, the recommender and example streamlets — users of the layers
below, each in its own package or module (nothing is exported from here)."""

__all__: list[str] = []
