import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from yume_model.pipeline import GenerationError, HistoryBuffer, YumePipeline, block_segments, parse_events
from yume_model.sampling import SamplerConfig, sample, shifted_sigmas
from yume_model.text import ActionEmbeddingCache, dual_stream_context, tiny_text_encoder
from yume_model.tscm import TSCMConfig, YumeTransformer, select_history
from yume_model.vae import StreamingDecoder, decode, tiny_vae
from yumebench.actions import ALL_ACTIONS, Action, action_text
from yumebench.cli import app
from yumebench.video import probe

runner = CliRunner()


@pytest.fixture(scope="module")
def encoder():
    return tiny_text_encoder()


@pytest.fixture(scope="module")
def pipe():
    return YumePipeline.tiny()


def test_action_cache_round_trip_and_reuse(encoder, tmp_path):
    built = ActionEmbeddingCache.load_or_build(encoder, tmp_path, "yume")
    calls = encoder.calls
    assert calls > 0
    again = ActionEmbeddingCache.load_or_build(encoder, tmp_path, "yume")
    assert encoder.calls == calls  # read from the file: the encoder is not called again
    for action in ALL_ACTIONS:
        torch.testing.assert_close(again[action], built[action], rtol=0, atol=0)
    # each cached embedding is what the encoder gives for that action's text
    a = Action("W+A", "→")
    torch.testing.assert_close(built[a], encoder.encode([action_text(a, "yume")])[0])
    # another wording is another file, never the stale one
    paper = ActionEmbeddingCache.load_or_build(encoder, tmp_path, "paper")
    assert paper.wording == "paper" and len(list(tmp_path.glob("*.safetensors"))) == 2
    assert not torch.equal(paper[a], built[a])


def test_dual_stream_context_concatenates_and_keeps_the_action():
    event, action = torch.randn(5, 3), torch.randn(4, 3)
    ctx = dual_stream_context(event, action, 12)
    assert ctx.shape == (12, 3)
    torch.testing.assert_close(ctx[:5], event)
    torch.testing.assert_close(ctx[5:9], action)
    assert not ctx[9:].any()
    long = dual_stream_context(torch.randn(20, 3), action, 12)  # a long event is cut, the action stays whole
    torch.testing.assert_close(long[8:], action)


def test_streaming_decoder_equals_one_decode():
    vae = tiny_vae()
    z = torch.randn(1, 4, 17, 2, 3, generator=torch.Generator().manual_seed(0))
    stream = StreamingDecoder(vae)
    pieces = torch.cat([stream(z[:, :, :9]), stream(z[:, :, 9:13]), stream(z[:, :, 13:])], dim=2)
    torch.testing.assert_close(pieces, decode(vae, z), rtol=0, atol=0)
    assert pieces.shape[2] == 1 + 4 * 16


def test_shifted_schedule_and_samplers_reach_the_clean_sample():
    sig = shifted_sigmas(4, 7.0)
    expected = [7 * s / (1 + 6 * s) for s in (1.0, 0.75, 0.5, 0.25, 0.0)]
    np.testing.assert_allclose(sig.numpy(), expected)
    x0, noise = torch.randn(2, 3), torch.randn(2, 3)
    for cfg in (SamplerConfig("euler", 4, 7.0), SamplerConfig("unipc", 8, 5.0)):
        # on the straight path from noise to x0 the velocity is noise - x0 everywhere; each solver lands on x0
        seen = []

        def velocity(x, t, seen=seen):
            seen.append(float(t[0]))
            return noise - x0

        torch.testing.assert_close(sample(velocity, noise, cfg), x0, atol=1e-4, rtol=1e-4)
        assert len(seen) == cfg.steps and seen[0] == pytest.approx(1000.0, abs=1.0)
    with pytest.raises(ValueError, match="sampler"):
        SamplerConfig("ddim")


