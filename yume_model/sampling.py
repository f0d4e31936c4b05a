"""Flow-matching samplers with a shifted schedule.

The model predicts the velocity v = noise - x0 at x_sigma = (1 - sigma) x0 + sigma noise, timestep
t = 1000 sigma (Wan2.2, ``../shared/reference/backbone.md`` §1.6). The schedule warps a uniform grid by
sigma' = s sigma / (1 + (s - 1) sigma) (Yume's ``sample_5b.py``, shift 7 for the 4-step distilled model;
Wan uses 5 for 50 steps).

- ``euler``: the few-step sampler of the distilled model, x <- x + (sigma_next - sigma) v.
- ``renoise``: Self-Forcing's few-step sampler (``backbone.md`` §2): each step predicts x0 = x - sigma v,
  then re-noises it with fresh noise to the next level; the last x0 is the sample. The Self-Forcing
  generator (``yume_model.self_forcing``) is trained through exactly this loop.
- ``unipc``: diffusers' ``UniPCMultistepScheduler`` in flow mode (Wan2.2's default solver) for the base model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

SAMPLERS = ("euler", "renoise", "unipc")


@dataclass
class SamplerConfig:
    name: str = "euler"
    steps: int = 4
    shift: float = 7.0

    def __post_init__(self) -> None:
        if self.name not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.name!r}; expected one of {', '.join(SAMPLERS)}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.shift <= 0:
            raise ValueError(f"shift must be > 0, got {self.shift}")


def shift_sigma(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """sigma' = s sigma / (1 + (s - 1) sigma): the warp shared by sampling and training's timestep draw."""
    return shift * sigma / (1 + (shift - 1) * sigma)


def shifted_sigmas(steps: int, shift: float) -> torch.Tensor:
    """steps + 1 noise levels from 1 to 0 (float64)."""
    return shift_sigma(torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64), shift)


def sample(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    noise: torch.Tensor,
    config: SamplerConfig,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Integrate from ``noise`` (sigma = 1) to a clean sample; ``velocity(x, t)`` with t of shape (B,).
    ``generator`` draws the re-noising noise of ``renoise`` (CPU generator)."""
    b = noise.shape[0]
    if config.name == "renoise":
        sigmas = shifted_sigmas(config.steps, config.shift)
        x = noise
        for i, sigma in enumerate(sigmas[:-1]):
            t = torch.full((b,), float(sigma) * 1000.0, device=noise.device)
            x0 = (x.double() - float(sigma) * velocity(x, t).double()).to(noise.dtype)
            if i + 1 == len(sigmas) - 1:
                return x0
            fresh = torch.randn(noise.shape, generator=generator).to(noise.device, noise.dtype)
            x = (1 - float(sigmas[i + 1])) * x0 + float(sigmas[i + 1]) * fresh
        return x
    if config.name == "euler":
        sigmas = shifted_sigmas(config.steps, config.shift)
        x = noise
        for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=True):
            t = torch.full((b,), float(sigma) * 1000.0, device=noise.device)
            v = velocity(x, t)
            x = (x.double() + (sigma_next - sigma) * v.double()).to(noise.dtype)
        return x
    from diffusers import UniPCMultistepScheduler

    scheduler = UniPCMultistepScheduler(
        num_train_timesteps=1000, prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=config.shift
    )
    scheduler.set_timesteps(config.steps, device=noise.device)
    x = noise
    for t in scheduler.timesteps:
        v = velocity(x, torch.full((b,), float(t), device=noise.device))
        x = scheduler.step(v, t, x).prev_sample
    return x
