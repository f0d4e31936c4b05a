"""The Wan2.2 VAE through diffusers' ``AutoencoderKLWan``: normalised latents, image encoding and a
streaming decoder that turns each generated block into frames as soon as it exists.

Wan2.2 normalises a latent per channel, z = (mu - mean_c) / std_c, and clamps decoded pixels to
[-1, 1] (``../shared/reference/backbone.md`` §1.4). The causal decoder works one latent frame at a
time with a feature cache; the streaming decoder keeps that cache between blocks, so decoding block by
block gives exactly the frames of one decode of the whole latent sequence (tested).

Shapes: latents (B, z_dim, T, h, w); pixels (B, 3, 1 + 4 (T - 1), 16 h, 16 w) in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

# The file name Wan2.2 and the Yume-5B-720P release ship the VAE under (Wan2.2 ``configs/wan_ti2v_5B.py``).
NATIVE_VAE_FILE = "Wan2.2_VAE.pth"

# Per-channel latent statistics of the Wan2.2 VAE: ``Wan2_2_VAE.__init__`` in Wan2.2 ``wan/modules/vae2_2.py``
# (the same numbers as diffusers' Wan2.2 VAE config), used as z = (mu - mean) / std.
WAN22_LATENTS_MEAN = (
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891,
    0.1570, -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
    -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230, -0.0313, -0.1649, 0.0117, 0.0723,
    -0.2839, -0.2083, -0.0520, 0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
)  # fmt: skip
WAN22_LATENTS_STD = (
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901,
    0.6885, 0.6165, 0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
    0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944,
    0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
)  # fmt: skip


def load_vae(path: str | Path, dtype: torch.dtype = torch.float32, device: str = "cpu"):
    """``AutoencoderKLWan`` from a folder (``vae/`` inside it, or the VAE folder itself), a release folder
    holding Wan's native ``Wan2.2_VAE.pth`` (or that file itself), or a cached hub id."""
    from diffusers import AutoencoderKLWan

    root = Path(path)
    native = root if root.is_file() else root / NATIVE_VAE_FILE
    if native.is_file() and not (root / "vae").is_dir() and not (root / "config.json").is_file():
        from yume_model.checkpoint import read_torch_weights

        return vae_from_native(read_torch_weights(native), dtype=dtype).eval().to(device)
    if root.exists():
        folder = root / "vae" if (root / "vae").is_dir() else root
        vae = AutoencoderKLWan.from_pretrained(folder, torch_dtype=dtype, low_cpu_mem_usage=False)
    else:
        vae = AutoencoderKLWan.from_pretrained(
            str(path), subfolder="vae", torch_dtype=dtype, local_files_only=True, low_cpu_mem_usage=False
        )
    return vae.eval().to(device)


def random_wan22_vae(
    z_dim: int = 48, base_dim: int = 160, decoder_base_dim: int = 256, num_res_blocks: int = 2, seed: int = 0
):
    """A randomly initialised VAE with the Wan2.2 architecture (2x2 pixel patchify, residual blocks,
    4x16x16 compression; ``backbone.md`` §1.4) and unit latent statistics. The defaults are the full
    size (GPU speed script); ``tiny_vae`` shrinks the widths for CPU tests."""
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    return AutoencoderKLWan(
        base_dim=base_dim,
        decoder_base_dim=decoder_base_dim,
        z_dim=z_dim,
        dim_mult=[1, 2, 4, 4],
        num_res_blocks=num_res_blocks,
        temperal_downsample=[False, True, True],
        is_residual=True,
        in_channels=12,
        out_channels=12,
        patch_size=2,
        scale_factor_spatial=16,
        latents_mean=[0.0] * z_dim,
        latents_std=[1.0] * z_dim,
    ).eval()


