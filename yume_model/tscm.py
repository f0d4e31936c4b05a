"""TSCM: joint temporal-spatial-channel compression of the history (Yume1.5 §4.2, Eq. 3, Fig. 3a/3c).

Two branches, as the paper describes them (``../shared/reference/yume_repo.md`` §5):

- **Temporal-spatial**: history latents beyond the recent window are sampled 1 in ``sample_ratio``;
  each kept latent is patchified at a rate set by its distance from the predicted chunk (the nearest at
  (1,2,2), then (1,4,4), (1,8,8), coarser further back; the first frame always at (1,2,2)). Coarse
  kernels are the Patchify kernel interpolated (nearest) and divided by the area ratio, which equals
  "average-pool, then the original Patchify" (FramePack's rule, ``backbone.md`` §3.1). Compressed tokens
  keep consistent RoPE positions (the centre of the area they cover, in fine-grid units) and join the
  predicted chunk's tokens in standard attention, at timestep 0.
- **Channel**: history patchified at (8,4,4) to ``channel_dim`` (96) channels. In every block, after
  cross-attention, an FC reduces the video tokens to 96 channels; the predicted tokens and the
  compressed history go through linear attention (ReLU kernel, RoPE on q and k for the numerator, the
  un-rotated features for the normaliser, a norm before the output projection); an FC restores the width
  and the result is added to the predicted tokens.

Step-0 preservation: the channel branch's restoring FC starts at zero, and the coarse kernels are
derived from the pretrained Patchify, so a base checkpoint behaves as a spatially compressed-history
model at step 0 (tested).

History modes for the paper's comparisons: ``tscm``, ``full`` (uncompressed), ``sliding`` (recent
window only) and ``spatial`` (the released Yume code's tiers up to 86 latents, in this module's token
layout). ``released`` reproduces the released Yume-5B-720P code exactly (stdstu12/YUME
``wan23/modules/model.py``, golden-tested): its tiers for every history length, zero padding at the
bottom and right, the coarse grid's own RoPE indices, temporal positions counting patchified frames,
``patch_embedding_2x_f`` for the far past beyond 341 latents. The released code has no channel branch
and no 1-in-32 sampling; those are the paper's text only (``tscm`` mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from yume_model.transformer import WanDiT, WanRMSNorm, apply_rope, grid_positions, rope_freqs, rope_table

# The released code's RoPE table has 1024 temporal positions: a history of H latents uses H of them (3 for
# H <= 2), the chunk 8 more, so H = 1016 is the longest history it runs (measured: 1017 fails in its RoPE;
# beyond 1366 it has no tier at all).
RELEASED_MAX_HISTORY = 1016

HISTORY_MODES = ("tscm", "full", "sliding", "spatial", "released")


@dataclass
class TSCMConfig:
    mode: str = "tscm"  # tscm | full | sliding | spatial | released
    # (largest distance in latent frames, spatial rate) for the recent history; Yume1.5 Eq. 3
    tiers: list[tuple[int, int]] = field(default_factory=lambda: [(2, 2), (6, 4), (23, 8)])
    far_rate: int = 16  # beyond the last tier ("coarser further back")
    sample_ratio: int = 32  # keep 1 in 32 history latents beyond the recent window
    max_far_frames: int = 8  # bound on sampled far latents, so tokens per block stay bounded
    first_frame_rate: int = 2
    sliding_window: int = 23
    channel_dim: int = 96
    channel_patch: tuple[int, int, int] = (8, 4, 4)
    channel_heads: int = 1
    use_channel: bool = True  # the channel branch (tscm mode only)
    # how coarse Patchify kernels are derived where a checkpoint has none (a base Wan2.2 checkpoint):
    # "official" (trilinear interpolation, no rescaling: the released code) or "average" (an average pool
    # then the base kernel: FramePack's rule); default: official in released mode, average otherwise
    coarse_init: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in HISTORY_MODES:
            raise ValueError(f"unknown history mode {self.mode!r}; expected {', '.join(HISTORY_MODES)}")
        if self.coarse_init is None:
            self.coarse_init = "official" if self.mode == "released" else "average"
        if self.coarse_init not in ("official", "average"):
            raise ValueError(f"coarse_init must be official or average, got {self.coarse_init!r}")

    @property
    def channel_branch(self) -> bool:
        return self.mode == "tscm" and self.use_channel


def interpolate_patch_kernel(weight: torch.Tensor, rate: int, base: int = 2, method: str = "average") -> torch.Tensor:
    """Conv3d kernel (O, I, 1, base, base) -> (O, I, 1, rate, rate).

    ``average``: the same map applied to the average of each (rate/base)^2 block of base-sized patches.
    ``official``: the released code's ``upsample_conv3d_weights_auto``, trilinear interpolation
    (align_corners=False) without rescaling."""
    factor = rate // base
    if factor * base != rate:
        raise ValueError(f"rate {rate} is not a multiple of the base patch {base}")
    if method == "official":
        return F.interpolate(
            weight.float(), size=(weight.shape[2], rate, rate), mode="trilinear", align_corners=False
        ).to(weight.dtype)
    w = weight.repeat_interleave(factor, dim=3).repeat_interleave(factor, dim=4)
    return w / (factor * factor)


def released_layout(h: int) -> list[tuple[int, list[int]]]:
    """The released code's history tokens, in order: (kernel, history latent indices) per group, where
    kernel is the spatial patch size (2, 4, 8, 16, 32) or -32 for the far past (``patch_embedding_2x_f``
    at (1,4,4), then the (1,32,32) kernel). Small histories patchify a latent twice (H <= 2: the last
    latent at 4 and at 2), as the released code does."""
    if h == 0:
        return []
    if h > 1366:
        raise ValueError(f"the released code has no tiers for {h} history latents (at most 1366)")

    def middle(lo: int, back: int) -> list[int]:  # [1:-back], or the single latent -back when that is empty
        return list(range(1, h - back)) if h - (back + 1) > 0 else [h - back]

    if h <= 6:
        return [(2, [0]), (4, middle(1, 1)), (2, [h - 1])]
    if h <= 22:
        return [(2, [0]), (8, middle(1, 5)), (4, list(range(h - 5, h - 3))), (2, list(range(h - 3, h)))]
    recent = [(8, list(range(h - 21, h - 5))), (4, list(range(h - 5, h - 3))), (2, list(range(h - 3, h)))]
    if h <= 86:
        return [(2, [0]), (16, middle(1, 21)), *recent]
    if h <= 342:
        return [(4, [0]), (32, middle(1, 85)), (16, list(range(h - 85, h - 21))), *recent]
    return [
        (4, [0]),
        (-32, middle(1, 341)),
        (32, list(range(h - 341, h - 85))),
        (16, list(range(h - 85, h - 21))),
        *recent,
    ]


def pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zeros at the bottom and right up to a multiple of ``multiple`` (the released ``convpadd``)."""
    return F.pad(x, (0, (-x.shape[-1]) % multiple, 0, (-x.shape[-2]) % multiple))


