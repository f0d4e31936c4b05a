"""The released Yume-5B-720P forward, number for number: golden outputs of the official code
(stdstu12/YUME wan23/modules/model.py; how they were made: golden/released/README.md) for every
history tier, at a latent size no tier pads and one every coarse tier pads."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from yume_model.checkpoint import load_yume, save_yume
from yume_model.tscm import RELEASED_MAX_HISTORY, TSCMConfig, released_layout

GOLDEN = Path(__file__).parent / "golden" / "released"
HISTORIES = [0, 1, 2, 3, 4, 6, 7, 22, 23, 86, 87, 100, 342, 343, 400]
SIZES = [(32, 32), (20, 28)]
# the official WanModel config of the golden run: yumebench's tiny preset, native key names
NATIVE_CONFIG = {
    "_class_name": "WanModel", "model_type": "ti2v", "patch_size": [1, 2, 2], "text_len": 256, "in_dim": 4,
    "dim": 24, "ffn_dim": 32, "freq_dim": 16, "text_dim": 16, "out_dim": 4, "num_heads": 2, "num_layers": 2,
    "window_size": [-1, -1], "qk_norm": True, "cross_attn_norm": True, "eps": 1e-6,
}  # fmt: skip


@pytest.fixture(scope="module")
def golden():
    return load_file(str(GOLDEN / "released_dit_golden.safetensors"))


@pytest.fixture(scope="module")
def release(golden, tmp_path_factory):
    """A folder laid out as the release: native config.json and the official state dict, no tscm_config.json."""
    folder = tmp_path_factory.mktemp("release")
    weights = {k[len("weight.") :]: v for k, v in golden.items() if k.startswith("weight.")}
    save_file(weights, str(folder / "diffusion_pytorch_model.safetensors"))
    (folder / "config.json").write_text(json.dumps(NATIVE_CONFIG))
    return folder


def inputs(h_len: int, size: tuple[int, int], k: int):
    """The golden run's inputs, regenerated from its seeds (README)."""
    gen = torch.Generator().manual_seed(10_000 + 10 * h_len + k)
    history = torch.randn(4, h_len, *size, generator=gen)
    chunk = torch.randn(4, 8, *size, generator=gen)
    text = torch.randn(20, 16, generator=gen)
    return history, chunk, text


def test_the_official_key_set_loads_in_released_mode(release, golden):
    names = {k[len("weight.") :] for k in golden if k.startswith("weight.")}
    assert {"patch_embedding_2x_f.weight", "patch_embedding_2x_f.bias", "patch_embedding_16x.weight"} <= names
    model = load_yume(release)
    assert model.tscm.mode == "released" and not model.tscm.channel_branch
    torch.testing.assert_close(model.far_reduce.weight, golden["weight.patch_embedding_2x_f.weight"])


@pytest.mark.parametrize("k, size", list(enumerate(SIZES)))
def test_every_history_tier_equals_the_official_forward(release, golden, k, size):
    model = load_yume(release).eval()
    worst = 0.0
    for h_len in HISTORIES:
        history, chunk, text = inputs(h_len, size, k)
        with torch.no_grad():
            out = model(chunk[None], torch.tensor([750.0]), text[None], history[None] if h_len else None)[0]
        expected = golden[f"out.{h_len}.{size[0]}x{size[1]}"]
        diff = float((out - expected).abs().max())
        assert diff < 1e-5, f"H={h_len} {size}: max |diff| {diff:.2e} (output scale {float(expected.abs().max()):.2f})"
        worst = max(worst, diff)
    assert worst < 1e-5


def test_save_round_trips_the_official_keys(release, tmp_path):
    model = load_yume(release)
    save_yume(model, tmp_path / "saved")
    again = load_yume(tmp_path / "saved")
    for key, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)
    extra = load_file(str(tmp_path / "saved" / "tscm.safetensors"))
    assert {"patch_embedding_2x_f.weight", "patch_embedding_2x.weight"} <= set(extra)


def test_layout_facts_and_the_official_limit():
    assert [len(f) for _, f in released_layout(1)] == [1, 1, 1]  # latent 0 three times (2, 4, 2)
    assert released_layout(2) == [(2, [0]), (4, [1]), (2, [1])]
    assert released_layout(87)[0] == (4, [0]) and released_layout(343)[1][0] == -32
    with pytest.raises(ValueError, match="1366"):
        released_layout(1367)
    from yume_model.config import preset
    from yume_model.transformer import WanDiT
    from yume_model.tscm import YumeTransformer

    tiny = YumeTransformer(WanDiT(preset("tiny")), TSCMConfig(mode="released"))
    history = torch.zeros(1, 4, RELEASED_MAX_HISTORY + 1, 4, 4)
    with pytest.raises(ValueError, match="at most 1016"):
        tiny(torch.zeros(1, 4, 8, 4, 4), torch.tensor([500.0]), torch.zeros(1, 4, 16), history)


