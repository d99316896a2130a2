"""Tests of the model-serving streamlet (a package: helpers are imported relatively)."""