def spatial_rate(distance: int, config: TSCMConfig) -> int:
    for max_distance, rate in config.tiers:
        if distance <= max_distance:
            return rate
    return config.far_rate


def select_history(
    num_history: int,
    config: TSCMConfig,
    generator: torch.Generator | None = None,
    stored: Sequence[int] | None = None,
) -> list[tuple[int, int]]:
    """(history latent index, spatial rate) kept for the next chunk; index 0 is the first frame.

    Distances count back from the chunk being predicted (the latest history latent has distance 1).
    Training passes a generator (random 1-in-N sampling); inference samples evenly, deterministically.
    ``stored`` lists the indices still held when a bounded history buffer has thinned the far past
    (tscm mode only; the first frame and the recent window are always held).
    """
    if num_history == 0:
        return []
    if config.mode == "full":
        return [(i, 2) for i in range(num_history)]
    if config.mode == "sliding":
        return [(i, 2) for i in range(max(0, num_history - config.sliding_window), num_history)]
    if config.mode == "spatial":
        return _released_tiers(num_history)
    if config.mode == "released":
        return [(i, abs(rate)) for rate, frames in released_layout(num_history) for i in frames]
    window = config.tiers[-1][0]
    kept = [(0, config.first_frame_rate)]
    recent = range(max(1, num_history - window), num_history)
    far_end = max(1, num_history - window)
    far = list(range(1, far_end)) if stored is None else sorted(i for i in stored if 1 <= i < far_end)
    if far:
        count = min(config.max_far_frames, max(1, math.ceil((far_end - 1) / config.sample_ratio)), len(far))
        if generator is None:
            picks = (
                [far[round(k * (len(far) - 1) / max(1, count - 1))] for k in range(count)] if count > 1 else [far[-1]]
            )
        else:
            picks = sorted(far[i] for i in torch.randperm(len(far), generator=generator)[:count].tolist())
        kept += [(i, config.far_rate) for i in sorted(set(picks))]
    kept += [(i, spatial_rate(num_history - i, config)) for i in recent]
    return kept