def test_history_buffer_is_bounded_and_keeps_what_tscm_reads():
    cfg = TSCMConfig()
    buf = HistoryBuffer(cfg, max_latents=48)
    for _ in range(100):
        buf.extend(torch.zeros(1, 1, 8, 1, 1))
    assert buf.count == 800 and len(buf.index) <= 48
    window = cfg.tiers[-1][0]
    assert buf.index[0] == 0 and buf.index[-window:] == list(range(800 - window, 800))
    picked = select_history(800, cfg, stored=buf.index)
    assert {i for i, _ in picked} <= set(buf.index)
    assert sum(1 for _, r in picked if r == cfg.far_rate) == cfg.max_far_frames
    sliding = HistoryBuffer(TSCMConfig(mode="sliding", sliding_window=5))
    sliding.extend(torch.zeros(1, 1, 30, 1, 1))
    assert sliding.index == list(range(25, 30))


def test_thinned_history_gives_the_same_prediction_as_the_full_history():
    torch.manual_seed(0)
    from yume_model.config import preset
    from yume_model.transformer import WanDiT

    model = YumeTransformer(WanDiT(preset("tiny")), TSCMConfig(use_channel=False, sample_ratio=4)).eval()
    history = torch.randn(1, 4, 60, 4, 6)
    x, t, ctx = torch.randn(1, 4, 8, 4, 6), torch.tensor([500.0]), torch.randn(1, 7, 16)
    full = model(x, t, ctx, history)
    kept = [i for i, _ in select_history(60, model.tscm)]
    thinned = model(x, t, ctx, history[:, :, kept], history_index=kept)
    torch.testing.assert_close(thinned, full)


def test_events_per_block_and_segments():
    assert parse_events("a street", None, 3) == ["a street"] * 3
    assert parse_events("a street", ";;it snows", 4) == ["a street", "a street", "it snows", "it snows"]
    assert parse_events("", "a city;it rains", 2) == ["a city", "it rains"]
    with pytest.raises(GenerationError, match="3 events for 2 blocks"):
        parse_events("x", "a;b;c", 2)
    segs = block_segments([Action("W", "·"), Action("S", "↑")], 32)
    assert [(s["start"], s["end"]) for s in segs] == [(0, 33), (33, 65)]


def test_generation_is_deterministic_and_bad_input_fails_first(pipe):
    def run(seed):
        pipe.config.seed = seed
        return [b.frames for b in pipe.generate("W,·;A,←", prompt="A rainy street")]

    a, b, c = run(3), run(3), run(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])
    assert [f.shape[0] for f in a] == [33, 32]
    with pytest.raises(GenerationError, match="action 2"):
        next(pipe.generate("W,·;Q,←", prompt="x"))
    with pytest.raises(GenerationError, match="needs a prompt"):
        next(pipe.generate("W,·"))


def test_event_edit_changes_the_text_from_block_k(pipe):
    actions = [Action("W", "·")] * 3
    ctx = pipe._text_contexts(actions, parse_events("a street", ";;it snows", 3), None)
    torch.testing.assert_close(ctx[0], ctx[1])
    assert not torch.equal(ctx[1], ctx[2])


def test_pipeline_save_and_load_round_trip(pipe, tmp_path):
    pipe.config.seed = 0
    before = [b.frames for b in pipe.generate("W+D,→", prompt="A plaza")]
    pipe.save_pretrained(tmp_path / "pipe")
    loaded = YumePipeline.from_pretrained(tmp_path / "pipe")
    assert loaded.transformer.tscm == pipe.transformer.tscm
    after = [b.frames for b in loaded.generate("W+D,→", prompt="A plaza")]
    assert np.array_equal(before[0], after[0])


@pytest.mark.parametrize("mode", ["t2v", "i2v", "edit"])
def test_generate_cli_writes_a_video_and_a_spec_line_that_bench_accepts(tmp_path, mode):
    args = ["model", "generate", "--actions", "W+A,→;W,·;S,↑", "--quiet", "--cache-dir", str(tmp_path / "cache")]
    if mode == "i2v":
        image = tmp_path / "first.png"
        from PIL import Image

        Image.fromarray((np.random.default_rng(0).random((90, 120, 3)) * 255).astype(np.uint8)).save(image)
        args += ["--image", str(image)]
    else:
        args += ["--prompt", "A rainy street"]
    if mode == "edit":
        args += ["--events", ";;A storm rolls in"]
    out = tmp_path / f"{mode}.mp4"
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert probe(out).num_frames == 97
    line = json.loads(out.with_suffix(".jsonl").read_text())
    assert [s["keys"] for s in line["segments"]] == ["W+A", "W", "S"]
    if mode == "edit":
        assert line["events"] == ["A rainy street", "A rainy street", "A storm rolls in"]
    again = tmp_path / f"{mode}_again.mp4"
    assert runner.invoke(app, [*args, "--out", str(again)]).exit_code == 0
    assert out.read_bytes() == again.read_bytes()  # same seed, same frames (the 2nd run reads the cache)
    bench = runner.invoke(
        app,
        [
            "bench",
            "run",
            "--spec",
            str(out.with_suffix(".jsonl")),
            "--videos",
            str(tmp_path),
            "--out",
            str(tmp_path / f"{mode}_results.json"),
            "--quiet",
        ],
    )
    assert bench.exit_code == 0, bench.output
    results = json.loads((tmp_path / f"{mode}_results.json").read_text())
    assert len(results["instruction_following"][1]) == 1


