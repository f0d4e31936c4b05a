"""``bench run`` and ``data build`` on a real two-node Ray cluster on this machine (``local_ray``), through
the CLI with ``RAY_ADDRESS``, as a user runs them: equal to the local backend, a worker killed mid-run
costs nothing, a killed driver's rerun resumes, and only the cluster's own processes are stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cluster.local_ray import LocalRayCluster

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "yumebench.cli"]


def _cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """One ``yumebench`` command run to its end."""
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster():
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "ray-bystander"])
    c = LocalRayCluster(nodes=2, cpus_per_node=1).start()
    try:
        yield c
    finally:
        survivors = c.stop()
        alive = bystander.poll() is None
        bystander.kill()
        assert survivors == [], f"cluster processes left running: {survivors}"
        assert alive, "stopping the cluster ended a process it did not start"


@pytest.fixture(scope="module")
def bench_videos(tmp_path_factory):
    """12 rendered walks with known segments (about a second each to score on one core)."""
    from yumebench.actions import Action
    from yumebench.synthetic import random_segment_video
    from yumebench.video import write_mp4

    root = tmp_path_factory.mktemp("cluster_bench")
    (root / "videos").mkdir()
    actions = [Action("W+A", "·"), Action("None", "→"), Action("S", "↑")]
    lines = []
    for v in range(12):
        frames, segs = random_segment_video(actions, seed=700 + v, width=224, height=128)
        write_mp4(root / "videos" / f"v{v}.mp4", frames, 16)
        lines.append(json.dumps({"id": f"v{v}", "video": f"v{v}.mp4", "prompt": "a walk", "segments": segs}))
    (root / "spec.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["bench", "run", "--spec", "spec.jsonl", "--videos", "videos", "--out", "local.json", "--workers", "2"]
    done = _cli(*args, "--quiet", cwd=root)
    assert done.returncode == 0, done.stderr
    return root


def _entries(path: Path) -> list[dict]:
    return json.loads(path.read_text())["instruction_following"][1]


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} never reached {count} lines (driver exit {proc.poll()})")


def _bench(cluster, root: Path, out: str) -> subprocess.Popen:
    # relative --videos from the driver's folder: the workers run elsewhere and get absolute paths
    args = ["bench", "run", "--spec", "spec.jsonl", "--videos", "videos", "--out", out, "--backend", "ray"]
    return subprocess.Popen(
        [*CLI, *args, "--workers", "2", "--quiet"],
        cwd=root,
        env=cluster.driver_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_bench_run_on_the_cluster_equals_local_and_survives_a_killed_worker(cluster, bench_videos):
    root = bench_videos
    proc = _bench(cluster, root, "ray.json")
    _wait_for_lines(root / "ray.json.cache.jsonl", 1, proc)
    killed = cluster.kill_one("ray::_Scorer")  # one actor's process, mid-group
    assert killed is not None
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert _entries(root / "ray.json") == _entries(root / "local.json")  # exactly, on CPU
    backend = json.loads((root / "ray.json").read_text())["meta"]["backend"]
    assert backend["name"] == "ray" and backend["actors_replaced"] >= 1 and backend["groups_retried"] >= 1
    assert len({w.split(":")[0] for w in backend["videos_per_worker"]}) >= 1
    cached = [json.loads(line)["id"] for line in (root / "ray.json.cache.jsonl").read_text().splitlines()]
    assert sorted(cached) == sorted(f"v{v}" for v in range(12))  # every video once: none lost, none twice


def test_a_killed_driver_resumes_from_its_cache(cluster, bench_videos):
    root = bench_videos
    proc = _bench(cluster, root, "resumed.json")
    _wait_for_lines(root / "resumed.json.cache.jsonl", 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    first = len((root / "resumed.json.cache.jsonl").read_text().splitlines())
    assert first < 12
    again = _bench(cluster, root, "resumed.json")
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert _entries(root / "resumed.json") == _entries(root / "local.json")
    backend = json.loads((root / "resumed.json").read_text())["meta"]["backend"]
    assert sum(backend["videos_per_worker"].values()) == 12 - first  # only what was missing was scored


@pytest.fixture(scope="module")
def build_inputs(tmp_path_factory):
    """Eight rendered walks with known camera paths and captions, and a manifest."""
    from yumebench.actions import Action
    from yumebench.synthetic import SceneConfig, write_sample

    root = tmp_path_factory.mktemp("cluster_build")
    rows = []
    for i in range(8):
        segments = [(Action("W+A", "→"), 40 + 2 * i), (Action("S", "·"), 36)]
        write_sample(root / "videos", f"walk{i}", segments, SceneConfig(seed=40 + i, width=96, height=64), fps=30)
        rows.append({"video": f"videos/walk{i}.mp4", "poses": f"videos/walk{i}.npy"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = _cli("data", "build", "manifest.jsonl", "--out", "local", "--workers", "2", "--quiet", cwd=root)
    assert done.returncode == 0, done.stderr
    return root


def _data_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("data/**/*.parquet"))}


def test_data_build_on_the_cluster_equals_local_and_survives_a_killed_worker(cluster, build_inputs):
    root = build_inputs
    proc = subprocess.Popen(
        [*CLI, "data", "build", "manifest.jsonl", "--out", "on_ray", "--backend", "ray", "--workers", "2", "--quiet"],
        cwd=root,
        env=cluster.driver_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    parts = root / "on_ray" / ".build" / "parts"
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline and not (parts.exists() and any(parts.iterdir())):
        time.sleep(0.05)
    killed = cluster.kill_one("ray::MapWorker")  # one of the build's Ray Data actors, mid-run
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert _data_bytes(root / "on_ray") == _data_bytes(root / "local")  # byte-identical parquet
    info = json.loads((root / "on_ray" / "meta" / "info.json").read_text())
    assert info["num_clips"] == 16 and info["num_quarantined"] == 0
    assert killed is not None  # the actors live until the last input is done


def test_an_unreachable_cluster_is_one_line_and_exit_3(bench_videos, tmp_path):
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:1"}
    args = ["bench", "run", "--spec", "spec.jsonl", "--videos", "videos", "--out", str(tmp_path / "r.json")]
    done = _cli(*args, "--backend", "ray", "--quiet", cwd=bench_videos, env=env, timeout=300)
    assert done.returncode == 3, done.stderr
    assert "RAY_ADDRESS=127.0.0.1:1" in done.stderr and "Traceback" not in done.stderr
