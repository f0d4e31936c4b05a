"""``yumebench bench report``: one self-contained HTML page explaining a run's scores.

The page states the run (spec, toolkit version, date, device, dimensions), lists every skipped
dimension with its reason and every item that could not be scored with its error, then one row per
video: each dimension's score (or why there is none) and, per commanded segment, a strip of frames,
one frame with the tracks the motion estimate used, the commanded and the recognised action, the
decision taken (static / rotation only / translation / undetermined) and the estimated motion beside
it (yaw and pitch rates, translation direction, parallax ratio, windows with evidence, focal length).
Images are inlined as JPEG data URIs, so the page has no external assets; the table sorts by column.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np

from yumebench.html import sortable_page
from yumebench.poses import ROTATION_THRESHOLD
from yumebench.result_schema import load_results
from yumebench.video import VideoError, read_frames

THUMB_HEIGHT = 72
TRACK_HEIGHT = 144

DECISION_TEXT = {
    "static": "static camera",
    "rotation": "rotation only",
    "translation": "translating",
    "undetermined": "undetermined (too little evidence in the frames)",
}


def _jpeg(frame: np.ndarray, height: int) -> str:
    from PIL import Image

    img = Image.fromarray(frame)
    img = img.resize((max(1, int(img.width * height / img.height)), height))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _with_tracks(frame: np.ndarray, points: list) -> np.ndarray:
    """The frame with each track drawn as a line from its start (dot) to where it went: the flow the
    motion estimate saw."""
    import cv2

    out = np.ascontiguousarray(frame.copy())
    scale = max(1, round(frame.shape[1] / 480))
    for x1, y1, x2, y2 in points:
        a, b = (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))
        cv2.line(out, a, b, (255, 230, 0), scale, cv2.LINE_AA)
        cv2.circle(out, a, 2 * scale, (255, 60, 60), -1, cv2.LINE_AA)
    return out


def write_report(results_path: str | Path, out_dir: str | Path) -> Path:
    results = load_results(results_path)
    meta = results["meta"]
    dims = [k for k in results if k != "meta"]
    videos: dict[str, dict] = {}
    for dim in dims:
        for entry in results[dim][1]:
            key = entry.get("id") or entry["video_path"]
            row = videos.setdefault(key, {"video_path": entry["video_path"], "scores": {}, "segments": None})
            row["scores"][dim] = entry.get("video_results")
            if entry.get("video_results") is None:
                row.setdefault("why", {})[dim] = entry.get("error") or entry.get("note") or "not scored"
            if dim == "instruction_following":
                row["segments"] = entry.get("segments")
                row["deformation"] = (entry.get("deformation_px"), entry.get("deforming"))
    rows = []
    for key, row in videos.items():
        cells = [f"<td>{html.escape(key)}</td>"]
        for d in dims:
            why = row.get("why", {}).get(d)
            cells.append(f"<td>{_score(row['scores'].get(d))}{f'<br><em>{html.escape(why)}</em>' if why else ''}</td>")
        cells.append(f"<td>{_deformation_html(row.get('deformation'))}{_segments_html(row)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    for failure in meta.get("failed", []):
        cells = [f"<td>{html.escape(str(failure.get('id')))}</td>"]
        cells += ["<td>failed</td>"] * len(dims)
        cells.append(f"<td><em>{html.escape(str(failure.get('error')))}</em></td>")
        rows.append('<tr class="failed">' + "".join(cells) + "</tr>")
    css = (
        ".seg{margin:4px 0;padding:4px}.seg.ok{background:#e3f9e5}.seg.wrong{background:#ffe3e3}"
        ".seg.undetermined{background:#fff3c4}img{margin-right:2px}tr.failed{background:#ffe3e3}"
        "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}"
    )
    page = sortable_page("Yume-Bench report", _intro(results, dims), ["video", *dims, "segments"], rows, css)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(page, encoding="utf-8")
    return out / "index.html"


def _intro(results: dict, dims: list[str]) -> str:
    meta = results["meta"]
    facts = {
        "spec": meta.get("spec"),
        "toolkit version": meta.get("toolkit_version"),
        "date": meta.get("date"),
        "device": f"{meta.get('device', '?')} ({meta.get('dtype', '?')})",
        "videos": (
            f"{meta['n_samples'].get('effective')} scored of {meta['n_samples'].get('original')}"
            if isinstance(meta.get("n_samples"), dict)
            else None
        ),
    }
    summary = meta.get("summary", {}).get("instruction_following") or {}
    if summary.get("segments"):
        facts["instruction following"] = (
            f"{summary['segments']} segments, {summary.get('undetermined_segments', 0)} undetermined"
        )
        deformation = summary.get("deformation") or {}
        if deformation.get("videos_measured"):
            facts["scene deformation"] = (
                f"{deformation['median_px']:.2f} px median; {deformation['videos_deforming']} of "
                f"{deformation['videos_measured']} videos past {deformation['deforming_above_px']:g} px, where the "
                "camera-motion estimate is less reliable"
            )
    for d in dims:
        score = results[d][0]
        facts[d] = _score(score) or "n/a"
    for d, why in meta.get("skipped", {}).items():
        facts[d] = f"skipped: {why}"
    failed = meta.get("failed", [])
    if failed:
        facts["failed items"] = f"{len(failed)} (listed at the end of the table)"
    body = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items() if v)
    return f"<dl>{body}</dl><p>Click a column to sort.</p>"


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _deformation_html(deformation: tuple[float | None, bool | None] | None) -> str:
    """The video's scene deformation (``instruction_following.video_deformation_px``), flagged where the
    metric reads camera motion less reliably."""
    px, deforming = deformation or (None, None)
    if px is None:
        return ""
    flag = " &mdash; <b>deforming</b>: the camera-motion estimate is less reliable" if deforming else ""
    return f"<small>scene deformation {px:.2f} px{flag}</small><br>"


def _raised_threshold_text(segment: dict) -> str:
    """The rotation threshold a segment was decoded with where the world's deformation raised it
    (``instruction_following.rotation_threshold_deg``); nothing where it is the configured one. Results
    written before ``rotation_threshold_raised`` existed are compared with the published 1e-3 rad/frame."""
    threshold_deg = segment.get("rotation_threshold_deg")
    raised = segment.get("rotation_threshold_raised")
    if raised is None and threshold_deg is not None:
        raised = abs(threshold_deg - math.degrees(ROTATION_THRESHOLD)) > 1e-5
    if not raised:
        return ""
    return f"; turns count above {threshold_deg:.3f} deg/frame (raised: a deforming world can fake slow turns)"


def _segments_html(row: dict) -> str:
    segments = row["segments"] or []
    if not segments:
        return ""
    track_frames = {s["tracks"]["frame"] for s in segments if s.get("tracks")}
    try:
        wanted = sorted(
            {i for s in segments for i in (s["start"], (s["start"] + s["end"] - 1) // 2, s["end"] - 1)} | track_frames
        )
        frames, _ = read_frames(row["video_path"], wanted)
        by_index = dict(zip(wanted, frames, strict=True))
    except VideoError as e:
        return f"<em>{html.escape(str(e))}</em>"
    return "".join(_segment_html(s, by_index) for s in segments)


def _segment_html(s: dict, by_index: dict[int, np.ndarray]) -> str:
    strip = "".join(
        f'<img src="{_jpeg(by_index[i], THUMB_HEIGHT)}" alt="frame {i}">'
        for i in (s["start"], (s["start"] + s["end"] - 1) // 2, s["end"] - 1)
    )
    tracks = s.get("tracks")
    if tracks and tracks["frame"] in by_index:
        drawn = _with_tracks(by_index[tracks["frame"]], tracks["points"])
        strip += (
            f'<img src="{_jpeg(drawn, TRACK_HEIGHT)}" alt="tracks from frame {tracks["frame"]} to '
            f'{tracks["to_frame"]}" title="tracks from frame {tracks["frame"]} to {tracks["to_frame"]}">'
        )
    exp, pred = s["expected"], s["predicted"]
    motion = s.get("motion", {})
    decision = motion.get("decision", "")
    mark = "ok" if s["correct"] else "undetermined" if decision == "undetermined" else "wrong"
    x, _, z = (motion.get("direction") or [0, 0, 0])[:3]
    estimate = (
        f"{DECISION_TEXT.get(decision, decision)}; yaw {motion.get('yaw_deg_per_frame', 0):+.3f} and pitch "
        f"{motion.get('pitch_deg_per_frame', 0):+.3f} deg/frame"
        + (f"; direction x {x:+.2f} (right), z {z:+.2f} (forward)" if decision == "translation" else "")
        + f"; parallax score {motion.get('parallax_score', 0):+.2f}; windows with evidence "
        f"{motion.get('windows_with_evidence', '?')}; field of view {motion.get('fov_deg', 0):.0f} deg"
        + (" (given)" if motion.get("fov_given") else "")
        + (f"; lens barrel {motion['lens_barrel']:.3f}" if motion.get("lens_barrel") else "")
        + (
            f"; rolling shutter reading its {motion.get('rolling_readout_lines', 'rows')} over "
            f"{abs(motion['rolling_readout']):.2f} of a frame"
            + (" (from the far end)" if motion["rolling_readout"] < 0 else "")
            if motion.get("rolling_readout")
            else ""
        )
        + (
            "; camera rolled {:+.1f} deg at the first frame, {:+.1f} at the last".format(*motion["camera_roll_deg"])
            if motion.get("camera_roll_deg")
            else ""
        )
        + (
            f"; left-out tracks along one translation {motion['coherent_parallax']:.2f}"
            if motion.get("coherent_parallax")
            else ""
        )
        + (
            "; tracks at infinity under a step: {:.2f} in the top third, {:.2f} in the bottom third".format(
                *motion["still_background"]
            )
            + (" (a still background: the camera stays)" if decision != "translation" else "")
            if motion.get("still_background")
            else ""
        )
        + (f"; scene deformation {motion['deformation_px']:.2f} px" if motion.get("deformation_px") is not None else "")
        + _raised_threshold_text(s)
        + (
            f"; next window from this one's depths {motion['depth_consistency']:.2f} x the rotation's error"
            + (
                " (worse on {} of {} carried-over tracks)".format(*motion["depth_worse_tracks"])
                if motion.get("depth_worse_tracks")
                else ""
            )
            if motion.get("depth_consistency") is not None
            else ""
        )
    )
    wrong = [k for k, ok in s.get("components", {}).items() if not ok]
    return (
        f'<div class="seg {mark}">{strip}<br>frames {s["start"]}-{s["end"] - 1}: '
        f"commanded <b>{html.escape(exp['keys'])} {html.escape(exp['mouse'])}</b>, "
        f"recognised <b>{html.escape(pred['keys'])} {html.escape(pred['mouse'])}</b> ({mark}"
        f"{'; wrong: ' + ', '.join(wrong) if wrong and decision != 'undetermined' else ''})"
        f"<br><small>estimate: {html.escape(estimate)}</small></div>"
    )