def _released_tiers(h: int) -> list[tuple[int, int]]:
    """The spatial-only compression of the released YUME code (``yume_repo.md`` §5), H <= 86."""
    if h <= 6:
        return [(0, 2)] + [(i, 4) for i in range(1, h - 1)] + ([(h - 1, 2)] if h > 1 else [])
    if h <= 22:
        return (
            [(0, 2)]
            + [(i, 8) for i in range(1, h - 5)]
            + [(i, 4) for i in range(h - 5, h - 3)]
            + [(i, 2) for i in range(h - 3, h)]
        )
    return (
        [(0, 2)]
        + [(i, 16) for i in range(1, max(1, h - 21))]
        + [(i, 8) for i in range(max(1, h - 21), h - 5)]
        + [(i, 4) for i in range(h - 5, h - 3)]
        + [(i, 2) for i in range(h - 3, h)]
    )


class LinearAttention(nn.Module):
    """ReLU-kernel linear attention with RoPE in the numerator and an un-rotated normaliser.

    out_i = Σ_j (R_i φ(q_i))·(R_j φ(k_j)) v_j / (φ(q_i)·Σ_j φ(k_j) + eps), φ = ReLU; then a norm and the
    output projection. Cost is linear in tokens: Σ_j R_j φ(k_j) v_jᵀ is computed once.
    """

    def __init__(self, dim: int, heads: int = 1, eps: float = 1e-6) -> None:
        super().__init__()
        self.heads = heads
        self.eps = eps
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.norm = WanRMSNorm(dim)
        self.o = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, ctx: torch.Tensor, x_freqs: torch.Tensor, ctx_freqs: torch.Tensor
    ) -> torch.Tensor:
        """Queries from x (B, N, D); keys/values from ctx (B, M, D) (the predicted tokens and the history)."""
        q = F.relu(self.q(x)).unflatten(-1, (self.heads, -1)).float()
        k = F.relu(self.k(ctx)).unflatten(-1, (self.heads, -1)).float()
        v = self.v(ctx).unflatten(-1, (self.heads, -1)).float()
        q_rot, k_rot = apply_rope(q, x_freqs), apply_rope(k, ctx_freqs)
        kv = torch.einsum("bmhd,bmhe->bhde", k_rot, v)  # (B, heads, d, d)
        num = torch.einsum("bnhd,bhde->bnhe", q_rot, kv)
        den = torch.einsum("bnhd,bhd->bnh", q, k.sum(dim=1)) + self.eps
        out = (num / den[..., None]).flatten(2).type_as(x)
        return self.o(self.norm(out))


class ChannelBranch(nn.Module):
    """Per-block channel compression: FC down, linear attention over [predicted; history], FC up."""

    def __init__(self, dim: int, config: TSCMConfig) -> None:
        super().__init__()
        c = config.channel_dim
        self.down = nn.Linear(dim, c)
        self.attn = LinearAttention(c, config.channel_heads)
        self.up = nn.Linear(c, dim)
        nn.init.zeros_(self.up.weight)  # step-0 preservation: the branch adds nothing at first
        nn.init.zeros_(self.up.bias)

    def forward(self, pred: torch.Tensor, history: torch.Tensor, pred_freqs, hist_freqs) -> torch.Tensor:
        x = self.down(pred)
        ctx = torch.cat([x, history], dim=1)
        return self.up(self.attn(x, ctx, pred_freqs, torch.cat([pred_freqs, hist_freqs], dim=0)))


