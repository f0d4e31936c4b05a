"""``yumebench model``: the Yume1.5 reference model: generate, cache action embeddings, train.

Examples:
    yumebench model generate --config tiny --prompt "A rainy street" --actions "W,·;W+A,→" --out v.mp4
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from yumebench.cli._common import err_console, fail, fail_io, text_arg_or_fail, writable_or_fail

app = typer.Typer(
    help=(
        "Run and train the Yume1.5 reference model (Wan2.2-5B DiT with TSCM).\n\n"
        'Example: yumebench model generate --config tiny --prompt "A rainy street" --actions "W,·;W+A,→" --out v.mp4'
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16"}
DEFAULT_RESOLUTION = {"tiny": "64x96", "yume1.5-5b": "544x960"}


def _resolution(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        fail(f"--resolution {text!r}: expected HEIGHTxWIDTH, e.g. 544x960")
    return h, w


COARSE_INIT_HELP = (
    "How the coarse Patchify kernels are derived when the checkpoint has none (a base Wan2.2-TI2V-5B): "
    "official (trilinear interpolation of the (1,2,2) kernel, as the released YUME code) or average "
    "(repeat and divide: each coarse token starts as the mean of the fine ones). Default: the history "
    "mode's own (official in released mode). Ignored for checkpoints that carry their kernels."
)


def _coarse_init_or_fail(value: str | None) -> str | None:
    if value is not None and value not in ("official", "average"):
        fail(f"--coarse-init {value!r}: expected official or average")
    return value


def _load_pipeline(
    config_name: str,
    weights: Path | None,
    text_encoder,
    vae,
    history: str,
    dtype: str,
    device: str,
    coarse_init: str | None = None,
):
    import torch

    from yume_model.pipeline import GenerationError, YumePipeline
    from yume_model.tscm import TSCMConfig

    if config_name not in DEFAULT_RESOLUTION:
        fail(f"--config {config_name!r}: expected one of {', '.join(DEFAULT_RESOLUTION)}")
    if history not in ("saved", "tscm", "full", "sliding", "spatial", "released"):
        fail(f"--history {history!r}: expected saved, tscm, full, sliding, spatial or released")
    mode = None if history == "saved" else history
    torch_dtype = getattr(torch, DTYPES[dtype])
    if weights is None:
        if config_name != "tiny":
            fail(
                f"--config {config_name} needs --weights DIR (a Yume-5B-720P or pipeline folder; "
                "VAE and umT5 from Wan-AI/Wan2.2-TI2V-5B-Diffusers)"
            )
        err_console.print("note: --config tiny without --weights uses random weights (the output is noise)")
        chosen = {k: v for k, v in (("mode", mode), ("coarse_init", coarse_init)) if v is not None}
        tscm = TSCMConfig(channel_dim=8, **chosen) if chosen else None
        pipe = YumePipeline.tiny(tscm=tscm)
        pipe.transformer.to(device, torch_dtype)
        pipe.vae.to(device)
        return pipe
    if not weights.exists():
        fail(f"{weights}: weights folder not found")
    try:
        return YumePipeline.from_pretrained(
            weights,
            text_encoder=text_encoder,
            vae=vae,
            dtype=torch_dtype,
            device=device,
            history_mode=mode,
            coarse_init=coarse_init,
        )
    except (GenerationError, OSError, ValueError) as e:
        fail(f"{weights}: cannot load ({e})".replace("\n", " "))


@app.command()
def generate(
    out: Path = typer.Option(..., help="Output mp4; the Yume-Bench spec line is written beside it (.jsonl)."),
    actions: str = typer.Option(..., help='One action per block: "KEYS,MOUSE;..." e.g. "W+A,→;W,·;S,↑".'),
    prompt: str = typer.Option("", help="Event description of block 0 (required for text-to-video)."),
    image: Path = typer.Option(None, help="First frame for image-to-video (png/jpg)."),
    events: str = typer.Option(
        None, help='Event text per block, ";"-separated; an empty entry keeps the previous one: "a street;;it snows".'
    ),
    config: str = typer.Option("tiny", help="tiny (random or --weights) or yume1.5-5b (needs --weights)."),
    weights: Path = typer.Option(None, help="Pipeline folder (save_pretrained) or Yume-5B-720P checkpoint folder."),
    text_encoder: str = typer.Option(None, help="umT5 folder or cached hub id, if not inside --weights."),
    vae: str = typer.Option(None, help="Wan2.2 VAE folder or cached hub id, if not inside --weights."),
    steps: int = typer.Option(None, min=1, help="Sampling steps per block (default: saved, else 4)."),
    sampler: str = typer.Option(
        None,
        help="euler (few-step ODE), renoise (Self-Forcing's x0 re-noising) or unipc (multi-step, base); "
        "default: the pipeline's saved sampler, else euler.",
    ),
    shift: float = typer.Option(None, help="Schedule shift (default: saved, else 7 as Yume1.5's sample_5b)."),
    resolution: str = typer.Option(None, help="HEIGHTxWIDTH, multiples of 32 (default: 544x960; tiny 64x96)."),
    history: str = typer.Option(
        "saved",
        help="History layout: released (the released Yume-5B code, exactly; the default for a checkpoint "
        "without tscm_config.json, such as Yume-5B-720P), tscm (the paper's text: channel branch, 1-in-32 "
        "sampling), full, sliding, spatial; saved: what the checkpoint says.",
    ),
    coarse_init: str = typer.Option(None, help=COARSE_INIT_HELP),
    wording: str = typer.Option("yume", help="Action-description wording: yume, paper, 5b."),
    seed: int = typer.Option(0, help="Noise seed (same seed, same frames on CPU)."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    dtype: str = typer.Option("float32", help="float32, bfloat16 or float16 (bf16 on GPU)."),
    cache_dir: Path = typer.Option(
        Path.home() / ".cache" / "yumebench" / "actions", help="Where action embeddings are cached."
    ),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Generate an explorable video block by block from an image or a text and a stream of actions.

    Each action drives one block of 32 frames (16 fps); the video has 1 + 32 x blocks frames. Writes
    OUT and OUT.jsonl (a Yume-Bench spec line with one segment per block), so
    `yumebench bench run --spec OUT.jsonl --videos DIR` scores it directly.

    Example: yumebench model generate --config tiny --prompt "A rainy street" --actions "W,·;W+A,→" --out v.mp4
    """
    import numpy as np

    from yume_model.pipeline import GenerationError, block_segments, parse_events
    from yume_model.sampling import SamplerConfig
    from yumebench.actions import ActionError, parse_action_sequence
    from yumebench.files import atomic_write_text
    from yumebench.video import VideoError, write_mp4

    for value, flag in ((prompt, "--prompt"), (events, "--events"), (actions, "--actions")):
        text_arg_or_fail(value, flag)  # before the model loads, not when the spec line is written
    writable_or_fail(out.parent)
    if dtype not in DTYPES:
        fail(f"--dtype {dtype!r}: expected float32, bfloat16 or float16")
    if wording not in ("yume", "paper", "5b"):
        fail(f"--wording {wording!r}: expected yume, paper or 5b")
    _coarse_init_or_fail(coarse_init)
    try:
        parsed = parse_action_sequence(actions)
        SamplerConfig(sampler or "euler", steps or 4, shift or 7.0)  # validate before loading anything
    except (ActionError, ValueError) as e:
        fail(f"--actions/--sampler: {e}")
    height, width = _resolution(resolution or DEFAULT_RESOLUTION.get(config, "544x960"))
    picture = None
    if image is not None:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(image) as opened:
                picture = np.asarray(opened.convert("RGB"))
        except (OSError, UnidentifiedImageError) as e:
            fail(f"{image}: not a readable image ({type(e).__name__})")
    try:  # the events are checked before the model loads (the pipeline checks them again, cheaply)
        first_event = parse_events(prompt, events, len(parsed))[0]
    except GenerationError as e:
        fail(str(e))
    if picture is None and not first_event:
        fail("text-to-video needs --prompt (or a first event in --events); image-to-video needs --image")

    pipe = _load_pipeline(config, weights, text_encoder, vae, history, dtype, device, coarse_init)
    pipe.config.height, pipe.config.width, pipe.config.seed = height, width, seed
    saved = pipe.config.sampler
    pipe.config.sampler = SamplerConfig(sampler or saved.name, steps or saved.steps, shift or saved.shift)
    pipe.config.wording = wording
    try:
        parsed, block_events = pipe.check_inputs(parsed, prompt, events, picture)
    except GenerationError as e:
        fail(str(e))

    from tqdm import tqdm

    bar = tqdm(total=len(parsed), desc="blocks", unit="block", disable=quiet)

    def frames():
        for block in pipe.generate(parsed, prompt, events, picture, cache_dir=cache_dir, unload_text_encoder=True):
            bar.set_postfix_str(f"{block.action} {block.event[:30]}")
            bar.update(1)
            yield from block.frames

    try:
        write_mp4(out, frames(), pipe.config.fps)
    except VideoError as e:
        cause = e.__cause__
        if isinstance(cause, OSError):
            fail_io(OSError(cause.errno, cause.strerror, str(out)))
        fail(str(e))
    bar.close()
    spec_line = {
        "id": out.stem,
        "video": out.name,
        "prompt": block_events[0],
        "image": str(image) if image else None,
        "segments": block_segments(parsed, pipe.config.frames_per_block, pipe.first_block_frames(image is not None)),
        "events": block_events,
        "generation": {
            "config": config,
            "weights": str(weights) if weights else "random",
            "steps": pipe.config.sampler.steps,
            "sampler": pipe.config.sampler.name,
            "shift": pipe.config.sampler.shift,
            "seed": seed,
            "history": pipe.transformer.tscm.mode,
            "resolution": f"{height}x{width}",
        },
    }
    spec_path = out.with_suffix(".jsonl")
    try:
        atomic_write_text(spec_path, json.dumps(spec_line, ensure_ascii=False) + "\n")
    except OSError as e:
        fail_io(e)
    n_frames = pipe.first_block_frames(image is not None) + pipe.config.frames_per_block * (len(parsed) - 1)
    err_console.print(f"wrote {out} ({n_frames} frames, {len(parsed)} blocks) and {spec_path}")