def test_coarse_kernels_derive_as_the_official_code_or_as_an_average():
    from yume_model.config import preset
    from yume_model.transformer import WanDiT
    from yume_model.tscm import YumeTransformer

    torch.manual_seed(0)
    dit = WanDiT(preset("tiny"))
    official = YumeTransformer(dit, TSCMConfig(mode="released"))
    average = YumeTransformer(dit, TSCMConfig(mode="released", coarse_init="average"))
    base = dit.patch_embedding.weight
    expected = torch.nn.functional.interpolate(base, size=(1, 8, 8), mode="trilinear", align_corners=False)
    torch.testing.assert_close(official.coarse_patch["8"].weight, expected)
    torch.testing.assert_close(average.coarse_patch["8"].weight.sum(dim=(3, 4)), base.sum(dim=(3, 4)))
    assert TSCMConfig().coarse_init == "average" and TSCMConfig(mode="released").coarse_init == "official"


@pytest.mark.parametrize("mode", ["t2v", "i2v"])
def test_released_generation_grows_the_history_as_the_released_sampler(mode, tmp_path):
    """T2V: block 0 from no history makes 8 latents, then H = 8, 16; I2V: H = 5 (the image over 17
    frames), 13, 21. Through the CLI, and bench run accepts the video."""
    import numpy as np
    from typer.testing import CliRunner

    from yume_model.pipeline import YumePipeline
    from yumebench.cli import app
    from yumebench.video import probe

    seen = []
    pipe = YumePipeline.tiny(tscm=TSCMConfig(mode="released"))
    original = pipe.transformer.forward

    def spy(x, t, context, history=None, **kw):
        seen.append(0 if history is None else history.shape[2])
        return original(x, t, context, history, **kw)

    pipe.transformer.forward = spy
    image = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8) if mode == "i2v" else None
    blocks = list(pipe.generate("W,·;D,→;S,↑", prompt="a street", image=image))
    histories = sorted(set(seen))
    assert histories == ([0, 8, 16] if mode == "t2v" else [5, 13, 21])
    assert [b.latents.shape[2] for b in blocks] == [8, 8, 8]
    frames = sum(len(b.frames) for b in blocks)
    assert frames == (29 + 64 if mode == "t2v" else 1 + 96)

    runner = CliRunner()
    args = [
        "model",
        "generate",
        "--history",
        "released",
        "--actions",
        "W,·;D,→;S,↑",
        "--quiet",
        "--out",
        str(tmp_path / "v.mp4"),
    ]
    if mode == "i2v":
        from PIL import Image

        Image.fromarray(image).save(tmp_path / "first.png")
        args += ["--image", str(tmp_path / "first.png")]
    else:  # event editing: the third block's event changes; the history grows the same way
        args += ["--events", "a street;;it starts to snow"]
    result = runner.invoke(app, [*args, "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    line = json.loads((tmp_path / "v.jsonl").read_text())
    assert probe(tmp_path / "v.mp4").num_frames == frames == line["segments"][-1]["end"]
    assert line["generation"]["history"] == "released"
    if mode == "t2v":
        assert line["events"] == ["a street", "a street", "it starts to snow"]
    bench = runner.invoke(
        app,
        [
            "bench",
            "run",
            "--spec",
            str(tmp_path / "v.jsonl"),
            "--videos",
            str(tmp_path),
            "--out",
            str(tmp_path / "r.json"),
            "--quiet",
        ],
    )
    assert bench.exit_code == 0, bench.output


def test_too_many_released_blocks_fail_before_any_work():
    from yume_model.pipeline import GenerationError, YumePipeline

    pipe = YumePipeline.tiny(tscm=TSCMConfig(mode="released"))
    with pytest.raises(GenerationError, match="at most 1016"):
        pipe.check_inputs(";".join(["W,·"] * 130), prompt="a street")


def test_the_real_size_official_key_set_names_no_missing_or_unexpected_key():
    """Yume-5B-720P's 835 keys (the official model on the meta device) against the model load_yume builds."""
    from yume_model.checkpoint import _split_yume_state
    from yume_model.config import preset
    from yume_model.transformer import WanDiT
    from yume_model.tscm import YumeTransformer

    official = json.loads((GOLDEN / "released_5b_keys.json").read_text())["keys"]
    assert len(official) == 835
    with torch.device("meta"):
        model = YumeTransformer(WanDiT(preset("yume1.5-5b")), TSCMConfig(mode="released"))
        state = {k: torch.empty(shape) for k, shape in official.items()}
    dit, yume, branch = _split_yume_state(state)
    own = model.state_dict()
    mapped = {**{f"dit.{k}": v for k, v in dit.items()}, **yume}
    assert not branch
    assert sorted(set(own) - set(mapped)) == [] and sorted(set(mapped) - set(own)) == []
    assert all(tuple(v.shape) == tuple(own[k].shape) for k, v in mapped.items())


def test_the_gpu_speed_script_runs_the_released_history_lengths():
    """bench/gpu_generation_5b.py at tiny size on the CPU: per-block history lengths as sample_5b grows them."""
    import subprocess
    import sys

    script = Path(__file__).parents[2] / "bench" / "gpu_generation_5b.py"
    args = [sys.executable, str(script), "--config", "tiny", "--device", "cpu", "--dtype", "float32"]
    args += ["--resolution", "64x96", "--blocks", "3", "--i2v"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["history_latents"] for r in rows] == [5, 13, 21]
    assert all(r["frames"] == 32 and r["fps"] > 0 for r in rows)
    assert "history released i2v" in done.stdout
