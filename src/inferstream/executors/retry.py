"""Exponential backoff with jitter, so retrying clients spread out instead of hammering in step."""

from __future__ import annotations

import random
from dataclasses import dataclass

_RNG = random.Random()


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``n`` (0-based): half fixed, half random, doubling up to ``maximum``."""

    initial: float = 0.05
    maximum: float = 2.0

    def delay(self, attempt: int, rng: random.Random = _RNG) -> float:
        ceiling = min(self.maximum, self.initial * (2.0**attempt))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)
