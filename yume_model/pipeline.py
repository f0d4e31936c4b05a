"""Block-autoregressive generation (Yume1.5 §4): T2V, I2V and event editing from a stream of actions.
In ``released`` history mode the history is built and grows as the released sampler's
(``fastvideo/sample/sample_5b.py``): I2V starts from 5 latents (the image repeated over 17 frames), T2V's
block 0 makes 8 latents from no history, each block adds 8 (H = 5, 13, 21, ... or 8, 16, ...).

Each block is ``block_latents`` (8) latent frames, 32 video frames at 16 fps, generated with its own
action and event. Its history is every earlier latent, clean (timestep 0), compressed by TSCM inside
``YumeTransformer``. I2V puts the image latent first in the history; T2V generates the first latent
frame with the first block. So a video of n blocks has 1 + 32 n frames and block k covers frames
[0, 33) for k = 0 and [1 + 32 k, 33 + 32 k) after that.

The text of block k is [event_k ; action_k] (dual stream, ``yume_model.text``). Events are encoded once
before the first block (the encoder can then be unloaded); actions come from the cached vocabulary.

Memory stays bounded over long runs: ``HistoryBuffer`` keeps the first latent, the recent window and an
evenly thinned set of far latents (TSCM only ever samples a few of those), with their frame indices so
RoPE positions stay exact. Frames stream out block by block through the causal VAE decoder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from yume_model.sampling import SamplerConfig, sample
from yume_model.text import NATIVE_T5_FILE, ActionEmbeddingCache, TextEncoder, dual_stream_context
from yume_model.tscm import TSCMConfig, YumeTransformer
from yume_model.vae import NATIVE_VAE_FILE, StreamingDecoder, encode_image, spatial_stride, to_uint8
from yumebench.actions import Action, ActionError, parse_action_sequence

PIPELINE_FILE = "yume_pipeline.json"
FRAMES_PER_LATENT = 4  # Wan2.2 VAE temporal stride


class GenerationError(ValueError):
    """Bad generation input (actions, events, image, resolution), found before any work starts."""


@dataclass
class GenerationConfig:
    height: int = 544
    width: int = 960
    block_latents: int = 8  # 32 frames per block
    fps: int = 16
    seed: int = 0
    wording: str = "yume"
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    max_history_latents: int = 256  # bound on stored history in tscm/sliding mode

    @property
    def frames_per_block(self) -> int:
        return self.block_latents * FRAMES_PER_LATENT


@dataclass
class Block:
    index: int
    action: Action
    event: str
    start_frame: int  # index of frames[0] in the whole video
    frames: np.ndarray  # (F, H, W, 3) uint8
    latents: torch.Tensor  # (1, C, T, h, w), this block's new latents


class HistoryBuffer:
    """Generated latents with their frame indices, bounded for modes that never read the far past in full."""

    def __init__(self, tscm: TSCMConfig, max_latents: int = 256) -> None:
        self.tscm = tscm
        self.max_latents = max_latents
        self.latents: list[torch.Tensor] = []  # each (1, C, 1, h, w)
        self.index: list[int] = []
        self.count = 0  # latents generated so far (the next one's frame index)

    def extend(self, latents: torch.Tensor) -> None:
        for i in range(latents.shape[2]):
            self.latents.append(latents[:, :, i : i + 1])
            self.index.append(self.count)
            self.count += 1
        self._thin()

    def _thin(self) -> None:
        if self.tscm.mode == "sliding":
            keep = set(self.index[-self.tscm.sliding_window :])
        elif self.tscm.mode == "tscm" and len(self.index) > self.max_latents:
            window = self.tscm.tiers[-1][0]
            far = [i for i in self.index if 1 <= i < self.count - window]
            room = max(self.tscm.max_far_frames, self.max_latents - window - 1)
            if len(far) <= room:
                return
            thinned = {far[round(k * (len(far) - 1) / (room - 1))] for k in range(room)} if room > 1 else {far[-1]}
            keep = {i for i in self.index if i == 0 or i >= self.count - window} | thinned
        else:
            return
        pairs = [(i, z) for i, z in zip(self.index, self.latents, strict=True) if i in keep]
        self.index = [i for i, _ in pairs]
        self.latents = [z for _, z in pairs]

    @property
    def tensor(self) -> torch.Tensor | None:
        return torch.cat(self.latents, dim=2) if self.latents else None


def parse_events(prompt: str, events: str | Sequence[str] | None, num_blocks: int) -> list[str]:
    """The event text of every block: ``events`` is "e0;e1;..." (or a list), one entry per block from
    block 0; an empty entry keeps the previous event; missing trailing entries keep the last one.
    Block 0 falls back to ``prompt``."""
    items = [] if events is None else (events.split(";") if isinstance(events, str) else list(events))
    items = [s.strip() for s in items]
    if len(items) > num_blocks:
        raise GenerationError(f"{len(items)} events for {num_blocks} blocks; give at most one event per block")
    current = items[0] if items and items[0] else prompt.strip()
    out = []
    for k in range(num_blocks):
        if k < len(items) and items[k]:
            current = items[k]
        out.append(current)
    return out


def block_segments(
    actions: Sequence[Action], frames_per_block: int, first_block_frames: int | None = None
) -> list[dict]:
    """Bench segments [start, end) per block. Block 0 has ``first_block_frames`` frames (default: the
    first frame plus a block; a released-mode T2V block 0 decodes 8 latents to 29 frames)."""
    first = 1 + frames_per_block if first_block_frames is None else first_block_frames
    segments = []
    for k, action in enumerate(actions):
        start = 0 if k == 0 else first + frames_per_block * (k - 1)
        end = first + frames_per_block * k
        segments.append({"start": start, "end": end, "keys": action.keys, "mouse": action.mouse})
    return segments


# The released sampler (fastvideo/sample/sample_5b.py): the image repeated over 17 frames, encoded apart
# from the frames to generate, gives 5 history latents; T2V block 0 makes 8 latents and no history.
RELEASED_IMAGE_FRAMES = 17


class YumePipeline:
    """Transformer + VAE + text encoder + action-embedding cache."""

    def __init__(
        self,
        transformer: YumeTransformer,
        vae,
        text_encoder: TextEncoder | None,
        action_cache: ActionEmbeddingCache | None = None,
        config: GenerationConfig | None = None,
    ) -> None:
        self.transformer = transformer.eval()
        self.vae = vae
        self.text_encoder = text_encoder
        self.action_cache = action_cache
        self.config = config or GenerationConfig()

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def tiny(
        cls, seed: int = 0, tscm: TSCMConfig | None = None, config: GenerationConfig | None = None
    ) -> YumePipeline:
        """Random tiny components (CPU tests, the demo): the whole path runs, the pictures are noise."""
        from yume_model.config import preset
        from yume_model.text import tiny_text_encoder
        from yume_model.transformer import WanDiT
        from yume_model.vae import tiny_vae

        dit_config = preset("tiny")
        torch.manual_seed(seed)
        transformer = YumeTransformer(WanDiT(dit_config), tscm or TSCMConfig(channel_dim=8))
        encoder = tiny_text_encoder(dit_config.text_dim, dit_config.text_len, seed)
        config = config or GenerationConfig(height=64, width=96)
        return cls(transformer, tiny_vae(dit_config.in_dim, seed), encoder, None, config)

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        text_encoder: str | Path | None = None,
        vae: str | Path | None = None,
        tscm: TSCMConfig | None = None,
        dtype: torch.dtype = torch.float32,
        device: str = "cpu",
        config: GenerationConfig | None = None,
        history_mode: str | None = None,
        coarse_init: str | None = None,
    ) -> YumePipeline:
        """Load a pipeline folder written by ``save_pretrained`` or a Yume/Wan checkpoint folder.

        The transformer comes from ``path/transformer`` (or ``path`` itself: a native Yume-5B-720P or
        Wan2.2-TI2V-5B folder); the VAE and umT5 from ``path/vae``, ``path/text_encoder`` +
        ``path/tokenizer``, Wan's native files beside the DiT as the release ships them
        (``Wan2.2_VAE.pth``, ``models_t5_umt5-xxl-enc-bf16.pth`` + ``google/umt5-xxl/``, converted on load), or
        the given folders / hub ids (``Wan-AI/Wan2.2-TI2V-5B-Diffusers`` has all
        three), read from the local cache only. ``history_mode`` runs the saved TSCM settings in another
        history mode (full, sliding, spatial: the paper's comparisons on the same weights). ``coarse_init``
        (official, average) derives the coarse kernels a base Wan2.2 checkpoint lacks.
        """
        from yume_model.checkpoint import load_yume, read_tscm_config
        from yume_model.vae import load_vae

        root = Path(path)
        saved = json.loads((root / PIPELINE_FILE).read_text()) if (root / PIPELINE_FILE).exists() else {}
        has_text = (root / "text_encoder").is_dir() or (root / NATIVE_T5_FILE).is_file()
        text_source = text_encoder or (root if has_text else None)
        vae_source = vae or (root / "vae" if (root / "vae").is_dir() else None)
        if vae_source is None and (root / NATIVE_VAE_FILE).is_file():
            vae_source = root / NATIVE_VAE_FILE
        missing = [name for name, src in (("text encoder", text_source), ("VAE", vae_source)) if src is None]
        if missing:
            raise GenerationError(
                f"{root}: no {' or '.join(missing)} found (looked for text_encoder/ or {NATIVE_T5_FILE}, vae/ or "
                f"{NATIVE_VAE_FILE}); pass --text-encoder/--vae (a folder or the hub id "
                "Wan-AI/Wan2.2-TI2V-5B-Diffusers in the local cache)"
            )
        transformer_dir = root / "transformer" if (root / "transformer").is_dir() else root
        if tscm is None and history_mode is not None:
            tscm = replace(read_tscm_config(transformer_dir), mode=history_mode)
        transformer = load_yume(transformer_dir, tscm, dtype=dtype, device=device, coarse_init=coarse_init)
        encoder = TextEncoder.from_pretrained(
            text_source, max_length=transformer.dit.config.text_len, device=device, dtype=dtype
        )
        if config is None:
            config = GenerationConfig(**{k: v for k, v in saved.get("generation", {}).items() if k != "sampler"})
            if "sampler" in saved.get("generation", {}):
                config.sampler = SamplerConfig(**saved["generation"]["sampler"])
        return cls(transformer, load_vae(vae_source, dtype, device), encoder, None, config)

    def save_pretrained(self, path: str | Path) -> Path:
        from yume_model.checkpoint import save_yume

        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        save_yume(self.transformer, root / "transformer")
        self.vae.save_pretrained(root / "vae")
        if self.text_encoder is not None and self.text_encoder.model is not None:
            self.text_encoder.model.save_pretrained(root / "text_encoder")
            self.text_encoder.tokenizer.save_pretrained(root / "tokenizer")
        saved = {"generation": asdict(self.config)}  # the TSCM settings live with the transformer
        (root / PIPELINE_FILE).write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
        return root

    # -- generation -----------------------------------------------------------------------------------
    def check_inputs(
        self, actions: str | Sequence[Action], prompt: str = "", events=None, image: np.ndarray | None = None
    ) -> tuple[list[Action], list[str]]:
        """Parse and validate everything before any work starts; raises ``GenerationError``."""
        try:
            parsed = parse_action_sequence(actions) if isinstance(actions, str) else list(actions)
        except ActionError as e:
            raise GenerationError(str(e)) from None
        if not parsed:
            raise GenerationError("no actions: give one action per block, e.g. 'W+A,→;W,·'")
        block_events = parse_events(prompt, events, len(parsed))
        if image is None and not block_events[0]:
            raise GenerationError("text-to-video needs a prompt (or a first event)")
        c = self.config
        multiple = spatial_stride(self.vae) * self.transformer.dit.config.patch_size[1]
        if c.height % multiple or c.width % multiple or c.height <= 0 or c.width <= 0:
            raise GenerationError(f"resolution {c.height}x{c.width} must be positive multiples of {multiple}")
        if image is not None and (image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8):
            raise GenerationError(f"the image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
        if self.released:
            from yume_model.tscm import RELEASED_MAX_HISTORY

            first = 5 if image is not None else 0
            longest = first + c.block_latents * (len(parsed) - 1)
            if longest > RELEASED_MAX_HISTORY:
                raise GenerationError(
                    f"{len(parsed)} blocks need {longest} history latents; the released model runs at most "
                    f"{RELEASED_MAX_HISTORY} (its RoPE table ends there): at most "
                    f"{(RELEASED_MAX_HISTORY - first) // c.block_latents + 1} blocks"
                )
        return parsed, block_events

    @property
    def released(self) -> bool:
        """The released Yume code's history (``tscm.mode == "released"``): sample_5b's history lengths."""
        return self.transformer.tscm.mode == "released"

    def first_block_frames(self, image: bool) -> int:
        """Frames of block 0 in the output (with the first frame): 1 + 32, or 29 for a released T2V block
        0 (8 latents decode to 1 + 4 x 7 frames)."""
        if self.released and not image:
            return FRAMES_PER_LATENT * (self.config.block_latents - 1) + 1
        return 1 + self.config.frames_per_block

    def _text_contexts(self, actions: list[Action], events: list[str], cache_dir: str | Path | None):
        encoder = self.text_encoder
        if self.action_cache is None or self.action_cache.wording != self.config.wording:
            if encoder is None or encoder.model is None:
                raise GenerationError("no action-embedding cache and no text encoder to build one")
            if cache_dir is None:
                self.action_cache = ActionEmbeddingCache.build(encoder, self.config.wording)
            else:
                self.action_cache = ActionEmbeddingCache.load_or_build(encoder, cache_dir, self.config.wording)
        unique = sorted(set(events))
        if encoder is None or encoder.model is None:
            raise GenerationError("the text encoder was unloaded; events need it")
        encoded = dict(zip(unique, encoder.encode(unique), strict=True))
        text_len = self.transformer.dit.config.text_len
        return [
            dual_stream_context(encoded[e], self.action_cache[a], text_len)
            for a, e in zip(actions, events, strict=True)
        ]

    @torch.no_grad()
    def generate(
        self,
        actions: str | Sequence[Action],
        prompt: str = "",
        events: str | Sequence[str] | None = None,
        image: np.ndarray | None = None,
        cache_dir: str | Path | None = None,
        unload_text_encoder: bool = False,
    ) -> Iterator[Block]:
        """Yield each block as soon as its frames are decoded."""
        parsed, block_events = self.check_inputs(actions, prompt, events, image)
        c = self.config
        param = next(self.transformer.parameters())
        device, dtype = param.device, param.dtype
        contexts = [ctx.to(device, dtype)[None] for ctx in self._text_contexts(parsed, block_events, cache_dir)]
        if unload_text_encoder and self.text_encoder is not None:
            self.text_encoder.unload()
        stride = spatial_stride(self.vae)
        h, w = c.height // stride, c.width // stride
        z_dim = self.transformer.dit.config.in_dim
        generator = torch.Generator(device="cpu").manual_seed(c.seed)
        history = HistoryBuffer(self.transformer.tscm, c.max_history_latents)
        decoder = StreamingDecoder(self.vae)
        vae_dtype = next(self.vae.parameters()).dtype
        first_pixels = None
        if image is not None:
            repeat = RELEASED_IMAGE_FRAMES if self.released else 1
            z0 = encode_image(self.vae, image, c.height, c.width, repeat).to(device, dtype)
            history.extend(z0)
            first_pixels = decoder(z0.to(vae_dtype))[:, :, -1:]  # the image itself (last of the repeats)
        try:
            for k, (action, event, ctx) in enumerate(zip(parsed, block_events, contexts, strict=True)):
                n_latents = c.block_latents + (1 if k == 0 and image is None and not self.released else 0)
                noise = torch.randn((1, z_dim, n_latents, h, w), generator=generator).to(device, dtype)
                past, past_index = history.tensor, list(history.index)

                def velocity(x, t, ctx=ctx, past=past, past_index=past_index):
                    return self.transformer(x, t, ctx, past, history_index=past_index or None)  # t stays fp32

                latents = sample(velocity, noise, c.sampler, generator)
                history.extend(latents)
                pixels = decoder(latents.to(vae_dtype))
                if k == 0 and first_pixels is not None:
                    pixels = torch.cat([first_pixels, pixels], dim=2)
                start = 0 if k == 0 else self.first_block_frames(image is not None) + c.frames_per_block * (k - 1)
                yield Block(k, action, event, start, to_uint8(pixels), latents.cpu())
        finally:
            decoder.close()
