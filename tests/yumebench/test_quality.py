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
    from yumebench.metrics.amt import AMTS
    from yumebench.metrics.musiq import MUSIQ

    # laid out as the official files are: {"state_dict": ...} for AMT-S, pyiqa's {"params": ...} for MUSIQ
    torch.save({"state_dict": AMTS().state_dict()}, root / "amt-s.pth")
    musiq = MUSIQ(hidden_size=48, mlp_dim=64, num_layers=2)  # small; the sizes are read back from the tensors
    torch.save({"params": musiq.state_dict()}, root / "musiq_spaq_ckpt-358bb6af.pth")
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


def plain_dino_cls(state, x, heads, eps=1e-6):
    """DINO's ViT forward written out (facebookresearch/dino vision_transformer.py): patch embedding, DINO's
    position interpolation ((n + 0.1) / sqrt(N) scale factor), pre-norm blocks, final norm, CLS token."""
    F = torch.nn.functional
    patch = state["embeddings.patch_embeddings.projection.weight"]
    tokens = F.conv2d(x, patch, state["embeddings.patch_embeddings.projection.bias"], stride=patch.shape[-1])
    b, d = len(x), patch.shape[0]
    tokens = torch.cat([state["embeddings.cls_token"].expand(b, -1, -1), tokens.flatten(2).transpose(1, 2)], 1)
    pos = state["embeddings.position_embeddings"]
    side = int((pos.shape[1] - 1) ** 0.5)
    h0, w0 = x.shape[2] // patch.shape[-1] + 0.1, x.shape[3] // patch.shape[-1] + 0.1
    grid = pos[:, 1:].reshape(1, side, side, d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(h0 / side, w0 / side), mode="bicubic")
    tokens = tokens + torch.cat([pos[:, :1], grid.flatten(2).transpose(1, 2)], 1)
    n = tokens.shape[1]

    def norm(t, key):
        return F.layer_norm(t, (d,), state[key + ".weight"], state[key + ".bias"], eps)

    def linear(t, key):
        return F.linear(t, state[key + ".weight"], state[key + ".bias"])

    layers = len({k.split(".")[1] for k in state if k.startswith("layers.")})
    for i in range(layers):
        k = f"layers.{i}."
        h = norm(tokens, k + "layernorm_before")
        q, key, v = (linear(h, k + f"attention.{p}_proj").reshape(b, n, heads, -1).transpose(1, 2) for p in "qkv")
        attn = ((q @ key.transpose(-1, -2)) * (d // heads) ** -0.5).softmax(-1) @ v
        tokens = tokens + linear(attn.transpose(1, 2).reshape(b, n, d), k + "attention.o_proj")
        tokens = tokens + linear(F.gelu(linear(norm(tokens, k + "layernorm_after"), k + "mlp.fc1")), k + "mlp.fc2")
    return norm(tokens, "layernorm")[:, 0]


def test_subject_consistency_matches_dino_written_out(tmp_path, video):
    # Small activations (weights scaled down) make LayerNorm's eps matter: 1e-6 (DINO) and 1e-12 (the hub
    # config) give different features here, and the 200x120 frames need the position interpolation.
    torch.manual_seed(1)
    dino = ViTModel(
        ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, patch_size=16),
        add_pooling_layer=False,
    )
    with torch.no_grad():
        for name, param in dino.embeddings.named_parameters():
            param.mul_(1e-3 if "patch" in name or "cls" in name else 2e-3)
    dino.save_pretrained(tmp_path / "facebook--dino-vitb16")
    dim = DIMENSIONS.build("subject_consistency", weights_dir=str(tmp_path), batch_size=4)
    x = plain_resize(video, "bilinear", crop=False)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    assert x.shape[-2:] == (224, 373)  # shorter side to 224, no crop
    state = dino.state_dict()
    with torch.no_grad():
        expected = plain_dino_cls(state, x, heads=2)
        stock = dino.eval()(pixel_values=x, interpolate_pos_encoding=True).last_hidden_state[:, 0]
    got = dim.features([video])[0]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(stock, expected, rtol=1e-2, atol=1e-4)  # the stock hub model would differ
    assert dim.score_video(video, {})["video_results"] == pytest.approx(np.mean(plain_consistency(expected)), abs=1e-6)


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


def test_bench_run_counts_only_scored_videos_and_says_why_the_others_are_not(weights, tmp_path):
    from typer.testing import CliRunner

    from yumebench.cli import app

    rng = np.random.default_rng(0)
    write_mp4(tmp_path / "one.mp4", rng.integers(0, 255, (1, 64, 96, 3), dtype=np.uint8), 16)
    write_mp4(tmp_path / "fine.mp4", rng.integers(0, 255, (3, 64, 96, 3), dtype=np.uint8), 16)
    (tmp_path / "spec.jsonl").write_text(
        "".join(json.dumps({"id": i, "video": f"{i}.mp4"}) + "\n" for i in ("one", "fine"))
    )
    args = ["bench", "run", "--spec", str(tmp_path / "spec.jsonl"), "--videos", str(tmp_path), "--quiet"]
    args += ["--dims", "subject_consistency", "--weights", str(weights), "--out", str(tmp_path / "r.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "not scored subject_consistency one: fewer than 2 frames" in result.output
    assert "1/2" in result.output


# --- motion smoothness (AMT-S port) and imaging quality (MUSIQ port) ---------------------------------


def test_ports_have_the_official_key_names_and_sizes():
    from yumebench.metrics.amt import AMTS
    from yumebench.metrics.musiq import MUSIQ

    amt = AMTS().state_dict()
    for key in (
        "feat_encoder.conv1.weight",
        "feat_encoder.layer2.0.downsample.0.weight",
        "encoder.pyramid4.1.1.weight",
        "decoder4.convblock.0.0.weight",
        "decoder1.convblock.1.conv5.weight",
        "decoder1.convblock.2.weight",
        "update2.gru.2.weight",
        "update4.flow_head.2.bias",
        "comb_block.1.weight",
    ):
        assert key in amt, key
    assert sum(v.numel() for v in amt.values()) == pytest.approx(2.99e6, rel=0.01)  # AMT paper: 2.99 M
    musiq = MUSIQ().state_dict()
    for key in (
        "conv_root.weight",
        "block1.conv_proj.weight",
        "block1.gn_proj.bias",
        "embedding.weight",
        "transformer_encoder.cls",
        "transformer_encoder.posembed_input.position_emb",
        "transformer_encoder.scaleembed_input.scale_emb",
        "transformer_encoder.transformer.encoderblock_13.attention.query.weight",
        "transformer_encoder.transformer.encoderblock_13.mlp.fc2.bias",
        "transformer_encoder.encoder_norm.weight",
        "head.weight",
    ):
        assert key in musiq, key
    assert musiq["transformer_encoder.posembed_input.position_emb"].shape == (1, 100, 384)
    assert sum(v.numel() for v in musiq.values()) == pytest.approx(27e6, rel=0.01)  # MUSIQ paper: 27 M


def test_motion_smoothness_matches_a_plain_reimplementation(weights, video):
    import cv2

    from yumebench.metrics.amt import load_amt_s

    dim = DIMENSIONS.build("motion_smoothness", weights_dir=str(weights), batch_size=3)
    dim.cpu_batch_limit = None  # batches of 3 pairs, compared with the one-pair-at-a-time loop below
    got = dim.score_video(video, {})["video_results"]
    model = load_amt_s(weights / "amt-s.pth")
    maes = []
    for i in range(1, len(video) - 1, 2):  # VBench: keep even frames, predict each odd one between them
        a, b = (torch.tensor(video[j]).permute(2, 0, 1)[None].float() / 255 for j in (i - 1, i + 1))
        h, w = a.shape[-2:]
        ph, pw = (16 - h % 16) % 16, (16 - w % 16) % 16
        pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        a, b = (torch.nn.functional.pad(t, pad, mode="replicate") for t in (a, b))
        with torch.no_grad():
            mid = model(a, b, torch.tensor(0.5).view(1, 1, 1, 1))
        mid = mid[..., pad[2] : pad[2] + h, pad[0] : pad[0] + w]
        pred = (mid[0].permute(1, 2, 0).numpy() * 255).clip(0, 255).astype(np.uint8)
        maes.append(cv2.absdiff(pred, video[i]).mean())
    # batching changes float rounding, which can flip a truncated uint8 value by 1 in a rare pixel
    assert got == pytest.approx((255 - np.mean(maes)) / 255, abs=1e-6)


def test_motion_smoothness_sees_a_stutter(weights):
    """With a perfect linear interpolator a linear fade scores ~1; odd frames that jump score lower."""
    dim = DIMENSIONS.build("motion_smoothness", weights_dir=str(weights))

    class Blend(torch.nn.Module):
        def forward(self, img0, img1, embt):
            return (1 - embt) * img0 + embt * img1

    dim.model = Blend()
    ramp = np.linspace(0, 200, 9)[:, None, None, None] * np.ones((9, 64, 64, 3))
    smooth = ramp.astype(np.uint8)
    stutter = smooth.copy()
    stutter[1::2] = smooth[1::2] // 2  # every odd frame drops back: a flicker the interpolator cannot predict
    assert dim.score_video(smooth, {})["video_results"] > 0.995
    assert dim.score_video(stutter, {})["video_results"] < 0.9


def test_videos_a_dimension_cannot_measure_get_none_and_a_reason(weights):
    """One frame has no consistency, AMT-S needs 3 frames of at least 49 px a side: None and a note (VBench
    would divide by zero or crash), and the dimension's score comes from the other videos alone."""
    rng = np.random.default_rng(0)
    one_frame = rng.integers(0, 255, (1, 64, 96, 3), dtype=np.uint8)
    fine = rng.integers(0, 255, (3, 64, 96, 3), dtype=np.uint8)
    for name in ("subject_consistency", "background_consistency"):
        dim = DIMENSIONS.build(name, weights_dir=str(weights))
        alone, entry = (e for e in dim.score_videos([(one_frame, {}), (fine, {})]))
        assert alone == {"video_results": None, "note": "fewer than 2 frames", "sum": 0.0, "pairs": 0}
        assert dim.aggregate([alone, entry]) == pytest.approx(entry["video_results"])
    dim = DIMENSIONS.build("motion_smoothness", weights_dir=str(weights))
    too_small, smallest, short = (rng.integers(0, 255, (3, h, 100, 3), dtype=np.uint8) for h in (48, 49, 49))
    got = dim.score_videos([(too_small, {}), (smallest, {}), (short[:2], {})])
    assert got[0] == {
        "video_results": None,
        "note": "frames of 48x100 are too small for AMT-S (each side must be at least 49 px)",
    }
    assert 0 < got[1]["video_results"] <= 1
    assert got[2] == {"video_results": None, "note": "fewer than 3 frames"}


def test_imaging_quality_matches_a_plain_reimplementation(weights):
    from yumebench.metrics.musiq import load_musiq

    frames, _ = random_segment_video([Action("W", "·")], seed=3, frames_per_segment=4, width=640, height=360)
    dim = DIMENSIONS.build("imaging_quality", weights_dir=str(weights), batch_size=2)
    dim.cpu_batch_limit = None
    entry = dim.score_video(frames, {})
    model = load_musiq(weights / "musiq_spaq_ckpt-358bb6af.pth")
    scores = []
    for frame in frames:  # VBench 'longer' mode: longer side to 512 when above, bilinear, no antialias
        x = torch.tensor(frame).permute(2, 0, 1)[None].float()
        s = 512 / 640
        x = torch.nn.functional.interpolate(x, size=(int(s * 360), int(s * 640)), mode="bilinear", antialias=False)
        with torch.no_grad():
            scores.append(float(model(x / 255.0)))
    assert entry["video_results"] == pytest.approx(np.mean(scores), rel=1e-5)
    assert dim.aggregate([entry, entry]) == pytest.approx(np.mean(scores) / 100, rel=1e-5)  # 0-100 per video


def test_imaging_preprocessing_modes_follow_vbench(weights, tmp_path):
    """VBench's four imaging_quality_preprocessing_mode values, written out again. 561 rows: int(512 / 561
    * 561) is 511, so 'shorter_centercrop' must zero-pad a row as torchvision's CenterCrop does."""
    from yumebench.cli.bench import ImagingMode
    from yumebench.metrics.quality import IMAGING_MODES, imaging_preprocess

    assert tuple(m.value for m in ImagingMode) == IMAGING_MODES
    frames = np.random.default_rng(0).integers(0, 255, (2, 561, 800, 3), dtype=np.uint8)
    x = torch.tensor(frames).permute(0, 3, 1, 2).float()

    def resized(scale):
        size = (int(scale * 561), int(scale * 800))
        return torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=False) / 255

    shorter = resized(512 / 561)
    assert shorter.shape[-2:] == (511, 730)
    cropped = torch.nn.functional.pad(shorter, (0, 0, 0, 1))[..., :, 109 : 109 + 512]
    expected = {"longer": resized(512 / 800), "shorter": shorter, "shorter_centercrop": cropped, "None": x / 255}
    for mode, want in expected.items():
        torch.testing.assert_close(imaging_preprocess(frames, mode), want, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="'longest' is none of"):
        DIMENSIONS.build("imaging_quality", weights_dir=str(weights), preprocessing_mode="longest")

    # through bench run: the mode reaches the dimension, its results' meta and its cache key
    from typer.testing import CliRunner

    from yumebench.cli import app

    write_mp4(tmp_path / "v.mp4", frames[:, :, :720], 16)
    (tmp_path / "spec.jsonl").write_text(json.dumps({"id": "v", "video": "v.mp4"}) + "\n")
    scores = {}
    for mode in ("longer", "shorter"):
        args = ["bench", "run", "--spec", str(tmp_path / "spec.jsonl"), "--videos", str(tmp_path), "--quiet"]
        args += ["--dims", "imaging_quality", "--weights", str(weights), "--out", str(tmp_path / "r.json")]
        result = CliRunner().invoke(app, args + ["--imaging-quality-preprocessing-mode", mode])
        assert result.exit_code == 0, result.output
        saved = json.loads((tmp_path / "r.json").read_text())
        assert saved["meta"]["dimension_config"]["imaging_quality"] == {"preprocessing_mode": mode}
        scores[mode] = saved["imaging_quality"][1][0]["video_results"]
    assert scores["longer"] != scores["shorter"]  # not the cached score of the other mode


def test_musiq_dropping_padding_patches_changes_nothing(weights):
    """pyiqa runs the padding patches of the 224/384 scales through the network behind a mask; the port
    drops them. The score must be the same as running the whole masked sequence."""
    from yumebench.metrics.musiq import load_musiq, multiscale_patches, same_padding

    model = load_musiq(weights / "musiq_spaq_ckpt-358bb6af.pth")
    image = torch.rand(2, 3, 180, 320)
    seq = multiscale_patches((image - 0.5) * 2, model.patch_size, model.grid, model.longer_side_lengths)
    mask = seq[:, :, -1]
    assert (mask == 0).sum() > 0.2 * mask.numel()  # there is padding to drop at this size
    with torch.no_grad():
        b, n, _ = seq.shape
        x = seq[:, :, :-3].reshape(-1, 3, model.patch_size, model.patch_size)
        x = torch.relu(model.gn_root(model.conv_root(x)))
        x = torch.nn.functional.max_pool2d(same_padding(x, 3, 2), 3, 2)
        x = model.block1(x).permute(0, 2, 3, 1).reshape(b, n, -1)
        x = model.transformer_encoder(model.embedding(x), seq[:, :, -3], seq[:, :, -2], mask)
        full = model.head(x[:, 0])[:, 0]
        dropped = model(image)
    torch.testing.assert_close(dropped, full, rtol=1e-5, atol=1e-5)


def test_all_quality_dimensions_batch_across_videos_identically(weights, video):
    other = video[::-1].copy()
    small = video[:, :64, :96].copy()  # another frame size: grouped separately
    for name in (
        "subject_consistency",
        "background_consistency",
        "aesthetic_quality",
        "motion_smoothness",
        "imaging_quality",
    ):
        one = DIMENSIONS.build(name, weights_dir=str(weights), batch_size=1)
        many = DIMENSIONS.build(name, weights_dir=str(weights), batch_size=7)
        many.cpu_batch_limit = None  # exercise real batches even where the CPU default is one frame
        alone = [one.score_video(v, {})["video_results"] for v in (video, other, small)]
        together = [e["video_results"] for e in many.score_videos([(video, {}), (other, {}), (small, {})])]
        assert together == pytest.approx(alone, abs=1e-5), name


def test_runner_groups_videos_without_changing_scores(weights, video, tmp_path):
    for k in range(3):
        write_mp4(tmp_path / f"v{k}.mp4", np.roll(video, k, axis=0), 16)
    spec = "".join(json.dumps({"id": f"v{k}", "video": f"v{k}.mp4", "segments": []}) + "\n" for k in range(3))
    (tmp_path / "s.jsonl").write_text(spec)
    dims = ["background_consistency", "motion_smoothness"]
    results = []
    for group in (1, 3):
        config = BenchConfig(dims=dims, weights_dir=str(weights), progress=False, videos_per_batch=group)
        results.append(run_bench(tmp_path / "s.jsonl", tmp_path, tmp_path / f"r{group}.json", config).results)
    for name in dims:
        assert [r["video_results"] for r in results[0][name][1]] == pytest.approx(
            [r["video_results"] for r in results[1][name][1]], abs=1e-6
        )


def test_other_weights_never_reuse_cached_scores(weights, video, tmp_path):
    import shutil

    write_mp4(tmp_path / "v.mp4", video, 16)
    (tmp_path / "s.jsonl").write_text(json.dumps({"id": "v", "video": "v.mp4", "segments": []}) + "\n")
    other = tmp_path / "other_weights"
    shutil.copytree(weights, other)
    torch.save({"weight": torch.randn(1, 16), "bias": torch.tensor([1.0])}, other / "sa_0_4_vit_l_14_linear.pth")
    scores = []
    for root in (weights, other):  # same output file and cache: the second run must score again
        config = BenchConfig(dims=["aesthetic_quality"], weights_dir=str(root), progress=False)
        scores.append(run_bench(tmp_path / "s.jsonl", tmp_path, tmp_path / "r.json", config).results)
    assert scores[0]["aesthetic_quality"][0] != scores[1]["aesthetic_quality"][0]
