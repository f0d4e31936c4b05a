"""``yumebench bench report``: one self-contained HTML page explaining a run's scores.

Per video: a strip of frames per segment (first, middle, last) with the commanded and the recognised
action, and every dimension's score; the table sorts by any column. Images are inlined as JPEG data
URIs, so the page has no external assets.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from yumebench.html import sortable_page
from yumebench.result_schema import load_results
from yumebench.video import VideoError, read_frames

THUMB_HEIGHT = 72


def _thumb(frame: np.ndarray) -> str:
    from PIL import Image

    img = Image.fromarray(frame)
    img = img.resize((max(1, int(img.width * THUMB_HEIGHT / img.height)), THUMB_HEIGHT))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def write_report(results_path: str | Path, out_dir: str | Path) -> Path:
    results = load_results(results_path)
    dims = [k for k in results if k != "meta"]
    videos: dict[str, dict] = {}
    for dim in dims:
        for entry in results[dim][1]:
            key = entry.get("id") or entry["video_path"]
            row = videos.setdefault(key, {"video_path": entry["video_path"], "scores": {}, "segments": None})
            row["scores"][dim] = entry.get("video_results")
            if dim == "instruction_following":
                row["segments"] = entry.get("segments")
    rows = []
    for key, row in videos.items():
        cells = [f"<td>{html.escape(key)}</td>"]
        cells += [f"<td>{_score(row['scores'].get(d))}</td>" for d in dims]
        cells.append(f"<td>{_segments_html(row)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    summary = " · ".join(f"{html.escape(d)}: {_score(results[d][0]) or 'n/a'}" for d in dims)
    css = ".seg{margin:4px 0;padding:4px}.seg.ok{background:#e3f9e5}.seg.wrong{background:#ffe3e3}img{margin-right:2px}"
    intro = f"<p>{summary}</p><p>Click a column to sort.</p>"
    page = sortable_page("Yume-Bench report", intro, ["video", *dims, "segments"], rows, css)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(page, encoding="utf-8")
    return out / "index.html"


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _segments_html(row: dict) -> str:
    segments = row["segments"] or []
    if not segments:
        return ""
    try:
        wanted = sorted({i for s in segments for i in (s["start"], (s["start"] + s["end"] - 1) // 2, s["end"] - 1)})
        frames, _ = read_frames(row["video_path"], wanted)
        by_index = dict(zip(wanted, frames, strict=True))
    except VideoError as e:
        return f"<em>{html.escape(str(e))}</em>"
    parts = []
    for s in segments:
        strip = "".join(
            f'<img src="{_thumb(by_index[i])}" alt="frame {i}">'
            for i in (s["start"], (s["start"] + s["end"] - 1) // 2, s["end"] - 1)
        )
        exp, pred = s["expected"], s["predicted"]
        mark = "ok" if s["correct"] else "wrong"
        parts.append(
            f'<div class="seg {mark}">{strip}<br>frames {s["start"]}-{s["end"] - 1}: '
            f"commanded <b>{html.escape(exp['keys'])} {html.escape(exp['mouse'])}</b>, "
            f"recognised <b>{html.escape(pred['keys'])} {html.escape(pred['mouse'])}</b> ({mark})</div>"
        )
    return "".join(parts)
