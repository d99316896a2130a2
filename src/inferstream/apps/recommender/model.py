"""A small recommender trained here: non-negative matrix factorisation of synthetic user × product
interactions (scikit-learn NMF), exported to ONNX with the original's signature:
``users`` [n, 1] float and ``products`` [n, 1] float → ``predictions`` [n, 1], one score per product.

The interactions are SYNTHETIC (users and products drawn from a few hidden tastes); the model is a
stand-in with the original's interface, not a recommender for real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.decomposition import NMF

from inferstream.apps.common.model_folders import new_version_dir

OPSET = 18


@dataclass(frozen=True)
class RecommenderModel:
    """User factors [users, k] and product factors [products, k]; a score is their dot product."""

    user_factors: npt.NDArray[np.float32]
    product_factors: npt.NDArray[np.float32]

    @property
    def users(self) -> int:
        return int(self.user_factors.shape[0])

    @property
    def products(self) -> int:
        return int(self.product_factors.shape[0])

    def scores(
        self, users: npt.NDArray[np.integer], products: npt.NDArray[np.integer]
    ) -> npt.NDArray[np.float32]:
        return np.asarray(
            np.sum(self.user_factors[users] * self.product_factors[products], axis=-1), np.float32
        )


def synthetic_interactions(
    users: int = 1000, products: int = 1000, tastes: int = 8, density: float = 0.05, seed: int = 0
) -> npt.NDArray[np.float32]:
    """A [users, products] matrix of implicit feedback (0 or a 1–5 rating) from hidden tastes."""
    rng = np.random.default_rng(seed)
    affinity = rng.gamma(0.5, 1.0, size=(users, tastes)) @ rng.gamma(0.5, 1.0, size=(tastes, products))
    seen = rng.random((users, products)) < density * affinity / affinity.mean()
    ratings = np.clip(np.round(1 + 4 * affinity / np.quantile(affinity, 0.99)), 1, 5)
    return np.where(seen, ratings, 0.0).astype(np.float32)


def train_recommender(
    interactions: npt.NDArray[np.float32], factors: int = 8, seed: int = 0
) -> RecommenderModel:
    nmf = NMF(n_components=factors, init="nndsvda", max_iter=300, random_state=seed)
    user_factors = nmf.fit_transform(interactions)
    return RecommenderModel(user_factors.astype(np.float32), nmf.components_.T.astype(np.float32))


def to_onnx(model: RecommenderModel) -> onnx.ModelProto:
    """Gather both factor rows by id, multiply, sum over factors; ids outside the tables fail the call."""
    n = helper.make_node
    nodes = [
        n("Cast", ["users"], ["user_ids"], to=TensorProto.INT64),
        n("Cast", ["products"], ["product_ids"], to=TensorProto.INT64),
        n("Gather", ["user_factors", "user_ids"], ["user_rows"], axis=0),  # [n, 1, k]
        n("Gather", ["product_factors", "product_ids"], ["product_rows"], axis=0),
        n("Mul", ["user_rows", "product_rows"], ["products_of_factors"]),
        n("ReduceSum", ["products_of_factors", "factor_axis"], ["predictions"], keepdims=0),  # [n, 1]
    ]
    graph = helper.make_graph(
        nodes,
        "recommender",
        [
            helper.make_tensor_value_info("users", TensorProto.FLOAT, [None, 1]),
            helper.make_tensor_value_info("products", TensorProto.FLOAT, [None, 1]),
        ],
        [helper.make_tensor_value_info("predictions", TensorProto.FLOAT, [None, 1])],
        initializer=[
            numpy_helper.from_array(model.user_factors, "user_factors"),
            numpy_helper.from_array(model.product_factors, "product_factors"),
            numpy_helper.from_array(np.array([2], np.int64), "factor_axis"),
        ],
    )
    result = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="inferstream"
    )
    helper.set_model_props(result, {"users": str(model.users), "products": str(model.products)})
    onnx.checker.check_model(result, full_check=True)
    return result


def train_and_save(models_dir: Path, users: int = 1000, products: int = 1000, seed: int = 0) -> Path:
    """Train on synthetic interactions and write ``<models_dir>/recommender/<next version>/model.onnx``."""
    model = train_recommender(synthetic_interactions(users, products, seed=seed), seed=seed)
    path = new_version_dir(models_dir / "recommender") / "model.onnx"
    onnx.save_model(to_onnx(model), path)
    return path
