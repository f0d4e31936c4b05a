"""What every Yume-Bench dimension is: a thin class over a pure functional core, registered by name.

A dimension declares what it needs (``Requirements``); the runner decodes each video once and hands
the frames (uint8 RGB, (T, H, W, 3); grey (T, H, W) where every dimension it scores says
``luma_only``) and the spec item to every dimension. ``score_video`` returns the
per-video entry (``{"video_results": float, ...}``); ``aggregate`` turns entries into the dimension
score (the mean over videos unless a dimension says otherwise).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class WeightFile:
    """One file a dimension loads: where it is looked for and where it comes from."""

    name: str  # folder or file name under --weights (hub ids with "/" written as "--")
    source: str  # hub id or URL it comes from


@dataclass(frozen=True)
class Requirements:
    frame_size: str = "native"  # how the dimension resizes frames itself, for documentation
    weights: tuple[WeightFile, ...] = ()
    devices: tuple[str, ...] = ("cpu",)
    uses_segments: bool = False  # needs the spec's commanded segments
    luma_only: bool = False  # scores grey levels alone: the runner may decode just the luma (T, H, W)


class Dimension:
    """Base class. Subclasses set ``name``, ``version``, ``higher_is_better``, ``requirements``."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    higher_is_better: ClassVar[bool] = True
    requirements: ClassVar[Requirements] = Requirements()
    cpu_batch_limit: ClassVar[int | None] = None  # networks that run faster unbatched on a CPU say so

    def __init__(self, device: str = "cpu", batch_size: int = 16, weights_dir: str | None = None) -> None:
        self.device = device
        self.batch_size = batch_size
        self.weights_dir = weights_dir
        self.checksums: dict[str, str] = {}  # file name -> sha256 of every weight file loaded

    @property
    def effective_batch_size(self) -> int:
        if self.device == "cpu" and self.cpu_batch_limit is not None:
            return min(self.batch_size, self.cpu_batch_limit)
        return self.batch_size

    def config(self) -> dict[str, Any]:
        """Settings that change scores; part of the resume key and of the results' meta."""
        return {}

    def weight_checksums(self) -> dict[str, str]:
        return self.checksums

    def score_video(self, frames: np.ndarray, item: dict) -> dict:
        return self.score_videos([(frames, item)])[0]

    def score_videos(self, videos: Sequence[tuple[np.ndarray, dict]]) -> list[dict]:
        """Several decoded videos at once (backbones fill their batches across videos); one entry each.
        A dimension overrides ``score_video`` or this."""
        if type(self).score_video is Dimension.score_video:
            raise NotImplementedError(f"{type(self).__name__} implements neither score_video nor score_videos")
        return [self.score_video(frames, item) for frames, item in videos]

    def aggregate(self, entries: Sequence[dict]) -> float:
        values = [e["video_results"] for e in entries if e.get("video_results") is not None]
        return float(np.mean(values)) if values else float("nan")

    def summary(self, entries: Sequence[dict]) -> dict:
        """Extra dimension-level numbers for the results' meta (e.g. per-class accuracy)."""
        return {}


class MissingWeights(RuntimeError):
    """A dimension's weights are absent: it is reported as skipped, never scored."""


@dataclass
class _Entry:
    target: str  # "module:Class", imported on first use so heavy backbones load only when asked for
    higher_is_better: bool
    description: str


@dataclass
class Registry:
    entries: dict[str, _Entry] = field(default_factory=dict)

    def register(self, name: str, target: str, higher_is_better: bool = True, description: str = "") -> None:
        if name in self.entries:
            raise ValueError(f"dimension {name!r} is registered twice")
        self.entries[name] = _Entry(target, higher_is_better, description)

    def names(self) -> list[str]:
        return list(self.entries)

    def get(self, name: str) -> type[Dimension]:
        if name not in self.entries:
            import difflib

            close = difflib.get_close_matches(name, self.entries, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(self.entries)}"
            raise KeyError(f"unknown dimension {name!r}{hint}")
        module, _, cls = self.entries[name].target.partition(":")
        return getattr(importlib.import_module(module), cls)

    def build(self, name: str, **kwargs: Any) -> Dimension:
        return self.get(name)(**kwargs)


DIMENSIONS = Registry()
