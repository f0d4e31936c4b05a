import json

import pytest
import torch
from diffusers import WanTransformer3DModel

from yume_model.checkpoint import CheckpointError, load_checkpoint, native_to_diffusers, save_checkpoint
from yume_model.config import DiTConfig, preset
from yume_model.transformer import WanDiT, apply_rope, rope_freqs, rope_table


def diffusers_twin(cfg: DiTConfig) -> WanTransformer3DModel:
    return WanTransformer3DModel(
        patch_size=cfg.patch_size,
        num_attention_heads=cfg.num_heads,
        attention_head_dim=cfg.head_dim,
        in_channels=cfg.in_dim,
        out_channels=cfg.out_dim,
        text_dim=cfg.text_dim,
        freq_dim=cfg.freq_dim,
        ffn_dim=cfg.ffn_dim,
        num_layers=cfg.num_layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        eps=cfg.eps,
        rope_max_seq_len=cfg.rope_max_len,
    ).eval()


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return WanDiT(preset("tiny")).eval()


def _inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, 3, 8, 12, generator=g)
    ctx = torch.randn(2, 5, 16, generator=g)  # shorter than text_len: zero-padded inside
    t = torch.tensor([999.0, 250.0])
    per_token = torch.full((2, 3 * 4 * 6), 640.0)
    per_token[:, :24] = 0.0  # first latent frame clean, as TI2V conditioning does
    return x, ctx, t, per_token


@torch.no_grad()
def test_equals_diffusers_transformer(tiny):
    ref = diffusers_twin(tiny.config)
    assert ref.load_state_dict(native_to_diffusers(tiny.state_dict()), strict=True)
    x, ctx, t, per_token = _inputs()
    ctx_padded = torch.nn.functional.pad(ctx, (0, 0, 0, tiny.config.text_len - ctx.shape[1]))
    for timesteps in (t, per_token):
        ours = tiny(x, timesteps, ctx)
        theirs = ref(x, timesteps, ctx_padded, return_dict=False)[0]
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_both_checkpoint_formats_load_and_round_trip(tiny, tmp_path):
    x, ctx, t, _ = _inputs(2)
    expected = tiny(x, t, ctx)
    save_checkpoint(tiny, tmp_path / "native", max_shard_bytes=20_000)  # forces several shards
    assert len(list((tmp_path / "native").glob("*.safetensors"))) > 1
    assert json.loads((tmp_path / "native" / "config.json").read_text())["dim"] == 24
    torch.testing.assert_close(load_checkpoint(tmp_path / "native")(x, t, ctx), expected)
    ref = diffusers_twin(tiny.config)
    ref.load_state_dict(native_to_diffusers(tiny.state_dict()))
    ref.save_pretrained(tmp_path / "diffusers")
    torch.testing.assert_close(
        load_checkpoint(tmp_path / "diffusers", text_len=tiny.config.text_len)(x, t, ctx), expected
    )
    assert load_checkpoint(tmp_path / "diffusers").config.text_len == 512  # the Wan pipeline's padding
    again = load_checkpoint(tmp_path / "native")
    save_checkpoint(again, tmp_path / "resaved")
    a, b = load_checkpoint(tmp_path / "resaved").state_dict(), tiny.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_key_mismatches_are_named(tiny, tmp_path):
    from safetensors.torch import save_file

    save_checkpoint(tiny, tmp_path / "ok")
    state = {k: v.clone() for k, v in tiny.state_dict().items()}
    state.pop("blocks.1.ffn.2.bias")
    state["blocks.0.extra.weight"] = torch.zeros(1)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text((tmp_path / "ok" / "config.json").read_text())
    save_file(state, str(tmp_path / "bad" / "model.safetensors"))
    with pytest.raises(
        CheckpointError, match=r"missing 1 keys \(first: blocks\.1\.ffn\.2\.bias\).*blocks\.0\.extra\.weight"
    ):
        load_checkpoint(tmp_path / "bad")
    with pytest.raises(CheckpointError, match="no config.json"):
        load_checkpoint(tmp_path)


def test_full_config_parameter_count_on_meta():
    with torch.device("meta"):
        model = WanDiT(preset("yume1.5-5b"))
    count = sum(p.numel() for p in model.parameters())
    assert count == 4_999_787_712  # backbone.md §1.1: 825 tensors
    assert len(model.state_dict()) == 825


def test_rope_split_and_rotation_preserve_norms():
    table = rope_table(64, 128)
    assert table.shape == (64, 64)
    pos = torch.tensor([[3.0, 5.0, 7.0]], dtype=torch.float64)
    freqs = rope_freqs(table, pos, 128)
    x = torch.randn(1, 1, 2, 128)
    y = apply_rope(x, freqs)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    # time part uses 22 complex pairs, height and width 21 each (44/42/42 channels)
    assert torch.allclose(freqs[0, :22], table[3, :22]) and torch.allclose(freqs[0, 22:43], table[5, 22:43])


@torch.no_grad()
def test_bf16_runs_and_tracks_fp32(tiny):
    x, ctx, t, per_token = _inputs(3)
    ref = tiny(x, per_token, ctx)
    half = WanDiT(tiny.config).eval()
    half.load_state_dict(tiny.state_dict())
    half = half.to(torch.bfloat16)
    out = half(x.bfloat16(), per_token, ctx.bfloat16())
    assert out.dtype == torch.bfloat16 and half.rope_on(out.device).dtype == torch.complex128
    assert (out.float() - ref).abs().mean() < 0.02 * ref.abs().mean()


def test_rope_runs_past_the_table_for_long_generations():
    from yume_model.transformer import rope_freqs, rope_table

    table = rope_table(64, 12)
    inside = torch.tensor([[63.0, 5.0, 7.0]], dtype=torch.float64)
    nudged = inside + torch.tensor([[1e-9, 0.0, 0.0]], dtype=torch.float64)  # takes the position x frequency path
    torch.testing.assert_close(rope_freqs(table, nudged, 12), rope_freqs(table, inside, 12), atol=1e-8, rtol=0)
    far = rope_freqs(table, torch.tensor([[200.0, 5.0, 7.0]], dtype=torch.float64), 12)
    step = rope_freqs(table, torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64), 12)
    origin = rope_freqs(table, torch.tensor([[0.0, 5.0, 7.0]], dtype=torch.float64), 12)
    torch.testing.assert_close(far, origin * step**200)  # rotations compose: frame 200 = 200 single steps
