"""Self-Forcing distillation with TSCM (Yume1.5 §4.3; the DMD recipe of guandeh17/Self-Forcing @33593df:
``model/dmd.py``, ``pipeline/self_forcing_training.py``, ``configs/self_forcing_dmd.yaml``).

Three copies of the base model: the generator and the fake score (critic) train, the real score is
frozen. Per iteration:

1. **Rollout**: the generator produces ``chunks`` chunks autoregressively from its **own** earlier output
   (clean x0, detached, compressed by TSCM; no KV cache), with the few-step re-noising schedule. One
   denoising step is the exit: the steps before it run without gradient, its x0 is the chunk's output
   and carries the gradient. The exit step is drawn once per rollout and shared by its chunks
   (``same_step_across_blocks: true``), on rank 0, and broadcast, so every rank runs the same number of
   forward and backward passes (per-rank draws deadlock collectives).
2. **Generator update** (every ``generator_every``-th iteration): DMD. Noise the rollout to one level
   (an integer t uniform in [0, 1000), shifted, *then* clamped to [20, 980], snapped to the scheduler's
   table: the official order); the real score is classifier-free guided, ``cond + scale * (cond -
   uncond)`` with scale 3 and the encoded negative prompt as ``uncond``; grad = (x0_fake - x0_real) /
   mean |x - x0_real|; loss = 0.5 MSE(x, stopgrad(x - grad)), the target formed in float64 (in bf16 the
   subtraction rounds small gradients away). With fake == real the gradient is exactly zero (tested).
3. **Critic update** (every iteration): flow matching of the fake score on a **fresh** batch and
   rollout (the official trainer draws its own batch for the critic), one noise level per video from
   the same recipe.
4. **EMA** of the generator (0.99, from step 200, as the official config); the final model is the EMA.

**Real and fake scores are copies of the base model.** The official Self-Forcing scores with a separate
bidirectional teacher (Wan2.1-14B) over the whole video. The Yume1.5 paper instead "initialises the
generator, fake model and real model using the base model's weights": the base model is Yume's own
causal TSCM model, so both scores see each chunk after the same compressed, generated history the
generator used (chunk by chunk, clean history). That is what the project implements: a bidirectional
teacher would score a history layout the generator never sees at inference.

Randomness comes from per-step generators, as in base training, so a resumed run continues exactly.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from yume_model.sampling import SamplerConfig, shifted_sigmas
from yume_model.training import (
    TRAIN_STATE,
    Dist,
    JsonlLog,
    all_mean,
    autocast,
    draw_batch,
    full_state,
    load_pipeline,
    prepare_data,
    prune_checkpoints,
    publish_checkpoint,
    setup_distributed,
    shard,
    staging_folder,
)

# Wan's sample_neg_prompt, which Self-Forcing's configs/self_forcing_dmd.yaml uses as its negative prompt.
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，"
    "残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，"
    "三条腿，背景人很多，倒着走"
)


@dataclass
class SelfForcingConfig:
    dataset: str = ""
    init: str = ""  # the base pipeline folder (generator, fake and real score start from it)
    text_encoder: str | None = None  # umT5 / VAE sources when ``init`` lacks them (as in base training)
    vae: str | None = None
    out: str = "runs/self_forcing"
    steps: int = 600  # Yume1.5: 600 iterations
    batch_size: int = 1  # global
    chunks: int = 3  # rollout length in chunks
    chunk_latents: int = 8
    denoising_steps: int = 4
    shift: float = 5.0  # the few-step schedule's shift (Self-Forcing: 5)
    lr_generator: float = 2e-6  # Self-Forcing's values; Yume1.5 reports 1e-5 for both
    lr_critic: float = 4e-7
    betas: tuple[float, float] = (0.0, 0.999)
    weight_decay: float = 0.01
    grad_clip: float = 10.0
    generator_every: int = 5  # generator update every 5th iteration, critic every one (Self-Forcing)
    # CFG on the real score, the official convention: cond + real_guidance * (cond - uncond); 0 = none
    real_guidance: float = 3.0
    negative_prompt: str = WAN_NEGATIVE_PROMPT  # encoded as the unconditional text (Self-Forcing's config)
    dmd_sigma_range: tuple[float, float] = (0.02, 0.98)  # Self-Forcing clamps t to [20, 980] after the shift
    exit_step: str = "per-rollout"  # one exit step for all chunks (official default) or "per-chunk"
    critic_data: str = "fresh"  # the critic's own batch and rollout (official) or "same" as the generator's
    ema_decay: float = 0.99  # generator EMA (official 0.99; 0 = off); the final model is the EMA
    ema_start: int = 200  # the EMA starts at this step (official ema_start_step)
    resolution: tuple[int, int] = (64, 96)
    num_frames: int = 33
    seed: int = 0
    save_every: int = 50
    keep_last: int = 0  # checkpoints kept (the newest); 0 keeps all
    mixed_precision: str = "auto"
    activation_checkpointing: bool = False
    wording: str = "yume"
    tasks: tuple[str, ...] = ("t2v", "i2v")

    def __post_init__(self) -> None:
        self.betas, self.resolution, self.tasks = tuple(self.betas), tuple(self.resolution), tuple(self.tasks)
        self.dmd_sigma_range = tuple(self.dmd_sigma_range)
        if not self.init:
            raise ValueError("self-forcing needs --init: the base pipeline folder (yumebench model train base)")
        if self.chunks < 1 or self.denoising_steps < 1 or self.generator_every < 1:
            raise ValueError("chunks, denoising_steps and generator_every must be >= 1")
        if self.exit_step not in ("per-rollout", "per-chunk"):
            raise ValueError(f"--exit-step must be per-rollout or per-chunk, got {self.exit_step!r}")
        if self.critic_data not in ("fresh", "same"):
            raise ValueError(f"--critic-data must be fresh or same, got {self.critic_data!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")


def draw_exit_steps(config: SelfForcingConfig, g: torch.Generator, env: Dist | None = None) -> list[int]:
    """The exit step of each chunk of one rollout: drawn on rank 0 and broadcast (the official
    ``generate_and_sync_list``), one shared by all chunks unless ``exit_step == "per-chunk"``."""
    steps = torch.randint(config.denoising_steps, (config.chunks,), generator=g)
    if config.exit_step == "per-rollout":
        steps[:] = steps[0]
    if env is not None and env.world > 1:
        dist.broadcast(steps, src=0)
    return [int(v) for v in steps]


def rollout(
    model,
    context: torch.Tensor,
    first: torch.Tensor | None,
    config: SelfForcingConfig,
    latent_shape: tuple[int, int, int],
    g: torch.Generator,
    device: torch.device,
    record: list | None = None,
    exit_steps: list[int] | None = None,
) -> tuple[torch.Tensor, list[int]]:
    """The generator's chunks (1, C, T, h, w), chunk k's gradient from its exit step only.

    ``first`` is the I2V image latent (1, C, 1, h, w) or None (T2V). ``exit_steps`` (one per chunk,
    from ``draw_exit_steps``; drawn from ``g`` when None). ``record`` collects the history each call saw
    (for the test that the rollout never sees ground truth). Returns the output and the chunk lengths.
    """
    c, h, w = latent_shape
    sigmas = shifted_sigmas(config.denoising_steps, config.shift)
    exit_steps = exit_steps if exit_steps is not None else draw_exit_steps(config, g)
    history = first
    outputs, lengths = [], []
    for k in range(config.chunks):
        n = config.chunk_latents + (1 if k == 0 and first is None else 0)
        x = torch.randn((1, c, n, h, w), generator=g).to(device)
        exit_step = exit_steps[k]
        hist_gen = torch.Generator().manual_seed(int(torch.randint(2**31, (1,), generator=g)))
        x0 = x
        for i in range(exit_step + 1):
            sigma = float(sigmas[i])
            t = torch.full((1,), sigma * 1000.0, device=device)
            if record is not None:
                record.append(None if history is None else history.detach().clone())
            with torch.set_grad_enabled(torch.is_grad_enabled() and i == exit_step):
                hist_gen.manual_seed(hist_gen.initial_seed())  # the same far-history picks at every step
                v = model(x, t, context, history, generator=hist_gen)
                x0 = x - sigma * v
            if i < exit_step:
                fresh = torch.randn(x.shape, generator=g).to(device)
                x = ((1 - float(sigmas[i + 1])) * x0 + float(sigmas[i + 1]) * fresh).detach()
        outputs.append(x0)
        lengths.append(n)
        done = x0.detach()
        history = done if history is None else torch.cat([history, done], dim=2)
    return torch.cat(outputs, dim=2), lengths


def _chunks(video: torch.Tensor, first: torch.Tensor | None, lengths: list[int]):
    """(start, length, history) per chunk of a rollout: the history is the first latent plus the
    earlier chunks of ``video`` (clean)."""
    start = 0
    for n in lengths:
        past = video[:, :, :start]
        if first is not None:
            past = torch.cat([first, past], dim=2)
        yield start, n, (past if past.shape[2] else None)
        start += n


def dmd_sigma(shift: float, g: torch.Generator, low: float = 0.02, high: float = 0.98) -> float:
    """One DMD / critic noise level, the official way: an integer t uniform in [0, 1000), then
    ``sigma_of_draw``. 2.1 % of draws fall below 0.093 (golden test)."""
    return sigma_of_draw(int(torch.randint(0, 1000, (1,), generator=g)), shift, low, high)


def sigma_of_draw(t: int, shift: float, low: float = 0.02, high: float = 0.98) -> float:
    """t/1000 shifted, *then* clamped to [low, high], then the nearest level of the scheduler's table
    (Self-Forcing's FlowMatchScheduler with that shift and 1000 training steps)."""
    u = t / 1000.0
    shifted = min(max(shift * u / (1 + (shift - 1) * u), low), high)
    table = _sigma_table(shift)
    return float(table[int(torch.argmin((table - shifted).abs()))])


@functools.lru_cache(maxsize=8)
def _sigma_table(shift: float) -> torch.Tensor:
    """Self-Forcing's FlowMatchScheduler(shift, sigma_min=0, extra_one_step=True).set_timesteps(1000):
    float32, as it computes them."""
    base = torch.linspace(1.0, 0.0, 1001)[:-1]
    return shift * base / (1 + (shift - 1) * base)


def guided(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance as Self-Forcing writes it: cond + scale * (cond - uncond) (scale 0: none;
    Wan's convention uncond + w * (cond - uncond) is the same with w = scale + 1)."""
    return cond + (cond - uncond) * scale


def score_x0(model, x_t, sigma: float, context, history, uncond=None, guidance: float = 0.0):
    t = torch.full((1,), sigma * 1000.0, device=x_t.device)
    x0 = x_t - sigma * model(x_t, t, context, history)
    if guidance and uncond is not None:
        x0 = guided(x0, x_t - sigma * model(x_t, t, uncond, history), guidance)
    return x0


def dmd_gradient(video: torch.Tensor, fake_x0: torch.Tensor, real_x0: torch.Tensor) -> torch.Tensor:
    """(x0_fake - x0_real) / mean |x - x0_real| per sample (DMD eq. 7-8, Self-Forcing ``_compute_kl_grad``)."""
    dims = list(range(1, video.dim()))
    normaliser = (video - real_x0).abs().mean(dim=dims, keepdim=True)
    return torch.nan_to_num((fake_x0 - real_x0) / normaliser)


def dmd_objective(video: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """0.5 MSE(x, stopgrad(x - grad)) with the target formed in float64: d loss / d x = grad / numel.
    Forming x - grad in the video's precision first would round small gradients away in bf16."""
    target = (video.double() - grad.double()).detach()
    return 0.5 * torch.nn.functional.mse_loss(video.double(), target)


def dmd_loss(video, first, lengths, real, fake, context, sigma: float, noise, uncond=None, guidance: float = 0.0):
    """Distribution-matching loss of a rollout (Self-Forcing ``model/dmd.py``): its gradient in x is the
    normalised fake-minus-real x0 difference."""
    with torch.no_grad():
        x = video.detach()
        x_t = (1 - sigma) * x + sigma * noise
        real_x0, fake_x0 = [], []
        for start, n, history in _chunks(x, first, lengths):
            chunk_t = x_t[:, :, start : start + n]
            real_x0.append(score_x0(real, chunk_t, sigma, context, history, uncond, guidance))
            fake_x0.append(score_x0(fake, chunk_t, sigma, context, history))
        grad = dmd_gradient(x, torch.cat(fake_x0, dim=2), torch.cat(real_x0, dim=2))
    return dmd_objective(video, grad)


def critic_loss(fake, video, first, lengths, context, g: torch.Generator, config: SelfForcingConfig):
    """Flow matching of the fake score on a detached rollout, each chunk after its generated history,
    at one noise level for the whole video (the official recipe: shift, then clamp)."""
    total = 0.0
    video = video.detach()
    sigma = dmd_sigma(config.shift, g, *config.dmd_sigma_range)
    noise = torch.randn(video.shape, generator=g).to(video.device)
    for start, n, history in _chunks(video, first, lengths):
        chunk = video[:, :, start : start + n]
        x_t = (1 - sigma) * chunk + sigma * noise[:, :, start : start + n]
        pred = fake(x_t, torch.full((1,), sigma * 1000.0, device=chunk.device), context, history)
        total = total + torch.nn.functional.mse_loss(pred.float(), (noise[:, :, start : start + n] - chunk).float())
    return total / len(lengths)


def train_self_forcing(
    config: SelfForcingConfig, resume: bool = False, progress: bool = True, env: Dist | None = None
) -> dict:
    from tqdm import tqdm

    from yume_model.training import TrainConfig, latest_checkpoint

    env = env or setup_distributed()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = load_pipeline(config.init, env.device, config.text_encoder, config.vae)
    data_config = TrainConfig(
        dataset=config.dataset,
        out=str(out),
        resolution=config.resolution,
        num_frames=config.num_frames,
        wording=config.wording,
        tasks=config.tasks,
    )
    store, pools = prepare_data(data_config, pipe)
    generator = pipe.transformer.to(env.device).train()
    fake = copy.deepcopy(generator).train()
    real = copy.deepcopy(generator).eval().requires_grad_(False)
    for model in (generator, fake):
        model.gradient_checkpointing = config.activation_checkpointing
    generator, fake = shard(generator, generator.dit.blocks, env), shard(fake, fake.dit.blocks, env)

    def adamw(model, lr):
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=config.betas, weight_decay=config.weight_decay)

    opt_g, opt_c = adamw(generator, config.lr_generator), adamw(fake, config.lr_critic)
    start, ema = 0, None
    if resume and (ckpt := latest_checkpoint(out)) is not None:
        start, ema = _load(ckpt, generator, fake, opt_g, opt_c)
    uncond = _negative_context(pipe, config) if config.real_guidance else None
    if env.main:
        (out / "self_forcing_config.json").write_text(json.dumps(asdict(config), indent=1) + "\n", encoding="utf-8")
    log = JsonlLog(out / "train_log.jsonl", env.main)
    log.truncate_after(start)
    bar = tqdm(total=config.steps, initial=start, desc="self-forcing", unit="step", disable=not (progress and env.main))
    t_start, records = time.perf_counter(), []
    for step in range(start, config.steps):
        t0 = time.perf_counter()
        task, g, picks = draw_batch(config.seed, step, config.tasks, pools, config.batch_size)
        # every draw comes from the step's generator, the same on every rank, in the same order whatever
        # this step trains: a resumed run continues exactly
        exit_steps = draw_exit_steps(config, g, env)
        seeds = [int(s) for s in torch.randint(2**31, (len(picks),), generator=g)]
        critic_picks = [pools[task][int(i)] for i in torch.randint(len(pools[task]), (len(picks),), generator=g)]
        critic_seeds = [int(s) for s in torch.randint(2**31, (len(picks),), generator=g)]
        mine = list(zip(picks, seeds, strict=True))[env.rank :: env.world]
        mine_critic = list(zip(critic_picks, critic_seeds, strict=True))[env.rank :: env.world]
        update_generator = step % config.generator_every == 0
        fresh_critic = config.critic_data == "fresh" or not update_generator
        opt_g.zero_grad(set_to_none=True)
        opt_c.zero_grad(set_to_none=True)
        g_total, c_total, calls = 0.0, 0.0, 0
        rollouts = []
        if update_generator:
            for clip, seed in mine:
                sg = torch.Generator().manual_seed(seed)
                latents, context, first, shape = _clip(store, clip, task, env.device)
                with autocast(config, env.device):
                    video, lengths = rollout(generator, context, first, config, shape, sg, env.device, None, exit_steps)
                calls += sum(e + 1 for e in exit_steps)
                sigma = dmd_sigma(config.shift, sg, *config.dmd_sigma_range)
                noise = torch.randn(video.shape, generator=sg).to(env.device)
                with autocast(config, env.device):
                    loss_g = dmd_loss(
                        video, first, lengths, real, fake, context, sigma, noise, uncond, config.real_guidance
                    )
                (loss_g / len(mine)).backward()
                g_total += loss_g.detach().item()
                rollouts.append((video.detach(), first, lengths, context, sg))
            torch.nn.utils.clip_grad_norm_(generator.parameters(), config.grad_clip)
            opt_g.step()
            if ema is not None:
                _update_ema(ema, full_state(generator), config.ema_decay)
        if fresh_critic:  # the critic's own batch and rollout, as the official trainer draws them
            rollouts = []
            for clip, seed in mine_critic:
                sg = torch.Generator().manual_seed(seed)
                latents, context, first, shape = _clip(store, clip, task, env.device)
                with autocast(config, env.device), torch.no_grad():
                    video, lengths = rollout(generator, context, first, config, shape, sg, env.device, None, exit_steps)
                calls += sum(e + 1 for e in exit_steps)
                rollouts.append((video, first, lengths, context, sg))
        for video, first, lengths, context, sg in rollouts:
            with autocast(config, env.device):
                loss_c = critic_loss(fake, video, first, lengths, context, sg, config)
            (loss_c / len(rollouts)).backward()
            c_total += loss_c.detach().item()
        torch.nn.utils.clip_grad_norm_(fake.parameters(), config.grad_clip)
        opt_c.step()
        if config.ema_decay and ema is None and step + 1 >= config.ema_start:
            ema = {k: v.clone() for k, v in full_state(generator).items()}  # official: created, then updated
        record = {
            "step": step + 1,
            "critic_loss": all_mean(c_total / max(1, len(rollouts)), env),
            "dmd_loss": all_mean(g_total / len(mine), env) if update_generator else None,
            "task": task,
            "exit_steps": exit_steps,
            "clips": picks if update_generator else [],  # the generator's batch (dataset indices)
            "critic_clips": critic_picks if fresh_critic else picks,  # the critic's: its own when fresh
            "generator_calls": all_gather_int(calls, env),  # per rank: equal, or collectives would hang
            "ema": ema is not None,
            "seconds": time.perf_counter() - t0,
        }
        records.append(record)
        log.write(record)
        bar.update(1)
        bar.set_postfix(critic=f"{record['critic_loss']:.4f}", task=task)
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            _save(out / "checkpoints" / f"step-{step + 1:06d}", generator, fake, opt_g, opt_c, step + 1, ema, env)
            if env.main:
                prune_checkpoints(out / "checkpoints", config.keep_last)
    bar.close()
    weights = ema if ema is not None else full_state(generator)
    final = out / "final"
    if env.main:
        from yume_model.transformer import WanDiT
        from yume_model.tscm import YumeTransformer

        base = pipe.transformer
        distilled = YumeTransformer(WanDiT(base.dit.config), base.tscm)
        distilled.load_state_dict(weights)
        pipe.transformer = distilled
        pipe.config.sampler = SamplerConfig("renoise", config.denoising_steps, config.shift)
        pipe.save_pretrained(final)
    elapsed = time.perf_counter() - t_start
    critic = [r["critic_loss"] for r in records]
    dmd = [r["dmd_loss"] for r in records if r["dmd_loss"] is not None]
    return {
        "out": str(out),
        "final": str(final),
        "critic_losses": critic,
        "dmd_losses": dmd,
        "steps_per_s": len(records) / elapsed if elapsed > 0 else math.nan,
        "start_step": start,
    }


def _clip(store, clip: int, task: str, device):
    item = store[clip]
    latents, context = item["latents"][None].to(device), item["context"][None].to(device)
    first = latents[:, :, :1] if task == "i2v" else None
    return latents, context, first, (latents.shape[1], latents.shape[3], latents.shape[4])


def _negative_context(pipe, config: SelfForcingConfig) -> torch.Tensor:
    """The encoded negative prompt, zero-padded to the text length: the unconditional branch of the
    real score's guidance (Self-Forcing encodes its negative prompt the same way)."""
    text_len = pipe.transformer.dit.config.text_len
    encoded = pipe.text_encoder.encode([config.negative_prompt])[0][:text_len]
    padded = torch.nn.functional.pad(encoded, (0, 0, 0, text_len - encoded.shape[0]))
    return padded[None].to(next(pipe.transformer.parameters()).device)


def _update_ema(ema: dict, current: dict, decay: float) -> None:
    for k, v in current.items():
        if v.is_floating_point():
            ema[k].mul_(decay).add_(v, alpha=1 - decay)
        else:
            ema[k].copy_(v)


def all_gather_int(value: int, env: Dist) -> list[int]:
    if env.world == 1:
        return [value]
    out = [torch.zeros(1, dtype=torch.int64) for _ in range(env.world)]
    dist.all_gather(out, torch.tensor([value], dtype=torch.int64))
    return [int(t) for t in out]


def _save(folder: Path, generator, fake, opt_g, opt_c, step: int, ema: dict | None, env: Dist) -> None:
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    weights = {"generator": full_state(generator), "fake": full_state(fake)}
    optim = {
        "generator": get_optimizer_state_dict(generator, opt_g, options=options),
        "fake": get_optimizer_state_dict(fake, opt_c, options=options),
    }
    if not env.main:
        return
    tmp = staging_folder(folder)
    if ema is not None:
        weights["generator_ema"] = ema
    for name, state in weights.items():
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / f"{name}.safetensors"))
    torch.save({"optimizer": optim, "step": step}, tmp / TRAIN_STATE)
    publish_checkpoint(tmp, folder)


def _load(folder: Path, generator, fake, opt_g, opt_c) -> tuple[int, dict | None]:
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    state = torch.load(folder / TRAIN_STATE, weights_only=True)
    for name, model, opt in (("generator", generator, opt_g), ("fake", fake, opt_c)):
        set_model_state_dict(model, load_file(str(folder / f"{name}.safetensors")), options=options)
        set_optimizer_state_dict(model, opt, state["optimizer"][name], options=options)
    ema_path = folder / "generator_ema.safetensors"
    return int(state["step"]), (load_file(str(ema_path)) if ema_path.exists() else None)
