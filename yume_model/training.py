"""Base training of Yume1.5 on a dataset built by ``yumebench data build`` (Yume1.5 §4.3, ``yume_repo.md`` §5).

Each step draws a batch of clips for one task, alternating T2V and I2V step by step. A clip's latents
are split at a random history length: the history (clean, timestep 0, compressed by TSCM with random
1-in-N far sampling) and the chunk after it, which is noised and predicted. The loss is rectified flow:
x_sigma = (1 - sigma) x0 + sigma eps, target v = eps - x0, sigma from a uniform draw warped by the shift
(Wan2.2's schedule, ``backbone.md`` §1.6). I2V keeps at least the first latent (the image) in the
history; T2V may start from nothing.

Exact resume: a step's randomness (clips, split points, noise, far-history picks) comes from a
generator seeded by (seed, step), so a resumed run needs only the weights, the optimizer, the lr
scheduler and the step counter; the next loss equals the uninterrupted run's (tested).

Scale: one process on CPU or GPU, or ``torchrun`` with FSDP2 (``fully_shard`` per DiT block and at the
root; gloo on CPU, NCCL on GPU). Each rank takes every world-th sample of the step's global batch and
FSDP averages the gradients, so the update equals one process's with the same global batch (tested
with 2 gloo processes).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

TRAIN_STATE = "train_state.pt"
LATEST = "latest"


@dataclass
class TrainConfig:
    dataset: str = ""
    out: str = "runs/base"
    init: str | None = None  # pipeline folder (save_pretrained); None: the tiny preset, random weights
    text_encoder: str | None = None  # umT5 folder / cached hub id when ``init`` is a bare checkpoint folder
    vae: str | None = None  # Wan2.2 VAE folder / cached hub id, likewise
    coarse_init: str | None = None  # official | average: coarse kernels a base Wan2.2 checkpoint lacks
    steps: int = 100
    batch_size: int = 2  # global, across ranks
    lr: float = 1e-5  # Yume1.5: Adam, 1e-5
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_steps: int = 0
    grad_clip: float = 1.0
    shift: float = 5.0  # timestep sampling: sigma = s u / (1 + (s - 1) u)
    resolution: tuple[int, int] = (64, 96)
    num_frames: int = 33  # video frames per sample (4k + 1)
    chunk_latents: int = 8
    ema: float = 0.0  # 0: off; else the EMA decay, saved beside the model
    save_every: int = 50
    keep_last: int = 0  # checkpoints kept (the newest); 0 keeps all
    seed: int = 0
    mixed_precision: str = "auto"  # auto (bf16 autocast on CUDA), bf16, no
    activation_checkpointing: bool = False
    wording: str = "yume"
    tasks: tuple[str, ...] = ("t2v", "i2v")  # alternated step by step

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        self.resolution = tuple(self.resolution)
        self.tasks = tuple(self.tasks)
        if (self.num_frames - 1) % 4:
            raise ValueError(f"num_frames must be 4k + 1 (the Wan VAE's causal stride), got {self.num_frames}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if self.mixed_precision not in ("auto", "bf16", "no"):
            raise ValueError(f"mixed_precision must be auto, bf16 or no, got {self.mixed_precision!r}")


# ----------------------------------------------------------------------------------------------------
# Distributed


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str = "auto") -> Dist:
    """One process, or the process group ``torchrun`` describes (gloo on CPU, NCCL on GPU)."""
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return Dist(rank, world, torch.device("cuda", local))
    return Dist(rank, world, torch.device("cpu"))


def teardown_distributed() -> None:
    """Leave the process group before the interpreter exits.

    Without it gloo's worker threads can still hold tensors at interpreter finalization and the process
    dies with SIGABRT ("terminate called without an active exception"; pytorch/pytorch#190489), which
    fails a finished run.
    """
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(model: torch.nn.Module, blocks, env: Dist) -> torch.nn.Module:
    """FSDP2: every DiT block its own unit, the rest (embeddings, head, TSCM parts) the root unit."""
    if env.world == 1:
        return model
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(env.device.type, (env.world,))
    for block in blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def all_mean(value: float, env: Dist) -> float:
    if env.world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / env.world


def full_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The unsharded state dict on every rank (collective under FSDP)."""
    from torch.distributed.tensor import DTensor

    return {
        k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }


# ----------------------------------------------------------------------------------------------------
# Data: clips -> latents and text, computed once and kept on disk


class LatentStore:
    """VAE latents and [event ; action] contexts of a dataset's clips, encoded once (frozen encoders)
    and cached under ``folder`` (one safetensors file per clip, written atomically)."""

    def __init__(self, dataset, pipe, folder: Path) -> None:
        self.dataset = dataset
        self.pipe = pipe
        self.folder = folder
        self.memory: dict[int, dict[str, torch.Tensor]] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self.dataset)

    def tasks(self, i: int) -> list[str]:
        return list(self.dataset.rows[i]["tasks"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if i in self.memory:
            return self.memory[i]
        row = self.dataset.rows[i]
        path = self.folder / f"{row['clip_id']}.safetensors"
        if path.exists():
            item = load_file(str(path))
        else:
            item = self._encode(i)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            save_file(item, str(tmp))
            tmp.replace(path)
        self.memory[i] = item
        return item

    @torch.no_grad()
    def _encode(self, i: int) -> dict[str, torch.Tensor]:
        from yume_model.text import dual_stream_context
        from yume_model.vae import _stats
        from yumebench.actions import Action

        sample = self.dataset[i]
        vae = self.pipe.vae
        param = next(vae.parameters())
        video = sample["video"][None].to(param.device, param.dtype)
        mu = vae.encode(video).latent_dist.mode()
        mean, std = _stats(vae, mu)
        latents = ((mu - mean) / std)[0].float().cpu()
        encoder, cache = self.pipe.text_encoder, self.pipe.action_cache
        event = encoder.encode([sample["event_text"]])[0]
        if sample["keys"] and sample["mouse"]:
            action = cache[Action(sample["keys"], sample["mouse"])]
        elif sample["action_text"]:
            action = encoder.encode([sample["action_text"]])[0]
        else:
            action = event[:0]
        context = dual_stream_context(event, action, self.pipe.transformer.dit.config.text_len)
        return {"latents": latents.contiguous(), "context": context.contiguous()}


def step_generator(seed: int, step: int, salt: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 7919 + salt) % (2**63 - 1))


def draw_batch(seed: int, step: int, tasks: tuple[str, ...], pools: dict[str, list[int]], batch_size: int):
    """The step's task (alternating), its generator and the clips of its global batch."""
    task = tasks[step % len(tasks)]
    g = step_generator(seed, step)
    pool = pools[task]
    return task, g, [pool[int(i)] for i in torch.randint(len(pool), (batch_size,), generator=g)]


def sample_sigma(batch: int, shift: float, generator: torch.Generator, low: float = 0.0, high: float = 1.0):
    from yume_model.sampling import shift_sigma

    return shift_sigma(low + (high - low) * torch.rand(batch, generator=generator, dtype=torch.float64), shift)


def split_point(num_latents: int, task: str, chunk: int, generator: torch.Generator) -> tuple[int, int]:
    """(history length, chunk end): I2V keeps the first latent (the image) in the history."""
    low = 1 if task == "i2v" else 0
    high = max(low, num_latents - 1)
    s = int(torch.randint(low, high + 1, (1,), generator=generator))
    return s, min(num_latents, s + chunk)


def flow_matching_loss(model, latents, context, history_len, chunk_end, sigma, noise, history_generator):
    """One sample: rectified-flow MSE on the chunk latents[:, history_len:chunk_end]."""
    x0 = latents[:, :, history_len:chunk_end]
    history = latents[:, :, :history_len] if history_len else None
    s = sigma.to(x0.dtype).view(-1, 1, 1, 1, 1)
    x_t = (1 - s) * x0 + s * noise
    pred = model(x_t, (sigma * 1000).to(x0.dtype), context, history, generator=history_generator)
    return torch.nn.functional.mse_loss(pred.float(), (noise - x0).float())


# ----------------------------------------------------------------------------------------------------
# Checkpoints


def save_training_state(folder: Path, model, optimizer, scheduler, step: int, ema: dict | None, env: Dist) -> None:
    """Model (safetensors, Yume key names), optimizer and scheduler state, step; rank 0 writes."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    weights = full_state(model)
    optim = get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not env.main:
        return
    tmp = staging_folder(folder)
    save_file(weights, str(tmp / "model.safetensors"))
    if ema is not None:
        save_file({k: v.contiguous() for k, v in ema.items()}, str(tmp / "ema.safetensors"))
    torch.save({"optimizer": optim, "scheduler": scheduler.state_dict(), "step": step}, tmp / TRAIN_STATE)
    publish_checkpoint(tmp, folder)


def staging_folder(folder: Path) -> Path:
    """Where a checkpoint is written before ``publish_checkpoint`` moves it into place."""
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp


def publish_checkpoint(tmp: Path, folder: Path) -> None:
    """Rename a fully written checkpoint into place and point ``latest`` at it: a kill mid-write
    leaves the previous checkpoint as the latest."""
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    tmp.replace(folder)
    (folder.parent / LATEST).write_text(folder.name + "\n")


def load_training_state(folder: Path, model, optimizer, scheduler) -> tuple[int, dict | None]:
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    set_model_state_dict(model, load_file(str(folder / "model.safetensors")), options=options)
    state = torch.load(folder / TRAIN_STATE, weights_only=True)
    set_optimizer_state_dict(model, optimizer, state["optimizer"], options=options)
    scheduler.load_state_dict(state["scheduler"])
    ema_path = folder / "ema.safetensors"
    return int(state["step"]), (load_file(str(ema_path)) if ema_path.exists() else None)


def prune_checkpoints(folder: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``step-*`` checkpoints (0 keeps all)."""
    import shutil

    if keep <= 0 or not folder.exists():
        return
    steps = sorted(p for p in folder.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))
    for old in steps[:-keep]:
        shutil.rmtree(old)


