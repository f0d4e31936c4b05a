"""The one results schema of ``yumebench bench run`` (VBench-compatible, plus ``meta``).

``leaderboards/`` reads only this. VBench's own result files (no ``meta``) load too.

Layout::

    {
      "<dimension>": [score, [{"video_path": str, "video_results": float, ...}, ...]],  # as VBench writes it
      ...,
      "meta": Meta,
    }
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

SCHEMA_VERSION = "1.0"


class Meta(TypedDict, total=False):
    schema_version: str  # SCHEMA_VERSION of the writer
    toolkit_version: str  # yumebench.__version__
    source: str  # "yumebench" or "vbench" (imported)
    suite: str | None  # suite name from the spec, when it came from one
    spec: str  # path of the spec file
    spec_sha256: str  # checksum of the spec file: results of different specs do not compare
    dimensions: list[str]  # scored dimensions, in order
    skipped: dict[str, str]  # dimension -> why it was not scored (e.g. missing weights)
    device: str
    dtype: str
    seed: int
    n_samples: dict[str, int]  # {"original": items in the spec, "effective": items scored}
    failed: list[dict]  # [{"id", "video", "error"}] items that could not be scored
    seconds_per_dimension: dict[str, float]  # wall time spent in each dimension
    dimension_versions: dict[str, str]
    dimension_config: dict[str, dict]
    weights: dict[str, dict[str, str]]  # dimension -> file -> sha256
    summary: dict[str, dict]  # dimension -> extra numbers (e.g. IF per-class accuracy)
    date: str  # ISO 8601, UTC


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file."""


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a yumebench or VBench results file; VBench files get a minimal ``meta``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ResultsError(f"{path}: not a JSON results file ({e})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object of dimensions")
    dims = {k: v for k, v in data.items() if k != "meta"}
    for name, value in dims.items():
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], list)):
            raise ResultsError(f"{path}: dimension {name!r} is not [score, [per-video entries]]")
    if "meta" not in data:
        data["meta"] = {"schema_version": SCHEMA_VERSION, "source": "vbench", "dimensions": list(dims)}
    return data


def dimension_scores(results: dict[str, Any]) -> dict[str, float]:
    return {k: float(v[0]) for k, v in results.items() if k != "meta" and v[0] is not None}
