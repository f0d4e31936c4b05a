"""Regression checks for CI: compare a run with a stored baseline; never a silent pass.

Exit codes of ``yumebench leaderboard check``: 0 no dimension dropped more than allowed; 1 at least one
regression (with a table); 2 bad input (unreadable or malformed file, missing dimension, different spec,
a NaN or infinite score or allowance anywhere: a gate must never pass on a number it cannot compare).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from yumebench.result_schema import ResultsError, dimension_scores, load_results


class CheckInputError(ValueError):
    """The two files cannot be compared; exit code 2."""


@dataclass
class CheckRow:
    dimension: str
    baseline: float
    candidate: float
    allowed_drop: float

    @property
    def drop(self) -> float:
        return self.baseline - self.candidate

    @property
    def regressed(self) -> bool:
        return self.drop > self.allowed_drop + 1e-12


@dataclass
class CheckReport:
    rows: list[CheckRow] = field(default_factory=list)

    @property
    def regressions(self) -> list[CheckRow]:
        return [r for r in self.rows if r.regressed]

    def table(self) -> str:
        lines = [f"{'dimension':<24} {'baseline':>9} {'candidate':>9} {'drop':>8} {'allowed':>8}  status"]
        for r in self.rows:
            status = "REGRESSED" if r.regressed else "ok"
            lines.append(
                f"{r.dimension:<24} {r.baseline:9.4f} {r.candidate:9.4f} {r.drop:8.4f} {r.allowed_drop:8.4f}  {status}"
            )
        return "\n".join(lines)


def check(
    results_path: str | Path,
    baseline_path: str | Path,
    max_drop: float = 0.01,
    max_drop_dim: dict[str, float] | None = None,
) -> CheckReport:
    try:
        results, baseline = load_results(results_path), load_results(baseline_path)
    except ResultsError as e:
        raise CheckInputError(str(e)) from None
    cand, base = dimension_scores(results), dimension_scores(baseline)
    if not base:
        raise CheckInputError(f"{baseline_path}: baseline has no scored dimension")
    missing = [d for d in base if d not in cand]
    if missing:
        raise CheckInputError(f"{results_path}: missing dimensions the baseline has: {', '.join(missing)}")
    a, b = results["meta"].get("spec_sha256"), baseline["meta"].get("spec_sha256")
    if a and b and a != b:
        raise CheckInputError(f"{results_path}: scored on a different spec than {baseline_path} (spec_sha256 differs)")
    limits = max_drop_dim or {}
    for name, allowed in {"--max-drop": max_drop, **{f"--max-drop-dim {d}": v for d, v in limits.items()}}.items():
        if not math.isfinite(allowed) or allowed < 0:
            raise CheckInputError(f"{name} {allowed}: the allowed drop must be a finite number >= 0")
    unknown = [d for d in limits if d not in base]
    if unknown:
        raise CheckInputError(f"--max-drop-dim names dimensions the baseline lacks: {', '.join(unknown)}")
    report = CheckReport()
    for dim, value in base.items():
        report.rows.append(CheckRow(dim, value, cand[dim], limits.get(dim, max_drop)))
    return report
