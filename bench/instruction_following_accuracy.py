"""Instruction-following accuracy on the validation corpus (``yumebench.motion_corpus``): real
photographs and real panoramas moved by exact camera paths, per condition, with the shuffled-command
control and an accuracy-vs-rate curve. Prints tables (a report, not a timed test).

    python bench/instruction_following_accuracy.py --videos 6                      # street conditions
    python bench/instruction_following_accuracy.py --videos 6 --panoramas pano/    # + real panoramas
    python bench/instruction_following_accuracy.py --curve --panoramas pano/       # accuracy vs turn rate
    python bench/instruction_following_accuracy.py --panoramas reserved/ --conditions 'pano-*'   # patterns

Seeds: ``--seeds test`` (the default, 5000+) are never used for tuning; ``--seeds tune`` (1000+) are.
Panoramas: any folder of equirectangular photographs. The numbers in the README were made with the 16
listed (with their SHA-256) in ``bench/validation_panoramas.py``: 15 examples of pchen66/panolens.js and
py360convert's example, one folder for both seed sets (``python bench/validation_panoramas.py --out pano/
--source <panolens.js checkout> --source <py360convert checkout>``). The examples of pannellum and
A-Frame are reserved for independent validation (``validation_panoramas.py --set reserved``, scored once
at version 36): do not tune on them.

Rendered videos are cached in ``--cache`` (npz), so a rerun scores without rendering.

``--wobble S`` scores every video under an extra smooth wobble (``motion_corpus.Wobble``) S times the
corpus's own (each wave 0.1-0.3 % of the width, times S), drawn from the video's name: how the table
holds as the world deforms. Generated video deforms more than the corpus's wobble: measure a model's
output with ``bench/non_rigidity.py``.

``--json F`` writes every segment's result, named by its video and index (``street-5000/2``);
``--compare OLD.json`` then lists the segments that read otherwise than in an earlier run's ``--json``
(put right, put wrong, wrong either way), to see what a change to the metric did, segment by segment.
With ``--curve`` both name each point by its scene, size, rate and seed (``street-256x144-0.1/5000``), so
two curves compare point by point.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from yumebench.motion_corpus import CONDITIONS_HELP, SEED_BASE, select_conditions


def _video(args: tuple) -> tuple[str, dict]:
    condition, seed, cache, pano_dir, size = args
    from yumebench.motion_corpus import load_panoramas, make_video

    path = Path(cache) / f"{condition}-{seed}{'-' + 'x'.join(map(str, size)) if size else ''}.npz"
    if not path.exists():
        panoramas = load_panoramas(pano_dir) if pano_dir else None
        _cache_video(make_video(condition, seed, panoramas=panoramas, size=size), path)
    return condition, {"path": str(path)}


def _cache_video(video, path: Path) -> None:
    """The benches' cache format: frames, path and truth in one npz, written whole or not at all (the
    temporary file is this process's own: two runs filling one cache must not rename each other's)."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    meta = json.dumps({"segments": video.segments, "meta": video.meta})
    np.savez_compressed(tmp, frames=video.frames, c2w=video.c2w, meta=meta)
    tmp.replace(path)


@dataclass(frozen=True)
class ScoreJob:
    """One cached video to score (``_score``)."""

    path: str
    segments: list | None = None  # scored instead of the video's own (the shuffled-command control)
    wobble: float = 0.0  # under this many times the corpus's wobble
    known_fov: bool = False  # at the corpus camera's own FOV, as a caller who knows the camera gives it
    turn_above_deformation: float | None = None  # IFConfig's factor; None keeps the default


def _score(job: ScoreJob) -> list[dict]:
    """One cached video's segment results, with each segment's id and truth."""
    path, wobble = job.path, job.wobble
    from dataclasses import replace

    from yumebench.metrics.instruction_following import IFConfig, score_video_segments
    from yumebench.motion_corpus import WOBBLE_AMPLITUDE_FRAC, Wobble

    with np.load(path) as z:
        frames = z["frames"]
        info = json.loads(str(z["meta"]))
    if wobble:
        rng = np.random.default_rng([zlib.crc32(Path(path).name.encode()), 1])
        amplitude = tuple(wobble * a for a in WOBBLE_AMPLITUDE_FRAC)
        frames = Wobble.draw(rng, frames.shape[2], amplitude).apply(frames)
    segments = job.segments or info["segments"]
    factor = job.turn_above_deformation
    config = IFConfig() if factor is None else IFConfig(turn_above_deformation=factor)
    if job.known_fov:
        config = replace(config, motion=replace(config.motion, known_fov_deg=info["meta"]["fov_deg"]))
    results = score_video_segments(frames, segments, config)
    for k, (r, truth) in enumerate(zip(results, info["segments"], strict=True)):
        r["segment_id"] = f"{Path(path).stem}/{k}"
        r["truth_undetermined"] = bool(truth.get("undetermined"))
        if r["truth_undetermined"]:  # frames without evidence: "undetermined" is the right answer
            r["correct"] = r["motion"]["decision"] == "undetermined"
        r["truth"] = {"keys": truth["keys"], "mouse": truth["mouse"]}
    return results


