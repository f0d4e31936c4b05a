"""The embedded default: the toolkit end to end on sample scenes it renders itself (no downloads, no GPU).

1. Render sample walks with known camera paths (video + poses + caption).
2. Build the training set from them (``data_pipeline``).
3. Generate a few blocks with the tiny reference model (``yume_model``; random weights unless a
   pipeline folder is given, so the pictures are noise, but every step of the real path runs).
4. Score the sample and generated videos on Yume-Bench against their commands, and the samples against
   shuffled commands as a sanity check (``yumebench.bench``); dimensions without weights are skipped
   and listed with the command that gets them.
5. Rank the runs beside the published Yume1.5 Table 1 rows (``leaderboards``).
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
    quick: bool = False  # two samples and two generated blocks (used by the test suite)
    weights: Path | None = None  # bench weights folder (every dimension is scored when it is complete)
    generator: Path | None = None  # a tiny pipeline folder (save_pretrained); default: random weights


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
    log(f"1/5 rendering {len(samples)} sample walks with known camera paths -> {out / 'samples'}")
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

    log("2/5 building the T2V/I2V training set -> " + str(out / "dataset"))
    report = build(
        out / "manifest.jsonl",
        out / "dataset",
        BuildConfig(min_frames=config.frames_per_segment // 2),
        workers=1,
        progress=False,
        overwrite=True,
    )
    log(f"    {report.num_clips} clips, {report.num_quarantined} quarantined")

    log("3/5 generating with the tiny reference model -> " + str(out / "generated"))
    generated = _generate(out / "generated", config)
    log(f"    {generated['frames']} frames in {generated['blocks']} blocks ({generated['weights']})")

    log("4/5 scoring on Yume-Bench (true commands, then shuffled commands as a sanity check)")
    for name, items in (("spec.jsonl", spec_items), ("spec_shuffled.jsonl", shuffled_items)):
        (out / name).write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    from yumebench.metrics import DIMENSIONS

    bench_cfg = BenchConfig(
        dims=DIMENSIONS.names(),
        workers=1 if config.quick else config.workers,
        progress=False,
        weights_dir=str(config.weights) if config.weights else None,
    )
    true_run = run_bench(out / "spec.jsonl", out / "samples", out / "results.json", bench_cfg)
    shuffled_run = run_bench(out / "spec_shuffled.jsonl", out / "samples", out / "results_shuffled.json", bench_cfg)
    generated_run = run_bench(
        out / "generated" / "tiny_t2v.jsonl", out / "generated", out / "results_generated.json", bench_cfg
    )
    if_true = true_run.results["instruction_following"][0]
    if_shuffled = shuffled_run.results["instruction_following"][0]
    if_generated = generated_run.results["instruction_following"][0]
    log(f"    instruction following: {if_true:.3f} with the true commands, {if_shuffled:.3f} shuffled")
    log(f"    generated video (random weights): instruction following {if_generated:.3f}")
    for reason in true_run.skipped.values():
        log(f"    skipped {reason}")
    from yumebench.bench.report import write_report

    report_page = write_report(out / "results.json", out / "report")

    log("5/5 leaderboard beside the published Yume1.5 rows -> " + str(out / "leaderboard"))
    board = _leaderboard(out, generated)
    summary = {
        "out": str(out),
        "dataset": str(out / "dataset"),
        "clips": report.num_clips,
        "results": str(out / "results.json"),
        "report": str(report_page),
        "instruction_following": if_true,
        "instruction_following_shuffled": if_shuffled,
        "generated": generated,
        "instruction_following_generated": if_generated,
        "skipped": true_run.skipped,
        "leaderboard": board,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _generate(out: Path, config: DemoConfig) -> dict:
    """A T2V walk with the tiny pipeline through the same code path as ``yumebench model generate``."""
    from yume_model.pipeline import GenerationConfig, YumePipeline, block_segments
    from yumebench.video import write_mp4

    gen_config = GenerationConfig(height=config.height // 32 * 32, width=config.width // 32 * 32, seed=0)
    if config.generator is not None:
        pipe = YumePipeline.from_pretrained(config.generator, config=gen_config)
        weights = str(config.generator)
    else:
        pipe = YumePipeline.tiny(config=gen_config)
        weights = "random weights"
    actions = "W,·;W+A,→" if config.quick else "W,·;W+A,→;None,←"
    prompt = "A quiet street of the demo scene"
    blocks = []

    def frames():
        for block in pipe.generate(actions, prompt=prompt, unload_text_encoder=True):
            blocks.append(block)
            yield from block.frames

    video = write_mp4(out / "tiny_t2v.mp4", frames(), gen_config.fps)
    parsed = [b.action for b in blocks]
    item = {"id": "tiny_t2v", "video": video.name, "prompt": prompt, "segments": block_segments(parsed, 32)}
    (out / "tiny_t2v.jsonl").write_text(json.dumps(item, ensure_ascii=False) + "\n", encoding="utf-8")
    n_frames = sum(len(b.frames) for b in blocks)
    return {"video": str(video), "blocks": len(blocks), "frames": n_frames, "weights": weights}


def _leaderboard(out: Path, generated: dict) -> str:
    from leaderboards.store import Leaderboard

    board = Leaderboard.with_published()
    board.add_results(out / "results.json", "demo samples (true commands)", {"kind": "rendered scenes"})
    board.add_results(out / "results_shuffled.json", "demo samples (shuffled commands)", {"kind": "sanity check"})
    board.add_results(
        out / "results_generated.json", "tiny reference model (demo)", {"kind": "generated", "weights": generated}
    )
    board.save(out / "leaderboard.json")
    return str(board.render(out / "leaderboard")["markdown"])