class YumeTransformer(nn.Module):
    """The Wan DiT with a compressed history: predicts one chunk given every earlier latent."""

    def __init__(self, dit: WanDiT, tscm: TSCMConfig | None = None) -> None:
        super().__init__()
        self.dit = dit
        self.tscm = tscm or TSCMConfig()
        self.gradient_checkpointing = False  # recompute each block in backward (training memory)
        c = dit.config
        # Coarse Patchify kernels, trainable, initialised by interpolating the pretrained one (keys as the
        # released YUME code names them: patch_embedding_2x is the (1,4,4) kernel, ..., 16x the (1,32,32)).
        self.coarse_patch = nn.ModuleDict()
        for rate in (4, 8, 16, 32):
            self.coarse_patch[str(rate)] = nn.Conv3d(c.in_dim, c.dim, (1, rate, rate), (1, rate, rate))
        # The released code's far-past reducer (its key: patch_embedding_2x_f), latent to latent at (1,4,4).
        # Without a checkpoint's weights it starts as an average pool (the released code leaves it random).
        self.far_reduce = nn.Conv3d(c.in_dim, c.in_dim, (1, 4, 4), (1, 4, 4))
        self.derive_coarse_kernels()
        with torch.no_grad():
            self.far_reduce.weight.copy_(torch.eye(c.in_dim)[:, :, None, None, None].expand(-1, -1, 1, 4, 4) / 16)
            self.far_reduce.bias.zero_()
        if self.tscm.channel_branch:
            self.channel_patch = nn.Conv3d(
                c.in_dim, self.tscm.channel_dim, self.tscm.channel_patch, self.tscm.channel_patch
            )
            ch_head = self.tscm.channel_dim // self.tscm.channel_heads
            if ch_head % 2:
                raise ValueError("channel_dim / channel_heads must be even for RoPE")
            self.channel_branches = nn.ModuleList(ChannelBranch(c.dim, self.tscm) for _ in range(c.num_layers))
            self._channel_rope = rope_table(c.rope_max_len, ch_head)  # plain attribute: never cast to bf16

    def derive_coarse_kernels(self, method: str | None = None) -> None:
        """Coarse Patchify kernels from the base (1,2,2) kernel (``tscm.coarse_init`` unless given)."""
        base = self.dit.patch_embedding
        with torch.no_grad():
            for rate, conv in self.coarse_patch.items():
                conv.weight.copy_(
                    interpolate_patch_kernel(base.weight, int(rate), method=method or self.tscm.coarse_init)
                )
                conv.bias.copy_(base.bias)

    def released_history_tokens(self, history: torch.Tensor):
        """Tokens (B, N_h, dim), positions (N_h, 3) and the next temporal position of the released code's
        history layout (``released_layout``): groups in order, zero padding to each kernel, the coarse
        grid's own indices, one temporal position per patchified latent."""
        h_len = history.shape[2]
        if h_len > RELEASED_MAX_HISTORY:
            raise ValueError(
                f"{h_len} history latents: the released code runs at most {RELEASED_MAX_HISTORY} (its RoPE "
                f"table has 1024 positions; longer histories fail there), so there is nothing to reproduce"
            )
        tokens, positions, t0 = [], [], 0
        for rate, frames in released_layout(h_len):
            x = history[:, :, frames]
            if rate == 2:
                y = self.dit.patch_embedding(x)
            elif rate == -32:
                y = self.coarse_patch["32"](pad_to(self.far_reduce(pad_to(x, 4)), 32))
            else:
                y = self.coarse_patch[str(rate)](pad_to(x, rate))
            f, gh, gw = y.shape[2:]
            tokens.append(y.flatten(2).transpose(1, 2))
            pos = grid_positions(f, gh, gw)
            pos[:, 0] += t0
            positions.append(pos)
            t0 += f
        return torch.cat(tokens, dim=1), torch.cat(positions, dim=0), t0

    def history_tokens(
        self,
        history: torch.Tensor,
        generator: torch.Generator | None = None,
        index: Sequence[int] | None = None,
    ):
        """Compressed tokens (B, N_h, dim) and positions (N_h, 3) for history latents (B, C, T, H, W).

        ``index`` gives each stored latent's frame index (default 0..T-1); a bounded buffer passes it.
        """
        dit, b = self.dit, history.shape[0]
        index = list(range(history.shape[2])) if index is None else list(index)
        slot = {frame: k for k, frame in enumerate(index)}
        tokens, positions = [], []
        for frame_index, rate in select_history(index[-1] + 1, self.tscm, generator, stored=index):
            k = slot[frame_index]
            frame = history[:, :, k : k + 1]
            h, w = frame.shape[-2:]
            frame = F.pad(frame, (0, (-w) % rate, 0, (-h) % rate, 0, 0), mode="replicate")
            y = (dit.patch_embedding if rate == 2 else self.coarse_patch[str(rate)])(frame)
            gh, gw = y.shape[-2:]
            tokens.append(y.flatten(2).transpose(1, 2))
            scale = rate / 2  # one coarse token covers scale x scale fine tokens: use their centre
            rows = torch.arange(gh, dtype=torch.float64) * scale + (scale - 1) / 2
            cols = torch.arange(gw, dtype=torch.float64) * scale + (scale - 1) / 2
            rr, cc = torch.meshgrid(rows, cols, indexing="ij")
            positions.append(torch.stack([torch.full_like(rr, frame_index), rr, cc], -1).reshape(-1, 3))
        if not tokens:
            return history.new_zeros(b, 0, dit.config.dim), torch.zeros(0, 3, dtype=torch.float64)
        return torch.cat(tokens, dim=1), torch.cat(positions, dim=0)

    def channel_tokens(self, history: torch.Tensor, index: Sequence[int] | None = None):
        """History at (8,4,4) to channel_dim channels: tokens (B, M, 96) and positions (M, 3).

        A token's temporal position is the mean frame index of the latents it covers."""
        pt, ph, pw = self.tscm.channel_patch
        t, h, w = history.shape[2:]
        x = F.pad(history, (0, (-w) % pw, 0, (-h) % ph, 0, (-t) % pt), mode="replicate")
        y = self.channel_patch(x)
        gt, gh, gw = y.shape[2:]
        frames = torch.arange(t, dtype=torch.float64) if index is None else torch.tensor(index, dtype=torch.float64)
        frames = F.pad(frames[None, None], (0, (-t) % pt), mode="replicate")[0, 0]
        ff, rr, cc = torch.meshgrid(
            frames.reshape(gt, pt).mean(dim=1),
            torch.arange(gh, dtype=torch.float64) * (ph / 2) + (ph / 2 - 1) / 2,
            torch.arange(gw, dtype=torch.float64) * (pw / 2) + (pw / 2 - 1) / 2,
            indexing="ij",
        )
        return y.flatten(2).transpose(1, 2), torch.stack([ff, rr, cc], -1).reshape(-1, 3)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        context: torch.Tensor,
        history: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        history_index: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Flow prediction for the chunk x (B, C, F, H, W) at timestep t (B,) or per token (B, L), after
        ``history`` latents (B, C, T, H, W), which are clean (timestep 0). ``history_index`` gives the
        frame index of each stored latent when a bounded buffer has thinned the far past."""
        dit = self.dit
        tokens, grid = dit.patchify(x)
        n_pred = tokens.shape[1]
        released = self.tscm.mode == "released" and history is not None and history.shape[2] > 0
        if history is None or history.shape[2] == 0:
            offset = 0
        elif released:
            hist, hist_pos, offset = self.released_history_tokens(history)
        else:
            offset = history.shape[2] if history_index is None else int(history_index[-1]) + 1
        pred_pos = grid_positions(*grid, device=x.device)
        pred_pos[:, 0] += offset
        if released:
            pass
        elif history is not None and history.shape[2] > 0:
            hist, hist_pos = self.history_tokens(history, generator, history_index)
        else:
            hist, hist_pos = (
                tokens.new_zeros(tokens.shape[0], 0, tokens.shape[2]),
                torch.zeros(0, 3, dtype=torch.float64),
            )
        all_tokens = torch.cat([hist, tokens], dim=1)
        all_pos = torch.cat([hist_pos.to(pred_pos.device), pred_pos], dim=0)
        t_tok = t[:, None].expand(-1, n_pred) if t.ndim == 1 else t
        t_all = torch.cat([t_tok.new_zeros(t_tok.shape[0], hist.shape[1]), t_tok], dim=1)
        e, e0 = dit.embed_time(t_all, all_tokens.shape[1])
        freqs = rope_freqs(dit.rope_on(x.device), all_pos, dit.config.head_dim)
        ctx = dit.embed_text(context)
        use_channel = self.tscm.channel_branch and history is not None and history.shape[2] > 0
        if use_channel:
            ch_tokens, ch_pos = self.channel_tokens(history, history_index)
            ch_head = self.tscm.channel_dim // self.tscm.channel_heads
            self._channel_rope = self._channel_rope.to(x.device)
            pred_ch_freqs = rope_freqs(self._channel_rope, pred_pos, ch_head)
            hist_ch_freqs = rope_freqs(self._channel_rope, ch_pos.to(x.device), ch_head)
        n_hist = hist.shape[1]
        for i, block in enumerate(dit.blocks):
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                from torch.utils.checkpoint import checkpoint

                all_tokens = checkpoint(block, all_tokens, e0, freqs, ctx, use_reentrant=False)
            else:
                all_tokens = block(all_tokens, e0, freqs, ctx)
            if use_channel:
                pred = all_tokens[:, n_hist:]
                delta = self.channel_branches[i](pred, ch_tokens, pred_ch_freqs, hist_ch_freqs)
                all_tokens = torch.cat([all_tokens[:, :n_hist], pred + delta], dim=1)
        out = dit.head(all_tokens[:, n_hist:], e[:, n_hist:])
        if self.training and torch.is_grad_enabled():
            out = out + self._untouched_zero(history, history_index, use_channel)
        return dit.unpatchify(out, grid)

    def _untouched_zero(self, history, history_index, use_channel: bool) -> torch.Tensor:
        """0 x the parameters this call did not use, so every process's gradients cover the same
        parameters whatever its history length (FSDP/DDP reduce them together; ``training.py``)."""
        used_rates: set[int] = set()
        if history is not None and history.shape[2] > 0:
            index = list(range(history.shape[2])) if history_index is None else list(history_index)
            # random far picks change which latents, never which rates: the deterministic selection tells
            used_rates = {rate for _, rate in select_history(index[-1] + 1, self.tscm, stored=index)}
        params = [
            p for rate, conv in self.coarse_patch.items() if int(rate) not in used_rates for p in conv.parameters()
        ]
        uses_far = self.tscm.mode == "released" and history is not None and history.shape[2] > 342
        if not uses_far:
            params += list(self.far_reduce.parameters())
        if self.tscm.channel_branch and not use_channel:
            params += list(self.channel_patch.parameters()) + list(self.channel_branches.parameters())
        zero = self.dit.patch_embedding.bias.new_zeros(())
        for p in params:
            zero = zero + 0.0 * p.sum()
        return zero

    def tokens_per_block(self, num_history: int, latent_hw: tuple[int, int], chunk: int = 8) -> int:
        """Attention tokens for one chunk after ``num_history`` latents (for the bounded-context check)."""
        h, w = latent_hw

        def per_frame(rate: int) -> int:
            return math.ceil(h / rate) * math.ceil(w / rate)

        hist = sum(per_frame(rate) for _, rate in select_history(num_history, self.tscm))
        return hist + chunk * per_frame(2)
