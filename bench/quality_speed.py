"""All six Yume-Bench dimensions: the runner (each video decoded once, frames of several videos batched
into every backbone call) against a naive loop (each video decoded once per dimension, frames scored
one by one), in one run on the same weights. Target (issue 6): >= 2x on the CPU.

The backbones have their real architectures (DINO ViT-B/16, CLIP ViT-B/32, CLIP ViT-L/14, AMT-S,
MUSIQ-SPAQ) with random weights the script saves itself: timings do not depend on the weights.
Both paths must give the same scores (checked, printed).

    python bench/quality_speed.py --videos 4 --frames 17 --size 256x448
    python bench/quality_speed.py --videos 16 --frames 33 --size 544x960 --device cuda   # on a GPU

On the CPU it also prints the fp32 floor: each network's FLOPs at the machine's best matrix-product rate,
so the largest ratio any scoring path could reach there.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from yumebench.actions import ALL_ACTIONS
from yumebench.bench.runner import score_group
from yumebench.bench.spec import SpecItem
from yumebench.metrics import DIMENSIONS
from yumebench.metrics.quality import (
    clip_preprocess,
    consistency_terms,
    dino_preprocess,
    imaging_preprocess,
    smoothness_from_mae,
    to_uint8_truncated,
)
from yumebench.synthetic import random_segment_video
from yumebench.video import read_frames, write_mp4


def save_weights(root: Path) -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, ViTConfig, ViTModel

    from yumebench.metrics.amt import AMTS
    from yumebench.metrics.musiq import MUSIQ

    torch.manual_seed(0)
    ViTModel(ViTConfig(patch_size=16), add_pooling_layer=False).save_pretrained(root / "facebook--dino-vitb16")
    b32 = CLIPVisionConfig(patch_size=32, projection_dim=512)
    CLIPVisionModelWithProjection(b32).save_pretrained(root / "openai--clip-vit-base-patch32")
    l14 = CLIPVisionConfig(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        patch_size=14,
        projection_dim=768,
    )
    CLIPVisionModelWithProjection(l14).save_pretrained(root / "openai--clip-vit-large-patch14")
    torch.save({"weight": torch.randn(1, 768) * 0.05, "bias": torch.tensor([5.0])}, root / "sa_0_4_vit_l_14_linear.pth")
    torch.save({"state_dict": AMTS().state_dict()}, root / "amt-s.pth")
    torch.save({"params": MUSIQ().state_dict()}, root / "musiq_spaq_ckpt-358bb6af.pth")


def naive(dims: dict, spec: list[dict], folder: Path) -> dict[str, list[float]]:
    """Each dimension on its own: decode the video again, score frame by frame (batch of one)."""
    from yumebench.metrics.amt import pad_to, unpad

    out: dict[str, list[float]] = {}
    with torch.no_grad():
        for name, dim in dims.items():
            t0 = time.perf_counter()
            scores = []
            for item in spec:
                frames, _ = read_frames(folder / item["video"])
                if name == "instruction_following":
                    scores.append(dim.score_video(frames, item)["video_results"])
                elif name in ("subject_consistency", "background_consistency", "aesthetic_quality"):
                    device, dtype = dim._device_dtype()
                    feats = []
                    for frame in frames:
                        if name == "subject_consistency":
                            x = dino_preprocess(frame[None]).to(device, dtype)
                            feats.append(
                                dim.model(pixel_values=x, interpolate_pos_encoding=True).last_hidden_state[:, 0]
                            )
                        else:
                            x = clip_preprocess(frame[None]).to(device, dtype)
                            feats.append(dim.model(pixel_values=x).image_embeds)
                    f = torch.cat(feats).float()
                    if name == "aesthetic_quality":
                        scores.append(float((dim.head(torch.nn.functional.normalize(f, dim=-1)) / 10).double().mean()))
                        continue
                    f = f.cpu()
                    scores.append(float(consistency_terms(f).mean()))
                elif name == "motion_smoothness":
                    x = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2)
                    maes = []
                    half = torch.full((1, 1, 1, 1), 0.5, device=dim.device)
                    for i in range(1, len(frames) - 1, 2):
                        a, pad = pad_to(x[i - 1 : i].float().to(dim.device) / 255)
                        b, _ = pad_to(x[i + 1 : i + 2].float().to(dim.device) / 255)
                        mid = to_uint8_truncated(unpad(dim.model(a, b, half), pad)).cpu()
                        maes.append(float((mid.int() - x[i : i + 1].int()).abs().float().mean()))
                    scores.append(smoothness_from_mae(maes))
                elif name == "imaging_quality":
                    mos = [float(dim.model(imaging_preprocess(f[None]).to(dim.device))) for f in frames]
                    scores.append(float(np.mean(mos)))
            out[name] = scores
            NAIVE_SECONDS[name] = time.perf_counter() - t0
    return out


NAIVE_SECONDS: dict[str, float] = {}


def sgemm_peak(sizes: tuple[int, ...] = (1024, 2048, 3072), tries: int = 3) -> float:
    """FLOP/s of the fastest large fp32 matrix product seen: what this machine runs dense network work at,
    at best (the best of several sizes and tries, so a noisy moment cannot lower the floor it gives)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        for _ in range(tries):
            t0 = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - t0))
    return best