def latest_checkpoint(out: Path) -> Path | None:
    pointer = out / "checkpoints" / LATEST
    if not pointer.exists():
        return None
    folder = out / "checkpoints" / pointer.read_text().strip()
    return folder if folder.exists() else None


# ----------------------------------------------------------------------------------------------------
# The loop


def load_pipeline(
    init: str | None,
    device: torch.device,
    text_encoder: str | None = None,
    vae: str | None = None,
    coarse_init: str | None = None,
):
    from yume_model.pipeline import GenerationError, YumePipeline

    if init is None:
        return YumePipeline.tiny()
    try:
        return YumePipeline.from_pretrained(
            init, text_encoder=text_encoder, vae=vae, device=str(device), coarse_init=coarse_init
        )
    except GenerationError as e:
        raise ValueError(str(e)) from None


def autocast(config: TrainConfig, device: torch.device):
    use = config.mixed_precision == "bf16" or (config.mixed_precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use)


class JsonlLog:
    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (written after the checkpoint a run resumes from)."""
        if self.enabled and self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            kept = [ln for ln in lines if ln.strip() and json.loads(ln).get("step", 0) <= step]
            self.path.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")

    def write(self, record: dict) -> None:
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")


def prepare_data(config: TrainConfig, pipe):
    """The dataset's clips with enough frames, their latent store, and the clip pool of each task."""
    from data_pipeline.dataset import YumeClipDataset
    from yume_model.text import ActionEmbeddingCache

    dataset = YumeClipDataset(config.dataset, size=config.resolution, num_frames=config.num_frames)
    if len(dataset) == 0:
        raise ValueError(f"{config.dataset}: no clip has {config.num_frames} frames; lower --num-frames")
    if pipe.action_cache is None:
        pipe.action_cache = ActionEmbeddingCache.build(pipe.text_encoder, config.wording)
    h, w = config.resolution
    # cached latents and contexts are only valid for the encoders, wording and sizes that made them
    encoders = json.dumps(
        [dict(pipe.vae.config), pipe.text_encoder.identity, config.wording, pipe.transformer.dit.config.text_len],
        sort_keys=True,
        default=str,
    )
    key = hashlib.sha256(encoders.encode()).hexdigest()[:12]
    store = LatentStore(dataset, pipe, Path(config.out) / "latents" / f"{h}x{w}x{config.num_frames}-{key}")
    pools = {task: [i for i in range(len(store)) if task in store.tasks(i)] for task in config.tasks}
    empty = [task for task, pool in pools.items() if not pool]
    if empty:
        raise ValueError(f"{config.dataset}: no clip serves task {empty[0]}")
    return store, pools


