"""Random streams: every random draw of the simulator comes from ``SeedSequence(seed, spawn_key=...)``.

Keys are fixed tuples, so streams are independent of each other and of call order: rendering a date with
or without formations, or rendering dates in another order, draws exactly the same clouds and noise.
"""

from __future__ import annotations

import numpy as np

GROUND = (0,)
"""Key of the static ground (class map, texture)."""

SCENARIO = (1,)
"""Key of the timeline (which dates have formations and clouds, counts, acquisition seconds)."""

DATE = 2
"""First element of per-date keys ``(DATE, date_index, stream)``."""

FORMATION, CLOUDS, ILLUMINATION, NOISE, REGISTRATION = range(5)
"""Per-date streams. A persistent vehicle park uses ``(DATE, first_index, FORMATION)`` for its layout."""


def rng_for(seed: int, key: tuple[int, ...]) -> np.random.Generator:
    """A generator for one stream: ``default_rng(SeedSequence(seed, spawn_key=key))``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def date_rng(seed: int, date_index: int, stream: int) -> np.random.Generator:
    """The generator of one per-date stream (``stream`` is one of FORMATION ... REGISTRATION)."""
    return rng_for(seed, (DATE, date_index, stream))
