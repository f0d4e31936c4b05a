import json
import math

import pytest
from typer.testing import CliRunner

from yumebench.actions import Action
from yumebench.bench import runner as runner_mod
from yumebench.bench.runner import BenchConfig, run_bench
from yumebench.bench.spec import SpecItem
from yumebench.bench.suites import load_suite
from yumebench.cli import app
from yumebench.metrics.base import Dimension, Requirements
from yumebench.result_schema import ResultsError, dimension_scores, load_results
from yumebench.synthetic import random_segment_video
from yumebench.video import write_mp4

cli = CliRunner()
ACTIONS = [
    [Action("W+A", "·"), Action("W+A", "·"), Action("W+A", "→")],
    [Action("None", "→"), Action("S", "·"), Action("D", "↑")],
    [Action("W", "←"), Action("None", "·"), Action("A", "↓")],
]


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    items = []
    for v, acts in enumerate(ACTIONS):
        frames, segs = random_segment_video(acts, seed=900 + v, width=224, height=128)
        write_mp4(root / f"v{v}.mp4", frames, 16)
        items.append({"id": f"v{v}", "video": f"v{v}.mp4", "prompt": "a walk", "segments": segs})
    (root / "spec.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    bad = [
        {"id": "missing", "video": "nope.mp4", "segments": items[0]["segments"]},
        {"id": "corrupt", "video": "corrupt.mp4", "segments": items[0]["segments"]},
        {"id": "past", "video": "v0.mp4", "segments": [{"start": 0, "end": 500, "keys": "W", "mouse": "·"}]},
        {"id": "unknown", "video": "v0.mp4", "segments": [{"start": 0, "end": 32, "keys": "Q", "mouse": "·"}]},
    ]
    (root / "mixed.jsonl").write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items + bad) + "{not json\n"
    )
    return root


def test_scores_and_schema(bench_dir, tmp_path):
    report = run_bench(bench_dir / "spec.jsonl", bench_dir, tmp_path / "r.json", BenchConfig(progress=False))
    results = load_results(tmp_path / "r.json")
    score, rows = results["instruction_following"]
    assert score == pytest.approx(1.0) and len(rows) == 3 and report.failed == []
    for row in rows:
        assert row["video_path"].endswith(".mp4") and len(row["segments"]) == 3
        seg = row["segments"][0]
        assert set(seg) >= {"start", "end", "expected", "predicted", "correct", "confidence"}
    meta = results["meta"]
    assert meta["n_samples"] == {"original": 3, "effective": 3} and meta["dimensions"] == ["instruction_following"]
    assert set(meta["summary"]["instruction_following"]["component_accuracy"]) == {"forward", "strafe", "yaw", "pitch"}
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == "id,video_path,instruction_following"


def test_same_scores_across_runs_and_workers(bench_dir, tmp_path):
    a = run_bench(bench_dir / "spec.jsonl", bench_dir, tmp_path / "a.json", BenchConfig(progress=False)).results
    two = BenchConfig(progress=False, workers=2)
    b = run_bench(bench_dir / "spec.jsonl", bench_dir, tmp_path / "b.json", two).results
    rows_a, rows_b = a["instruction_following"][1], b["instruction_following"][1]
    assert [r["id"] for r in rows_a] == [r["id"] for r in rows_b]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        assert ra["video_results"] == pytest.approx(rb["video_results"], abs=1e-6)
        assert [s["motion"] for s in ra["segments"]] == [s["motion"] for s in rb["segments"]]