_VAE_RENAMES = [  # Wan's native names (vae2_2.py) -> diffusers' AutoencoderKLWan, applied in order
    (r"^conv1\.", "quant_conv."),
    (r"^conv2\.", "post_quant_conv."),
    (r"^(encoder|decoder)\.conv1\.", r"\1.conv_in."),
    (r"^(encoder|decoder)\.head\.0\.", r"\1.norm_out."),
    (r"^(encoder|decoder)\.head\.2\.", r"\1.conv_out."),
    (r"^(encoder|decoder)\.middle\.0\.", r"\1.mid_block.resnets.0."),
    (r"^(encoder|decoder)\.middle\.1\.", r"\1.mid_block.attentions.0."),
    (r"^(encoder|decoder)\.middle\.2\.", r"\1.mid_block.resnets.1."),
    # the last entry of a stage resamples; the ones before it are residual blocks
    (r"^encoder\.downsamples\.(\d+)\.downsamples\.\d+\.(resample|time_conv)", r"encoder.down_blocks.\1.downsampler.\2"),
    (r"^encoder\.downsamples\.(\d+)\.downsamples\.(\d+)\.", r"encoder.down_blocks.\1.resnets.\2."),
    (r"^decoder\.upsamples\.(\d+)\.upsamples\.\d+\.(resample|time_conv)", r"decoder.up_blocks.\1.upsampler.\2"),
    (r"^decoder\.upsamples\.(\d+)\.upsamples\.(\d+)\.", r"decoder.up_blocks.\1.resnets.\2."),
    (r"\.residual\.0\.", ".norm1."),
    (r"\.residual\.2\.", ".conv1."),
    (r"\.residual\.3\.", ".norm2."),
    (r"\.residual\.6\.", ".conv2."),
    (r"\.shortcut\.", ".conv_shortcut."),
]  # fmt: skip


def native_vae_to_diffusers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Wan2.2 VAE key names -> ``AutoencoderKLWan`` key names (same tensors)."""
    from yume_model.checkpoint import rename_keys

    return rename_keys(state, _VAE_RENAMES)


def _native_vae_config(state: dict[str, torch.Tensor]) -> dict:
    """The ``AutoencoderKLWan`` arguments of a native Wan2.2 VAE state dict, read from its shapes."""
    if "encoder.downsamples.0.downsamples.0.residual.2.weight" not in state:
        raise ValueError(
            "not a Wan2.2 VAE state dict (no encoder.downsamples.0.downsamples.0.residual.*; "
            "the Wan2.1 VAE has another layout)"
        )
    base = state["encoder.conv1.weight"].shape[0]
    stages = sorted({int(k.split(".")[2]) for k in state if k.startswith("encoder.downsamples.")})
    dim_mult = [state[f"encoder.downsamples.{i}.downsamples.0.residual.2.weight"].shape[0] // base for i in stages]
    blocks = {
        k.split(".")[4] for k in state if k.startswith("encoder.downsamples.0.downsamples.") and ".residual." in k
    }
    temporal = [f"encoder.downsamples.{i}.downsamples.{len(blocks)}.time_conv.weight" in state for i in stages[:-1]]
    in_channels = state["encoder.conv1.weight"].shape[1]
    return {
        "base_dim": base,
        "decoder_base_dim": state["decoder.head.2.weight"].shape[1] // dim_mult[0],
        "z_dim": state["conv2.weight"].shape[0],
        "dim_mult": dim_mult,
        "num_res_blocks": len(blocks),
        "temperal_downsample": temporal,
        "is_residual": True,
        "in_channels": in_channels,
        "out_channels": state["decoder.head.2.weight"].shape[0],
        "patch_size": 2 if in_channels == 12 else None,
        "scale_factor_spatial": 2 ** (len(stages) - 1) * (2 if in_channels == 12 else 1),
    }


def vae_from_native(
    state: dict[str, torch.Tensor],
    latents_mean: tuple[float, ...] | None = None,
    latents_std: tuple[float, ...] | None = None,
    dtype: torch.dtype = torch.float32,
):
    """An ``AutoencoderKLWan`` equal to Wan's ``Wan2_2_VAE`` holding ``state`` (tested against the official
    module). The latent statistics default to Wan2.2's 48 channels."""
    from diffusers import AutoencoderKLWan

    config = _native_vae_config(state)
    z_dim = config["z_dim"]
    if latents_mean is None or latents_std is None:
        if z_dim != len(WAN22_LATENTS_MEAN):
            raise ValueError(f"a {z_dim}-channel VAE needs its latent statistics (Wan2.2's are for 48 channels)")
        latents_mean, latents_std = WAN22_LATENTS_MEAN, WAN22_LATENTS_STD
    with torch.device("meta"):
        vae = AutoencoderKLWan(**config, latents_mean=list(latents_mean), latents_std=list(latents_std))
    converted = native_vae_to_diffusers(state)
    own = vae.state_dict()
    missing, unexpected = sorted(set(own) - set(converted)), sorted(set(converted) - set(own))
    if missing or unexpected:
        raise ValueError(f"VAE keys do not match Wan2.2's: missing {missing[:3]}, unexpected {unexpected[:3]}")
    vae.load_state_dict({k: v.to(dtype) for k, v in converted.items()}, assign=True)
    return vae.eval()


