"""A leaderboard: published rows (with provenance) plus measured runs, rendered to Markdown, a
self-contained HTML page and PNG charts.

Store format (``--store``, JSON, versioned)::

    {"schema_version": "1.0", "rows": [{"name", "group", "if_method", "scores": {dim: float},
      "time_s"?, "paper"?, "table"?, "row"?, "clip_index"?, "model_info"?, "results"?, "meta"?}]}
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from leaderboards import DIMENSION_LABELS
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
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LeaderboardError(f"{path}: not a leaderboard store ({e})") from None
        if str(data.get("schema_version", "")).split(".")[0] != STORE_VERSION.split(".")[0]:
            raise LeaderboardError(f"{path}: store version {data.get('schema_version')} is not {STORE_VERSION}")
        return cls(rows=data["rows"])

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        payload = {"schema_version": STORE_VERSION, "rows": self.rows}
        tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)

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

    def to_markdown(self) -> str:
        dims = self.dimensions()
        head = ["model", "group", "IF judged by", "time (s)", *[DIMENSION_LABELS.get(d, d) for d in dims], "source"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [
                r["name"],
                r.get("group", ""),
                {"human": "people", "computed": "yumebench"}.get(r.get("if_method", ""), r.get("if_method", "")),
                _fmt(r.get("time_s")),
                *[_fmt(r["scores"].get(d)) for d in dims],
                _provenance(r),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        legend = ", ".join(f"{v} = {k}" for k, v in DIMENSION_LABELS.items())
        return "# Yume-Bench leaderboard\n\n" + "\n".join(lines) + f"\n\n{legend}. Higher is better; time lower.\n"

    def to_html(self) -> str:
        dims = self.dimensions()
        head = ["model", "group", "IF judged by", "time (s)", *[DIMENSION_LABELS.get(d, d) for d in dims], "source"]
        body = []
        for r in self.rows:
            cells = [
                r["name"],
                r.get("group", ""),
                r.get("if_method", ""),
                _fmt(r.get("time_s")),
                *[_fmt(r["scores"].get(d)) for d in dims],
                _provenance(r),
            ]
            body.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        intro = "<p>Click a column to sort. IF of published rows was judged by people; measured rows compute it.</p>"
        return sortable_page("Yume-Bench leaderboard", intro, head, body, "tr:nth-child(even){background:#f8fafc}")

    def render(self, out_dir: str | Path) -> dict[str, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out / "leaderboard.md", "html": out / "index.html"}
        paths["markdown"].write_text(self.to_markdown(), encoding="utf-8")
        paths["html"].write_text(self.to_html(), encoding="utf-8")
        paths.update(self._charts(out))
        return paths

    def _charts(self, out: Path) -> dict[str, Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        made = {}
        for dim in self.dimensions():
            rows = [r for r in self.rows if dim in r["scores"] and "clip_index" not in r]
            if not rows:
                continue
            fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(rows) + 1.5), 3.2), dpi=100)
            colors = ["#9aa5b1" if r.get("group") != "measured" else "#3b7dd8" for r in rows]
            ax.bar(range(len(rows)), [r["scores"][dim] for r in rows], color=colors)
            ax.set_xticks(range(len(rows)), [r["name"] for r in rows], rotation=35, ha="right", fontsize=7)
            ax.set_title(f"{DIMENSION_LABELS.get(dim, dim)} ({dim})", fontsize=9)
            fig.tight_layout()
            path = out / f"{dim}.png"
            fig.savefig(path, metadata={"Software": None})
            plt.close(fig)
            made[dim] = path
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
            fig.savefig(path, metadata={"Software": None})
            plt.close(fig)
            made["long_video"] = path
        return made


def _if_method(scores: dict, meta: dict) -> str:
    """How a measured row's IF was obtained: computed here, imported from elsewhere, or absent."""
    if "instruction_following" not in scores:
        return "none"
    return "computed" if meta.get("source") == "yumebench" else "imported"


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
