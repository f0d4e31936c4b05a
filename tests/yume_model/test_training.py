import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from data_pipeline.builder import build
from data_pipeline.process import BuildConfig
from tests.data_pipeline.conftest import make_inputs
from yume_model.config import preset
from yume_model.self_forcing import SelfForcingConfig, dmd_loss, rollout
from yume_model.training import Dist, TrainConfig, train_base
from yume_model.transformer import WanDiT
from yume_model.tscm import TSCMConfig, YumeTransformer
from yumebench.cli import app
from yumebench.video import probe

runner = CliRunner()
SMALL = dict(num_frames=17, resolution=(64, 64), batch_size=2)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A tiny dataset built by the pipeline from rendered scenes with known camera paths."""
    root = tmp_path_factory.mktemp("train_data")
    inputs = make_inputs(root)
    build(inputs["manifest"], root / "ds", BuildConfig(min_frames=17), workers=1, progress=False)
    return root / "ds"


@pytest.fixture(scope="module")
def base_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    config = TrainConfig(dataset=str(dataset), out=str(out), steps=60, lr=3e-3, save_every=30, **SMALL)
    return train_base(config, progress=False)


def test_base_training_halves_the_loss_on_a_small_overfit_set(base_run):
    losses = base_run["losses"]
    first, last = sum(losses[:6]) / 6, sum(losses[-6:]) / 6
    assert last <= 0.5 * first, (first, last)
    log = [json.loads(line) for line in open(os.path.join(base_run["out"], "train_log.jsonl"))]
    assert [r["step"] for r in log] == list(range(1, 61))
    assert [r["task"] for r in log[:4]] == ["t2v", "i2v", "t2v", "i2v"]  # alternated step by step
    assert all({"loss", "lr", "grad_norm", "samples_per_s"} <= r.keys() for r in log)


def test_resume_continues_exactly(dataset, tmp_path):
    whole = train_base(
        TrainConfig(dataset=str(dataset), out=str(tmp_path / "a"), steps=6, save_every=3, **SMALL), progress=False
    )
    train_base(
        TrainConfig(dataset=str(dataset), out=str(tmp_path / "b"), steps=3, save_every=3, **SMALL), progress=False
    )
    resumed = train_base(
        TrainConfig(dataset=str(dataset), out=str(tmp_path / "b"), steps=6, save_every=3, **SMALL),
        resume=True,
        progress=False,
    )
    assert resumed["start_step"] == 3
    assert resumed["losses"] == whole["losses"][3:]  # bit for bit
    log = [json.loads(line)["step"] for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert log == [1, 2, 3, 4, 5, 6]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_two_gloo_processes_give_the_same_loss_as_one(dataset, tmp_path):
    args = [
        "model",
        "train",
        "base",
        "--dataset",
        str(dataset),
        "--steps",
        "3",
        "--num-frames",
        "17",
        "--resolution",
        "64x64",
        "--batch-size",
        "4",
        "--lr",
        "3e-3",
        "--quiet",
        "--device",
        "cpu",
    ]
    one = train_base(
        TrainConfig(
            dataset=str(dataset),
            out=str(tmp_path / "one"),
            steps=3,
            lr=3e-3,
            num_frames=17,
            resolution=(64, 64),
            batch_size=4,
        ),
        progress=False,
        env=Dist(),
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        "torchrun",
        "--nproc-per-node",
        "2",
        "--no-python",
        sys.executable,
        "-m",
        "yumebench.cli",
        *args,
        "--out",
        str(tmp_path / "two"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    two = [json.loads(line)["loss"] for line in (tmp_path / "two" / "train_log.jsonl").read_text().splitlines()]
    assert two == pytest.approx(one["losses"], rel=1e-5)


def test_activation_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    model = YumeTransformer(WanDiT(preset("tiny")), TSCMConfig(channel_dim=8)).train()
    x, hist, ctx = torch.randn(1, 4, 2, 4, 4), torch.randn(1, 4, 5, 4, 4), torch.randn(1, 6, 16)
    grads = []
    for flag in (False, True):
        model.zero_grad()
        model.gradient_checkpointing = flag
        model(x, torch.tensor([300.0]), ctx, hist).square().mean().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    return YumeTransformer(WanDiT(preset("tiny")), TSCMConfig(channel_dim=8))


def test_self_forcing_rollout_uses_its_own_history_not_ground_truth():
    model = _tiny_model().train()
    config = SelfForcingConfig(init="x", chunks=3, chunk_latents=2, denoising_steps=3)
    first = torch.randn(1, 4, 1, 4, 4)
    ground_truth = torch.randn(1, 4, 7, 4, 4)  # what a teacher-forced rollout would condition on
    record: list = []
    video, lengths = rollout(
        model,
        torch.randn(1, 6, 16),
        first,
        config,
        (4, 4, 4),
        torch.Generator().manual_seed(0),
        torch.device("cpu"),
        record,
    )
    assert lengths == [2, 2, 2] and video.requires_grad
    starts = [0, 2, 4]
    histories = [h for h in record if h is not None]
    for h in histories:
        generated = h.shape[2] - 1
        assert generated in starts
        torch.testing.assert_close(h[:, :, :1], first)  # the image latent
        torch.testing.assert_close(h[:, :, 1:], video[:, :, :generated].detach())  # the generator's own chunks
        if generated:
            assert not torch.allclose(h[:, :, 1:], ground_truth[:, :, 1 : 1 + generated])
    assert {h.shape[2] for h in histories} == {1, 3, 5}


def test_dmd_gradient_is_zero_when_fake_equals_real():
    real = _tiny_model().eval()
    fake = _tiny_model().eval()  # same seed: identical weights
    video = torch.randn(1, 4, 4, 4, 4, requires_grad=True)
    ctx, noise = torch.randn(1, 6, 16), torch.randn(1, 4, 4, 4, 4)
    loss = dmd_loss(video, None, [2, 2], real, fake, ctx, 0.6, noise)
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.count_nonzero(video.grad) == 0
    other = _tiny_model(seed=1).eval()
    video.grad = None
    dmd_loss(video, None, [2, 2], real, other, ctx, 0.6, noise).backward()
    assert torch.count_nonzero(video.grad) > 0  # a different critic does push the generator


def test_self_forcing_cli_distils_a_checkpoint_that_generates(dataset, base_run, tmp_path):
    out = tmp_path / "sf"
    result = runner.invoke(
        app,
        [
            "model",
            "train",
            "self-forcing",
            "--dataset",
            str(dataset),
            "--init",
            base_run["final"],
            "--out",
            str(out),
            "--steps",
            "3",
            "--chunks",
            "2",
            "--chunk-latents",
            "2",
            "--num-frames",
            "17",
            "--resolution",
            "64x64",
            "--generator-every",
            "2",
            "--real-guidance",
            "0",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["dmd_loss"] is not None for r in log] == [True, False, True]
    assert log[0]["dmd_loss"] == 0.0  # fake == real and no guidance at the start: no distribution-matching signal
    video = tmp_path / "distilled.mp4"
    gen = runner.invoke(
        app,
        [
            "model",
            "generate",
            "--weights",
            str(out / "final"),
            "--prompt",
            "A street",
            "--actions",
            "W,·;D,→",
            "--out",
            str(video),
            "--quiet",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert gen.exit_code == 0, gen.output
    assert probe(video).num_frames == 65
    spec = json.loads(video.with_suffix(".jsonl").read_text())
    assert spec["generation"]["sampler"] == "renoise" and spec["generation"]["steps"] == 4


def test_training_cli_rejects_bad_input(tmp_path, dataset):
    bad = runner.invoke(app, ["model", "train", "base", "--dataset", str(tmp_path), "--out", str(tmp_path / "o")])
    assert bad.exit_code == 2 and "meta/info.json" in bad.output
    bad = runner.invoke(app, ["model", "train", "base", "--dataset", str(dataset), "--num-frames", "16"])
    assert bad.exit_code == 2 and "4k + 1" in bad.output
    bad = runner.invoke(app, ["model", "train", "self-forcing", "--dataset", str(dataset), "--init", str(tmp_path)])
    assert bad.exit_code == 2 and "no text encoder or VAE found" in bad.output


def test_ema_weights_are_saved_and_become_the_final_model(dataset, tmp_path):
    from safetensors.torch import load_file

    config = TrainConfig(dataset=str(dataset), out=str(tmp_path), steps=2, lr=3e-3, ema=0.5, save_every=2, **SMALL)
    train_base(config, progress=False)
    ckpt = tmp_path / "checkpoints" / "step-000002"
    raw, ema = load_file(str(ckpt / "model.safetensors")), load_file(str(ckpt / "ema.safetensors"))
    key = "dit.head.head.weight"
    assert not torch.equal(raw[key], ema[key])
    from yume_model.checkpoint import load_yume

    final = load_yume(tmp_path / "final" / "transformer")
    torch.testing.assert_close(final.state_dict()[key], ema[key])


def test_keep_last_prunes_old_checkpoints_and_resume_still_works(dataset, tmp_path):
    config = TrainConfig(dataset=str(dataset), out=str(tmp_path), steps=4, save_every=1, keep_last=2, **SMALL)
    train_base(config, progress=False)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert kept == ["step-000003", "step-000004"]
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step-000004"
    more = TrainConfig(dataset=str(dataset), out=str(tmp_path), steps=5, save_every=1, keep_last=2, **SMALL)
    assert train_base(more, resume=True, progress=False)["start_step"] == 4