def test_resume_scores_nothing_twice(bench_dir, tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    run_bench(bench_dir / "spec.jsonl", bench_dir, out, BenchConfig(progress=False))
    first = load_results(out)

    def boom(*args, **kwargs):
        raise AssertionError("a finished video was scored again")

    monkeypatch.setattr(runner_mod, "score_group", boom)
    run_bench(bench_dir / "spec.jsonl", bench_dir, out, BenchConfig(progress=False))
    assert load_results(out)["instruction_following"] == first["instruction_following"]


def test_bad_items_are_reported_and_the_rest_scored(bench_dir, tmp_path):
    result = cli.invoke(
        app,
        [
            "bench",
            "run",
            "--spec",
            str(bench_dir / "mixed.jsonl"),
            "--videos",
            str(bench_dir),
            "--out",
            str(tmp_path / "r.json"),
            "--quiet",
        ],
    )
    assert result.exit_code == 1 and "5 items could not be scored" in result.output, result.output
    failed = load_results(tmp_path / "r.json")["meta"]["failed"]
    reasons = {f["id"]: f["error"] for f in failed}
    assert "not found" in reasons["missing"] and "corrupt.mp4" in reasons["corrupt"]
    assert "past the video's end" in reasons["past"] and "unknown keys 'Q'" in reasons["unknown"]
    assert any("malformed JSON" in e for e in reasons.values())
    assert all("\n" not in e for e in reasons.values())
    assert len(load_results(tmp_path / "r.json")["instruction_following"][1]) == 3


def test_empty_spec_and_unknown_dimension(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    result = cli.invoke(app, ["bench", "run", "--spec", str(tmp_path / "empty.jsonl"), "--videos", str(tmp_path)])
    assert result.exit_code == 2 and "empty spec" in result.output
    argv = ["bench", "run", "--spec", str(tmp_path / "empty.jsonl"), "--videos", str(tmp_path)]
    result = cli.invoke(app, [*argv, "--dims", "instruction_folowing"])
    assert result.exit_code == 2 and "did you mean 'instruction_following'" in result.output


def test_vbench_results_import(tmp_path):
    vb = {"subject_consistency": [0.93, [{"video_path": "a.mp4", "video_results": 0.93}]]}
    (tmp_path / "vb.json").write_text(json.dumps(vb))
    loaded = load_results(tmp_path / "vb.json")
    assert loaded["meta"]["source"] == "vbench" and dimension_scores(loaded) == {"subject_consistency": 0.93}
    (tmp_path / "bad.json").write_text('{"x": 1}')
    with pytest.raises(ResultsError, match="bad.json"):
        load_results(tmp_path / "bad.json")


def test_yume_bench_suite_and_spec_command(tmp_path):
    suite = load_suite("yume-bench")
    items = suite["items"]
    assert len(items) == 70 and suite["protocol"]["num_frames"] == 96
    counts = {}
    for item in items:
        seg = item["segments"][0]
        counts[(seg["keys"], seg["mouse"])] = counts.get((seg["keys"], seg["mouse"]), 0) + 1
        assert [s["end"] for s in item["segments"]] == [32, 64, 96]
    assert counts[("W+A", "·")] == 29 and counts[("W+A", "→")] == 17 and counts[("None", "↓")] == 2
    assert sum(i["source"].startswith("rare-action") for i in items) == 7
    (tmp_path / "yb-001.mp4").write_bytes(b"")
    (tmp_path / "yb-070.mp4").write_bytes(b"")
    result = cli.invoke(app, ["bench", "spec", "--videos", str(tmp_path), "--out", str(tmp_path / "s.jsonl")])
    assert result.exit_code == 0 and "2 items" in result.output
    assert [json.loads(line)["id"] for line in (tmp_path / "s.jsonl").read_text().splitlines()] == ["yb-001", "yb-070"]


def test_report_page_shows_each_segment(bench_dir, tmp_path):
    run_bench(bench_dir / "spec.jsonl", bench_dir, tmp_path / "r.json", BenchConfig(progress=False))
    result = cli.invoke(app, ["bench", "report", str(tmp_path / "r.json"), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "rep" / "index.html").read_text()
    # 3 videos x 3 segments x (3 strip frames + 1 frame with the tracks drawn)
    assert page.count("data:image/jpeg;base64,") == 3 * 3 * 4
    assert page.count('alt="tracks from frame') == 9
    assert "commanded <b>W+A ·</b>, recognised <b>W+A ·</b> (ok)" in page
    assert page.count("estimate: ") == 9 and "translating; yaw" in page and "rotation only; yaw" in page
    assert "parallax score" in page and "windows with evidence" in page
    assert "toolkit version" in page and "<dt>device</dt><dd>cpu" in page
    assert "<dt>scene deformation</dt>" in page and page.count("<small>scene deformation ") == 3
    assert "http" not in page and page.count("<tr>") == 4
    bad = cli.invoke(app, ["bench", "report", str(tmp_path / "missing.json")])
    assert bad.exit_code == 2 and "missing.json" in bad.output


def test_report_lists_failed_items_and_skipped_dimensions(bench_dir, tmp_path):
    """A run where some items failed shows each of them with its error, not only the good videos."""
    config = BenchConfig(
        progress=False, dims=["instruction_following", "subject_consistency"], weights_dir=str(tmp_path)
    )
    report = run_bench(bench_dir / "mixed.jsonl", bench_dir, tmp_path / "r.json", config)
    assert report.failed and "subject_consistency" in report.skipped
    assert cli.invoke(app, ["bench", "report", str(tmp_path / "r.json"), "--out", str(tmp_path / "rep")]).exit_code == 0
    page = (tmp_path / "rep" / "index.html").read_text()
    assert page.count('<tr class="failed">') == len(report.failed)
    for failure in report.failed:
        assert f"<td>{failure['id']}</td>" in page
    assert "subject_consistency</dt><dd>skipped: " in page
    assert f"failed items</dt><dd>{len(report.failed)}" in page


@pytest.mark.parametrize(
    "videos, per_batch, workers, sizes",
    [(12, 4, 2, [3, 3, 3, 3]), (4, 4, 2, [2, 2]), (5, 4, 2, [3, 2]), (9, 4, 1, [3, 3, 3]), (3, 4, 4, [1, 1, 1])],
)
def test_groups_keep_every_worker_busy(videos, per_batch, workers, sizes):
    """Never more than a batch per group, a multiple of the workers in number, sizes within one: three
    groups of 4 on 2 workers would leave one idle for the last third of the run."""
    groups = runner_mod._balanced_groups(list(range(videos)), per_batch, workers)
    assert [len(g) for g in groups] == sizes and sum(groups, []) == list(range(videos))


class _FrameShape(Dimension):
    name = "frame_shape"

    def score_video(self, frames, item):
        return {"video_results": float(frames.ndim)}


class _LumaShape(_FrameShape):
    name = "luma_shape"
    requirements = Requirements(luma_only=True)


def test_luma_alone_is_decoded_where_no_dimension_needs_colour(bench_dir, monkeypatch):
    decoded = []
    for name in ("read_frames", "read_luma"):
        real = getattr(runner_mod, name)
        monkeypatch.setattr(runner_mod, name, lambda path, _real=real, _name=name: decoded.append(_name) or _real(path))
    dims = {"luma_shape": _LumaShape(), "frame_shape": _FrameShape()}
    item, video = SpecItem("v0", "v0.mp4"), str(bench_dir / "v0.mp4")
    [luma] = runner_mod.score_group([(item, video, ["luma_shape"])], {}, dims)
    [both] = runner_mod.score_group([(item, video, ["luma_shape", "frame_shape"])], {}, dims)
    assert decoded == ["read_luma", "read_frames"]
    assert luma["entries"]["luma_shape"]["video_results"] == 3.0  # (T, H, W)
    assert both["entries"]["luma_shape"]["video_results"] == both["entries"]["frame_shape"]["video_results"] == 4.0


def test_the_report_names_the_lens_a_segment_was_measured_through():
    """A segment measured through a fitted barrel lens or rolling shutter says so beside its field of
    view; a pinhole, global-shutter segment's line says nothing of either."""
    import numpy as np

    from yumebench.bench.report import _segment_html

    motion = {"decision": "rotation", "yaw_deg_per_frame": 1.0, "parallax_score": -1.0, "fov_deg": 80.0}
    segment = {"start": 0, "end": 33, "expected": {"keys": "None", "mouse": "→"}, "correct": True}
    segment["predicted"] = segment["expected"]
    frames = {i: np.zeros((36, 64, 3), np.uint8) for i in (0, 16, 32)}
    lens = _segment_html({**segment, "motion": {**motion, "lens_barrel": 0.1762}}, frames)
    assert "field of view 80 deg; lens barrel 0.176" in lens
    assert "lens" not in _segment_html({**segment, "motion": {**motion, "lens_barrel": 0.0}}, frames)
    shutter = {**motion, "rolling_readout": -0.562, "rolling_readout_lines": "columns"}
    assert "rolling shutter reading its columns over 0.56 of a frame (from the far end)" in _segment_html(
        {**segment, "motion": shutter}, frames
    )
    assert "rolling shutter" not in _segment_html({**segment, "motion": {**motion, "rolling_readout": 0.0}}, frames)
    assert "field of view 80 deg (given)" in _segment_html({**segment, "motion": {**motion, "fov_given": True}}, frames)
    assert "(given)" not in lens


def test_the_report_says_when_left_out_tracks_made_a_segment_translation():
    """A segment that GRIC read as a rotation but whose left-out tracks point along one translation says
    so, since its parallax score alone (negative) would not explain the decision."""
    import numpy as np

    from yumebench.bench.report import _segment_html

    motion = {"decision": "translation", "parallax_score": -0.3, "fov_deg": 60.0, "direction": [0.3, 0, 0.9]}
    segment = {"start": 0, "end": 33, "expected": {"keys": "W+D", "mouse": "·"}, "correct": True}
    segment["predicted"] = segment["expected"]
    frames = {i: np.zeros((36, 64, 3), np.uint8) for i in (0, 16, 32)}
    html = _segment_html({**segment, "motion": {**motion, "coherent_parallax": 0.784}}, frames)
    assert "parallax score -0.30" in html and "left-out tracks along one translation 0.78" in html
    assert "left-out" not in _segment_html({**segment, "motion": {**motion, "coherent_parallax": 0.0}}, frames)


def test_the_report_gives_the_depth_checks_ratio_and_its_carried_over_tracks():
    """A walk the depth check kept says how its depths predicted the next window: the ratio, and on how
    many of the carried-over tracks they did worse than the rotation alone (the sign test's evidence); a
    walk fitted with the camera rolled says by how much."""
    import numpy as np

    from yumebench.bench.report import _segment_html

    motion = {"decision": "translation", "parallax_score": 0.8, "fov_deg": 60.0, "direction": [0.0, 0, 1.0]}
    segment = {"start": 0, "end": 33, "expected": {"keys": "W", "mouse": "→"}, "correct": True}
    segment["predicted"] = segment["expected"]
    frames = {i: np.zeros((36, 64, 3), np.uint8) for i in (0, 16, 32)}
    checked = {**motion, "depth_consistency": 1.12, "depth_worse_tracks": [4, 8]}
    html = _segment_html({**segment, "motion": checked}, frames)
    assert "depths 1.12 x the rotation" in html and "error (worse on 4 of 8 carried-over tracks)" in html
    assert "depths" not in _segment_html({**segment, "motion": {**motion, "depth_consistency": None}}, frames)
    rolled = _segment_html({**segment, "motion": {**motion, "camera_roll_deg": [2.7, 5.86]}}, frames)
    assert "camera rolled +2.7 deg at the first frame, +5.9 at the last" in rolled
    assert "rolled" not in _segment_html({**segment, "motion": {**motion, "camera_roll_deg": None}}, frames)


def test_the_report_says_when_a_still_background_kept_the_camera_at_rest():
    """A walk's shares of tracks at infinity are shown; a segment that a still background from top to
    bottom made a rotation says that this is why."""
    import numpy as np

    from yumebench.bench.report import _segment_html

    segment = {"start": 0, "end": 33, "expected": {"keys": "None", "mouse": "·"}, "correct": True}
    segment["predicted"] = segment["expected"]
    frames = {i: np.zeros((36, 64, 3), np.uint8) for i in (0, 16, 32)}
    motion = {"decision": "rotation", "parallax_score": 0.9, "fov_deg": 60.0, "still_background": [0.62, 0.547]}
    html = _segment_html({**segment, "motion": motion}, frames)
    assert "0.62 in the top third, 0.55 in the bottom third (a still background: the camera stays)" in html
    walk = {**motion, "decision": "translation", "direction": [0, 0, 1.0], "still_background": [0.7, 0.0]}
    html = _segment_html({**segment, "motion": walk}, frames)
    assert "0.70 in the top third, 0.00 in the bottom third" in html and "camera stays" not in html
    assert "infinity" not in _segment_html({**segment, "motion": {**motion, "still_background": None}}, frames)


def test_a_known_fov_is_measured_at_and_an_items_own_wins(bench_dir, tmp_path):
    """``--fov`` measures every segment at the FOV given (the synthetic renderer's is 70 deg), and an item's
    own ``fov_deg`` wins over it. The turns' rates follow the FOV: at 40 deg, a pixel is a smaller angle,
    so the item's turn reads slower by about tan(20) / tan(35) (its flow over the focal length)."""
    items = [json.loads(line) for line in (bench_dir / "spec.jsonl").read_text().splitlines()]
    items[1]["fov_deg"] = 40.0
    (tmp_path / "spec.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    args = ["bench", "run", "--spec", str(tmp_path / "spec.jsonl"), "--videos", str(bench_dir), "--quiet"]
    result = cli.invoke(app, [*args, "--out", str(tmp_path / "r.json"), "--fov", "70"])
    assert result.exit_code == 0, result.output
    results = load_results(tmp_path / "r.json")
    rows = {r["id"]: r for r in results["instruction_following"][1]}
    fovs = {i: {s["motion"]["fov_deg"] for s in rows[i]["segments"]} for i in rows}
    assert fovs == {"v0": {70.0}, "v1": {40.0}, "v2": {70.0}}
    assert all(s["motion"]["fov_given"] for r in rows.values() for s in r["segments"])
    assert results["meta"]["dimension_config"]["instruction_following"]["motion"]["known_fov_deg"] == 70.0
    assert [s["correct"] for s in rows["v0"]["segments"]] == [True] * 3  # at the true FOV, as self-calibrated

    calibrated = run_bench(bench_dir / "spec.jsonl", bench_dir, tmp_path / "c.json", BenchConfig(progress=False))
    calibrated_rows = calibrated.results["instruction_following"][1]
    assert not any("fov_given" in s["motion"] for r in calibrated_rows for s in r["segments"])
    turn = calibrated_rows[1]["segments"][0]  # v1's pure turn, "None,→"
    assert turn["expected"]["mouse"] == "→" and abs(turn["motion"]["fov_deg"] - 70.0) < 3.0
    narrow = rows["v1"]["segments"][0]["motion"]["yaw_deg_per_frame"] / turn["motion"]["yaw_deg_per_frame"]
    expected = math.tan(math.radians(20.0)) / math.tan(math.radians(35.0))
    assert narrow == pytest.approx(expected, rel=0.1)

    # the FOV is part of the cache's key: a rerun into the same output at another FOV scores again
    assert cli.invoke(app, [*args, "--out", str(tmp_path / "r.json"), "--fov", "60"]).exit_code == 0
    rerun = {r["id"]: r for r in load_results(tmp_path / "r.json")["instruction_following"][1]}
    assert {s["motion"]["fov_deg"] for s in rerun["v0"]["segments"]} == {60.0}
    assert {s["motion"]["fov_deg"] for s in rerun["v1"]["segments"]} == {40.0}  # its own still wins


@pytest.mark.parametrize("fov", ["0", "180", "nan", "-5"])
def test_a_fov_outside_0_to_180_is_a_one_line_error(bench_dir, tmp_path, fov):
    """Refused before anything is scored or written (exit code 2, bad input)."""
    args = ["bench", "run", "--spec", str(bench_dir / "spec.jsonl"), "--videos", str(bench_dir), "--quiet"]
    result = cli.invoke(app, [*args, "--out", str(tmp_path / "r.json"), "--fov", fov])
    assert result.exit_code == 2 and "--fov" in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "r.json").exists()


def test_an_items_bad_fov_is_reported_and_the_rest_scored(bench_dir, tmp_path):
    items = [json.loads(line) for line in (bench_dir / "spec.jsonl").read_text().splitlines()]
    items[0]["fov_deg"] = "wide"
    items[2]["fov_deg"] = 200
    (tmp_path / "spec.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    report = run_bench(tmp_path / "spec.jsonl", bench_dir, tmp_path / "r.json", BenchConfig(progress=False))
    reasons = {f["id"]: f["error"] for f in report.failed}
    assert reasons.keys() == {"v0", "v2"}
    assert "spec.jsonl:1: 'fov_deg' 'wide' is not a number" in reasons["v0"]
    assert "spec.jsonl:3: 'fov_deg' 200" in reasons["v2"] and "between 0 and 180" in reasons["v2"]
    assert [r["id"] for r in report.results["instruction_following"][1]] == ["v1"]


def test_an_item_without_a_fov_keeps_the_dict_its_cached_results_are_keyed_on():
    item = SpecItem(id="a", video="a.mp4", segments=[])
    assert "fov_deg" not in item.to_dict()
    assert SpecItem(id="a", video="a.mp4", fov_deg=60.0).to_dict()["fov_deg"] == 60.0


def test_the_report_and_the_summary_say_how_far_the_worlds_deform():
    """A segment gives its scene deformation (and the rotation threshold where the deformation raised it),
    a video its own and whether it is flagged, the page's facts and the CLI's summary line the run's median
    and how many videos deform past the threshold; a run where nothing was measured says nothing about it."""
    import numpy as np

    from yumebench.bench.report import _deformation_html, _segment_html
    from yumebench.cli.bench import deformation_line

    motion = {"decision": "translation", "parallax_score": 0.8, "fov_deg": 60.0, "direction": [0.0, 0, 1.0]}
    segment = {"start": 0, "end": 33, "expected": {"keys": "W", "mouse": "·"}, "correct": True}
    segment["predicted"] = segment["expected"]
    frames = {i: np.zeros((36, 64, 3), np.uint8) for i in (0, 16, 32)}
    assert "scene deformation 0.87 px" in _segment_html(
        {**segment, "motion": {**motion, "deformation_px": 0.8731}}, frames
    )
    assert "deformation" not in _segment_html({**segment, "motion": {**motion, "deformation_px": None}}, frames)
    raised = {**segment, "motion": {**motion, "deformation_px": 0.8731}, "rotation_threshold_deg": 0.2134}
    assert "turns count above 0.213 deg/frame" in _segment_html(raised, frames)
    published = {**raised, "rotation_threshold_deg": 0.057296}  # as results round it
    assert "turns count" not in _segment_html(published, frames)
    # a run configured with its own threshold shows it only where the deformation raised it
    configured = {**raised, "rotation_threshold_deg": 0.12, "rotation_threshold_raised": False}
    assert "turns count" not in _segment_html(configured, frames)
    assert "turns count above 0.120" in _segment_html({**configured, "rotation_threshold_raised": True}, frames)
    assert "deforming" in _deformation_html((0.9, True)) and "0.90 px" in _deformation_html((0.9, True))
    assert "deforming" not in _deformation_html((0.1, False)) and _deformation_html((None, None)) == ""
    summary = {"median_px": 0.412, "videos_measured": 5, "videos_deforming": 2, "deforming_above_px": 0.3}
    line = deformation_line(summary)
    assert line.startswith("scene deformation 0.41 px (median over 5 videos); 2 deform past 0.3 px")
    assert "less reliably" in line
    assert "less reliably" not in deformation_line({**summary, "videos_deforming": 0})
    assert deformation_line({**summary, "median_px": None, "videos_measured": 0}) is None
