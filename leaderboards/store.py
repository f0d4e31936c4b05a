"""A leaderboard: published rows (with provenance) plus measured runs, rendered to Markdown, a
self-contained HTML page and PNG charts.

Store format (``--store``, JSON, versioned)::

    {"schema_version": "1.0", "rows": [{"name", "group", "if_method", "scores": {dim: float},
      "time_s"?, "paper"?, "table"?, "row"?, "clip_index"?, "model_info"?, "results"?, "meta"?}]}
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from leaderboards import DIMENSION_LABELS
from yumebench.files import atomic_write, atomic_write_text, sweep_stale_temporaries
from yumebench.html import sortable_page
from yumebench.result_schema import dimension_scores, load_results

STORE_VERSION = "1.0"


class LeaderboardError(ValueError):
    """A store or results file that cannot be used; the message names the file."""


def published_rows() -> list[dict]:
    data = json.loads(resources.files("leaderboards.data").joinpath("published.json").read_text(encoding="utf-8"))
    return data["rows"]


@dataclass
class Leaderboard:
    rows: list[dict] = field(default_factory=list)

    @classmethod
    def with_published(cls) -> Leaderboard:
        return cls(rows=published_rows())

    @classmethod
    def load(cls, path: str | Path) -> Leaderboard:
        path = Path(path)
        if not path.exists():
            return cls.with_published()
        sweep_stale_temporaries(path.parent)
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
        except IsADirectoryError:
            raise LeaderboardError(f"{path}: is a folder, not a leaderboard store") from None
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as e:
            raise LeaderboardError(f"{path}: not a leaderboard store ({e})".splitlines()[0]) from None
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
            raise LeaderboardError(f"{path}: not a leaderboard store (no list of rows)")
        if str(data.get("schema_version", "")).split(".")[0] != STORE_VERSION.split(".")[0]:
            raise LeaderboardError(f"{path}: store version {data.get('schema_version')} is not {STORE_VERSION}")
        for i, row in enumerate(data["rows"]):
            scores = row.get("scores") if isinstance(row, dict) else None
            if not isinstance(scores, dict) or not all(_finite(v) for v in scores.values()):
                raise LeaderboardError(f"{path}: row {i} has scores that are not finite numbers")
        return cls(rows=data["rows"])

    def save(self, path: str | Path) -> None:
        payload = {"schema_version": STORE_VERSION, "rows": self.rows}
        # allow_nan=False: Python would otherwise write NaN / Infinity tokens that JSON readers reject
        atomic_write_text(path, json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n")

    def add_results(self, results_path: str | Path, name: str, model_info: dict | None = None) -> dict:
        """Add (or replace, by name) a measured run from a ``bench run`` or VBench results file."""
        try:
            results = load_results(results_path)
        except ValueError as e:
            raise LeaderboardError(str(e)) from None
        meta = results["meta"]
        scores = dimension_scores(results)
        row = {
            "name": name,
            "group": "measured",
            "if_method": _if_method(scores, meta),
            "scores": scores,
            "model_info": model_info or {},
            "results": str(results_path),
            "meta": {k: meta.get(k) for k in ("toolkit_version", "spec_sha256", "n_samples", "date", "source")},
        }
        self.rows = [r for r in self.rows if r["name"] != name] + [row]
        return row

    def dimensions(self) -> list[str]:
        seen = [d for d in DIMENSION_LABELS if any(d in r["scores"] for r in self.rows)]
        extra = sorted({d for r in self.rows for d in r["scores"]} - set(seen))
        return seen + extra

    # ------------------------------------------------------------------------------------------------
    # Rendering

    def columns(self) -> list[tuple[str, str, str | None]]:
        """(label, dimension, IF kind or None) of every score column. Instruction following judged by
        people (the papers) and computed by yumebench are different measurements: separate columns."""
        out = []
        for dim in self.dimensions():
            if dim != "instruction_following":
                out.append((DIMENSION_LABELS.get(dim, dim), dim, None))
                continue
            for kind, label in IF_KINDS.items():
                if any(r.get("if_method") == kind and dim in r["scores"] for r in self.rows):
                    out.append((label, dim, kind))
        return out

    def _cells(self, row: dict) -> list[str]:
        scores = [
            _fmt(row["scores"].get(dim)) if kind is None or row.get("if_method") == kind else ""
            for _, dim, kind in self.columns()
        ]
        return [row["name"], row.get("group", ""), _fmt(row.get("time_s")), *scores, _provenance(row)]

    def _head(self) -> list[str]:
        return ["model", "group", "time (s)", *[label for label, _, _ in self.columns()], "source"]

    def to_markdown(self) -> str:
        head = self._head()
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(self._cells(r)) + " |" for r in self.rows]
        return "# Yume-Bench leaderboard\n\n" + "\n".join(lines) + f"\n\n{LEGEND}\n"

    def to_html(self) -> str:
        body = [
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in self._cells(r)) + "</tr>" for r in self.rows
        ]
        intro = f"<p>{html.escape(LEGEND)} Click a column to sort.</p>"
        css = "tr:nth-child(even){background:#f8fafc}"
        return sortable_page("Yume-Bench leaderboard", intro, self._head(), body, css)

    def render(self, out_dir: str | Path) -> dict[str, Path]:
        out = Path(out_dir)
        paths = {"markdown": out / "leaderboard.md", "html": out / "index.html"}
        atomic_write_text(paths["markdown"], self.to_markdown())
        atomic_write_text(paths["html"], self.to_html())
        paths.update(self._charts(out))
        return paths

    def _charts(self, out: Path) -> dict[str, Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        made = {}
        for label, dim, kind in self.columns():
            rows = [
                r
                for r in self.rows
                if dim in r["scores"] and "clip_index" not in r and (kind is None or r.get("if_method") == kind)
            ]
            if not rows:
                continue
            fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(rows) + 1.5), 3.2), dpi=100)
            colors = ["#9aa5b1" if r.get("group") != "measured" else "#3b7dd8" for r in rows]
            ax.bar(range(len(rows)), [r["scores"][dim] for r in rows], color=colors)
            ax.set_xticks(range(len(rows)), [r["name"] for r in rows], rotation=35, ha="right", fontsize=7)
            ax.set_title(f"{label} ({dim})", fontsize=9)
            fig.tight_layout()
            name = dim if kind in (None, "computed") else f"{dim}_{kind}"
            path = out / f"{name}.png"
            _save_figure(fig, path)
            made[name] = path
        long_rows = [r for r in self.rows if "clip_index" in r]
        if long_rows:
            fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
            for r in long_rows:
                for dim, value in r["scores"].items():
                    ax.scatter([r["clip_index"]], [value], label=f"{r['name']}: {DIMENSION_LABELS.get(dim, dim)}")
            ax.set_xlabel("clip index")
            ax.set_ylabel("score")
            ax.legend(fontsize=6)
            fig.tight_layout()
            path = out / "long_video.png"
            _save_figure(fig, path)
            made["long_video"] = path
        return made


def _if_method(scores: dict, meta: dict) -> str:
    """How a measured row's IF was obtained: computed here, imported from elsewhere, or absent."""
    if "instruction_following" not in scores:
        return "none"
    return "computed" if meta.get("source") == "yumebench" else "imported"


IF_KINDS = {"human": "IF (judged by people)", "computed": "IF (computed by yumebench)", "imported": "IF (imported)"}
LEGEND = (
    "IF = instruction following, SC = subject consistency, BC = background consistency, MS = motion smoothness, "
    "AQ = aesthetic quality, IQ = imaging quality. IF judged by people (the papers' tables) and IF computed by "
    "yumebench are different measurements and are never in one column. Higher is better; time lower."
)


def _save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))
    plt.close(fig)


def _refuse_constant(token: str) -> float:
    raise ValueError(f"non-finite number {token}")


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.3f}" if isinstance(value, float) and value < 10 else f"{value:g}"
    return str(value)


def _provenance(row: dict) -> str:
    if row.get("paper"):
        return f"{row['paper']}, {row.get('table', '')}, row '{row.get('row', '')}'"
    return row.get("results", "")
