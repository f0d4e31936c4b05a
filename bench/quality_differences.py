"""Sizes of the known differences from VBench that ``yumebench/metrics/quality.py`` documents, each measured
as a score difference on the same videos:

- subject consistency with the stock transformers DINO (LayerNorm eps 1e-12, exact-grid position
  interpolation) against DINO's own computation, which the dimension runs (so: what was fixed);
- fp16, which VBench's CLIP runs on a GPU and so do our GPU paths, against fp32, for each transformers
  backbone (CLIP ViT-B/32, CLIP ViT-L/14, DINO ViT-B/16), run here on the CPU.

With ``--weights DIR`` the real checkpoints are used, where present; without, the real architectures with
random weights (then the sizes are only an order of magnitude: trained features differ).

    python bench/quality_differences.py --videos 2 --frames 9 --size 256x448 [--weights DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

from yumebench.actions import ALL_ACTIONS
from yumebench.metrics import DIMENSIONS
from yumebench.metrics.quality import resolve_hub_folder
from yumebench.synthetic import random_segment_video

BACKBONE_DIMENSIONS = ("subject_consistency", "background_consistency", "aesthetic_quality")


def scores(dim, videos: list[np.ndarray]) -> np.ndarray:
    return np.array([dim.score_video(v, {})["video_results"] for v in videos])


def in_fp16(dim):
    """The same dimension with its backbone in fp16 (on the CPU here; a GPU run takes this path)."""
    dim.model.half()
    dim._device_dtype = types.MethodType(lambda self: (self.device, torch.float16), dim)
    return dim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--size", default="256x448")
    parser.add_argument("--weights", help="folder with the real checkpoints (default: random weights)")
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    videos = [
        random_segment_video(
            [ALL_ACTIONS[k * 17 % len(ALL_ACTIONS)]], seed=k, frames_per_segment=args.frames, width=w, height=h
        )[0]
        for k in range(args.videos)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if weights is None:
            from quality_speed import save_weights  # the bench folder is on the path when run as a script

            weights = str(Path(tmp) / "weights")
            save_weights(Path(weights))
            print("random weights: the sizes below are an order of magnitude, not the trained models' values")
        print(f"{args.videos} videos x {args.frames} frames at {h}x{w}; |difference| of the video scores")

        from transformers import ViTModel

        dim = DIMENSIONS.build("subject_consistency", weights_dir=weights)
        exact = scores(dim, videos)
        dim.model = ViTModel.from_pretrained(
            resolve_hub_folder(dim.hub_id, weights, dim.name), add_pooling_layer=False
        ).eval()
        stock = scores(dim, videos)
        gap = np.abs(stock - exact).max()
        print(f"{'subject_consistency':<24} stock transformers DINO vs DINO's own: max {gap:.2e}")

        for name in BACKBONE_DIMENSIONS:
            fp32 = scores(DIMENSIONS.build(name, weights_dir=weights), videos)
            fp16 = scores(in_fp16(DIMENSIONS.build(name, weights_dir=weights)), videos)
            print(f"{name:<24} fp16 vs fp32: max {np.abs(fp16 - fp32).max():.2e} (scores ~{fp32.mean():.4f})")


if __name__ == "__main__":
    main()
