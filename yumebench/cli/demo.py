"""``yumebench demo``: the whole toolkit end to end on embedded sample scenes (no downloads, no GPU)."""

from __future__ import annotations

from yumebench.cli._common import not_built


def demo() -> None:
    """Run the main job end to end on embedded sample scenes: build, generate, score, rank.

    Example: yumebench demo --out yumebench-demo
    """
    not_built("yumebench demo", 10)
