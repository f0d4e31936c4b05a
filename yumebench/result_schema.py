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
import math
from pathlib import Path
from typing import Any, TypedDict

from yumebench.files import read_text

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


def _refuse_constant(token: str) -> float:
    raise ValueError(f"non-finite number {token}")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a yumebench or VBench results file; VBench files get a minimal ``meta``.

    Refused with ``ResultsError`` naming the file: anything that is not a JSON object of
    ``[score, [entries]]`` pairs, a score that is not a finite number or null (NaN, Infinity, a string,
    true), and a ``meta`` that is not an object. A gate that compares scores must never see a NaN.
    """
    path = Path(path)
    text = read_text(path, "results file", ResultsError)
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not a JSON results file ({e.msg} at line {e.lineno})") from None
    except ValueError as e:
        raise ResultsError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object of dimensions")
    dims = {k: v for k, v in data.items() if k != "meta"}
    for name, value in dims.items():
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], list)):
            raise ResultsError(f"{path}: dimension {name!r} is not [score, [per-video entries]]")
        score = value[0]
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
            raise ResultsError(f"{path}: dimension {name!r} has score {score!r}; expected a number or null")
        if score is not None and not math.isfinite(score):
            raise ResultsError(f"{path}: dimension {name!r} has a non-finite score")
    if "meta" not in data:
        data["meta"] = {"schema_version": SCHEMA_VERSION, "source": "vbench", "dimensions": list(dims)}
    elif not isinstance(data["meta"], dict):
        raise ResultsError(f"{path}: 'meta' is {type(data['meta']).__name__}; expected an object")
    return data


def dimension_scores(results: dict[str, Any]) -> dict[str, float]:
    return {k: float(v[0]) for k, v in results.items() if k != "meta" and v[0] is not None}


def finite_or_none(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become null (JSON has no NaN; Python writes a token others
    reject)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value