def network_flops(dims: dict, first_video: Path, folder: Path, frames: int, videos: int) -> dict[str, float]:
    """FLOPs each network dimension spends on the whole set, counted on a 3-frame cut of one video (every
    frame has the same size, so the work scales with frames, or with frame pairs for motion smoothness)."""
    from torch.utils.flop_counter import FlopCounterMode

    cut, _ = read_frames(first_video, indices=[0, 1, 2])
    write_mp4(folder / "cut.mp4", cut, 16)
    out = {}
    for name, dim in dims.items():
        if name == "instruction_following":  # OpenCV, no network
            continue
        with FlopCounterMode(display=False) as counter:
            naive({name: dim}, [{"id": "cut", "video": "cut.mp4", "segments": []}], folder)
        units = len(range(1, frames - 1, 2)) if name == "motion_smoothness" else frames / 3
        out[name] = counter.get_total_flops() * units * videos
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--size", default="256x448")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (fp16 backbones there, as the runner)")
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        save_weights(root / "weights")
        spec = []
        for k in range(args.videos):
            action = ALL_ACTIONS[(k * 17) % len(ALL_ACTIONS)]
            frames, segments = random_segment_video([action], seed=k, frames_per_segment=args.frames, width=w, height=h)
            write_mp4(root / f"v{k}.mp4", frames, 16)
            spec.append({"id": f"v{k}", "video": f"v{k}.mp4", "segments": segments})
        (root / "spec.jsonl").write_text("".join(json.dumps(i) + "\n" for i in spec))
        names = DIMENSIONS.names()
        kwargs = {"weights_dir": str(root / "weights"), "batch_size": args.batch_size, "device": args.device}
        dims = {n: DIMENSIONS.build(n, **kwargs) for n in names}  # loaded once for both paths, not timed

        t0 = time.perf_counter()
        reference = naive(dims, spec, root)
        t_naive = time.perf_counter() - t0

        # the runner's path (decode once, one call per dimension for the group) on the same built dimensions:
        # loading weights is not what is compared
        t0 = time.perf_counter()
        jobs = [(SpecItem(**i), str(root / i["video"]), names) for i in spec]
        groups = score_group(jobs, kwargs, dims)
        t_runner = time.perf_counter() - t0

        n_frames = args.videos * args.frames
        print(
            f"{args.videos} videos x {args.frames} frames at {h}x{w}, batch {args.batch_size}, "
            f"{torch.get_num_threads()} threads"
        )
        print(f"{'dimension':<24} {'runner':>9} {'naive':>9}  max |difference|  runner s  naive s  ratio")
        for n in names:
            got = [g["entries"][n]["video_results"] for g in groups]
            diff = max(abs(a - b) for a, b in zip(got, reference[n], strict=True))
            t_dim = sum(g["seconds"][n] for g in groups)
            print(
                f"{n:<24} {np.mean(got):9.4f} {np.mean(reference[n]):9.4f}  {diff:16.2e}  {t_dim:8.2f} "
                f"{NAIVE_SECONDS[n]:8.2f} {NAIVE_SECONDS[n] / t_dim:6.2f}"
            )
        print(f"naive loop: {t_naive:.1f} s ({n_frames / t_naive:.2f} frames/s)")
        print(f"runner:     {t_runner:.1f} s ({n_frames / t_runner:.2f} frames/s)")
        print(f"speed-up runner / naive: {t_naive / t_runner:.2f}x")

        if args.device != "cpu":
            return
        # How far any scoring path could go on this machine: both paths do the same fp32 network work, and
        # no path can run it faster than a large matrix product runs.
        naive_seconds = dict(NAIVE_SECONDS)
        flops = network_flops(dims, root / spec[0]["video"], root, args.frames, args.videos)
        peak = sgemm_peak()
        floor = sum(flops.values()) / peak
        t_nets_naive = sum(naive_seconds[n] for n in flops)
        t_nets_runner = sum(sum(g["seconds"][n] for g in groups) for n in flops)
        print(f"\nfp32 matrix-product peak here: {peak / 1e9:.0f} GFLOP/s")
        for n, f in flops.items():
            print(f"{n:<24} {f / 1e9:9.0f} GFLOP  naive at {f / naive_seconds[n] / peak:4.0%} of peak")
        print(
            f"network dimensions: naive {t_nets_naive:.1f} s, runner {t_nets_runner:.1f} s, floor at peak "
            f"{floor:.1f} s: no fp32 path can beat the naive loop by more than {t_nets_naive / floor:.2f}x here"
        )
        print(
            f"whole run, if decoding and instruction following cost nothing: at most "
            f"{t_naive / floor:.2f}x; measured {t_naive / t_runner:.2f}x"
        )


if __name__ == "__main__":
    main()
