"""The embedded default: the toolkit end to end on sample scenes it renders itself (no downloads, no GPU).

1. Render sample walks with known camera paths (video + poses + caption).
2. Build the training set from them (``data_pipeline``).
3. Score the sample videos on Yume-Bench against their true actions, and against shuffled actions as
   a sanity check (``yumebench.bench``).
4. Rank the runs beside the published Yume1.5 Table 1 rows (``leaderboards``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from yumebench.actions import Action

# (name, segments of (action, frame pairs), event) - walks that cover keys, mouse and idle states.
SAMPLES = [
    ("plaza_walk", [("W+A", "·"), ("W+A", "→"), ("W", "←")], "A sunny plaza with fountains; a cyclist crosses."),
    ("alley_look", [("None", "↑"), ("S", "·"), ("D", "↓")], "A narrow alley at dusk, lanterns swaying."),
    ("market_turn", [("W+D", "←"), ("None", "·"), ("A", "↑→")], "A busy street market with striped awnings."),
    ("park_back", [("S+D", "·"), ("W+D", "→"), ("None", "↓←")], "A quiet park with tall hedges and benches."),
]


@dataclass
class DemoConfig:
    out: Path = Path("yumebench-demo")
    width: int = 288
    height: int = 160
    frames_per_segment: int = 32
    workers: int = 2
    quick: bool = False  # two samples instead of four (used by the test suite)


def run_demo(config: DemoConfig, log=print) -> dict:
    import numpy as np

    from data_pipeline.builder import build
    from data_pipeline.process import BuildConfig
    from yumebench.bench.runner import BenchConfig, run_bench
    from yumebench.synthetic import Scene, SceneConfig, random_walk
    from yumebench.video import write_mp4

    out = Path(config.out)
    samples = SAMPLES[:2] if config.quick else SAMPLES
    fps = 16
    t0 = time.perf_counter()
    log(f"1/4 rendering {len(samples)} sample walks with known camera paths -> {out / 'samples'}")
    spec_items, shuffled_items, manifest = [], [], []
    for i, (name, segs, event) in enumerate(samples):
        actions = [Action(k, m) for k, m in segs]
        c2w, segments, scene_seed = random_walk(actions, seed=1000 + i, frames_per_segment=config.frames_per_segment)
        frames = Scene(SceneConfig(width=config.width, height=config.height, seed=scene_seed)).render_video(c2w)
        video = out / "samples" / f"{name}.mp4"
        write_mp4(video, frames, fps)
        np.save(video.with_suffix(".npy"), c2w)
        (out / "samples" / f"{name}.txt").write_text(event + "\n", encoding="utf-8")
        manifest.append(
            {"video": f"samples/{name}.mp4", "poses": f"samples/{name}.npy", "caption_file": f"samples/{name}.txt"}
        )
        spec_items.append({"id": name, "video": f"{name}.mp4", "prompt": event, "segments": segments})
        rotated = segments[1:] + segments[:1]
        shuffled_items.append(
            {
                **spec_items[-1],
                "segments": [
                    {**s, "keys": r["keys"], "mouse": r["mouse"]} for s, r in zip(segments, rotated, strict=True)
                ],
            }
        )
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in manifest), encoding="utf-8")

    log("2/4 building the T2V/I2V training set -> " + str(out / "dataset"))
    report = build(
        out / "manifest.jsonl",
        out / "dataset",
        BuildConfig(min_frames=config.frames_per_segment // 2),
        workers=1,
        progress=False,
        overwrite=True,
    )
    log(f"    {report.num_clips} clips, {report.num_quarantined} quarantined")

    log("3/4 scoring the samples on Yume-Bench (true commands, then shuffled commands as a sanity check)")
    for name, items in (("spec.jsonl", spec_items), ("spec_shuffled.jsonl", shuffled_items)):
        (out / name).write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    bench_cfg = BenchConfig(workers=1 if config.quick else config.workers, progress=False)
    true_run = run_bench(out / "spec.jsonl", out / "samples", out / "results.json", bench_cfg)
    shuffled_run = run_bench(out / "spec_shuffled.jsonl", out / "samples", out / "results_shuffled.json", bench_cfg)
    if_true = true_run.results["instruction_following"][0]
    if_shuffled = shuffled_run.results["instruction_following"][0]
    log(f"    instruction following: {if_true:.3f} with the true commands, {if_shuffled:.3f} shuffled")
    from yumebench.bench.report import write_report

    report_page = write_report(out / "results.json", out / "report")

    log("4/4 leaderboard beside the published Yume1.5 rows -> " + str(out / "leaderboard"))
    board = _leaderboard(out)
    summary = {
        "out": str(out),
        "dataset": str(out / "dataset"),
        "clips": report.num_clips,
        "results": str(out / "results.json"),
        "report": str(report_page),
        "instruction_following": if_true,
        "instruction_following_shuffled": if_shuffled,
        "leaderboard": board,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _leaderboard(out: Path) -> str:
    from leaderboards.store import Leaderboard

    board = Leaderboard.with_published()
    board.add_results(out / "results.json", "demo samples (true commands)", {"kind": "rendered scenes"})
    board.add_results(out / "results_shuffled.json", "demo samples (shuffled commands)", {"kind": "sanity check"})
    board.save(out / "leaderboard.json")
    return str(board.render(out / "leaderboard")["markdown"])