def test_generate_cli_rejects_bad_input_before_any_work(tmp_path):
    out = tmp_path / "v.mp4"
    bad = runner.invoke(app, ["model", "generate", "--prompt", "x", "--actions", "W,·;Q,→", "--out", str(out)])
    assert bad.exit_code == 2 and "action 2" in bad.output
    bad = runner.invoke(app, ["model", "generate", "--actions", "W,·", "--out", str(out)])
    assert bad.exit_code == 2 and "needs --prompt" in bad.output
    bad = runner.invoke(
        app, ["model", "generate", "--prompt", "x", "--actions", "W,·", "--events", "a;b", "--out", str(out)]
    )
    assert bad.exit_code == 2 and "2 events for 1 blocks" in bad.output
    bad = runner.invoke(
        app, ["model", "generate", "--prompt", "x", "--actions", "W,·", "--image", "nope.png", "--out", str(out)]
    )
    assert bad.exit_code == 2 and "nope.png" in bad.output
    bad = runner.invoke(
        app, ["model", "generate", "--prompt", "x", "--actions", "W,·", "--resolution", "70x96", "--out", str(out)]
    )
    assert bad.exit_code == 2 and "multiples of 32" in bad.output
    assert not out.exists()


def test_cache_actions_cli(tmp_path):
    result = runner.invoke(app, ["model", "cache-actions", "--out", str(tmp_path), "--wording", "5b"])
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("action_embeddings-5b-*.safetensors")
    assert len(ActionEmbeddingCache.load(path).embeddings) == 81
    again = runner.invoke(app, ["model", "cache-actions", "--out", str(tmp_path), "--wording", "5b"])
    assert "already cached" in again.output


def test_generate_from_a_bare_checkpoint_with_separate_text_encoder_and_vae(pipe, tmp_path):
    """The Yume-5B-720P layout: DiT files in a folder, umT5 and the VAE from elsewhere (e.g. the
    Wan2.2-TI2V-5B-Diffusers repo)."""
    pipe.save_pretrained(tmp_path / "pipe")
    out = tmp_path / "v.mp4"
    base = [
        "model",
        "generate",
        "--prompt",
        "A quay",
        "--actions",
        "W,·",
        "--quiet",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--weights",
        str(tmp_path / "pipe" / "transformer"),
    ]
    missing = runner.invoke(app, base)
    assert missing.exit_code == 2 and "no text encoder or VAE found" in missing.output
    result = runner.invoke(
        app, [*base, "--text-encoder", str(tmp_path / "pipe"), "--vae", str(tmp_path / "pipe" / "vae")]
    )
    assert result.exit_code == 0, result.output
    assert probe(out).num_frames == 33


def test_trained_weights_run_in_every_history_mode(pipe, tmp_path):
    """The paper's comparisons: one trained checkpoint, history handled by TSCM, full context, sliding window."""
    pipe.save_pretrained(tmp_path / "pipe")
    for mode in ("tscm", "full", "sliding", "spatial"):
        out = tmp_path / f"{mode}.mp4"
        result = runner.invoke(
            app,
            [
                "model",
                "generate",
                "--weights",
                str(tmp_path / "pipe"),
                "--history",
                mode,
                "--prompt",
                "A quay",
                "--actions",
                "W,·;S,↑",
                "--quiet",
                "--out",
                str(out),
                "--cache-dir",
                str(tmp_path / "cache"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert json.loads(out.with_suffix(".jsonl").read_text())["generation"]["history"] == mode
