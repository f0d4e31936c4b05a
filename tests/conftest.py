"""Shared fixtures: synthetic scenes with known camera paths (``yumebench.synthetic``)."""

from __future__ import annotations

import numpy as np
import pytest

from yumebench.actions import Action
from yumebench.synthetic import SceneConfig, write_sample


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def random_c2w(rng: np.random.Generator) -> np.ndarray:
    """A random rigid pose, so tests never rely on starting at the identity."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = rng.normal(size=3) * 3
    return out


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory):
    """A rendered 64x96 clip: 40 frames of W+A/→ then 40 of S/·, with poses and a caption."""
    out = tmp_path_factory.mktemp("sample")
    return write_sample(
        out,
        "walk",
        [(Action("W+A", "→"), 40), (Action("S", "·"), 40)],
        SceneConfig(width=96, height=64, seed=3, num_boxes=6),
    )