def is_pure_turn(result: dict) -> bool:
    """Whether a scored segment's truth turns the camera without a step."""
    return result["truth"]["keys"] == "None" and result["truth"]["mouse"] != "·"


def _table(results: list[dict]) -> dict:
    from yumebench.metrics.instruction_following import accuracy_tables

    t = accuracy_tables(results)
    rotations = [r for r in results if is_pure_turn(r)]
    t["rotation_read_as_translation"] = (
        float(np.mean([r["motion"]["decision"] == "translation" for r in rotations])) if rotations else None
    )
    return t


def add_corpus_arguments(ap: argparse.ArgumentParser, videos: int) -> None:
    """The options that pick the corpus's videos, shared with bench/instruction_following_mitsuba.py."""
    ap.add_argument("--videos", type=int, default=videos, help="videos per condition (3 segments of 32 frames each)")
    ap.add_argument("--seeds", choices=sorted(SEED_BASE), default="test")
    ap.add_argument("--panoramas", type=Path, help="folder of equirectangular photographs (enables pano-* conditions)")
    ap.add_argument("--conditions", help=f"a subset of conditions: {CONDITIONS_HELP}")


def render_jobs(args: argparse.Namespace, names: list[str]) -> list[tuple]:
    """``_video``'s jobs for the videos the corpus options pick: ``--videos`` seeds of the ``--seeds`` set
    for each of ``names``, leaving out the conditions that need panoramas where ``--panoramas`` is not given."""
    from yumebench.motion_corpus import CONDITIONS

    panoramas = str(args.panoramas) if args.panoramas else None
    return [
        (n, SEED_BASE[args.seeds] + i, str(args.cache), panoramas, None)
        for n in names
        if panoramas or not CONDITIONS[n].needs_panoramas
        for i in range(args.videos)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_arguments(ap, videos=6)
    ap.add_argument("--cache", type=Path, default=Path(".if_corpus_cache"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--curve", action="store_true", help="accuracy vs turn rate instead of the condition table")
    ap.add_argument("--rates", help="comma-separated subset of the curve's turn rates (deg/frame)")
    ap.add_argument("--json", type=Path, help="also write every segment's (with --curve, every point's) result here")
    ap.add_argument(
        "--compare",
        type=Path,
        help="an earlier run's --json (a table's, or with --curve a curve's): list the segments that read otherwise",
    )
    ap.add_argument("--render-only", action="store_true", help="fill the cache and stop")
    ap.add_argument("--wobble", type=float, default=0.0, help="score under an extra wobble, S times the corpus's")
    ap.add_argument(
        "--known-fov", action="store_true", help="score each video at its camera's true FOV (no self-calibration)"
    )
    ap.add_argument(
        "--turn-above-deformation",
        type=float,
        metavar="F",
        help="decode turns at F times each video's deformation angle instead of the default "
        "(IFConfig.turn_above_deformation; 0: the published threshold alone, as IF version 37 did)",
    )
    args = ap.parse_args()

    from yumebench.motion_corpus import CONDITIONS

    names = select_conditions(args.conditions)
    args.cache.mkdir(parents=True, exist_ok=True)
    earlier = _load_run(args.compare) if args.compare else None
    if args.curve:
        return _curve(args, earlier)
    base = SEED_BASE[args.seeds]
    jobs = render_jobs(args, names)
    ctx = get_context("spawn")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        rendered = list(pool.map(_video, jobs))
    t_render = time.perf_counter() - t0
    if args.render_only:
        print(f"{len(rendered)} videos in {args.cache} ({t_render:.0f} s)")
        return
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        settings = dict(
            wobble=args.wobble, known_fov=args.known_fov, turn_above_deformation=args.turn_above_deformation
        )
        score_jobs = [ScoreJob(v["path"], **settings) for _, v in rendered]
        scored = list(pool.map(_score, score_jobs))
    t_score = time.perf_counter() - t0
    by_condition: dict[str, list] = defaultdict(list)
    by_group: dict[str, list] = defaultdict(list)
    for (cond, _), res in zip(rendered, scored, strict=True):
        by_condition[cond] += res
        by_group[CONDITIONS[cond].group] += res
    every = [r for res in scored for r in res]
    # shuffled commands: each video scored against another video's segments
    rng = np.random.default_rng(7)
    perm = rng.permutation(len(rendered))
    shuffled_jobs = []
    for i, j in enumerate(perm):
        with np.load(rendered[j][1]["path"]) as z:
            other = json.loads(str(z["meta"]))["segments"]
        shuffled_jobs.append(ScoreJob(rendered[i][1]["path"], other, **settings))
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        shuffled = [r for res in pool.map(_score, shuffled_jobs) for r in res]
    shuffled_acc = float(np.mean([r["correct"] for r in shuffled]))

    print(
        f"{len(every)} segments in {len(rendered)} videos, seeds '{args.seeds}' ({base}+)"
        + (f", under {args.wobble:g}x the corpus's wobble" if args.wobble else "")
        + (", at each camera's true FOV" if args.known_fov else "")
        + (
            f", turns above {args.turn_above_deformation:g} x the deformation angle"
            if args.turn_above_deformation is not None
            else ""
        )
        + "; "
        f"rendering {t_render:.0f} s, scoring {t_score:.0f} s"
    )
    for title, table in (("condition", by_condition), ("group", by_group)):
        print("\n" + _header(title))
        for name, res in table.items():
            print(_row(name, _table(res), res))
    print("\n" + _row("ALL", _table(every), every))
    print(f"{'shuffled commands':<26} {len(shuffled):>4} {shuffled_acc:8.3f}")
    confusion = _table(every)["confusion"]
    print("confusions:", dict(sorted(confusion.items(), key=lambda kv: -kv[1])[:15]))
    if args.json:
        args.json.write_text(json.dumps({"segments": every, "shuffled_accuracy": shuffled_acc}, default=float))
    if earlier is not None:
        print(f"\ncompared with {args.compare}:")
        print("\n".join(compare_runs(earlier, every)))


VERDICTS = ("put right", "put wrong", "wrong either way", "right either way")


def _load_run(path: Path) -> dict[str, tuple[str, bool]]:
    """An earlier ``--json``'s segments: id -> (read, correct). A file that cannot serve is a one-line
    error (exit 2), before any work is done."""
    try:
        return {r["segment_id"]: (_read(r), bool(r["correct"])) for r in json.loads(path.read_text())["segments"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        problem = (
            f"a segment without {e} (not an accuracy --json, or written before --json named each segment)"
            if isinstance(e, KeyError)
            else str(e)
        )
        print(f"--compare {path}: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _read(r: dict) -> str:
    p = r["predicted"]
    return f"{p['keys']},{p['mouse']}"


def compare_runs(earlier: dict[str, tuple[str, bool]], now: list[dict]) -> list[str]:
    """One line per segment of ``now`` that reads otherwise than in ``earlier`` (``_load_run``, matched by
    segment id), then a count by verdict (``VERDICTS``) and of the segments not in the earlier run."""
    lines, counts, missing = [], defaultdict(int), 0
    for r in now:
        if r["segment_id"] not in earlier:
            missing += 1
            continue
        read_before, correct_before = earlier[r["segment_id"]]
        if (read_before, correct_before) == (_read(r), r["correct"]):
            continue
        if r["correct"] == correct_before:
            verdict = "right either way" if r["correct"] else "wrong either way"
        else:
            verdict = "put right" if r["correct"] else "put wrong"
        counts[verdict] += 1
        truth = f"{r['truth']['keys']},{r['truth']['mouse']}"
        lines.append(f"{r['segment_id']:<40} {truth:<10} {read_before:<10} -> {_read(r):<10} {verdict}")
    summary = ", ".join(f"{k} {counts[k]}" for k in VERDICTS if counts[k] or k != "right either way")
    lines.append(
        f"{sum(counts.values())} segments read otherwise ({summary})"
        + (f"; {missing} not in the earlier run" if missing else "")
    )
    return lines


def _header(title: str = "condition") -> str:
    """The column titles over ``_row``'s."""
    columns = ("segment", "forward", "strafe", "yaw", "pitch", "rot->tr", "undet")
    return f"{title:<26} {'n':>4} " + " ".join(f"{c:>8}" for c in columns) + f" {'segment 95 %':>13}"


def _row(name: str, t: dict, res: list) -> str:
    c = t["component_accuracy"]
    undetermined = np.mean([r["motion"]["decision"] == "undetermined" for r in res])
    rot = t["rotation_read_as_translation"]
    values = [t["segment_accuracy"], c["forward"], c["strafe"], c["yaw"], c["pitch"], rot, undetermined]
    low, high = t["segment_accuracy_95"]
    cells = " ".join("       -" if v is None else f"{v:8.3f}" for v in values)
    return f"{name:<26} {t['segments']:>4} {cells}   {low:.3f}-{high:.3f}"


# up to 10 deg/frame: a car turning a corner filmed at 10 fps, a generated video that spins
CURVE_RATES = (0.03, 0.045, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 4.0, 7.0, 10.0)
CURVE_SCENES = (
    ("pano", (544, 960)),
    ("pano", (144, 256)),
    ("street", (180, 320)),
    ("street", (144, 256)),
    ("street-walk", (180, 320)),
)


def _size_text(size: tuple[int, int]) -> str:
    """A (height, width) frame size as the curve names it: width x height."""
    return f"{size[1]}x{size[0]}"


def _curve_point(job: tuple) -> dict:
    """One single-segment video, as a table segment (``--json``, ``--compare``) named by its scene, size,
    rate and seed; ``correct`` is the mouse component read right (truth: the published 0.0573 deg/frame)."""
    scene, size, rate, seed, pano_dir = job
    from yumebench.actions import Action
    from yumebench.metrics.instruction_following import IFConfig, score_video_segments
    from yumebench.motion_corpus import (
        CameraModel,
        MotionSpeeds,
        _render,
        load_panoramas,
        panorama_world,
        real_photos,
        segment_truth,
        street_world,
        walk_path,
    )

    rng = np.random.default_rng([seed, int(rate * 1000), size[0]])
    if scene == "pano":
        panoramas = load_panoramas(pano_dir)
        names = sorted(panoramas)
        world = panorama_world(panoramas[names[rng.integers(len(names))]], rng, proxy=False)
    else:
        world = street_world(rng, real_photos())
    keys = "W" if scene == "street-walk" else "None"
    mouse = "→" if rng.random() < 0.5 else "←"
    c2w = walk_path([Action(keys, mouse)], 32, MotionSpeeds(0.06, rate, 0.0), rng.uniform(-20, 20))
    frames = _render(world, CameraModel(size[1], size[0], rng.uniform(55, 95)), c2w)
    r = score_video_segments(frames, segment_truth(c2w, 32, 1), IFConfig())[0]
    return {
        "segment_id": f"{scene}-{_size_text(size)}-{rate:g}/{seed}",
        "scene": scene,
        "size": _size_text(size),
        "rate_deg_per_frame": rate,
        "truth": r["expected"],
        "predicted": r["predicted"],
        "correct": bool(r["components"]["yaw"] and r["components"]["pitch"]),
        "motion": r["motion"],
    }


def _curve(args: argparse.Namespace, earlier: dict | None = None) -> None:
    """Accuracy of the mouse component vs the true yaw rate: pure yaw (and W with yaw), per frame size."""
    base = SEED_BASE[args.seeds]
    scenes = [(s, size) for s, size in CURVE_SCENES if args.panoramas or s != "pano"]
    rates = [float(r) for r in args.rates.split(",")] if args.rates else list(CURVE_RATES)
    jobs = [
        (scene, size, rate, base + i, str(args.panoramas) if args.panoramas else None)
        for scene, size in scenes
        for rate in rates
        for i in range(args.videos)
    ]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        points = list(pool.map(_curve_point, jobs))
    hits = defaultdict(list)
    for point in points:
        hits[(point["scene"], point["size"], point["rate_deg_per_frame"])].append(point["correct"])
    print(
        f"mouse-component accuracy vs true yaw rate (deg/frame), {args.videos} videos per point, seeds "
        f"'{args.seeds}'; truth: the published threshold 0.0573 deg/frame (below it the right answer is '·')"
    )
    print(f"{'scene':<12} {'size':>8} " + " ".join(f"{r:>6}" for r in rates))
    for scene, size in scenes:
        row = " ".join(f"{np.mean(hits[(scene, _size_text(size), r)]):6.2f}" for r in rates)
        print(f"{scene:<12} {size[1]}x{size[0]:<4} {row}")
    if args.json:
        args.json.write_text(json.dumps({"segments": points}, default=float))
    if earlier is not None:
        print(f"\ncompared with {args.compare}:")
        print("\n".join(compare_runs(earlier, points)))


if __name__ == "__main__":
    main()
