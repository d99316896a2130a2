"""Small helpers of the batch fast paths: grouping equal keys, coding values, bounded caches."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro.stacked import Int64Array

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A dict that empties itself when full: layouts of a stream are few, so this rarely fires."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


def split_by(keys: npt.NDArray[Any]) -> list[Int64Array]:
    """Positions of equal keys (rows of a [k, n] matrix or entries of a vector), first-seen order."""
    n = keys.shape[-1]
    if n == 0:
        return []
    if (keys == keys[..., :1]).all():
        return [np.arange(n, dtype=np.int64)]
    _, first, inverse = np.unique(keys, axis=-1, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    parts = np.split(order.astype(np.int64), bounds)
    return [parts[k] for k in np.argsort(first, kind="stable")]


def codes(values: Sequence[Any]) -> Int64Array:
    """Equal values get equal codes (by identity first, so hashing runs once per distinct object)."""
    if not values or values.count(values[0]) == len(values):  # one shared value: a C-speed check
        return np.zeros(len(values), dtype=np.int64)
    by_id: dict[int, int] = {}
    by_value: dict[Any, int] = {}
    for v in values:
        if id(v) not in by_id:
            key = freeze(v)
            by_id[id(v)] = by_value.setdefault(key, len(by_value))
    return np.fromiter((by_id[id(v)] for v in values), dtype=np.int64, count=len(values))


def freeze(v: Any) -> Hashable:
    return tuple(v.items()) if isinstance(v, Mapping) else v
