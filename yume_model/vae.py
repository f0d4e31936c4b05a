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


def load_vae(path: str | Path, dtype: torch.dtype = torch.float32, device: str = "cpu"):
    """``AutoencoderKLWan`` from a folder (``vae/`` inside it, or the VAE folder itself) or a cached hub id."""
    from diffusers import AutoencoderKLWan

    root = Path(path)
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
    x = x.expand(-1, -1, repeat, -1, -1).contiguous()
    mu = vae.encode(x).latent_dist.mode()
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
