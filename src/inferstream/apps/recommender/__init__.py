"""The recommender: a matrix-factorisation model over synthetic interactions, its ingress and blueprints."""
