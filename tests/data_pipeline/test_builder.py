import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from data_pipeline.builder import BuildError, build
from data_pipeline.dataset import YumeClipDataset, decode_image
from data_pipeline.process import BuildConfig
from data_pipeline.schema import CLIP_SCHEMA, DatasetInfo, data_files
from data_pipeline.validate import validate
from tests.data_pipeline.conftest import GOOD_INPUTS, add_bad_inputs
from yumebench.cli import app
from yumebench.video import read_frames

runner = CliRunner()


def expected_clips(min_frames=33):
    """(name, start, end, keys, mouse) implied by the known segments at 30 fps."""
    out = []
    for name, (segments, _) in GOOD_INPUTS.items():
        start = 0
        for action, n in segments:
            if n + 1 >= min_frames:
                out.append((name, start, start + n + 1, action.keys, action.mouse))
            start += n
    return out


@pytest.fixture(scope="module")
def built(good_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "ds"
    report = build(good_inputs["manifest"], out, BuildConfig(), progress=False)
    return out, report


def test_clips_and_labels_match_the_known_paths(built, good_inputs):
    out, report = built
    df = pd.read_parquet(out / "data")
    got = [
        (os.path.basename(r.source_video)[:-4], r.start_frame, r.end_frame, r.keys, r.mouse) for r in df.itertuples()
    ]
    assert got == expected_clips()
    assert report.num_clips == len(df) == 5 and report.num_quarantined == 0
    assert (df.fps == 16.0).all() and (df.source_fps == 30.0).all()
    assert list(df.num_frames) == [int((e - s) / 30 * 16) for _, s, e, _, _ in expected_clips()]
    assert (df.label_source == "poses").all()
    assert set(map(tuple, df.tasks)) == {("t2v", "i2v")}
    # The first frame is the exact decoded frame at start_frame (PNG is lossless).
    row = df.iloc[1]
    info = DatasetInfo.load(out)
    assert not os.path.isabs(row.source_video) and info.video_root == str(good_inputs["manifest"].parent.resolve())
    frame, _ = read_frames(os.path.join(info.video_root, row.source_video), [row.start_frame])
    np.testing.assert_array_equal(decode_image(row.first_frame), frame[0])


def test_a_dataset_moves_with_or_without_its_videos(good_inputs, tmp_path, monkeypatch):
    """Source paths are relative to the recorded video root: the dataset reads on after moving together
    with its videos, after the videos move elsewhere (video_root= / $YUMEBENCH_VIDEO_ROOT), and a
    format-1.1 dataset with absolute paths still reads."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    site = tmp_path / "site1"
    shutil.copytree(good_inputs["manifest"].parent, site / "videos", ignore=shutil.ignore_patterns("*.csv", "bad"))
    build(site / "videos", site / "ds", BuildConfig(), progress=False)
    reference = YumeClipDataset(site / "ds")[2]["video"]
    assert DatasetInfo.load(site / "ds").video_root_from_dataset == "../videos"

    moved = tmp_path / "site2"  # dataset and videos move together: found beside the dataset
    shutil.move(site, moved)
    assert YumeClipDataset(moved / "ds").video_root == (moved / "videos").resolve()
    assert torch_equal(YumeClipDataset(moved / "ds")[2]["video"], reference) and validate(moved / "ds") == []

    elsewhere = tmp_path / "mount" / "walks"  # the videos alone move
    shutil.move(moved / "videos", elsewhere)
    assert validate(moved / "ds") != []  # the missing videos are reported, not skipped
    assert torch_equal(YumeClipDataset(moved / "ds", video_root=elsewhere)[2]["video"], reference)
    assert validate(moved / "ds", video_root=elsewhere) == []
    monkeypatch.setenv("YUMEBENCH_VIDEO_ROOT", str(elsewhere))
    assert torch_equal(YumeClipDataset(moved / "ds")[2]["video"], reference)
    monkeypatch.delenv("YUMEBENCH_VIDEO_ROOT")

    old = moved / "ds"  # format 1.1: absolute source paths and no video root
    info = json.loads((old / "meta/info.json").read_text())
    info.update(format_version="1.1", video_root=None, video_root_from_dataset=None)
    (old / "meta/info.json").write_text(json.dumps(info))
    for f in data_files(old):
        table = pq.read_table(f).to_pylist()
        for row in table:
            row["source_video"] = str(elsewhere / row["source_video"])
        pq.write_table(pa.Table.from_pylist(table, schema=CLIP_SCHEMA), f)
    assert torch_equal(YumeClipDataset(old)[2]["video"], reference) and validate(old) == []


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_captions_split_and_actions_regenerated(built):
    df = pd.read_parquet(built[0] / "data")
    for r in df.itertuples():
        name = os.path.basename(r.source_video)[:-4]
        assert r.event_text == f"Scene {name}: a plaza with fountains, two cyclists pass by."
        assert r.action_text.startswith("Person ")  # regenerated in the dataset's wording (yume)
    # Each caption states its first segment's action: the second "walk" clip and the last "mixed" clip contradict.
    assert list(df.caption_conflict) == [False, True, False, False, True]
    stats = json.loads((built[0] / "meta/stats.json").read_text())
    assert stats["caption_conflicts"] == 2 and stats["labels"]["W+A,→"] == 1
    assert stats["inputs_without_clips"] == 0 and stats["clip_frames"]["total"] == df.num_frames.sum()


def test_meta_and_validate(built):
    out, _ = built
    info = DatasetInfo.load(out)
    assert info.num_clips == 5 and info.fps == 16.0 and len(info.keys) == 9 and info.features["first_frame"] == "binary"
    assert (out / "meta/labels.png").stat().st_size > 1000
    assert validate(out) == []
    assert (out / "quarantine.jsonl").read_text() == ""


def test_bad_inputs_are_quarantined_and_nothing_else_is_lost(good_inputs, tmp_path):
    bad = add_bad_inputs(tmp_path, good_inputs)
    manifest = tmp_path / "mixed.jsonl"
    rows = [json.loads(line) for line in good_inputs["manifest"].read_text().splitlines()]
    rows = [{k: str(good_inputs["manifest"].parent / v) for k, v in r.items()} for r in rows]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows + [b["row"] for b in bad]) + "{not json\n")
    result = runner.invoke(app, ["data", "build", str(manifest), "--out", str(tmp_path / "ds"), "--quiet"])
    assert result.exit_code == 1 and f"{len(bad) + 1} quarantined" in result.output, result.output
    records = [json.loads(line) for line in (tmp_path / "ds" / "quarantine.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in records] == [b["stage"] for b in bad] + ["input"]
    for rec, b in zip(records, bad, strict=False):
        assert b["names"] in rec["reason"] and "\n" not in rec["reason"]
    assert "malformed JSON" in records[-1]["reason"]
    df = pd.read_parquet(tmp_path / "ds" / "data")
    assert len(df) == len(expected_clips())  # every good clip is there, exactly once
    assert validate(tmp_path / "ds") == []


def test_deterministic_across_workers_and_runs(good_inputs, built, tmp_path):
    build(good_inputs["manifest"], tmp_path / "two", BuildConfig(), workers=2, progress=False)
    a, b = data_files(built[0]), data_files(tmp_path / "two")
    assert [f.read_bytes() for f in a] == [f.read_bytes() for f in b]


def test_resume_after_kill_9_gives_the_same_dataset(tmp_path):
    from yumebench.actions import Action
    from yumebench.synthetic import Scene, SceneConfig, camera_path
    from yumebench.video import write_mp4

    # 40 distinct inputs (the same render at different encoder quality), so the kill lands mid-build.
    c2w = camera_path([Action("W+A", "→")] * 34)
    frames = Scene(SceneConfig(seed=1, width=48, height=32)).render_video(c2w)
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "poses.npy", c2w)
    rows = []
    for i in range(40):
        write_mp4(tmp_path / "in" / f"v{i}.mp4", frames, 30, crf=5 + i)
        rows.append({"video": f"v{i}.mp4", "poses": "poses.npy", "caption": f"Clip {i}."})
    manifest = tmp_path / "in" / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cmd = [sys.executable, "-m", "yumebench.cli", "data", "build", str(manifest), "--out", str(tmp_path / "killed")]
    proc = subprocess.Popen([*cmd, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = tmp_path / "killed" / ".build" / "parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("*.parquet"))) < 3 and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(parts.glob("*.parquet")))
    assert 0 < done_before < 40
    (parts / ".stray.parquet.123.tmp").write_bytes(b"half a file")  # what a kill mid-write leaves
    report = build(manifest, tmp_path / "killed", BuildConfig(), progress=False)
    assert report.num_skipped == done_before and report.num_clips == 40
    build(manifest, tmp_path / "clean", BuildConfig(), progress=False)
    a, b = data_files(tmp_path / "killed"), data_files(tmp_path / "clean")
    assert len(a) == len(b) == 1 and a[0].read_bytes() == b[0].read_bytes()
    assert pd.read_parquet(tmp_path / "killed" / "data").clip_id.is_unique


def test_changed_settings_refuse_to_mix(good_inputs, tmp_path):
    build(good_inputs["manifest"], tmp_path / "ds", BuildConfig(), progress=False)
    with pytest.raises(BuildError, match="min_frames"):
        build(good_inputs["manifest"], tmp_path / "ds", BuildConfig(min_frames=40), progress=False)
    report = build(good_inputs["manifest"], tmp_path / "ds", BuildConfig(min_frames=40), overwrite=True, progress=False)
    assert report.num_clips == len(expected_clips(40))


def test_max_frames_materialize_and_dataset(good_inputs, tmp_path):
    config = BuildConfig(max_frames=36, materialize=True, wording="5b", image_format="jpeg")
    build(good_inputs["manifest"], tmp_path / "ds", config, progress=False)
    df = pd.read_parquet(tmp_path / "ds" / "data")
    assert (df.end_frame - df.start_frame).max() <= 36 and (df.end_frame - df.start_frame).min() >= 33
    assert df.action_text.str.startswith("The camera").all()
    for r in df.itertuples():
        frames, info = read_frames(tmp_path / "ds" / r.video)
        assert info.fps == 16 and len(frames) == r.num_frames
    ds = YumeClipDataset(tmp_path / "ds", size=(32, 48), num_frames=8)
    sample = ds[0]
    assert sample["video"].shape == (3, 8, 32, 48) and sample["first_frame"].shape == (3, 32, 48)
    assert -1.0 <= float(sample["video"].min()) and float(sample["video"].max()) <= 1.0
    assert sample["keys"] == df.iloc[0]["keys"] and sample["event_text"]
    assert len(YumeClipDataset(tmp_path / "ds", tasks="t2v")) == len(df)


def test_input_layouts_agree(good_inputs, tmp_path):
    """A plain folder with sidecars, a CSV manifest and a YUME-layout folder give the same labels."""
    folder = good_inputs["walk"]["video"].parent
    build(folder, tmp_path / "plain", BuildConfig(), progress=False)
    csv = tmp_path / "m.csv"
    pd.DataFrame(
        [
            {
                "video": str(folder / f"{n}.mp4"),
                "poses": str(folder / f"{n}.npy"),
                "caption_file": str(folder / f"{n}.txt"),
            }
            for n in GOOD_INPUTS
        ]
    ).to_csv(csv, index=False)
    build(csv, tmp_path / "csv", BuildConfig(), progress=False)
    cols = ["start_frame", "end_frame", "keys", "mouse", "event_text"]
    plain = pd.read_parquet(tmp_path / "plain" / "data").sort_values(["source_video", "start_frame"])[cols]
    by_csv = pd.read_parquet(tmp_path / "csv" / "data").sort_values(["source_video", "start_frame"])[cols]
    assert plain.reset_index(drop=True).equals(by_csv.reset_index(drop=True))
    yume = tmp_path / "yume" / "Keys_W_A_Mouse_Right"
    yume.mkdir(parents=True)
    for suffix in (".mp4", ".npy"):
        (yume / f"clip{suffix}").write_bytes((folder / f"walk{suffix}").read_bytes())
    (yume / "clip.txt").write_text("Start Frame: 0\nEnd Frame: 40\nDuration: 41 frames\nKeys: W+A\nMouse: →\n")
    build(tmp_path / "yume", tmp_path / "yds", BuildConfig(), progress=False)
    ydf = pd.read_parquet(tmp_path / "yds" / "data")
    assert list(ydf.caption_conflict) == [False, True] and list(ydf["keys"]) == ["W+A", "S"]
    assert ydf.event_text.tolist() == ["", ""] and ydf.tasks.map(list).tolist() == [["i2v"], ["i2v"]]


def test_resampled_poses_are_aligned(good_inputs, tmp_path):
    """Poses at 60 Hz for a 30 fps video (two per frame) decode to the same clips."""
    walk = good_inputs["walk"]
    c2w = np.load(walk["poses"]).astype(np.float64)
    dense = [c2w[0]]
    for a, b in zip(c2w[:-1], c2w[1:], strict=True):
        mid = a.copy()
        mid[:3, 3] = (a[:3, 3] + b[:3, 3]) / 2  # translation halfway, rotation of the earlier pose
        dense += [mid, b]
    np.save(tmp_path / "dense.npy", np.stack(dense + [c2w[-1]]))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video": str(walk["video"]), "poses": str(tmp_path / "dense.npy")}) + "\n")
    report = build(manifest, tmp_path / "ds", BuildConfig(), progress=False)
    assert report.num_quarantined == 0
    df = pd.read_parquet(tmp_path / "ds" / "data")
    assert [(r.start_frame, r.end_frame, r.keys, r.mouse) for r in df.itertuples()] == [
        (s, e, k, m) for n, s, e, k, m in expected_clips() if n == "walk"
    ]


def test_validate_catches_damage(built, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built[0], copy)
    info = json.loads((copy / "meta/info.json").read_text())
    info["num_clips"] = 99
    (copy / "meta/info.json").write_text(json.dumps(info))
    problems = validate(copy)
    assert any("99 clips" in p for p in problems)
    assert validate(tmp_path / "nothing")[0].endswith("not a yumebench dataset (no meta/info.json)")


def test_schema_is_fixed(built):
    import pyarrow.parquet as pq

    for f in data_files(built[0]):
        assert pq.read_schema(f).equals(CLIP_SCHEMA, check_metadata=False)


def test_ray_backend_gives_the_same_rows(good_inputs, built, tmp_path):
    pytest.importorskip("ray")
    build(good_inputs["manifest"], tmp_path / "ray", BuildConfig(), workers=2, backend="ray", progress=False)
    a, b = data_files(built[0]), data_files(tmp_path / "ray")
    assert [f.read_bytes() for f in a] == [f.read_bytes() for f in b]


def test_cli_stats_and_validate(built):
    out = runner.invoke(app, ["data", "stats", str(built[0])])
    assert out.exit_code == 0 and "clips: 5" in out.output and "W+A,→" in out.output
    assert runner.invoke(app, ["data", "validate", str(built[0])]).exit_code == 0
    bad = runner.invoke(app, ["data", "build", "/nonexistent/manifest.csv", "--out", "/tmp/x"])
    assert bad.exit_code == 2 and "input not found" in bad.output


def test_translation_rule_direction_is_scale_free_and_stats_count_the_differences(tmp_path):
    """A car driving 1 m per frame with centimetre drift: the published rule labels the drift (A/D in
    almost every pair), the direction rule says W throughout; each build counts the clips the other rule
    labels otherwise."""
    from yumebench.video import write_mp4

    frames = 40
    rng = np.random.default_rng(3)
    c2w = np.tile(np.eye(4), (frames, 1, 1))
    c2w[:, 2, 3] = np.arange(frames, dtype=float)
    c2w[:, 0, 3] = np.cumsum(rng.normal(0, 0.01, frames))
    write_mp4(tmp_path / "drive.mp4", (rng.random((frames, 32, 48, 3)) * 255).astype(np.uint8), 16)
    np.save(tmp_path / "drive.npy", c2w)
    (tmp_path / "m.jsonl").write_text(json.dumps({"video": "drive.mp4", "poses": "drive.npy"}) + "\n")
    tables = {}
    for rule in ("published", "direction"):
        out = tmp_path / rule
        build(tmp_path / "m.jsonl", out, BuildConfig(min_frames=2, fps=16, translation_rule=rule), progress=False)
        tables[rule] = pd.read_parquet(out / "data")
        stats = json.loads((out / "meta" / "stats.json").read_text())
        assert stats["labels_differ_by_rule"] == int(tables[rule]["label_differs_by_rule"].sum()) > 0
        assert DatasetInfo.load(out).translation_rule == rule
    assert set(tables["direction"]["keys"]) == {"W"}
    assert len(tables["direction"]) == 1 and tables["direction"]["label_differs_by_rule"].all()
    assert {"W+A", "W+D"} <= set(tables["published"]["keys"])
    with pytest.raises(ValueError, match="translation-rule"):
        BuildConfig(translation_rule="metric")
