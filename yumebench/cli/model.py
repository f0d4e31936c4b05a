"""``yumebench model``: the Yume1.5 reference model: generate, cache action embeddings, train.

Examples:
    yumebench model generate --config tiny --prompt "A rainy street" --actions "W,·;W+A,→" --out v.mp4
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from yumebench.cli._common import err_console, fail, not_built

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


def _load_pipeline(config_name: str, weights: Path | None, text_encoder, vae, history: str, dtype: str, device: str):
    import torch

    from yume_model.pipeline import GenerationError, YumePipeline
    from yume_model.tscm import TSCMConfig

    if config_name not in DEFAULT_RESOLUTION:
        fail(f"--config {config_name!r}: expected one of {', '.join(DEFAULT_RESOLUTION)}")
    try:
        tscm = None if history == "saved" else TSCMConfig(mode=history)
    except ValueError as e:
        fail(str(e))
    torch_dtype = getattr(torch, DTYPES[dtype])
    if weights is None:
        if config_name != "tiny":
            fail(
                f"--config {config_name} needs --weights DIR (a Yume-5B-720P or pipeline folder; "
                "VAE and umT5 from Wan-AI/Wan2.2-TI2V-5B-Diffusers)"
            )
        err_console.print("note: --config tiny without --weights uses random weights (the output is noise)")
        pipe = YumePipeline.tiny(tscm=TSCMConfig(mode=tscm.mode, channel_dim=8) if tscm else None)
        pipe.transformer.to(device, torch_dtype)
        return pipe
    if not weights.exists():
        fail(f"{weights}: weights folder not found")
    try:
        return YumePipeline.from_pretrained(
            weights, text_encoder=text_encoder, vae=vae, tscm=tscm, dtype=torch_dtype, device=device
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
    steps: int = typer.Option(4, min=1, help="Sampling steps per block (4 for the distilled model)."),
    sampler: str = typer.Option("euler", help="euler (few-step, distilled) or unipc (multi-step, base)."),
    shift: float = typer.Option(7.0, help="Flow-matching schedule shift (Yume1.5 sample_5b: 7)."),
    resolution: str = typer.Option(None, help="HEIGHTxWIDTH, multiples of 32 (default: 544x960; tiny 64x96)."),
    history: str = typer.Option("saved", help="History compression: tscm, full, sliding, spatial (default: saved)."),
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

    from yume_model.pipeline import GenerationError, block_segments
    from yume_model.sampling import SamplerConfig
    from yumebench.actions import ActionError, parse_action_sequence
    from yumebench.video import write_mp4

    if dtype not in DTYPES:
        fail(f"--dtype {dtype!r}: expected float32, bfloat16 or float16")
    if wording not in ("yume", "paper", "5b"):
        fail(f"--wording {wording!r}: expected yume, paper or 5b")
    try:
        parsed = parse_action_sequence(actions)
        sampler_config = SamplerConfig(sampler, steps, shift)
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
    if picture is None and not (prompt.strip() or (events or "").split(";")[0].strip()):
        fail("text-to-video needs --prompt (or a first event in --events); image-to-video needs --image")

    pipe = _load_pipeline(config, weights, text_encoder, vae, history, dtype, device)
    pipe.config.height, pipe.config.width, pipe.config.seed = height, width, seed
    pipe.config.sampler, pipe.config.wording = sampler_config, wording
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

    write_mp4(out, frames(), pipe.config.fps)
    bar.close()
    spec_line = {
        "id": out.stem,
        "video": out.name,
        "prompt": block_events[0],
        "image": str(image) if image else None,
        "segments": block_segments(parsed, pipe.config.frames_per_block),
        "events": block_events,
        "generation": {
            "config": config,
            "weights": str(weights) if weights else "random",
            "steps": steps,
            "sampler": sampler,
            "shift": shift,
            "seed": seed,
            "history": pipe.transformer.tscm.mode,
            "resolution": f"{height}x{width}",
        },
    }
    spec_path = out.with_suffix(".jsonl")
    spec_path.write_text(json.dumps(spec_line, ensure_ascii=False) + "\n", encoding="utf-8")
    n_frames = 1 + pipe.config.frames_per_block * len(parsed)
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


@train_app.command("base")
def train_base() -> None:
    """Base training on the mixed dataset (rectified flow, alternating T2V/I2V)."""
    not_built("yumebench model train base", 9)


@train_app.command("self-forcing")
def train_self_forcing() -> None:
    """Self-Forcing distillation with TSCM (DMD loss)."""
    not_built("yumebench model train self-forcing", 9)