def tiny_vae(z_dim: int = 4, seed: int = 0):
    """The Wan2.2-shaped VAE at base width 8, one residual block per stage."""
    return random_wan22_vae(z_dim, base_dim=8, decoder_base_dim=8, num_res_blocks=1, seed=seed)


def _stats(vae, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean, dtype=like.dtype, device=like.device).view(shape)
    std = torch.tensor(vae.config.latents_std, dtype=like.dtype, device=like.device).view(shape)
    return mean, std


def spatial_stride(vae) -> int:
    return int(vae.config.scale_factor_spatial)


@torch.no_grad()
def encode_image(vae, image: np.ndarray, height: int, width: int, repeat: int = 1) -> torch.Tensor:
    """An RGB uint8 image (H, W, 3) -> normalised latents (1, z_dim, T, h, w): the image alone (T = 1), or
    repeated over ``repeat`` frames (4k + 1) and encoded as one clip (the released Yume sampler's I2V
    history: 17 frames, 5 latents).

    The image is scaled to cover (height, width) and centre-cropped, as Wan's TI2V does."""
    frame = cover_crop(image, height, width)
    param = next(vae.parameters())
    x = torch.from_numpy(frame).to(param.device, param.dtype).permute(2, 0, 1)[None, :, None] / 127.5 - 1.0
    return encode_pixels(vae, x.expand(-1, -1, repeat, -1, -1).contiguous())


@torch.no_grad()
def encode_pixels(vae, pixels: torch.Tensor) -> torch.Tensor:
    """Pixels (B, 3, 1 + 4k, H, W) in [-1, 1] -> normalised latents (B, z_dim, 1 + k, H/16, W/16): the
    posterior mean, as Wan's ``Wan2_2_VAE.encode``."""
    mu = vae.encode(pixels).latent_dist.mode()
    mean, std = _stats(vae, mu)
    return (mu - mean) / std


def cover_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    scale = max(height / h, width / w)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def to_uint8(pixels: torch.Tensor) -> np.ndarray:
    """(1, 3, F, H, W) in [-1, 1] -> (F, H, W, 3) uint8."""
    x = ((pixels[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 3, 0).cpu().numpy()


class StreamingDecoder:
    """Decode latents block by block, keeping the causal decoder's feature cache between blocks."""

    def __init__(self, vae) -> None:
        from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

        self.vae = vae
        self._unpatchify = unpatchify
        self._first = True
        vae.clear_cache()

    @torch.no_grad()
    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (1, z_dim, T, h, w) -> pixels (1, 3, F, H, W) in [-1, 1]."""
        vae = self.vae
        mean, std = _stats(vae, latents)
        x = vae.post_quant_conv(latents * std + mean)
        outs = []
        for i in range(x.shape[2]):
            vae._conv_idx = [0]
            kwargs = {"first_chunk": True} if self._first else {}
            outs.append(vae.decoder(x[:, :, i : i + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx, **kwargs))
            self._first = False
        out = torch.cat(outs, dim=2)
        if vae.config.patch_size is not None:
            out = self._unpatchify(out, patch_size=vae.config.patch_size)
        return out.clamp(-1.0, 1.0)

    def close(self) -> None:
        self.vae.clear_cache()


@torch.no_grad()
def decode(vae, latents: torch.Tensor) -> torch.Tensor:
    """All latents at once (the reference the streaming decoder is tested against)."""
    mean, std = _stats(vae, latents)
    return vae.decode(latents * std + mean).sample
