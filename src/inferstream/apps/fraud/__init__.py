"""The fraud detector: card data, the autoencoder's training and export, streamlets and blueprints."""
