"""``bench run --backend ray`` on a private Ray in this process: the same entries as the local backend,
and a video that kills every worker scoring it is reported as failed while the rest is scored."""

from __future__ import annotations

import json
import shutil

import pytest

from yumebench.bench.runner import BenchConfig, run_bench

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from yumebench.actions import Action
    from yumebench.synthetic import random_segment_video
    from yumebench.video import write_mp4

    root = tmp_path_factory.mktemp("ray_bench")
    actions = [Action("W", "·"), Action("D", "←")]
    lines = []
    for v in range(4):
        frames, segs = random_segment_video(actions, seed=300 + v, width=160, height=96)
        write_mp4(root / f"v{v}.mp4", frames, 16)
        lines.append({"id": f"v{v}", "video": f"v{v}.mp4", "segments": segs})
    shutil.copy(root / "v0.mp4", root / "poison.mp4")
    lines.append({**lines[0], "id": "poison", "video": "poison.mp4"})
    (root / "spec.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


def test_a_video_that_kills_its_workers_is_reported_and_the_rest_scored(videos, tmp_path):
    def crash_on_poison() -> None:  # runs in every Ray worker at start-up: the video kills the process
        import os

        import yumebench.bench.runner as runner

        original = runner.score_group

        def score_group(jobs, kwargs, dims=None):
            if any("poison" in video for _, video, _ in jobs):
                os._exit(1)
            return original(jobs, kwargs, dims)

        runner.score_group = score_group

    local = run_bench(videos / "spec.jsonl", videos, tmp_path / "local.json", BenchConfig(progress=False))
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"worker_process_setup_hook": crash_on_poison})
    try:
        config = BenchConfig(progress=False, backend="ray", workers=2)
        report = run_bench(videos / "spec.jsonl", videos, tmp_path / "ray.json", config)
    finally:
        ray.shutdown()
    assert [f["id"] for f in report.failed] == ["poison"]
    assert "a Ray worker died twice while scoring it" in report.failed[0]["error"]
    on_ray = report.results["instruction_following"][1]
    assert on_ray == [row for row in local.results["instruction_following"][1] if row["id"] != "poison"]
    assert report.ray.videos_given_up == 1 and report.ray.actors_replaced >= 3
    assert report.results["meta"]["backend"]["actors_replaced"] == report.ray.actors_replaced
