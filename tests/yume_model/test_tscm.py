import pytest
import torch
import torch.nn.functional as F

from yume_model.config import preset
from yume_model.transformer import WanDiT, grid_positions, rope_freqs, rope_table
from yume_model.tscm import LinearAttention, TSCMConfig, YumeTransformer, interpolate_patch_kernel, select_history


@pytest.fixture(scope="module")
def dit():
    torch.manual_seed(0)
    return WanDiT(preset("tiny")).eval()


def test_interpolated_patchify_equals_pooling_then_patchify(dit):
    x = torch.randn(1, 4, 1, 16, 24)
    w, b = dit.patch_embedding.weight, dit.patch_embedding.bias
    for rate in (4, 8):
        coarse = F.conv3d(x, interpolate_patch_kernel(w, rate), b, stride=(1, rate, rate))
        pooled = F.avg_pool3d(x, (1, rate // 2, rate // 2))
        torch.testing.assert_close(coarse, F.conv3d(pooled, w, b, stride=(1, 2, 2)), atol=1e-5, rtol=1e-5)


def test_linear_attention_equals_the_quadratic_formula():
    torch.manual_seed(1)
    attn = LinearAttention(16, heads=2).eval()
    x, ctx = torch.randn(2, 5, 16), torch.randn(2, 9, 16)
    table = rope_table(64, 8)
    xf = rope_freqs(table, grid_positions(1, 1, 5), 8)
    cf = rope_freqs(table, torch.rand(9, 3, dtype=torch.float64) * 10, 8)  # fractional positions too
    fast = attn(x, ctx, xf, cf)
    # naive: every pair's weight, numerator with rotated features, denominator without
    q = F.relu(attn.q(x)).unflatten(-1, (2, -1)).double()
    k = F.relu(attn.k(ctx)).unflatten(-1, (2, -1)).double()
    v = attn.v(ctx).unflatten(-1, (2, -1)).double()
    qc = torch.view_as_complex(q.reshape(2, 5, 2, 4, 2)) * xf[None, :, None]
    kc = torch.view_as_complex(k.reshape(2, 9, 2, 4, 2)) * cf[None, :, None]
    qr, kr = torch.view_as_real(qc).reshape(2, 5, 2, 8), torch.view_as_real(kc).reshape(2, 9, 2, 8)
    out = torch.zeros(2, 5, 2, 8, dtype=torch.float64)
    for i in range(5):
        for j in range(9):
            w_num = (qr[:, i] * kr[:, j]).sum(-1)  # (B, heads)
            out[:, i] += w_num[..., None] * v[:, j]
        den = sum((q[:, i] * k[:, j]).sum(-1) for j in range(9))  # Σ_j φ(q_i)·φ(k_j), (B, heads)
        out[:, i] /= den[..., None] + attn.eps
    naive = attn.o(attn.norm(out.flatten(2).float()))
    torch.testing.assert_close(fast, naive, atol=1e-4, rtol=1e-4)


def _inputs(history_frames=5):
    g = torch.Generator().manual_seed(3)
    return (
        torch.randn(1, 4, 2, 8, 8, generator=g),
        torch.tensor([700.0]),
        torch.randn(1, 6, 16, generator=g),
        torch.randn(1, 4, history_frames, 8, 8, generator=g),
    )


@torch.no_grad()
def test_step0_preservation(dit):
    x, t, ctx, hist = _inputs()
    with_branch = YumeTransformer(dit, TSCMConfig(channel_dim=8, channel_patch=(2, 4, 4))).eval()
    without = YumeTransformer(dit, TSCMConfig(use_channel=False)).eval()
    torch.testing.assert_close(with_branch(x, t, ctx, hist), without(x, t, ctx, hist))
    # with no history the model is exactly the base DiT on the chunk
    torch.testing.assert_close(with_branch(x, t, ctx, None), dit(x, t, ctx))
    # once the branch has learned something it changes the output (the check above can fail)
    torch.nn.init.normal_(with_branch.channel_branches[0].up.weight)
    assert not torch.allclose(with_branch(x, t, ctx, hist), without(x, t, ctx, hist))


@torch.no_grad()
def test_history_matters_and_all_modes_run(dit):
    x, t, ctx, hist = _inputs(30)
    outs = {}
    for mode in ("tscm", "full", "sliding", "spatial"):
        model = YumeTransformer(dit, TSCMConfig(mode=mode, channel_dim=8, channel_patch=(2, 4, 4))).eval()
        outs[mode] = model(x, t, ctx, hist)
        assert outs[mode].shape == x.shape and torch.isfinite(outs[mode]).all()
        torch.testing.assert_close(model(x, t, ctx, hist), outs[mode])  # deterministic at inference
    assert not torch.allclose(outs["full"], dit(x, t, ctx))


def test_history_selection_schedules():
    cfg = TSCMConfig()
    sel = dict(select_history(100, cfg))
    assert sel[0] == 2 and sel[99] == 2 and sel[98] == 2 and sel[97] == 4 and sel[94] == 4 and sel[93] == 8
    assert sel[77] == 8 and all(rate == 16 for i, rate in sel.items() if 0 < i < 77)
    far = [i for i in sel if 0 < i < 77]
    assert len(far) == 3  # ceil(76 / 32): 1 in 32 beyond the recent window
    assert select_history(10, TSCMConfig(mode="sliding", sliding_window=4)) == [(6, 2), (7, 2), (8, 2), (9, 2)]
    # the released code's tiers (yume_repo.md §5)
    assert select_history(6, TSCMConfig(mode="spatial")) == [(0, 2), (1, 4), (2, 4), (3, 4), (4, 4), (5, 2)]
    rates = dict(select_history(20, TSCMConfig(mode="spatial")))
    assert rates[0] == 2 and rates[14] == 8 and rates[15] == 4 and rates[16] == 4 and rates[17] == 2 and rates[19] == 2
    gen = torch.Generator().manual_seed(0)
    assert len(select_history(500, cfg, gen)) == len(select_history(500, cfg))  # training samples randomly


def test_tokens_per_block_stay_bounded_while_full_context_grows(dit):
    tscm = YumeTransformer(dit, TSCMConfig(channel_dim=8, channel_patch=(2, 4, 4)))
    full = YumeTransformer(dit, TSCMConfig(mode="full"))
    hw = (44, 80)  # 704x1280 latents
    counts = {n: tscm.tokens_per_block(n, hw) for n in (8, 64, 128, 512, 2048)}
    bound = 8 * 22 * 40 + 22 * 40 + 2 * 22 * 40 + 4 * 11 * 20 + 17 * 6 * 10 + TSCMConfig().max_far_frames * 3 * 5
    assert max(counts.values()) <= bound
    assert counts[2048] == counts[512]  # flat once the far samples are capped
    assert full.tokens_per_block(2048, hw) > 100 * counts[2048] / 10
    assert full.tokens_per_block(64, hw) < full.tokens_per_block(128, hw)


@torch.no_grad()
def test_yume_checkpoints_carry_tscm_weights(dit, tmp_path):
    from yume_model.checkpoint import load_yume, save_checkpoint, save_yume
    from yume_model.tscm import interpolate_patch_kernel

    cfg = TSCMConfig(channel_dim=8, channel_patch=(2, 4, 4))
    # A base Wan checkpoint: coarse kernels start as the interpolated Patchify, the branch at zero.
    save_checkpoint(dit, tmp_path / "base")
    base = load_yume(tmp_path / "base", cfg)
    torch.testing.assert_close(base.coarse_patch["8"].weight, interpolate_patch_kernel(dit.patch_embedding.weight, 8))
    assert torch.count_nonzero(base.channel_branches[0].up.weight) == 0
    # Trained TSCM weights survive a save/load round trip, coarse kernels under the released names.
    trained = YumeTransformer(dit, cfg)
    torch.nn.init.normal_(trained.coarse_patch["4"].weight)
    torch.nn.init.normal_(trained.channel_branches[1].up.weight)
    save_yume(trained, tmp_path / "yume")
    from safetensors.torch import load_file

    assert "patch_embedding_2x.weight" in load_file(str(tmp_path / "yume" / "tscm.safetensors"))
    loaded = load_yume(tmp_path / "yume", cfg)
    x, t, ctx, hist = _inputs()
    torch.testing.assert_close(loaded(x, t, ctx, hist), trained.eval()(x, t, ctx, hist))
