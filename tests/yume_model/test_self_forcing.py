"""Self-Forcing against the official recipe: golden outputs of guandeh17/Self-Forcing's own DMD code
(tests/yume_model/golden/self_forcing/, how they were made is in its README), the exit-step draw, the
critic's data, the EMA and a two-process run that must neither hang nor differ from one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from yume_model import self_forcing as sf
from yume_model.self_forcing import SelfForcingConfig

GOLDEN = load_file(str(Path(__file__).parent / "golden" / "self_forcing" / "self_forcing_golden.safetensors"))


def _official_layout(t: torch.Tensor) -> torch.Tensor:
    """[B, F, C, H, W] (Self-Forcing) -> [B, C, F, H, W] (yumebench)."""
    return t.permute(0, 2, 1, 3, 4)


def test_dmd_noise_levels_match_the_official_distribution_exactly():
    """All 1000 equiprobable draws t in 0..999 of the official randint(0, 1000), through our mapping."""
    ours = torch.tensor(sorted(sf.sigma_of_draw(t, 5.0) for t in range(1000)), dtype=torch.float64)
    official = torch.sort(GOLDEN["dmd_sigmas"]).values
    torch.testing.assert_close(ours, official, atol=1e-6, rtol=0)
    q = torch.tensor([0.01, 0.1, 0.5, 0.9], dtype=torch.float64)
    torch.testing.assert_close(torch.quantile(ours, q), torch.quantile(official, q), atol=1e-6, rtol=0)
    assert float((official < 0.093).double().mean()) == pytest.approx(0.021)  # clamping first never goes there
    assert official.min() < 0.02 and official.max() < 0.981
    draws = [sf.dmd_sigma(5.0, torch.Generator().manual_seed(s)) for s in range(200)]
    assert set(draws) <= set(ours.tolist())  # the sampler draws from exactly that distribution


def test_guided_real_score_and_dmd_gradient_equal_the_official():
    real_cond, real_uncond = GOLDEN["kl_real_cond"], GOLDEN["kl_real_uncond"]
    real = sf.guided(real_cond, real_uncond, 3.0)
    grad = sf.dmd_gradient(
        _official_layout(GOLDEN["kl_clean"]), _official_layout(GOLDEN["kl_fake"]), _official_layout(real)
    )
    torch.testing.assert_close(grad, _official_layout(GOLDEN["kl_grad"]), atol=1e-6, rtol=1e-6)
    # the previous convention (uncond + w (cond - uncond)) needs w = 4 for the same guidance; w = 3 is 8-10 % off
    wan = real_uncond + 3.0 * (real_cond - real_uncond)
    assert (wan - real).abs().max() > 0.05 * real.abs().max()


@pytest.mark.parametrize("dtype", ["f32", "bf16"])
def test_dmd_loss_and_gradient_equal_the_official(dtype):
    video = GOLDEN[f"loss_video_{dtype}"].to(torch.bfloat16 if dtype == "bf16" else torch.float32)
    video = _official_layout(video).detach().requires_grad_(True)
    grad_in = _official_layout(GOLDEN[f"loss_grad_in_{dtype}"]).to(video.dtype)
    loss = sf.dmd_objective(video, grad_in)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(float(GOLDEN[f"loss_{dtype}"]), rel=1e-12)
    torch.testing.assert_close(
        video.grad.double(), _official_layout(GOLDEN[f"loss_video_grad_{dtype}"]), atol=1e-12, rtol=1e-6
    )


def test_the_float64_target_keeps_small_gradients_that_bf16_rounds_away():
    video = (torch.randn(1, 4, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 3).to(torch.bfloat16)
    grad = torch.full(video.shape, 1e-3, dtype=torch.bfloat16)
    lost = ((video - grad).double() == video.double()).double().mean()  # what forming the target in bf16 does
    assert lost > 0.3
    v = video.detach().requires_grad_(True)
    sf.dmd_objective(v, grad).backward()
    torch.testing.assert_close(v.grad.double(), grad.double() / grad.numel(), rtol=1e-6, atol=0)


def test_exit_steps_are_shared_by_a_rollout_unless_per_chunk():
    per_rollout = SelfForcingConfig(init="x", chunks=6, denoising_steps=4)
    per_chunk = SelfForcingConfig(init="x", chunks=6, denoising_steps=4, exit_step="per-chunk")
    shared = [sf.draw_exit_steps(per_rollout, torch.Generator().manual_seed(s)) for s in range(20)]
    assert all(len(set(s)) == 1 for s in shared) and len({s[0] for s in shared}) > 1
    varied = [sf.draw_exit_steps(per_chunk, torch.Generator().manual_seed(s)) for s in range(20)]
    assert any(len(set(s)) > 1 for s in varied)
    with pytest.raises(ValueError, match="exit-step"):
        SelfForcingConfig(init="x", exit_step="per-rank")


def test_critic_noise_level_is_one_per_video_from_the_official_recipe():
    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.t = []

        def forward(self, x, t, context, history):
            self.t.append(float(t))
            return torch.zeros_like(x)

    fake = Recorder()
    config = SelfForcingConfig(init="x")
    video = torch.zeros(1, 4, 6, 2, 2)
    sf.critic_loss(fake, video, None, [2, 2, 2], None, torch.Generator().manual_seed(3), config)
    assert len(fake.t) == 3 and len(set(fake.t)) == 1  # one level for the whole video
    assert 20.0 - 0.5 <= fake.t[0] <= 980.0


def test_generator_ema_is_the_official_update():
    """ema <- 0.99 ema + 0.01 current for float tensors (Self-Forcing's EMA_FSDP), copied otherwise."""
    ema = {"w": torch.full((3,), 2.0), "n": torch.tensor([1])}
    sf._update_ema(ema, {"w": torch.full((3,), 4.0), "n": torch.tensor([5])}, 0.99)
    torch.testing.assert_close(ema["w"], torch.full((3,), 0.99 * 2.0 + 0.01 * 4.0))
    assert ema["n"].item() == 5
    with pytest.raises(ValueError, match="ema-decay"):
        SelfForcingConfig(init="x", ema_decay=1.0)


def test_the_unconditional_text_is_the_encoded_negative_prompt():
    from yume_model.pipeline import YumePipeline

    pipe = YumePipeline.tiny()
    config = SelfForcingConfig(init="x")
    uncond = sf._negative_context(pipe, config)
    text_len = pipe.transformer.dit.config.text_len
    encoded = pipe.text_encoder.encode([config.negative_prompt])[0][:text_len]
    assert uncond.shape == (1, text_len, encoded.shape[-1]) and uncond.abs().sum() > 0  # not an all-zero context
    torch.testing.assert_close(uncond[0, : encoded.shape[0]], encoded)
    assert config.negative_prompt == sf.WAN_NEGATIVE_PROMPT and config.real_guidance == 3.0  # the official defaults


def _inputs(tmp_path: Path) -> tuple[str, str]:
    """A tiny dataset built by the pipeline and a tiny random pipeline to distil."""
    from data_pipeline.builder import build
    from data_pipeline.process import BuildConfig
    from tests.data_pipeline.conftest import make_inputs
    from yume_model.pipeline import YumePipeline

    inputs = make_inputs(tmp_path / "raw")
    build(inputs["manifest"], tmp_path / "ds", BuildConfig(min_frames=17), progress=False)
    YumePipeline.tiny().save_pretrained(tmp_path / "init")
    return str(tmp_path / "ds"), str(tmp_path / "init")


@pytest.mark.slow
def test_two_gloo_processes_run_the_same_passes_and_equal_one_process(tmp_path):
    """Under torchrun (gloo, 2 ranks, batch 2 split) every rank runs the same number of generator calls
    each step, the run finishes, and its losses equal a single-process run on the same data."""
    dataset, init = _inputs(tmp_path)
    args = [
        "model", "train", "self-forcing", "--dataset", dataset, "--init", init, "--steps", "4", "--chunks", "3",
        "--chunk-latents", "2", "--denoising-steps", "4", "--num-frames", "17", "--resolution", "64x64",
        "--generator-every", "2", "--batch-size", "2", "--ema-start", "2", "--quiet", "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    one = subprocess.run(
        [sys.executable, "-m", "yumebench.cli", *args, "--out", str(tmp_path / "one")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    cmd = ["torchrun", "--standalone", "--nproc-per-node", "2", "--no-python", sys.executable, "-m", "yumebench.cli"]
    two = subprocess.run(
        [*cmd, *args, "--out", str(tmp_path / "two")], capture_output=True, text=True, env=env, timeout=300
    )
    assert two.returncode == 0, two.stderr[-3000:]
    logs = {
        n: [json.loads(ln) for ln in (tmp_path / n / "train_log.jsonl").read_text().splitlines()]
        for n in ("one", "two")
    }
    for record in logs["two"]:
        assert len(record["generator_calls"]) == 2 and len(set(record["generator_calls"])) == 1
    assert [r["exit_steps"] for r in logs["two"]] == [r["exit_steps"] for r in logs["one"]]
    assert len({s for r in logs["one"] for s in r["exit_steps"]}) > 1  # the draws differ between steps
    for a, b in zip(logs["one"], logs["two"], strict=True):
        assert b["critic_loss"] == pytest.approx(a["critic_loss"], rel=1e-4)
        assert (a["dmd_loss"] is None) == (b["dmd_loss"] is None)
        if a["dmd_loss"] is not None:
            assert b["dmd_loss"] == pytest.approx(a["dmd_loss"], rel=1e-4)
    assert [r["ema"] for r in logs["two"]] == [False, True, True, True]
    # the critic trains on its own batch (official): drawn apart from the generator's, so they differ
    assert any(r["clips"] and r["critic_clips"] != r["clips"] for r in logs["one"])
    assert all(r["clips"] == [] for r in logs["one"][1::2])  # --generator-every 2: critic-only steps
