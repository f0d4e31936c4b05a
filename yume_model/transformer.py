"""The Wan2.2-TI2V-5B DiT with the native Wan key names (``blocks.N.self_attn.q``, ``head.modulation``...).

Follows ``../shared/reference/backbone.md`` §1.2: per-token timesteps, adaLN modulation with six
chunks (shift/scale/gate for attention and FFN), q/k RMSNorm over the full width, 3D RoPE split
44/42/42 (for head dim 128) applied to adjacent-channel complex pairs in float64, cross-attention with a
LayerNorm and no gate, a head modulated by the raw time embedding. Attention goes through PyTorch SDPA,
so it runs on CPU and GPU alike; nothing here asserts CUDA.

Shapes: latents x (B, C, F, H, W); timesteps t (B,) or (B, L) per token; text (B, text_len, text_dim).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from yume_model.config import DiTConfig


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(N,) -> (N, dim), cos half first, computed in float64 (Wan's ``sinusoidal_embedding_1d``)."""
    half = dim // 2
    freqs = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    angles = t.to(torch.float64)[:, None] * freqs[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)


def rope_table(max_len: int, head_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Complex table (max_len, head_dim // 2): t/h/w parts of sizes d - 4(d//6), 2(d//6), 2(d//6)."""

    def part(dim: int) -> torch.Tensor:
        freqs = 1.0 / torch.pow(theta, torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        return torch.polar(
            torch.ones(max_len, dim // 2, dtype=torch.float64), torch.outer(torch.arange(max_len), freqs)
        )

    d = head_dim
    return torch.cat([part(d - 4 * (d // 6)), part(2 * (d // 6)), part(2 * (d // 6))], dim=1)


def rope_freqs(table: torch.Tensor, positions: torch.Tensor, head_dim: int) -> torch.Tensor:
    """Per-token complex rotations (L, head_dim // 2) for positions (L, 3) (frame, row, column).

    Integer positions inside the table index it (exactly Wan's rotations); fractional ones (compressed
    history tokens sit at the centre of the area they cover) and frames past the table's end (long
    generations) rotate by position x frequency.
    """
    c = head_dim // 2
    sizes = [c - 2 * (c // 3), c // 3, c // 3]
    positions = positions.to(table.device)
    inside = positions.numel() == 0 or int(positions.max()) < table.shape[0]
    if inside and torch.all(positions == positions.round()):
        idx = positions.long()
        return torch.cat([part[idx[:, axis]] for axis, part in enumerate(table.split(sizes, dim=1))], dim=1)
    base = torch.angle(table[1])  # the per-pair frequencies (all below pi, so no wrap-around)
    angles = torch.cat(
        [positions[:, axis : axis + 1].to(torch.float64) * part[None] for axis, part in enumerate(base.split(sizes))],
        dim=1,
    )
    return torch.polar(torch.ones_like(angles), angles)


def grid_positions(f: int, h: int, w: int, device=None) -> torch.Tensor:
    """(f*h*w, 3) token positions (frame, row, column) in raster order."""
    ff, hh, ww = torch.meshgrid(
        torch.arange(f, device=device), torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij"
    )
    return torch.stack([ff, hh, ww], dim=-1).reshape(-1, 3).to(torch.float64)


def apply_rope(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """x (B, L, heads, d) rotated by freqs (L, d/2) in float64 (adjacent channels form a pair)."""
    b, n, h, d = x.shape
    xc = torch.view_as_complex(x.to(torch.float64).reshape(b, n, h, d // 2, 2))
    return torch.view_as_real(xc * freqs[None, :, None, :]).reshape(b, n, h, d).type_as(x)


class WanRMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


class WanLayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.float() if self.weight is not None else None
        bias = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps).type_as(x)


class WanSelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q = WanRMSNorm(dim, eps)  # over the full width, before the head split
        self.norm_k = WanRMSNorm(dim, eps)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1))  # (B, L, heads, d)

    def qkv(self, x: torch.Tensor, context: torch.Tensor | None = None):
        src = x if context is None else context
        return self._heads(self.norm_q(self.q(x))), self._heads(self.norm_k(self.k(src))), self._heads(self.v(src))

    def forward(self, x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x)
        q, k = apply_rope(q, freqs), apply_rope(k, freqs)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.o(out.transpose(1, 2).flatten(2))


class WanCrossAttention(WanSelfAttention):
    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        q, k, v = self.qkv(x, context)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.o(out.transpose(1, 2).flatten(2))


class WanAttentionBlock(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        dim, eps = config.dim, config.eps
        self.norm1 = WanLayerNorm(dim, eps, elementwise_affine=False)
        self.self_attn = WanSelfAttention(dim, config.num_heads, eps)
        self.norm3 = WanLayerNorm(dim, eps, elementwise_affine=True) if config.cross_attn_norm else nn.Identity()
        self.cross_attn = WanCrossAttention(dim, config.num_heads, eps)
        self.norm2 = WanLayerNorm(dim, eps, elementwise_affine=False)
        self.ffn = nn.Sequential(
            nn.Linear(dim, config.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(config.ffn_dim, dim)
        )
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)

    def forward(self, x: torch.Tensor, e0: torch.Tensor, freqs: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        # e0: (B, L, 6, C) per-token modulation, in float32
        shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff = (self.modulation.unsqueeze(0) + e0.float()).unbind(2)
        # 1. Self-attention
        y = self.self_attn((self.norm1(x).float() * (1 + scale_sa) + shift_sa).type_as(x), freqs)
        x = x + (y.float() * gate_sa).type_as(x)
        # 2. Cross-attention (no gate)
        x = x + self.cross_attn(self.norm3(x), context)
        # 3. Feed-forward
        y = self.ffn((self.norm2(x).float() * (1 + scale_ff) + shift_ff).type_as(x))
        return x + (y.float() * gate_ff).type_as(x)


class Head(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        dim = config.dim
        self.norm = WanLayerNorm(dim, config.eps, elementwise_affine=False)
        self.head = nn.Linear(dim, config.out_dim * math.prod(config.patch_size))
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        shift, scale = (self.modulation.unsqueeze(0) + e.float().unsqueeze(2)).unbind(2)  # raw e, no SiLU
        return self.head((self.norm(x).float() * (1 + scale) + shift).type_as(x))


class WanDiT(nn.Module):
    """The DiT. ``forward`` handles one chunk; ``embed``/``run_blocks``/``unpatchify`` are the pieces
    that history compression (TSCM) recombines."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.patch_embedding = nn.Conv3d(c.in_dim, c.dim, kernel_size=c.patch_size, stride=c.patch_size)
        self.text_embedding = nn.Sequential(
            nn.Linear(c.text_dim, c.dim), nn.GELU(approximate="tanh"), nn.Linear(c.dim, c.dim)
        )
        self.time_embedding = nn.Sequential(nn.Linear(c.freq_dim, c.dim), nn.SiLU(), nn.Linear(c.dim, c.dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(c.dim, c.dim * 6))
        self.blocks = nn.ModuleList(WanAttentionBlock(c) for _ in range(c.num_layers))
        self.head = Head(c)
        # A plain attribute, not a buffer: ``model.to(torch.bfloat16)`` must not cast the complex table.
        self._rope = rope_table(c.rope_max_len, c.head_dim, c.rope_theta)

    def rope_on(self, device: torch.device) -> torch.Tensor:
        """The complex128 RoPE table on ``device`` (moved once, then kept there)."""
        if self._rope.device != device:
            self._rope = self._rope.to(device)
        return self._rope

    def embed_text(self, context: torch.Tensor) -> torch.Tensor:
        """(B, n, text_dim), n <= text_len -> (B, text_len, dim): zero-padded to text_len first."""
        pad = self.config.text_len - context.shape[1]
        if pad < 0:
            raise ValueError(f"text has {context.shape[1]} tokens; at most {self.config.text_len}")
        return self.text_embedding(F.pad(context, (0, 0, 0, pad)))

    def embed_time(self, t: torch.Tensor, num_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """t (B,) or (B, L) -> e (B, L, C) and e0 (B, L, 6, C), in float32."""
        if t.ndim == 1:
            t = t[:, None].expand(-1, num_tokens)
        b, n = t.shape
        sin = sinusoidal_embedding(t.reshape(-1), self.config.freq_dim).float()
        e = self.time_embedding(sin.to(self.time_embedding[0].weight.dtype)).float().reshape(b, n, -1)
        e0 = self.time_projection(e.to(self.time_projection[1].weight.dtype)).float().reshape(b, n, 6, -1)
        return e, e0

    def patchify(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """(B, C, F, H, W) -> tokens (B, L, dim) and the token grid (f, h, w)."""
        y = self.patch_embedding(x)
        return y.flatten(2).transpose(1, 2), tuple(y.shape[2:])

    def unpatchify(self, tokens: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """(B, f*h*w, out*p) -> (B, out, F, H, W) (einsum ``fhwpqrc -> cfphqwr``)."""
        f, h, w = grid
        p, q, r = self.config.patch_size
        x = tokens.reshape(tokens.shape[0], f, h, w, p, q, r, self.config.out_dim)
        return torch.einsum("bfhwpqrc->bcfphqwr", x).reshape(tokens.shape[0], self.config.out_dim, f * p, h * q, w * r)

    def run_blocks(
        self, tokens: torch.Tensor, e0: torch.Tensor, freqs: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens, e0, freqs, context)
        return tokens

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Flow prediction (B, out, F, H, W) for latents x at timesteps t with text context."""
        tokens, grid = self.patchify(x)
        e, e0 = self.embed_time(t, tokens.shape[1])
        freqs = rope_freqs(self.rope_on(x.device), grid_positions(*grid, device=x.device), self.config.head_dim)
        tokens = self.run_blocks(tokens, e0, freqs, self.embed_text(context))
        return self.unpatchify(self.head(tokens, e), grid)
