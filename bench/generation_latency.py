"""Per-block generation latency as the history grows: TSCM vs full-context history (CPU, small config).

Target (issue 8): latency(block 16) / latency(block 8) <= 1.15 with TSCM (the paper: flat after 8
blocks, Fig. 7), while full context keeps growing. Both modes run interleaved block by block in one
process, so machine noise hits them alike; each block's latency is the median of ``--repeats`` timings
of the same denoising (VAE decode excluded: it is the same for every block).

    python bench/generation_latency.py --blocks 17 --steps 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from yume_model.config import DiTConfig
from yume_model.pipeline import HistoryBuffer
from yume_model.sampling import SamplerConfig, sample
from yume_model.transformer import WanDiT
from yume_model.tscm import TSCMConfig, YumeTransformer


def small_model(mode: str) -> YumeTransformer:
    torch.manual_seed(0)
    config = DiTConfig(
        dim=128, ffn_dim=256, num_heads=4, num_layers=4, in_dim=16, out_dim=16, text_dim=32, text_len=64, freq_dim=64
    )
    return YumeTransformer(WanDiT(config), TSCMConfig(mode=mode)).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=17)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--latent", default="16x24", help="latent HxW (x16 pixels: 16x24 is 256x384)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    h, w = (int(v) for v in args.latent.split("x"))
    torch.set_num_threads(max(1, torch.get_num_threads()))
    modes = ("tscm", "full")
    models = {m: small_model(m) for m in modes}
    buffers = {m: HistoryBuffer(models[m].tscm) for m in modes}
    latency: dict[str, list[float]] = {m: [] for m in modes}
    ctx = torch.randn(1, 40, 32, generator=torch.Generator().manual_seed(1))
    sampler = SamplerConfig("euler", args.steps, 7.0)
    print(f"latent {h}x{w}, 8 latents per block, {args.steps} steps, median of {args.repeats}")
    print(f"{'block':>5} {'history':>7} | " + " | ".join(f"{m:>6} s  tokens" for m in modes))
    with torch.no_grad():
        for k in range(args.blocks):
            row = []
            for m in modes:
                model, buf = models[m], buffers[m]
                noise = torch.randn(1, 16, 8, h, w, generator=torch.Generator().manual_seed(k))
                past, index = buf.tensor, list(buf.index)

                def velocity(x, t, model=model, past=past, index=index):
                    return model(x, t, ctx, past, history_index=index or None)

                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    out = sample(velocity, noise, sampler)
                    times.append(time.perf_counter() - t0)
                latency[m].append(statistics.median(times))
                tokens = model.tokens_per_block(buf.count, (h, w))
                buf.extend(out)
                row.append(f"{latency[m][-1]:8.3f} {tokens:7d}")
            print(f"{k:>5} {buffers['tscm'].count - 8:>7} | " + " | ".join(row))
    if args.blocks > 16:
        for m in modes:
            print(f"{m}: latency(block 16) / latency(block 8) = {latency[m][16] / latency[m][8]:.3f}")


if __name__ == "__main__":
    main()
