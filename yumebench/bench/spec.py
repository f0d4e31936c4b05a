"""Benchmark specs: JSONL, one item per line.

``{"id": str, "video": path relative to --videos, "prompt": str, "image": optional path,
"segments": [{"start": 0, "end": 32, "keys": "W+A", "mouse": "·"}, ...], "fov_deg": optional}``;
segments are frame ranges [start, end) of the generated video with the commanded action; ``fov_deg``
is the video's horizontal field of view in degrees where it is known (instruction following then
measures at it instead of self-calibrating).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from yumebench.actions import Action, ActionError, parse_keys, parse_mouse
from yumebench.files import read_text


class SpecError(ValueError):
    """The spec as a whole cannot be used (missing, empty, not JSONL)."""


@dataclass
class SpecItem:
    id: str
    video: str
    prompt: str = ""
    image: str | None = None
    segments: list[dict] = field(default_factory=list)
    fov_deg: float | None = None  # the video's horizontal field of view, where known

    def to_dict(self) -> dict:
        # fov_deg only where given: the results cache keys on this dict, and older items keep their keys
        known = {} if self.fov_deg is None else {"fov_deg": self.fov_deg}
        return {
            "id": self.id,
            "video": self.video,
            "prompt": self.prompt,
            "image": self.image,
            "segments": self.segments,
            **known,
        }


def parse_item(raw: object) -> SpecItem:
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    for key in ("id", "video"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"missing '{key}'")
    segments = raw.get("segments", [])
    if not isinstance(segments, list):
        raise ValueError("'segments' is not a list")
    clean = []
    for i, seg in enumerate(segments):
        if not isinstance(seg, dict) or not all(k in seg for k in ("start", "end", "keys", "mouse")):
            raise ValueError(f"segment {i}: needs start, end, keys, mouse")
        try:
            start, end = int(seg["start"]), int(seg["end"])
        except (TypeError, ValueError):
            raise ValueError(f"segment {i}: start/end are not integers") from None
        if not 0 <= start < end:
            raise ValueError(f"segment {i}: empty or negative frame range [{start}, {end})")
        if end - start < 2:
            raise ValueError(f"segment {i}: needs at least 2 frames")
        try:
            action = Action(parse_keys(str(seg["keys"])), parse_mouse(str(seg["mouse"])))
        except ActionError as e:
            raise ValueError(f"segment {i}: {e}") from None
        clean.append({"start": start, "end": end, "keys": action.keys, "mouse": action.mouse})
    return SpecItem(
        id=raw["id"],
        video=raw["video"],
        prompt=str(raw.get("prompt") or ""),
        image=raw.get("image"),
        segments=clean,
        fov_deg=parse_fov(raw.get("fov_deg")),
    )


def parse_fov(value: object) -> float | None:
    """A horizontal field of view in degrees, strictly between 0 and 180, or None where not given."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"'fov_deg' {value!r} is not a number")
    if not 0 < value < 180:
        raise ValueError(f"'fov_deg' {value!r}: a horizontal field of view is between 0 and 180 degrees")
    return float(value)


def read_spec(path: str | Path) -> tuple[list[SpecItem], list[dict]]:
    """Items and per-line errors ``{"id", "video", "error"}``; raises ``SpecError`` if nothing is usable."""
    path = Path(path)
    lines = read_text(path, "spec file", SpecError, missing="spec not found").splitlines()
    items, errors, seen = [], [], set()
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            errors.append({"id": f"line {n}", "video": None, "error": f"{path}:{n}: malformed JSON ({e.msg})"})
            continue
        ident = raw.get("id") if isinstance(raw, dict) else None
        try:
            item = parse_item(raw)
        except ValueError as e:
            errors.append({"id": ident or f"line {n}", "video": None, "error": f"{path}:{n}: {e}"})
            continue
        if item.id in seen:
            errors.append({"id": item.id, "video": item.video, "error": f"{path}:{n}: duplicate id {item.id!r}"})
            continue
        seen.add(item.id)
        items.append(item)
    if not items and not errors:
        raise SpecError(f"{path}: empty spec (no items)")
    return items, errors


def write_spec(items: list[dict], path: str | Path) -> None:
    from yumebench.files import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
