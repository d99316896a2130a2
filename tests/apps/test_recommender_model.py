"""The recommender model and its ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from inferstream.apps.recommender.model import synthetic_interactions, train_and_save, train_recommender


def test_onnx_scores_equal_factor_products(tmp_path: Path) -> None:
    path = train_and_save(tmp_path, users=50, products=40)
    assert path == tmp_path / "recommender" / "1" / "model.onnx"
    model = train_recommender(synthetic_interactions(50, 40))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    users = np.full((7, 1), 3, np.float32)
    products = np.arange(7, dtype=np.float32).reshape(7, 1)
    (scores,) = session.run(None, {"users": users, "products": products})
    assert scores.shape == (7, 1)
    np.testing.assert_allclose(scores, model.scores(users.astype(int), products.astype(int)), rtol=1e-5)


def test_factorisation_ranks_seen_items_above_unseen() -> None:
    interactions = synthetic_interactions(200, 150, seed=1)
    model = train_recommender(interactions, seed=1)
    users, products = np.indices(interactions.shape)
    scores = model.scores(users, products)
    assert scores[interactions > 0].mean() > 2 * scores[interactions == 0].mean()


def test_unknown_ids_fail_the_call(tmp_path: Path) -> None:
    session = ort.InferenceSession(str(train_and_save(tmp_path, 10, 10)), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="out of data bounds"):
        session.run(None, {"users": np.array([[1]], np.float32), "products": np.array([[10]], np.float32)})
