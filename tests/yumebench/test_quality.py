"""Quality dimensions on tiny random backbones the test builds and saves itself."""

import json

import numpy as np
import pytest
import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, ViTConfig, ViTModel

from yumebench.actions import Action
from yumebench.bench.runner import BenchConfig, run_bench
from yumebench.metrics import DIMENSIONS, MissingWeights
from yumebench.synthetic import random_segment_video
from yumebench.video import write_mp4


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    vit = ViTConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, image_size=224, patch_size=16
    )
    ViTModel(vit, add_pooling_layer=False).save_pretrained(root / "facebook--dino-vitb16")
    clip = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=224,
        patch_size=32,
        projection_dim=16,
    )
    CLIPVisionModelWithProjection(clip).save_pretrained(root / "openai--clip-vit-base-patch32")
    CLIPVisionModelWithProjection(clip).save_pretrained(root / "openai--clip-vit-large-patch14")
    torch.save({"weight": torch.randn(1, 16), "bias": torch.tensor([5.0])}, root / "sa_0_4_vit_l_14_linear.pth")
    return root


@pytest.fixture(scope="module")
def video():
    frames, _ = random_segment_video([Action("W", "→")], seed=11, frames_per_segment=9, width=200, height=120)
    return frames


def plain_resize(frames, mode, crop):
    """The VBench transform written out again: shorter side 224, no antialias, optional centre crop."""
    x = torch.tensor(frames, dtype=torch.float32).permute(0, 3, 1, 2)
    h, w = x.shape[-2:]
    size = (224, int(224 * w / h)) if h <= w else (int(224 * h / w), 224)
    x = torch.nn.functional.interpolate(x, size=size, mode=mode, align_corners=False, antialias=False)
    if crop:
        top, left = round((x.shape[-2] - 224) / 2), round((x.shape[-1] - 224) / 2)
        x = x[..., top : top + 224, left : left + 224]
    return x / 255.0


def plain_consistency(features):
    scores = []
    for i in range(1, len(features)):
        a = max(0.0, torch.cosine_similarity(features[i], features[i - 1], dim=0).item())
        b = max(0.0, torch.cosine_similarity(features[i], features[0], dim=0).item())
        scores.append((a + b) / 2)
    return scores


def test_subject_consistency_matches_a_plain_reimplementation(weights, video):
    dim = DIMENSIONS.build("subject_consistency", weights_dir=str(weights), batch_size=4)
    x = plain_resize(video, "bilinear", crop=False)
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1
    )
    model = ViTModel.from_pretrained(weights / "facebook--dino-vitb16", add_pooling_layer=False).eval()
    with torch.no_grad():
        feats = model(pixel_values=x, interpolate_pos_encoding=True).last_hidden_state[:, 0]
    expected = np.mean(plain_consistency(feats))
    assert dim.score_video(video, {})["video_results"] == pytest.approx(expected, abs=1e-5)


def test_background_and_aesthetic_match_plain_reimplementations(weights, video):
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    x = (plain_resize(video, "bicubic", crop=True) - mean) / std
    clip_b = CLIPVisionModelWithProjection.from_pretrained(weights / "openai--clip-vit-base-patch32").eval()
    clip_l = CLIPVisionModelWithProjection.from_pretrained(weights / "openai--clip-vit-large-patch14").eval()
    head = torch.load(weights / "sa_0_4_vit_l_14_linear.pth", weights_only=True)
    with torch.no_grad():
        bc = np.mean(plain_consistency(clip_b(pixel_values=x).image_embeds))
        emb = clip_l(pixel_values=x).image_embeds
        emb = emb / emb.norm(dim=-1, keepdim=True)
        aq = ((emb @ head["weight"].T).squeeze(-1) + head["bias"]).mean().item() / 10
    got_bc = DIMENSIONS.build("background_consistency", weights_dir=str(weights)).score_video(video, {})
    got_aq = DIMENSIONS.build("aesthetic_quality", weights_dir=str(weights)).score_video(video, {})
    assert got_bc["video_results"] == pytest.approx(bc, abs=1e-5)
    assert got_aq["video_results"] == pytest.approx(aq, abs=1e-5)


def test_scores_identical_across_batch_sizes(weights, video):
    for name in ("subject_consistency", "background_consistency", "aesthetic_quality"):
        a = DIMENSIONS.build(name, weights_dir=str(weights), batch_size=1).score_video(video, {})
        b = DIMENSIONS.build(name, weights_dir=str(weights), batch_size=7).score_video(video, {})
        assert a["video_results"] == pytest.approx(b["video_results"], abs=1e-6)


def test_consistency_drops_on_a_broken_video(weights, video):
    dim = DIMENSIONS.build("background_consistency", weights_dir=str(weights))
    shuffled = video[np.random.default_rng(0).permutation(len(video))]
    broken = np.concatenate([video[:4], 255 - shuffled[4:]])  # a cut to shuffled, inverted frames
    assert dim.score_video(broken, {})["video_results"] < dim.score_video(video, {})["video_results"]


def test_missing_weights_are_one_line_and_the_dimension_is_skipped(tmp_path, video):
    with pytest.raises(MissingWeights, match="huggingface-cli download facebook/dino-vitb16"):
        DIMENSIONS.build("subject_consistency", weights_dir=str(tmp_path))
    write_mp4(tmp_path / "v.mp4", video, 16)
    (tmp_path / "s.jsonl").write_text(json.dumps({"id": "v", "video": "v.mp4", "segments": []}) + "\n")
    config = BenchConfig(dims=["subject_consistency"], weights_dir=str(tmp_path), progress=False)
    report = run_bench(tmp_path / "s.jsonl", tmp_path, tmp_path / "r.json", config)
    assert "subject_consistency" in report.skipped and "subject_consistency" not in report.results


def test_runner_records_weight_checksums(weights, video, tmp_path):
    write_mp4(tmp_path / "v.mp4", video, 16)
    (tmp_path / "s.jsonl").write_text(json.dumps({"id": "v", "video": "v.mp4", "segments": []}) + "\n")
    config = BenchConfig(dims=["background_consistency", "aesthetic_quality"], weights_dir=str(weights), progress=False)
    results = run_bench(tmp_path / "s.jsonl", tmp_path, tmp_path / "r.json", config).results
    assert len(results["meta"]["weights"]["aesthetic_quality"]["sa_0_4_vit_l_14_linear.pth"]) == 64
    assert 0 <= results["background_consistency"][0] <= 1


def test_bench_weights_lists_presence(weights):
    from typer.testing import CliRunner

    from yumebench.cli import app

    out = CliRunner().invoke(app, ["bench", "weights", "--weights", str(weights)]).output
    assert "instruction_following: no weights needed" in out
    assert "subject_consistency: facebook--dino-vitb16  <- facebook/dino-vitb16  [present]" in out
    assert "sa_0_4_vit_l_14_linear.pth" in out and "sha256" in out
    missing = CliRunner().invoke(app, ["bench", "weights", "--weights", str(weights / "nowhere")]).output
    assert "[MISSING]" in missing
