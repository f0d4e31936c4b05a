"""Model configuration as data: the Wan2.2-TI2V-5B DiT (the Yume1.5 backbone) and a tiny CPU config.

Facts from ``../shared/reference/backbone.md`` §1.1 (Wan2.2 ``wan/configs/wan_ti2v_5B.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class DiTConfig:
    dim: int = 3072
    ffn_dim: int = 14336
    num_heads: int = 24
    num_layers: int = 30
    in_dim: int = 48  # latent channels (Wan2.2 VAE, 4x16x16 compression)
    out_dim: int = 48
    patch_size: tuple[int, int, int] = (1, 2, 2)
    text_dim: int = 4096  # umT5-xxl width
    text_len: int = 512  # text is zero-padded to this many tokens
    freq_dim: int = 256  # sinusoidal timestep embedding width
    eps: float = 1e-6
    cross_attn_norm: bool = True
    rope_max_len: int = 1024  # RoPE table length (positions per axis)
    rope_theta: float = 10000.0
    extra: dict = field(default_factory=dict)  # unknown keys of a checkpoint's config.json, kept for saving

    def __post_init__(self) -> None:
        self.patch_size = tuple(self.patch_size)
        if self.dim % self.num_heads:
            raise ValueError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if (self.dim // self.num_heads) % 2:
            raise ValueError("head dim must be even for RoPE")

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    def to_native(self) -> dict:
        """The native Wan ``config.json`` keys."""
        out = {k: v for k, v in asdict(self).items() if k not in ("extra", "rope_max_len", "rope_theta")}
        out["patch_size"] = list(self.patch_size)
        return {"_class_name": "WanModel", "model_type": "ti2v", **self.extra, **out}

    @classmethod
    def from_native(cls, data: dict) -> DiTConfig:
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in data.items() if k in names and k != "extra"}
        extra = {k: v for k, v in data.items() if k not in names and not k.startswith("_") and k != "model_type"}
        return cls(**known, extra=extra)

    @classmethod
    def from_diffusers(cls, data: dict) -> DiTConfig:
        heads, head_dim = data["num_attention_heads"], data["attention_head_dim"]
        return cls(
            dim=heads * head_dim,
            ffn_dim=data["ffn_dim"],
            num_heads=heads,
            num_layers=data["num_layers"],
            in_dim=data["in_channels"],
            out_dim=data["out_channels"],
            patch_size=tuple(data.get("patch_size", (1, 2, 2))),
            text_dim=data["text_dim"],
            freq_dim=data["freq_dim"],
            eps=data.get("eps", 1e-6),
            cross_attn_norm=data.get("cross_attn_norm", True),
            rope_max_len=data.get("rope_max_seq_len", 1024),
        )


PRESETS: dict[str, DiTConfig] = {
    "yume1.5-5b": DiTConfig(),
    # Two layers, two heads of 12, four channels: the diffusers test config's size, for CPU tests.
    "tiny": DiTConfig(
        dim=24, ffn_dim=32, num_heads=2, num_layers=2, in_dim=4, out_dim=4, text_dim=16, text_len=256, freq_dim=16
    ),
}


def preset(name: str) -> DiTConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown config {name!r}; known: {', '.join(PRESETS)}")
    return DiTConfig(**{f.name: getattr(PRESETS[name], f.name) for f in fields(DiTConfig)})
