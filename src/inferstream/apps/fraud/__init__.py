"""The fraud detector: card data, the autoencoder's training and export, streamlets and blueprints."""

__all__: list[str] = []  # the modules are the API
