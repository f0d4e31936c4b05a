"""Self-Forcing distillation with TSCM (Yume1.5 §4.3; Self-Forcing's DMD recipe, ``backbone.md`` §2).

Three copies of the base model: the generator and the fake score (critic) train, the real score is
frozen. Per iteration:

1. **Rollout**: the generator produces ``chunks`` chunks autoregressively from its **own** earlier output
   (clean x0, detached, compressed by TSCM; no KV cache), with the few-step re-noising schedule. One
   denoising step per chunk, drawn at random, is the exit: the steps before it run without gradient,
   its x0 is the chunk's output and carries the gradient.
2. **Generator update** (every ``generator_every``-th iteration): DMD. Noise the rollout to one random
   level; grad = (x0_fake - x0_real) / mean |x - x0_real| (Self-Forcing's normalisation, no gradient);
   loss = 0.5 MSE(x, stopgrad(x - grad)), so dL/dx is proportional to the fake minus the real score.
   With fake == real the gradient is exactly zero (tested).
3. **Critic update** (every iteration): flow matching of the fake score on the detached rollout, each
   chunk after its generated history.

Both scores see each chunk after the same generated history the generator used. Randomness comes
from per-step generators, as in base training, so a resumed run continues exactly.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

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
    sample_sigma,
    setup_distributed,
    shard,
    staging_folder,
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
    real_guidance: float = 1.0  # CFG on the real score (Self-Forcing: 3.0 with an empty-event negative)
    dmd_sigma_range: tuple[float, float] = (0.02, 0.98)  # Self-Forcing clamps t to [20, 980]
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


def rollout(
    model,
    context: torch.Tensor,
    first: torch.Tensor | None,
    config: SelfForcingConfig,
    latent_shape: tuple[int, int, int],
    g: torch.Generator,
    device: torch.device,
    record: list | None = None,
) -> tuple[torch.Tensor, list[int]]:
    """The generator's chunks (1, C, T, h, w), chunk k's gradient from its exit step only.

    ``first`` is the I2V image latent (1, C, 1, h, w) or None (T2V). ``record`` collects the history
    each call saw (for the test that the rollout never sees ground truth). Returns the output and the
    chunk lengths.
    """
    c, h, w = latent_shape
    sigmas = shifted_sigmas(config.denoising_steps, config.shift)
    history = first
    outputs, lengths = [], []
    for k in range(config.chunks):
        n = config.chunk_latents + (1 if k == 0 and first is None else 0)
        x = torch.randn((1, c, n, h, w), generator=g).to(device)
        exit_step = int(torch.randint(config.denoising_steps, (1,), generator=g))
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


def score_x0(model, x_t, sigma: float, context, history, uncond=None, guidance: float = 1.0):
    t = torch.full((1,), sigma * 1000.0, device=x_t.device)
    v = model(x_t, t, context, history)
    if guidance != 1.0 and uncond is not None:
        v_u = model(x_t, t, uncond, history)
        v = v_u + guidance * (v - v_u)
    return x_t - sigma * v


def dmd_loss(video, first, lengths, real, fake, context, sigma: float, noise, uncond=None, guidance: float = 1.0):
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
        real_x0 = torch.cat(real_x0, dim=2)
        fake_x0 = torch.cat(fake_x0, dim=2)
        normaliser = (x - real_x0).abs().mean().clamp_min(1e-8)
        grad = (fake_x0 - real_x0) / normaliser
    return 0.5 * torch.nn.functional.mse_loss(video.double(), (video - grad).double().detach())


def critic_loss(fake, video, first, lengths, context, g: torch.Generator, config: SelfForcingConfig):
    """Flow matching of the fake score on the detached rollout, each chunk after its generated history."""
    total = 0.0
    video = video.detach()
    for start, n, history in _chunks(video, first, lengths):
        chunk = video[:, :, start : start + n]
        sigma = float(sample_sigma(1, config.shift, g)[0])
        noise = torch.randn(chunk.shape, generator=g).to(chunk.device)
        x_t = (1 - sigma) * chunk + sigma * noise
        pred = fake(x_t, torch.full((1,), sigma * 1000.0, device=chunk.device), context, history)
        total = total + torch.nn.functional.mse_loss(pred.float(), (noise - chunk).float())
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
    start = 0
    if resume and (ckpt := latest_checkpoint(out)) is not None:
        start = _load(ckpt, generator, fake, opt_g, opt_c)
    if env.main:
        (out / "self_forcing_config.json").write_text(json.dumps(asdict(config), indent=1) + "\n", encoding="utf-8")
    log = JsonlLog(out / "train_log.jsonl", env.main)
    log.truncate_after(start)
    bar = tqdm(total=config.steps, initial=start, desc="self-forcing", unit="step", disable=not (progress and env.main))
    t_start, records = time.perf_counter(), []
    for step in range(start, config.steps):
        t0 = time.perf_counter()
        task, g, picks = draw_batch(config.seed, step, config.tasks, pools, config.batch_size)
        seeds = [int(s) for s in torch.randint(2**31, (len(picks),), generator=g)]
        mine = list(zip(picks, seeds, strict=True))[env.rank :: env.world]
        update_generator = step % config.generator_every == 0
        opt_g.zero_grad(set_to_none=True)
        opt_c.zero_grad(set_to_none=True)
        g_total, c_total = 0.0, 0.0
        for clip, seed in mine:
            item = store[clip]
            sg = torch.Generator().manual_seed(seed)
            latents, context = item["latents"][None].to(env.device), item["context"][None].to(env.device)
            first = latents[:, :, :1] if task == "i2v" else None
            shape = (latents.shape[1], latents.shape[3], latents.shape[4])
            with autocast(config, env.device), torch.set_grad_enabled(update_generator):
                video, lengths = rollout(generator, context, first, config, shape, sg, env.device)
            if update_generator:
                low, high = config.dmd_sigma_range
                sigma = float(sample_sigma(1, config.shift, sg, low, high)[0])
                noise = torch.randn(video.shape, generator=sg).to(env.device)
                # the unconditional branch of CFG sees no text at all (an all-padding context)
                uncond = torch.zeros_like(context) if config.real_guidance != 1.0 else None
                with autocast(config, env.device):
                    loss_g = dmd_loss(
                        video, first, lengths, real, fake, context, sigma, noise, uncond, config.real_guidance
                    )
                (loss_g / len(mine)).backward()
                g_total += loss_g.detach().item()
            with autocast(config, env.device):
                loss_c = critic_loss(fake, video, first, lengths, context, sg, config)
            (loss_c / len(mine)).backward()
            c_total += loss_c.detach().item()
        if update_generator:
            torch.nn.utils.clip_grad_norm_(generator.parameters(), config.grad_clip)
            opt_g.step()
        torch.nn.utils.clip_grad_norm_(fake.parameters(), config.grad_clip)
        opt_c.step()
        record = {
            "step": step + 1,
            "critic_loss": all_mean(c_total / len(mine), env),
            "dmd_loss": all_mean(g_total / len(mine), env) if update_generator else None,
            "task": task,
            "seconds": time.perf_counter() - t0,
        }
        records.append(record)
        log.write(record)
        bar.update(1)
        bar.set_postfix(critic=f"{record['critic_loss']:.4f}", task=task)
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            _save(out / "checkpoints" / f"step-{step + 1:06d}", generator, fake, opt_g, opt_c, step + 1, env)
            if env.main:
                prune_checkpoints(out / "checkpoints", config.keep_last)
    bar.close()
    weights = full_state(generator)
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


def _save(folder: Path, generator, fake, opt_g, opt_c, step: int, env: Dist) -> None:
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
    for name, state in weights.items():
        save_file(state, str(tmp / f"{name}.safetensors"))
    torch.save({"optimizer": optim, "step": step}, tmp / TRAIN_STATE)
    publish_checkpoint(tmp, folder)


def _load(folder: Path, generator, fake, opt_g, opt_c) -> int:
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
    return int(state["step"])