def train_base(config: TrainConfig, resume: bool = False, progress: bool = True, env: Dist | None = None) -> dict:
    """Run base training; returns a summary (first/last loss, steps per second, output folder)."""
    from tqdm import tqdm

    env = env or setup_distributed()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = load_pipeline(config.init, env.device, config.text_encoder, config.vae, config.coarse_init)
    store, pools = prepare_data(config, pipe)
    model = pipe.transformer.to(env.device).train()
    model.gradient_checkpointing = config.activation_checkpointing
    model = shard(model, model.dit.blocks, env)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    )
    start, ema = 0, None
    if resume and (ckpt := latest_checkpoint(out)) is not None:
        start, ema = load_training_state(ckpt, model, optimizer, scheduler)
    if config.ema and ema is None:
        ema = {k: v.clone() for k, v in full_state(model).items()}  # a copy: on CPU the state aliases the weights
    if env.main:
        (out / "train_config.json").write_text(json.dumps(asdict(config), indent=1) + "\n", encoding="utf-8")
    log = JsonlLog(out / "train_log.jsonl", env.main)
    log.truncate_after(start)
    bar = tqdm(total=config.steps, initial=start, desc="base", unit="step", disable=not (progress and env.main))
    losses: list[float] = []
    t_start = time.perf_counter()
    for step in range(start, config.steps):
        t0 = time.perf_counter()
        task, g, picks = draw_batch(config.seed, step, config.tasks, pools, config.batch_size)
        plans = []
        for clip in picks:  # every rank draws the whole global batch, so the randomness is world-independent
            item = store[clip]
            s, e = split_point(item["latents"].shape[1], task, config.chunk_latents, g)
            sigma = sample_sigma(1, config.shift, g)
            noise = torch.randn((1, *item["latents"][:, s:e].shape), generator=g)
            plans.append((item, s, e, sigma, noise, step_generator(config.seed, step, salt=len(plans) + 1)))
        mine = plans[env.rank :: env.world]
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for item, s, e, sigma, noise, hist_gen in mine:
            with autocast(config, env.device):
                loss = flow_matching_loss(
                    model,
                    item["latents"][None].to(env.device),
                    item["context"][None].to(env.device),
                    s,
                    e,
                    sigma.to(env.device),
                    noise.to(env.device),
                    hist_gen,
                )
            (loss / len(mine)).backward()
            total += loss.detach().item()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        grad_norm = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
        optimizer.step()
        scheduler.step()
        if ema is not None:
            current = full_state(model)
            for k, v in current.items():
                if v.is_floating_point():
                    ema[k].mul_(config.ema).add_(v, alpha=1 - config.ema)
                else:
                    ema[k].copy_(v)
        loss_value = all_mean(total / len(mine), env)
        losses.append(loss_value)
        dt = time.perf_counter() - t0
        record = {
            "step": step + 1,
            "loss": loss_value,
            "lr": scheduler.get_last_lr()[0],
            "grad_norm": grad_norm,
            "task": task,
            "samples_per_s": config.batch_size / dt,
        }
        log.write(record)
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}", task=task)
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            save_training_state(
                out / "checkpoints" / f"step-{step + 1:06d}", model, optimizer, scheduler, step + 1, ema, env
            )
            if env.main:
                prune_checkpoints(out / "checkpoints", config.keep_last)
    bar.close()
    final = out / "final"
    weights = full_state(model)
    if env.main:
        unwrapped = pipe.transformer
        if env.world > 1:  # the sharded module cannot save itself: load the gathered weights into a fresh copy
            from yume_model.transformer import WanDiT
            from yume_model.tscm import YumeTransformer

            unwrapped = YumeTransformer(WanDiT(pipe.transformer.dit.config), pipe.transformer.tscm)
        unwrapped.load_state_dict(ema if ema is not None else weights)
        pipe.transformer = unwrapped
        pipe.save_pretrained(final)
    elapsed = time.perf_counter() - t_start
    done = len(losses)
    return {
        "out": str(out),
        "final": str(final),
        "first_loss": losses[0] if losses else math.nan,
        "last_loss": losses[-1] if losses else math.nan,
        "losses": losses,
        "steps_per_s": done / elapsed if elapsed > 0 else math.nan,
        "start_step": start,
    }
