"""The release folder as downloaded: Wan's native umT5 (``models_t5_umt5-xxl-enc-bf16.pth``) and VAE
(``Wan2.2_VAE.pth``) converted on load, equal to the official modules (golden outputs of stdstu12/YUME's
``wan23/modules/t5.py`` and ``vae2_2.py``; how they were made: golden/released/README.md)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from yume_model.checkpoint import read_torch_weights
from yume_model.text import NATIVE_T5_FILE, NATIVE_TOKENIZER_DIR, TextEncoder, clean_prompt, umt5_from_native
from yume_model.vae import NATIVE_VAE_FILE, StreamingDecoder, decode, encode_pixels, load_vae, vae_from_native

GOLDEN = Path(__file__).parent / "golden" / "released" / "native_t5_vae_golden.safetensors"


@pytest.fixture(scope="module")
def golden():
    return load_file(str(GOLDEN))


def _native(golden, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in golden.items() if k.startswith(prefix)}


def test_umt5_from_the_native_file_equals_the_official_encoder(golden, tmp_path):
    """Relative positions past max_dist 128 (150 tokens) and a padded text, read back from a .pth."""
    torch.save(_native(golden, "t5.weight."), tmp_path / NATIVE_T5_FILE)  # bf16, as the release ships it
    model = umt5_from_native(read_torch_weights(tmp_path / NATIVE_T5_FILE), torch.float32)
    with torch.no_grad():
        hidden = model(input_ids=golden["t5.ids"], attention_mask=golden["t5.mask"]).last_hidden_state
    for i, n in enumerate(golden["t5.mask"].sum(dim=1).tolist()):
        expected = golden[f"t5.out.{i}"]
        assert expected.shape[0] == n
        assert float((hidden[i, :n] - expected).abs().max()) < 1e-5


def test_wan22_vae_from_the_native_file_equals_the_official_vae(golden, tmp_path):
    """Encode (9 frames -> 3 latents; the image over 17 frames -> 5), decode in one go and block by block."""
    torch.save(_native(golden, "vae.weight."), tmp_path / NATIVE_VAE_FILE)
    state = read_torch_weights(tmp_path / NATIVE_VAE_FILE)
    vae = vae_from_native(state, golden["vae.mean"].tolist(), golden["vae.std"].tolist())
    assert vae.config.base_dim == 4 and vae.config.decoder_base_dim == 6 and vae.config.num_res_blocks == 1
    latents = encode_pixels(vae, golden["vae.video"])
    assert float((latents - golden["vae.latents"]).abs().max()) < 1e-4
    first = golden["vae.video"][:, :, :1].expand(-1, -1, 17, -1, -1).contiguous()
    assert float((encode_pixels(vae, first) - golden["vae.image_latents17"]).abs().max()) < 1e-4
    expected = golden["vae.decoded_raw"].clamp(-1, 1)  # Wan2_2_VAE.decode clamps
    assert float((decode(vae, golden["vae.latents"]) - expected).abs().max()) < 1e-4
    stream = StreamingDecoder(vae)
    blocks = torch.cat([stream(golden["vae.latents"][:, :, :1]), stream(golden["vae.latents"][:, :, 1:])], dim=2)
    assert float((blocks - expected).abs().max()) < 1e-4
    with pytest.raises(ValueError, match="48 channels"):  # a 4-channel VAE has no Wan2.2 statistics
        load_vae(tmp_path)


def test_prompts_are_cleaned_as_wan_does():
    assert clean_prompt("  a  rainy\n\tstreet &amp;amp; a café ") == "a rainy street & a café"
    assert clean_prompt("cafÃ©") == "café"  # mojibake repaired (ftfy)


class _Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def test_a_pth_that_would_run_code_is_refused(tmp_path, capsys):
    from yume_model.checkpoint import CheckpointError

    torch.save({"x": _Payload()}, tmp_path / NATIVE_VAE_FILE)
    with pytest.raises(CheckpointError, match="refused, it holds more than tensors"):
        read_torch_weights(tmp_path / NATIVE_VAE_FILE)
    assert "this ran" not in capsys.readouterr().out


def _word_tokenizer(folder: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", "a", "street", "city", "rain", "&", "café", "forest"]
    vocab = {w: i for i, w in enumerate(words + [f"w{i}" for i in range(vocab_size - len(words))])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    ).save_pretrained(folder)


def _release_folder(golden, root: Path) -> Path:
    """Yume-5B-720P's layout at tiny size: the DiT (native config + safetensors, no tscm_config.json),
    Wan2.2_VAE.pth (the official VAE key set with 48 latent channels), the bf16 umT5 .pth and
    google/umt5-xxl/."""
    from yume_model.checkpoint import save_checkpoint
    from yume_model.config import preset
    from yume_model.transformer import WanDiT

    torch.manual_seed(0)
    dit = WanDiT(replace(preset("tiny"), in_dim=48, out_dim=48))
    save_checkpoint(dit, root)
    vae = _native(golden, "vae.weight.")
    z_shapes = {  # the keys whose shape follows z_dim (golden: 4) -> 48 channels
        "conv1.weight": (96, 96, 1, 1, 1), "conv1.bias": (96,), "conv2.weight": (48, 48, 1, 1, 1),
        "conv2.bias": (48,), "encoder.head.2.bias": (96,),
        "encoder.head.2.weight": (96, *vae["encoder.head.2.weight"].shape[1:]),
        "decoder.conv1.weight": (vae["decoder.conv1.weight"].shape[0], 48, 3, 3, 3),
    }  # fmt: skip
    gen = torch.Generator().manual_seed(4)
    vae.update({k: torch.randn(shape, generator=gen) * 0.05 for k, shape in z_shapes.items()})
    torch.save(vae, root / NATIVE_VAE_FILE)
    torch.save(_native(golden, "t5.weight."), root / NATIVE_T5_FILE)
    _word_tokenizer(root / NATIVE_TOKENIZER_DIR, golden["t5.weight.token_embedding.weight"].shape[0])
    return root


def test_the_release_folder_loads_as_downloaded_and_generates(golden, tmp_path):
    from typer.testing import CliRunner

    from yume_model.pipeline import YumePipeline
    from yumebench.cli import app
    from yumebench.video import probe

    release = _release_folder(golden, tmp_path / "Yume-5B-720P")
    assert not (release / "tscm_config.json").exists() and not (release / "vae").exists()
    pipe = YumePipeline.from_pretrained(release)
    assert pipe.transformer.tscm.mode == "released"
    assert pipe.vae.config.z_dim == 48 and pipe.vae.config.latents_std[1] == pytest.approx(1.0364)
    # the native encoder behind the tokenizer: the same numbers as the converted model on the cleaned text
    encoded = pipe.text_encoder.encode(["a  street &amp; rain"])[0]
    ids = pipe.text_encoder.tokenizer(["a street & rain"], return_tensors="pt")["input_ids"]
    direct = umt5_from_native(_native(golden, "t5.weight."))(input_ids=ids).last_hidden_state[0]
    torch.testing.assert_close(encoded, direct, atol=1e-5, rtol=0)

    out = tmp_path / "v.mp4"
    args = ["model", "generate", "--weights", str(release), "--prompt", "a street", "--actions", "W,·;D,→"]
    args += ["--resolution", "64x96", "--out", str(out), "--quiet", "--cache-dir", str(tmp_path / "cache")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert probe(out).num_frames == 29 + 32  # T2V block 0 makes 8 latents (29 frames) in released mode
    assert json.loads(out.with_suffix(".jsonl").read_text())["segments"][-1]["end"] == 61


def test_a_release_folder_without_the_tokenizer_names_what_is_missing(golden, tmp_path):
    torch.save(_native(golden, "t5.weight."), tmp_path / NATIVE_T5_FILE)
    with pytest.raises(FileNotFoundError, match="google/umt5-xxl"):
        TextEncoder.from_pretrained(tmp_path)


def test_coarse_init_flag_derives_the_kernels_of_a_base_checkpoint(tmp_path):
    """A base Wan2.2 folder (no coarse kernels): --coarse-init picks the derivation; official is the
    released mode's default."""
    from yume_model.checkpoint import load_yume, save_checkpoint
    from yume_model.config import preset
    from yume_model.transformer import WanDiT

    torch.manual_seed(0)
    save_checkpoint(WanDiT(preset("tiny")), tmp_path / "base")
    official = load_yume(tmp_path / "base")
    average = load_yume(tmp_path / "base", coarse_init="average")
    base = official.dit.patch_embedding.weight
    trilinear = torch.nn.functional.interpolate(base, size=(1, 16, 16), mode="trilinear", align_corners=False)
    torch.testing.assert_close(official.coarse_patch["16"].weight, trilinear)
    torch.testing.assert_close(average.coarse_patch["16"].weight.sum(dim=(3, 4)), base.sum(dim=(3, 4)))

    from typer.testing import CliRunner

    from yumebench.cli import app

    args = ["model", "generate", "--prompt", "a", "--actions", "W,·", "--out", str(tmp_path / "v.mp4")]
    result = CliRunner().invoke(app, [*args, "--coarse-init", "bilinear"])
    assert result.exit_code == 2 and "--coarse-init 'bilinear'" in result.output
