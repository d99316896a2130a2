"""The recommender: a matrix-factorisation model over synthetic interactions, its ingress and blueprints."""

__all__: list[str] = []  # the modules are the API
