"""Every command under bad input, failing disks and kills, run as a user runs it: the real CLI in a
subprocess. Each case asserts the exit code (0 ok, 1 items failed / regression, 2 bad input, 3 the
system refused), that stderr carries exactly one ``error:`` line and no traceback where the command
fails, and that nothing else was lost.

Read-only folders, permission errors and full disks are simulated without root: ``failing_fs.py``
patches Python's write entry points (tests run as root, where chmod refuses nothing), and
``RLIMIT_FSIZE`` makes the kernel refuse every write past a size, native writers included.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from yumebench.actions import Action
from yumebench.synthetic import SceneConfig, random_segment_video, write_sample
from yumebench.video import write_mp4

HERE = Path(__file__).parent
PY = sys.executable


def run(*args, fs: tuple[str, Path] | None = None, fsize: int | None = None, timeout: float = 300, cwd=None):
    """(exit code, stdout, stderr) of ``yumebench ARGS``."""
    argv = [PY, str(HERE / "failing_fs.py"), fs[0], str(fs[1])] if fs else [PY, "-m", "yumebench.cli"]
    argv += [str(a) for a in args]

    def limit():
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent), "COLUMNS": "200"}
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=limit, env=env, cwd=cwd)
    if os.environ.get("RELIABILITY_TABLE"):  # (case, exit code, line) rows for a report, on request
        errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
        line = errors[0] if errors else (p.stderr.strip().splitlines() or [""])[-1]
        case = os.environ.get("PYTEST_CURRENT_TEST", "").split("::")[-1].split(" ")[0]
        with open(os.environ["RELIABILITY_TABLE"], "a", encoding="utf-8") as f:
            f.write(
                json.dumps({"case": case, "args": [str(a) for a in args][:3], "rc": p.returncode, "line": line}) + "\n"
            )
    return p.returncode, p.stdout, p.stderr


def one_error(stdout: str, stderr: str, *fragments: str) -> str:
    """The single ``error:`` line, which must name every fragment; no traceback anywhere."""
    assert "Traceback" not in stdout + stderr, stdout + stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def results_file(path: Path, scores: dict, meta=None, spec="abc") -> Path:
    data = {d: [v, [{"video_path": "a.mp4", "video_results": v}]] for d, v in scores.items()}
    data["meta"] = {"source": "yumebench", "spec_sha256": spec} if meta is None else meta
    path.write_text(json.dumps(data, allow_nan=True))
    return path


# ----------------------------------------------------------------------------------------------------
# Fixtures: small real inputs, made once


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    small = SceneConfig(width=64, height=48, num_boxes=4, seed=2)
    walk = write_sample(root, "walk", [(Action("W+A", "→"), 40), (Action("S", "·"), 40)], small, fps=30)
    look = write_sample(root, "look", [(Action("None", "↑"), 40)], SceneConfig(width=64, height=48, seed=3), fps=30)
    return {"root": root, "walk": walk, "look": look}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    items = []
    for v, acts in enumerate([[Action("W+A", "·")] * 3, [Action("None", "→")] * 3]):
        frames, segs = random_segment_video(acts, seed=700 + v, width=160, height=96)
        write_mp4(root / f"v{v}.mp4", frames, 16)
        items.append({"id": f"v{v}", "video": f"v{v}.mp4", "segments": segs})
    (root / "spec.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    (root / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    bad = {**items[0], "id": "bad", "video": "bad.mp4"}
    (root / "one_bad.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in [items[0], bad]))
    return root


def manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ----------------------------------------------------------------------------------------------------
# The CI gate: leaderboard check never passes on what it cannot compare


@pytest.mark.parametrize(
    "candidate, baseline, extra, fragment",
    [
        ({"instruction_following": math.nan}, {"instruction_following": 0.8}, [], "non-finite number NaN"),
        ({"instruction_following": 0.8}, {"instruction_following": math.nan}, [], "non-finite number NaN"),
        ({"instruction_following": 0.3}, {"instruction_following": 0.8}, ["--max-drop", "nan"], "--max-drop nan"),
        ({"instruction_following": math.inf}, {"instruction_following": 0.8}, [], "non-finite number Infinity"),
        ({"instruction_following": "0.9"}, {"instruction_following": 0.8}, [], "has score '0.9'"),
        ({"instruction_following": True}, {"instruction_following": 0.8}, [], "has score True"),
        ({"instruction_following": 0.8}, {"instruction_following": 0.8}, ["--max-drop", "-0.1"], "finite number >= 0"),
        (
            {"instruction_following": 0.8},
            {"instruction_following": 0.8},
            ["--max-drop-dim", "instruction_following=inf"],
            "--max-drop-dim instruction_following inf",
        ),
        ({"instruction_following": None}, {"instruction_following": 0.8}, [], "missing dimensions"),
    ],
)
def test_check_refuses_what_it_cannot_compare(tmp_path, candidate, baseline, extra, fragment):
    cand = results_file(tmp_path / "cand.json", candidate)
    base = results_file(tmp_path / "base.json", baseline)
    code, out, err = run("leaderboard", "check", cand, "--baseline", base, *extra)
    assert code == 2 and "no regression" not in out
    one_error(out, err, fragment)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("meta-list", "'meta' is list"),
        ("directory", "is a folder"),
        ("truncated", "not a JSON results file"),
        ("latin1", "not UTF-8"),
        ("missing", "file not found"),
    ],
)
def test_check_refuses_malformed_files_with_exit_2(tmp_path, content, fragment):
    base = results_file(tmp_path / "base.json", {"instruction_following": 0.8})
    cand = tmp_path / "cand.json"
    if content == "meta-list":
        results_file(cand, {"instruction_following": 0.9}, meta=[1, 2])
    elif content == "directory":
        cand.mkdir()
    elif content == "truncated":
        cand.write_text('{"instruction_following": [0.9, [')
    elif content == "latin1":
        cand.write_bytes('{"instruction_following": [0.9, []], "meta": {"note": "caf\xe9"}}'.encode("latin-1"))
    code, out, err = run("leaderboard", "check", cand, "--baseline", base)
    assert code == 2
    one_error(out, err, str(cand), fragment)


def test_check_passes_and_fails_on_real_numbers(tmp_path):
    base = results_file(tmp_path / "base.json", {"instruction_following": 0.8})
    same = results_file(tmp_path / "same.json", {"instruction_following": 0.795})
    drop = results_file(tmp_path / "drop.json", {"instruction_following": 0.3})
    code, out, err = run("leaderboard", "check", same, "--baseline", base)
    assert code == 0 and "no regression" in out
    code, out, err = run("leaderboard", "check", drop, "--baseline", base)
    assert code == 1 and "REGRESSED" in out and "Traceback" not in err


def test_add_refuses_non_finite_scores_and_keeps_the_store(tmp_path):
    store = tmp_path / "board.json"
    good = results_file(tmp_path / "good.json", {"instruction_following": 0.8})
    assert run("leaderboard", "add", good, "--name", "good", "--store", store)[0] == 0
    before = store.read_bytes()
    for bad in (math.nan, math.inf):
        code, out, err = run(
            "leaderboard", "add", results_file(tmp_path / "bad.json", {"aesthetic_quality": bad}), "--name", "x",
            "--store", store,
        )  # fmt: skip
        assert code == 2
        one_error(out, err, "bad.json", "non-finite")
        assert store.read_bytes() == before
    assert "NaN" not in store.read_text() and json.loads(store.read_text())  # strict JSON


def test_render_refuses_a_store_holding_nan(tmp_path):
    store = tmp_path / "board.json"
    store.write_text('{"schema_version": "1.0", "rows": [{"name": "x", "scores": {"aesthetic_quality": NaN}}]}')
    code, out, err = run("leaderboard", "render", "--store", store, "--out", tmp_path / "board")
    assert code == 2 and not (tmp_path / "board" / "index.html").exists()
    one_error(out, err, "board.json", "non-finite")


@pytest.mark.parametrize("errno_name, reason", [("EROFS", "read-only file system"), ("EACCES", "permission denied")])
def test_add_to_a_store_the_system_refuses(tmp_path, errno_name, reason):
    folder = tmp_path / "locked"
    folder.mkdir()
    good = results_file(tmp_path / "good.json", {"instruction_following": 0.8})
    code, out, err = run(
        "leaderboard", "add", good, "--name", "g", "--store", folder / "b.json", fs=(errno_name, folder)
    )
    assert code == 3 and not (folder / "b.json").exists()
    one_error(out, err, "b.json", reason)


# ----------------------------------------------------------------------------------------------------
# data build: no silent wrong data


def test_poses_shorter_than_the_video_are_quarantined_not_resampled(tmp_path, clips):
    walk = clips["walk"]
    half = np.load(walk["poses"])[:40]  # 40 poses for 81 frames: the first half of the path
    np.save(tmp_path / "half.npy", half)
    rows = [
        {"video": str(walk["video"]), "poses": str(tmp_path / "half.npy")},
        {"video": str(clips["look"]["video"]), "poses": str(clips["look"]["poses"])},
    ]
    code, out, err = run("data", "build", manifest(tmp_path / "m.jsonl", rows), "--out", tmp_path / "ds", "--quiet")
    assert code == 1 and "Traceback" not in err
    records = [json.loads(ln) for ln in (tmp_path / "ds" / "quarantine.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in records] == ["poses"] and "40 poses for 81 frames" in records[0]["reason"]
    assert "1 of 2 inputs" in out  # the good input was built


def test_strided_poses_and_pose_fps_are_still_accepted(tmp_path, clips):
    walk = clips["walk"]
    c2w = np.load(walk["poses"])
    np.save(tmp_path / "every2.npy", c2w[::2])  # 41 poses for 81 frames: one every 2 frames
    rows = [
        {"video": str(walk["video"]), "poses": str(tmp_path / "every2.npy")},
        {"video": str(walk["video"]), "poses": str(tmp_path / "every2.npy"), "pose_fps": 15, "source": "b"},
    ]
    code, out, err = run(
        "data", "build", manifest(tmp_path / "m.jsonl", rows), "--out", tmp_path / "ds", "--quiet", "--min-frames", "9"
    )
    assert code in (0, 1) and "stride" not in (tmp_path / "ds" / "quarantine.jsonl").read_text()


def test_a_copy_of_a_quarantined_input_is_built_not_called_a_duplicate(tmp_path, clips):
    walk = clips["walk"]
    (tmp_path / "bad.txt").write_bytes("Caf\xe9".encode("latin-1"))
    rows = [
        {"video": str(walk["video"]), "poses": str(walk["poses"]), "caption_file": str(tmp_path / "bad.txt")},
        {"video": str(walk["video"]), "poses": str(walk["poses"]), "caption_file": str(walk["caption"])},
        {"video": str(walk["video"]), "poses": str(walk["poses"]), "caption": "Another copy."},
    ]
    code, out, err = run("data", "build", manifest(tmp_path / "m.jsonl", rows), "--out", tmp_path / "ds", "--quiet")
    records = [json.loads(ln) for ln in (tmp_path / "ds" / "quarantine.jsonl").read_text().splitlines()]
    assert code == 1 and [r["stage"] for r in records] == ["caption", "input"]
    assert "not valid UTF-8" in records[0]["reason"] and "duplicate of input 1" in records[1]["reason"]
    assert "0 done by an earlier run" in out  # a fresh folder: nothing was "already done"
    rerun = run("data", "build", tmp_path / "m.jsonl", "--out", tmp_path / "ds", "--quiet")
    assert rerun[0] == 1 and "3 done by an earlier run" in rerun[1]


def test_non_utf8_yume_label_file_and_one_frame_video_are_quarantined(tmp_path, clips):
    root = tmp_path / "yume"
    folder = root / "Keys_W_A_Mouse_Right"
    folder.mkdir(parents=True)
    walk = clips["walk"]
    for name in ("good", "latin"):
        (folder / f"{name}.mp4").write_bytes(walk["video"].read_bytes())
        (folder / f"{name}.npy").write_bytes(walk["poses"].read_bytes())
    (folder / "good.txt").write_text("Keys: W+A\nMouse: →\n", encoding="utf-8")
    (folder / "latin.txt").write_bytes("Keys: W+A\nMouse: \xe9\n".encode("latin-1"))
    write_mp4(folder / "one.mp4", np.zeros((1, 48, 64, 3), np.uint8), 30)
    np.save(folder / "one.npy", np.eye(4)[None])
    code, out, err = run("data", "build", root, "--out", tmp_path / "ds", "--quiet")
    records = {
        Path(json.loads(ln)["input"]).stem: json.loads(ln)
        for ln in (tmp_path / "ds" / "quarantine.jsonl").read_text().splitlines()
    }
    assert code == 1 and set(records) == {"latin", "one"}
    assert "label file is not valid UTF-8" in records["latin"]["reason"]
    assert "1 frame; a clip needs at least 33" in records["one"]["reason"]


def test_a_symlink_loop_in_a_manifest_costs_only_its_row(tmp_path, clips):
    os.symlink(tmp_path / "loop_b", tmp_path / "loop_a")
    os.symlink(tmp_path / "loop_a", tmp_path / "loop_b")
    rows = [
        {"video": str(tmp_path / "loop_a")},
        {"video": str(clips["look"]["video"]), "poses": str(clips["look"]["poses"])},
    ]
    code, out, err = run("data", "build", manifest(tmp_path / "m.jsonl", rows), "--out", tmp_path / "ds", "--quiet")
    assert code == 1 and "Traceback" not in err and "1 of 2 inputs" in out
    record = json.loads((tmp_path / "ds" / "quarantine.jsonl").read_text().splitlines()[0])
    assert "loop_a" in record["reason"]


@pytest.mark.parametrize("errno_name, reason", [("EROFS", "read-only file system"), ("EACCES", "permission denied")])
def test_build_into_a_folder_the_system_refuses(tmp_path, clips, errno_name, reason):
    rows = [{"video": str(clips["look"]["video"]), "poses": str(clips["look"]["poses"])}]
    out_dir = tmp_path / "ds"
    code, out, err = run(
        "data", "build", manifest(tmp_path / "m.jsonl", rows), "--out", out_dir, "--quiet", fs=(errno_name, out_dir)
    )
    assert code == 3
    one_error(out, err, "ds", reason)


def test_build_on_a_full_disk_is_one_line_and_resumes(tmp_path, clips):
    rows = [{"video": str(clips["look"]["video"]), "poses": str(clips["look"]["poses"])}]
    m = manifest(tmp_path / "m.jsonl", rows)
    code, out, err = run("data", "build", m, "--out", tmp_path / "ds", "--quiet", fsize=4096)
    assert code == 3
    one_error(out, err, "file too large")
    assert not list((tmp_path / "ds").rglob("*.tmp"))  # nothing half-written is left behind
    code, out, err = run("data", "build", m, "--out", tmp_path / "ds", "--quiet")
    assert code == 0 and (tmp_path / "ds" / "meta" / "info.json").exists()


@pytest.mark.parametrize("what", ["missing", "empty-folder"])
def test_build_without_inputs_is_bad_input(tmp_path, what):
    source = tmp_path / "nothing"
    if what == "empty-folder":
        source.mkdir()
    code, out, err = run("data", "build", source, "--out", tmp_path / "ds")
    assert code == 2
    one_error(out, err, "nothing")


# ----------------------------------------------------------------------------------------------------
# bench run / report / suite


def test_bench_out_with_missing_parents_is_created(tmp_path, bench):
    out = tmp_path / "a" / "b" / "results.json"
    code, out_text, err = run(
        "bench", "run", "--spec", bench / "spec.jsonl", "--videos", bench, "--out", out, "--quiet"
    )
    assert code == 0 and json.loads(out.read_text())["instruction_following"][0] is not None


@pytest.mark.parametrize("errno_name, reason", [("EROFS", "read-only file system"), ("EACCES", "permission denied")])
def test_bench_refuses_an_unwritable_output_before_scoring(tmp_path, bench, errno_name, reason):
    folder = tmp_path / "locked"
    start = time.perf_counter()
    code, out, err = run(
        "bench", "run", "--spec", bench / "spec.jsonl", "--videos", bench, "--out", folder / "r.json", "--quiet",
        fs=(errno_name, folder),
    )  # fmt: skip
    assert code == 3 and time.perf_counter() - start < 30  # refused before scoring, not after
    one_error(out, err, "locked", reason)


def test_bench_on_a_full_disk(tmp_path, bench):
    code, out, err = run(
        "bench", "run", "--spec", bench / "spec.jsonl", "--videos", bench, "--out", tmp_path / "r.json", "--quiet",
        fsize=2048,
    )  # fmt: skip
    assert code == 3
    one_error(out, err, "file too large")


@pytest.mark.parametrize(
    "spec_kind, fragment",
    [("folder", "is a folder"), ("latin1", "not UTF-8"), ("missing", "spec not found"), ("no-videos", "videos folder")],
)
def test_bench_bad_spec_or_videos_is_bad_input(tmp_path, bench, spec_kind, fragment):
    spec, videos = tmp_path / "spec.jsonl", bench
    if spec_kind == "folder":
        spec.mkdir()
    elif spec_kind == "latin1":
        spec.write_bytes('{"id": "caf\xe9"}\n'.encode("latin-1"))
    elif spec_kind == "no-videos":
        spec = bench / "spec.jsonl"
        videos = tmp_path / "nope"
    code, out, err = run("bench", "run", "--spec", spec, "--videos", videos, "--out", tmp_path / "r.json", "--quiet")
    assert code == 2
    one_error(out, err, fragment)


def test_a_bad_video_is_one_line_with_no_decoder_noise_and_the_rest_is_scored(tmp_path, bench):
    code, out, err = run(
        "bench", "run", "--spec", bench / "one_bad.jsonl", "--videos", bench, "--out", tmp_path / "r.json", "--quiet"
    )
    assert code == 1 and "Traceback" not in err
    assert "moov atom" not in err and "video_reader.cc" not in err  # no native decoder noise
    assert [ln for ln in err.splitlines() if "bad.mp4" in ln] == [
        ln for ln in err.splitlines() if ln.startswith("failed bad")
    ]
    results = json.loads((tmp_path / "r.json").read_text())
    assert len(results["instruction_following"][1]) == 1 and results["meta"]["failed"][0]["id"] == "bad"
    code, out, err = run("bench", "report", tmp_path / "r.json", "--out", tmp_path / "rep")
    page = (tmp_path / "rep" / "index.html").read_text()
    assert code == 0 and '<tr class="failed"><td>bad</td>' in page


def test_report_into_a_refused_folder(tmp_path, bench):
    run("bench", "run", "--spec", bench / "spec.jsonl", "--videos", bench, "--out", tmp_path / "r.json", "--quiet")
    code, out, err = run(
        "bench", "report", tmp_path / "r.json", "--out", tmp_path / "rep", fs=("EROFS", tmp_path / "rep")
    )
    assert code == 3
    one_error(out, err, "rep", "read-only file system")


def test_bench_suite_lists_what_a_generator_needs(tmp_path):
    code, out, err = run("bench", "suite", "yume-bench", "--out", tmp_path / "suite.jsonl")
    items = [json.loads(ln) for ln in (tmp_path / "suite.jsonl").read_text().splitlines()]
    assert code == 0 and len(items) == 70 and items[0]["id"] == "yb-001" and items[0]["video"] == "yb-001.mp4"
    assert items[0]["command"].startswith("yumebench model generate") and "--out yb-001.mp4" in items[0]["command"]
    assert all(len(i["segments"]) == 3 and i["protocol"]["num_frames"] == 96 for i in items)
    code, out, err = run("bench", "suite", "nope", "--out", tmp_path / "x.jsonl")
    assert code == 2
    one_error(out, err, "unknown suite 'nope'")


def test_kill_9_leaves_no_workers_and_a_rerun_sweeps_and_resumes(tmp_path, bench):
    spec = tmp_path / "spec.jsonl"
    items = [json.loads(ln) for ln in (bench / "spec.jsonl").read_text().splitlines()]
    spec.write_text("".join(json.dumps({**i, "id": f"{i['id']}-{k}"}) + "\n" for k in range(4) for i in items))
    out = tmp_path / "r.json"
    stale = tmp_path / f".r.json.{2**22 + 12345}.tmp"  # a temporary of a process that no longer exists
    stale.write_text("half")
    argv = [PY, "-m", "yumebench.cli", "bench", "run", "--spec", str(spec), "--videos", str(bench), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
    proc = subprocess.Popen([*argv, "--workers", "2", "--quiet"], env=env, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not _children(proc.pid):
        time.sleep(0.2)
    workers = _children(proc.pid)
    assert workers, "the run never started its workers"
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3.0)  # workers poll their parent twice a second
    assert not [pid for pid in workers if _alive(pid)], "workers outlived their killed parent"
    code, _, err = run("bench", "run", "--spec", spec, "--videos", bench, "--out", out, "--quiet")
    assert code == 0 and not stale.exists()
    first = json.loads(out.read_text())["instruction_following"][0]
    code, _, _ = run("bench", "run", "--spec", spec, "--videos", bench, "--out", tmp_path / "fresh.json", "--quiet")
    assert json.loads((tmp_path / "fresh.json").read_text())["instruction_following"][0] == first


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_non_finite_dimension_scores_never_reach_the_results(tmp_path, bench, monkeypatch):
    from yumebench.bench.runner import BenchConfig, run_bench
    from yumebench.metrics.instruction_following import InstructionFollowing

    monkeypatch.setattr(InstructionFollowing, "score_video", lambda self, frames, item: {"video_results": math.nan})
    report = run_bench(bench / "spec.jsonl", bench, tmp_path / "r.json", BenchConfig(progress=False))
    text = (tmp_path / "r.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the results"))
    assert data["instruction_following"][0] is None
    assert all("non-finite" in row["error"] for row in data["instruction_following"][1])
    assert report.results["instruction_following"][0] is None


# ----------------------------------------------------------------------------------------------------
# model generate: check what can be checked before the model runs


def test_generate_refuses_a_non_utf8_prompt_before_the_model_loads(tmp_path):
    prompt = b"A street \xff at night".decode("utf-8", "surrogateescape")
    argv = [PY, "-m", "yumebench.cli", "model", "generate", "--actions", "W,·", "--out", str(tmp_path / "v.mp4")]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
    p = subprocess.run([*argv, "--prompt", prompt], capture_output=True, env=env, timeout=300)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 2 and not (tmp_path / "v.mp4").exists()
    one_error(p.stdout.decode(), err, "--prompt", "not valid UTF-8")
    assert "random weights" not in err  # refused before the model was built


def test_generate_into_a_refused_folder_fails_before_the_model_loads(tmp_path):
    folder = tmp_path / "locked"
    code, out, err = run(
        "model", "generate", "--actions", "W,·", "--prompt", "a", "--out", folder / "v.mp4", fs=("EROFS", folder)
    )
    assert code == 3 and "random weights" not in err
    one_error(out, err, "locked", "read-only file system")


@pytest.mark.parametrize(
    "extra, fragment", [(["--actions", "W,·", "--dtype", "float8"], "--dtype"), (["--actions", "W,?"], "--actions")]
)
def test_generate_bad_flags_are_bad_input(tmp_path, extra, fragment):
    code, out, err = run("model", "generate", "--prompt", "a", "--out", tmp_path / "v.mp4", *extra)
    assert code == 2 and not (tmp_path / "v.mp4").exists()
    one_error(out, err, fragment)
