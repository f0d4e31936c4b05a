"""Full-size generation speed on one GPU: the Yume1.5-5B DiT (random weights) at 544x960, bf16, SDPA,
4 Euler steps per block, Wan2.2-sized VAE decode included; prints frames per second and peak memory,
per block and overall.

``--history released`` (default) runs the released Yume-5B-720P layout and history lengths exactly as
``fastvideo/sample/sample_5b.py`` grows them (T2V: block 0 makes 8 latents from no history, then
H = 8, 16, ...; ``--i2v``: the image over 17 frames is 5 history latents, then H = 5, 13, ...);
``--history tscm`` the paper's layout (channel branch, 1-in-32 sampling).

Targets (issue 8): >= 24 FPS and <= 24 GB on one H100 (the paper reports 12 FPS on an A100). Random
weights cost exactly what trained ones do. The umT5-xxl encoder is not timed: with the action cache
it runs once per event, before the first block. The VAE has the Wan2.2 architecture (base 160, decoder
256, z 48, residual, 2x2 patchify) with random weights and unit latent statistics.

    python bench/gpu_generation_5b.py --blocks 4 --device cuda          # on the GPU machine
    python bench/gpu_generation_5b.py --blocks 8 --history tscm --device cuda
    python bench/gpu_generation_5b.py --config tiny --device cpu --blocks 2   # smoke test anywhere
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from yume_model.config import preset
from yume_model.pipeline import HistoryBuffer
from yume_model.sampling import SamplerConfig, sample
from yume_model.transformer import WanDiT
from yume_model.tscm import TSCMConfig, YumeTransformer
from yume_model.vae import StreamingDecoder, random_wan22_vae, tiny_vae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="yume1.5-5b")
    parser.add_argument("--resolution", default="544x960")
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--history", default="released", choices=["released", "tscm", "full", "sliding", "spatial"])
    parser.add_argument("--i2v", action="store_true", help="start from an image (released: 5 history latents)")
    args = parser.parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    height, width = (int(v) for v in args.resolution.split("x"))
    config = preset(args.config)
    torch.manual_seed(0)
    with torch.device(device):
        model = YumeTransformer(WanDiT(config), TSCMConfig(mode=args.history)).to(dtype).eval()
        vae = (random_wan22_vae(config.in_dim) if args.config != "tiny" else tiny_vae(config.in_dim)).to(dtype)
    h, w = height // 16, width // 16
    ctx = torch.randn(1, 120, config.text_dim, device=device, dtype=dtype)
    history, decoder = HistoryBuffer(model.tscm), StreamingDecoder(vae)
    released = args.history == "released"
    if args.i2v:  # the image latents (random here: their cost is the same), decoded as the video's start
        image = torch.randn(1, config.in_dim, 5 if released else 1, h, w, device=device, dtype=dtype)
        history.extend(image)
        if not released:
            decoder(image)
        else:
            decoder(image[:, :, :1])
    sampler = SamplerConfig("euler", args.steps, 7.0)
    rows = []
    with torch.no_grad():
        for k in range(args.blocks):
            n = 8 + (1 if k == 0 and not args.i2v and not released else 0)
            noise = torch.randn(1, config.in_dim, n, h, w, device=device, dtype=dtype)
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            history_latents = 0 if history.tensor is None else history.tensor.shape[2]
            t0 = time.perf_counter()
            past, index = history.tensor, list(history.index)
            latents = sample(lambda x, t, p=past, i=index: model(x, t, ctx, p, history_index=i or None), noise, sampler)
            history.extend(latents)
            t1 = time.perf_counter()
            frames = decoder(latents)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t2 = time.perf_counter()
            peak_block = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
            rows.append(
                {
                    "block": k,
                    "history_latents": history_latents,
                    "frames": frames.shape[2],
                    "dit_s": t1 - t0,
                    "vae_s": t2 - t1,
                    "fps": frames.shape[2] / (t2 - t0),
                    "peak_gib": peak_block,
                }
            )
            print(json.dumps({k2: round(v, 4) if isinstance(v, float) else v for k2, v in rows[-1].items()}))
    steady = rows[1:] or rows
    fps = sum(r["frames"] for r in steady) / sum(r["dit_s"] + r["vae_s"] for r in steady)
    peak = max(r["peak_gib"] for r in rows)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(
        f"{name}: {args.config} {height}x{width} {args.dtype}, history {args.history}{' i2v' if args.i2v else ''}, "
        f"{args.steps} steps/block: "
        f"{fps:.2f} frames/s (blocks 1..{args.blocks - 1}, VAE decode included), peak {peak:.1f} GiB"
    )


if __name__ == "__main__":
    main()