@app.command("cache-actions")
def cache_actions(
    config: str = typer.Option("tiny", help="tiny (random umT5) or a real encoder via --text-encoder."),
    text_encoder: str = typer.Option(None, help="umT5 folder (text_encoder/ + tokenizer/) or cached hub id."),
    wording: str = typer.Option("yume", help="Action-description wording: yume, paper, 5b."),
    out: Path = typer.Option(Path.home() / ".cache" / "yumebench" / "actions", help="Cache folder."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
) -> None:
    """Precompute the text embeddings of all 81 action descriptions once (one file per encoder and wording).

    `model generate --cache-dir` reads the file and never runs the encoder on actions again.

    Example: yumebench model cache-actions --text-encoder Wan-AI/Wan2.2-TI2V-5B-Diffusers --wording yume
    """
    from yume_model.text import ActionEmbeddingCache, TextEncoder, tiny_text_encoder

    if wording not in ("yume", "paper", "5b"):
        fail(f"--wording {wording!r}: expected yume, paper or 5b")
    if text_encoder is None:
        if config != "tiny":
            fail("--text-encoder is required unless --config tiny")
        encoder = tiny_text_encoder()
    else:
        try:
            encoder = TextEncoder.from_pretrained(text_encoder, device=device)
        except (OSError, ValueError) as e:
            fail(f"{text_encoder}: cannot load the text encoder ({e})".replace("\n", " "))
    path = out / ActionEmbeddingCache.file_name(encoder.identity, wording)
    if path.exists():
        err_console.print(f"already cached: {path}")
        return
    cache = ActionEmbeddingCache.build(encoder, wording)
    written = cache.save(out)
    err_console.print(f"wrote {written} ({len(cache.embeddings)} actions, wording {wording})")


train_app = typer.Typer(
    help="Base training and Self-Forcing distillation.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(train_app, name="train")


def _require_dataset(dataset: Path) -> None:
    if not (dataset / "meta" / "info.json").exists():
        fail(f"{dataset}: not a dataset built by `yumebench data build` (no meta/info.json)")


def _config(config_cls, **fields):
    """The training config, or one line and exit 2 for a field it refuses."""
    try:
        return config_cls(**fields)
    except ValueError as e:
        fail(str(e))


def _run_training(run, config, *, resume: bool, quiet: bool, device: str) -> dict | None:
    """Alone or as one torchrun rank; the summary on the main process, None on the others."""
    from yume_model.training import setup_distributed, teardown_distributed

    env = setup_distributed(device)
    try:
        summary = run(config, resume=resume, progress=not quiet, env=env)
    except ValueError as e:
        fail(str(e))
    finally:
        teardown_distributed()
    return summary if env.main else None


def _report(summary: dict, what: str) -> None:
    err_console.print(
        f"{what}: loss {summary['first_loss']:.4f} -> {summary['last_loss']:.4f} "
        f"({len(summary['losses'])} steps, {summary['steps_per_s']:.2f} steps/s); final pipeline: {summary['final']}"
    )


@train_app.command("base")
def train_base(
    dataset: Path = typer.Option(..., help="A dataset built by `yumebench data build`."),
    out: Path = typer.Option(Path("runs/base"), help="Run folder: checkpoints/, train_log.jsonl, final/."),
    init: Path = typer.Option(None, help="Pipeline folder to start from (default: the tiny preset, random)."),
    text_encoder: str = typer.Option(None, help="umT5 folder or cached hub id, if not inside --init."),
    vae: str = typer.Option(None, help="Wan2.2 VAE folder or cached hub id, if not inside --init."),
    coarse_init: str = typer.Option(None, help=COARSE_INIT_HELP),
    steps: int = typer.Option(100, min=1, help="Total optimizer steps (the run stops there)."),
    batch_size: int = typer.Option(2, min=1, help="Global batch (split across torchrun ranks)."),
    lr: float = typer.Option(1e-5, help="AdamW learning rate (Yume1.5: 1e-5)."),
    warmup_steps: int = typer.Option(0, min=0, help="Linear warm-up steps."),
    grad_clip: float = typer.Option(1.0, help="Gradient-norm clip."),
    shift: float = typer.Option(5.0, help="Timestep-sampling shift."),
    resolution: str = typer.Option("64x96", help="HEIGHTxWIDTH of the training clips (Yume1.5: 704x1280)."),
    num_frames: int = typer.Option(33, help="Frames per sample, 4k+1."),
    ema: float = typer.Option(0.0, help="EMA decay (0: off); the final pipeline then holds the EMA weights."),
    save_every: int = typer.Option(50, min=1, help="Checkpoint every N steps."),
    keep_last: int = typer.Option(0, min=0, help="Keep only the newest N checkpoints (0: all)."),
    seed: int = typer.Option(0),
    mixed_precision: str = typer.Option("auto", help="auto (bf16 autocast on CUDA), bf16 or no."),
    activation_checkpointing: bool = typer.Option(False, help="Recompute DiT blocks in backward."),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoints/latest exactly."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Base training on the mixed dataset: rectified flow on a chunk after a random-length history
    (compressed by TSCM), alternating T2V and I2V batches step by step.

    Multi-GPU / multi-node: `torchrun --nproc-per-node 8 --no-python yumebench model train base ...`
    (FSDP2). Logs every step to OUT/train_log.jsonl (step, loss, lr, grad_norm, samples_per_s).

    Example: yumebench model train base --dataset my_dataset --out runs/base --steps 1000 --resume
    """
    from yume_model.training import TrainConfig, train_base

    _require_dataset(dataset)
    config = _config(
        TrainConfig,
        dataset=str(dataset),
        out=str(out),
        init=str(init) if init else None,
        text_encoder=text_encoder,
        vae=vae,
        coarse_init=_coarse_init_or_fail(coarse_init),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        warmup_steps=warmup_steps,
        grad_clip=grad_clip,
        shift=shift,
        resolution=_resolution(resolution),
        num_frames=num_frames,
        ema=ema,
        save_every=save_every,
        keep_last=keep_last,
        seed=seed,
        mixed_precision=mixed_precision,
        activation_checkpointing=activation_checkpointing,
    )
    summary = _run_training(train_base, config, resume=resume, quiet=quiet, device=device)
    if summary is not None:
        _report(summary, "base training")


@train_app.command("self-forcing")
def train_self_forcing(
    dataset: Path = typer.Option(..., help="A dataset built by `yumebench data build` (prompts, first frames)."),
    init: Path = typer.Option(..., help="The base pipeline folder (e.g. runs/base/final)."),
    text_encoder: str = typer.Option(None, help="umT5 folder or cached hub id, if not inside --init."),
    vae: str = typer.Option(None, help="Wan2.2 VAE folder or cached hub id, if not inside --init."),
    out: Path = typer.Option(Path("runs/self_forcing"), help="Run folder: checkpoints/, train_log.jsonl, final/."),
    steps: int = typer.Option(600, min=1, help="Iterations (Yume1.5: 600)."),
    batch_size: int = typer.Option(1, min=1, help="Global batch (split across torchrun ranks)."),
    chunks: int = typer.Option(3, min=1, help="Chunks per rollout."),
    chunk_latents: int = typer.Option(8, min=1, help="Latent frames per chunk (8 = 32 video frames)."),
    denoising_steps: int = typer.Option(4, min=1, help="Few-step schedule length of the generator."),
    shift: float = typer.Option(5.0, help="Few-step schedule shift."),
    lr_generator: float = typer.Option(2e-6, help="Generator learning rate."),
    lr_critic: float = typer.Option(4e-7, help="Fake-score learning rate."),
    generator_every: int = typer.Option(
        5, min=1, help="Generator update every N iterations, critic every one (Self-Forcing: dfake_gen_update_ratio 5)."
    ),
    real_guidance: float = typer.Option(
        3.0,
        help="CFG on the real score as Self-Forcing writes it: cond + G * (cond - uncond); 0 = none "
        "(Self-Forcing: guidance_scale 3.0; Wan's convention uncond + w * (cond - uncond) is w = G + 1).",
    ),
    negative_prompt: str = typer.Option(
        None,
        help="Unconditional text of the guidance, encoded by umT5 (default: Wan's negative prompt, as Self-Forcing).",
    ),
    exit_step: str = typer.Option(
        "per-rollout",
        help="per-rollout: one exit step for every chunk of a rollout (Self-Forcing: same_step_across_blocks); "
        "per-chunk: one each. Drawn on rank 0 and broadcast either way.",
    ),
    critic_data: str = typer.Option(
        "fresh", help="fresh: the critic trains on its own batch and rollout (Self-Forcing); same: on the generator's."
    ),
    ema_decay: float = typer.Option(0.99, help="Generator EMA decay (Self-Forcing: ema_weight 0.99); 0 = off."),
    ema_start: int = typer.Option(200, min=0, help="Step the EMA starts at (Self-Forcing: ema_start_step 200)."),
    resolution: str = typer.Option("64x96", help="HEIGHTxWIDTH."),
    num_frames: int = typer.Option(33, help="Frames per dataset sample (first frame and text come from it)."),
    save_every: int = typer.Option(50, min=1, help="Checkpoint every N steps."),
    keep_last: int = typer.Option(0, min=0, help="Keep only the newest N checkpoints (0: all)."),
    seed: int = typer.Option(0),
    mixed_precision: str = typer.Option("auto", help="auto (bf16 autocast on CUDA), bf16 or no."),
    activation_checkpointing: bool = typer.Option(False),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoints/latest."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Self-Forcing distillation with TSCM: the generator rolls out chunks from its own history with the
    few-step schedule; DMD against a frozen real score and a trained fake score, both copies of the base
    model (Yume1.5 §4.3). The recipe follows guandeh17/Self-Forcing @33593df: exit step shared by a
    rollout's chunks and synchronised across ranks; DMD and critic noise levels uniform, shifted, then
    clamped to [0.02, 0.98]; guided real score with the encoded negative prompt; critic on a fresh
    batch; generator EMA 0.99 from step 200; the DMD target formed in float64.

    The result, OUT/final, is a pipeline folder that `yumebench model generate --weights OUT/final`
    runs with the few-step re-noising sampler it was trained with.

    Example: yumebench model train self-forcing --dataset my_dataset --init runs/base/final --steps 600
    """
    from yume_model.self_forcing import SelfForcingConfig, train_self_forcing

    _require_dataset(dataset)
    if not init.is_dir():
        fail(f"{init}: not a folder; use the base run's final/ folder or a Yume checkpoint folder")
    config = _config(
        SelfForcingConfig,
        dataset=str(dataset),
        init=str(init),
        text_encoder=text_encoder,
        vae=vae,
        out=str(out),
        steps=steps,
        batch_size=batch_size,
        chunks=chunks,
        chunk_latents=chunk_latents,
        denoising_steps=denoising_steps,
        shift=shift,
        lr_generator=lr_generator,
        lr_critic=lr_critic,
        generator_every=generator_every,
        real_guidance=real_guidance,
        exit_step=exit_step,
        critic_data=critic_data,
        ema_decay=ema_decay,
        ema_start=ema_start,
        **({"negative_prompt": negative_prompt} if negative_prompt is not None else {}),
        resolution=_resolution(resolution),
        num_frames=num_frames,
        save_every=save_every,
        keep_last=keep_last,
        seed=seed,
        mixed_precision=mixed_precision,
        activation_checkpointing=activation_checkpointing,
    )
    summary = _run_training(train_self_forcing, config, resume=resume, quiet=quiet, device=device)
    if summary is not None:
        critic, dmd = summary["critic_losses"], summary["dmd_losses"]
        err_console.print(
            f"self-forcing: critic loss {critic[0]:.4f} -> {critic[-1]:.4f}, {len(dmd)} generator updates, "
            f"{summary['steps_per_s']:.2f} steps/s; distilled pipeline: {summary['final']}"
        )
