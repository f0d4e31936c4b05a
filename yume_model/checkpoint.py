"""Load and save DiT checkpoints: native Wan format (``config.json`` + sharded safetensors, the layout of
``Wan-AI/Wan2.2-TI2V-5B`` and ``stdstu123/Yume-5B-720P``) and diffusers format (converted on load).

Key renames follow diffusers' ``scripts/convert_wan_to_diffusers.py`` (``backbone.md`` §1.3); note that
diffusers' block ``norm2`` is the native cross-attention ``norm3``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from yume_model.config import DiTConfig
from yume_model.transformer import WanDiT, rope_table

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
INDEX_NAME = "diffusion_pytorch_model.safetensors.index.json"

# (native, diffusers) key fragments; "{n}" is a block index and a trailing "$" means the whole key.
# Diffusers' block norm2 is the native cross-attention norm3 (the FFN norms carry no parameters).
_RENAMES: list[tuple[str, str]] = [
    ("time_embedding.0.", "condition_embedder.time_embedder.linear_1."),
    ("time_embedding.2.", "condition_embedder.time_embedder.linear_2."),
    ("time_projection.1.", "condition_embedder.time_proj."),
    ("text_embedding.0.", "condition_embedder.text_embedder.linear_1."),
    ("text_embedding.2.", "condition_embedder.text_embedder.linear_2."),
    *[
        (f"blocks.{{n}}.{native}.{a}.", f"blocks.{{n}}.{ours}.{b}.")
        for native, ours in (("self_attn", "attn1"), ("cross_attn", "attn2"))
        for a, b in (
            ("q", "to_q"),
            ("k", "to_k"),
            ("v", "to_v"),
            ("o", "to_out.0"),
            ("norm_q", "norm_q"),
            ("norm_k", "norm_k"),
        )
    ],
    ("blocks.{n}.norm3.", "blocks.{n}.norm2."),
    ("blocks.{n}.ffn.0.", "blocks.{n}.ffn.net.0.proj."),
    ("blocks.{n}.ffn.2.", "blocks.{n}.ffn.net.2."),
    ("blocks.{n}.modulation$", "blocks.{n}.scale_shift_table$"),
    ("head.head.", "proj_out."),
    ("head.modulation$", "scale_shift_table$"),
]


def _compile(template: str) -> re.Pattern[str]:
    whole = template.endswith("$")
    body = re.escape(template.rstrip("$")).replace(re.escape("{n}"), r"(?P<n>\d+)")
    return re.compile("^" + body + ("$" if whole else ""))


_TO_NATIVE = [(_compile(d), n.rstrip("$")) for n, d in _RENAMES]
_TO_DIFFUSERS = [(_compile(n), d.rstrip("$")) for n, d in _RENAMES]


def _rename(key: str, table: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, target in table:
        m = pattern.match(key)
        if m:
            return target.replace("{n}", m.groupdict().get("n") or "") + key[m.end() :]
    return key


def rename_keys(state: dict[str, torch.Tensor], rules: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    """Each key through every ``(pattern, replacement)`` of ``rules`` in order (``re.sub``): the
    conversions of Wan's native umT5 and VAE files, whose rules build on one another."""
    out = {}
    for key, value in state.items():
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def diffusers_to_native(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {_rename(k, _TO_NATIVE): v for k, v in state.items()}


def native_to_diffusers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`diffusers_to_native` (used by tests and for exporting)."""
    return {_rename(k, _TO_DIFFUSERS): v for k, v in state.items()}


class CheckpointError(ValueError):
    """A checkpoint that does not match the model; the message names the keys or the file."""


def read_torch_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A ``torch.save``d state dict, read as tensors only (``weights_only``: a ``.pth`` never runs code
    here), memory-mapped where the file format allows."""
    import pickle

    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # the legacy (non-zip) format cannot be memory-mapped
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: refused, it holds more than tensors ({first[:120]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return state


def _read_state(folder: Path) -> dict[str, torch.Tensor]:
    index = folder / INDEX_NAME
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        files = sorted(p.name for p in folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{folder}: no .safetensors weights")
    state: dict[str, torch.Tensor] = {}
    for name in files:
        path = folder / name
        if not path.exists():
            raise CheckpointError(f"{path}: shard listed in the index is missing")
        state.update(load_file(str(path)))
    return state


def load_checkpoint(
    path: str | Path, dtype: torch.dtype = torch.float32, device: str = "cpu", text_len: int | None = None
) -> WanDiT:
    """A ``WanDiT`` from a native or a diffusers-format folder (or a diffusers repo's ``transformer/``).

    Diffusers configs do not record the text length the pipeline pads to (512 for Wan); pass
    ``text_len`` for a model trained with another one (padding tokens are not inert: the text
    embedding maps zeros to its bias path)."""
    folder = Path(path)
    if (folder / "transformer" / "config.json").exists():
        folder = folder / "transformer"
    config_path = folder / "config.json"
    if not config_path.exists():
        raise CheckpointError(f"{folder}: no config.json (expected a Wan or diffusers checkpoint folder)")
    raw = json.loads(config_path.read_text(encoding="utf-8"))
    is_diffusers = raw.get("_class_name") == "WanTransformer3DModel"
    config = DiTConfig.from_diffusers(raw) if is_diffusers else DiTConfig.from_native(raw)
    if text_len is not None:
        config.text_len = text_len
    state = _read_state(folder)
    if is_diffusers:
        state = diffusers_to_native(state)
    return _build(folder, config, state, dtype).to(device)


def _load_dit_from_state(folder: Path, state: dict[str, torch.Tensor], dtype: torch.dtype) -> WanDiT:
    config_path = folder / "config.json"
    if not config_path.exists():
        raise CheckpointError(f"{folder}: no config.json (expected a Wan or Yume checkpoint folder)")
    return _build(folder, DiTConfig.from_native(json.loads(config_path.read_text(encoding="utf-8"))), state, dtype)


def _build(folder: Path, config: DiTConfig, state: dict[str, torch.Tensor], dtype: torch.dtype) -> WanDiT:
    with torch.device("meta"):
        model = WanDiT(config)
    expected = set(model.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (first: {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys (first: {', '.join(unexpected[:3])})")
        raise CheckpointError(f"{folder}: checkpoint does not match the model: {'; '.join(parts)}")
    for key, value in state.items():
        if tuple(value.shape) != tuple(model.state_dict()[key].shape):
            raise CheckpointError(
                f"{folder}: {key} has shape {tuple(value.shape)}, model expects {tuple(model.state_dict()[key].shape)}"
            )
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, assign=True)
    model._rope = rope_table(config.rope_max_len, config.head_dim, config.rope_theta)  # built on meta above
    return model


def save_checkpoint(model: WanDiT, path: str | Path, max_shard_bytes: int = 5 << 30) -> Path:
    """Write the native format: ``config.json`` and safetensors shards with an index."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_native(), indent=2) + "\n", encoding="utf-8")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, value in state.items():
        nbytes = value.numel() * value.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = value
        size += nbytes
    weight_map = {}
    for i, shard in enumerate(shards):
        name = (
            WEIGHTS_NAME
            if len(shards) == 1
            else f"diffusion_pytorch_model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        )
        save_file(shard, str(folder / name))
        weight_map.update({k: name for k in shard})
    index = {
        "metadata": {"total_size": sum(v.numel() * v.element_size() for v in state.values())},
        "weight_map": weight_map,
    }
    (folder / INDEX_NAME).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return folder


# The released YUME code's names for the coarse Patchify kernels (wan23/modules/model.py) -> rate.
RELEASED_COARSE = {
    "patch_embedding_2x": 4,
    "patch_embedding_4x": 8,
    "patch_embedding_8x": 16,
    "patch_embedding_16x": 32,
}
# The released code's far-past reducer (48 -> 48 channels at (1,4,4)) -> the module holding it.
RELEASED_FAR = "patch_embedding_2x_f"
TSCM_PREFIX = "tscm."


def _split_yume_state(state: dict[str, torch.Tensor]) -> tuple[dict, dict, dict]:
    """DiT keys, Yume keys (coarse Patchify kernels by rate, the far-past reducer) and channel-branch
    keys of a Yume checkpoint: the released 835-key set (825 Wan2.2 + 10) or a yumebench save."""
    dit, coarse, branch = {}, {}, {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head == RELEASED_FAR:
            coarse[f"far_reduce.{rest}"] = value
        elif head in RELEASED_COARSE:
            coarse[f"coarse_patch.{RELEASED_COARSE[head]}.{rest}"] = value
        elif key.startswith(TSCM_PREFIX):
            branch[key[len(TSCM_PREFIX) :]] = value
        else:
            dit[key] = value
    return dit, coarse, branch


def load_yume(
    path: str | Path,
    tscm=None,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    coarse_init: str | None = None,
):
    """A ``YumeTransformer`` from a Wan2.2-TI2V-5B, Yume-5B-720P or yumebench checkpoint.

    Coarse Patchify kernels and channel-branch weights present in the checkpoint are loaded; those
    absent (a base Wan checkpoint) keep their step-0-preserving initialisation, the coarse kernels
    derived from the base kernel by ``coarse_init`` (official: trilinear, as the released code; average)
    when given, else by the TSCM settings' own.
    """
    from dataclasses import replace

    from yume_model.tscm import YumeTransformer

    folder = Path(path)
    if tscm is None:
        tscm = read_tscm_config(folder)
    if coarse_init is not None:
        tscm = replace(tscm, coarse_init=coarse_init)
    state = _read_state(folder)
    dit_state, coarse, branch = _split_yume_state(state)
    model_dit = _load_dit_from_state(folder, dit_state, dtype)
    model = YumeTransformer(model_dit, tscm)
    target = dict(coarse)
    if model.tscm.channel_branch:  # another history mode (full, sliding, spatial) runs without the branch
        target.update(branch)
    own = model.state_dict()
    unknown = sorted(k for k in target if k not in own)
    if unknown:
        raise CheckpointError(f"{folder}: TSCM keys the model does not have: {', '.join(unknown[:3])}")
    for key, value in target.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise CheckpointError(
                f"{folder}: {key} has shape {tuple(value.shape)}, model expects {tuple(own[key].shape)}"
            )
    model.load_state_dict({**own, **{k: v.to(dtype) for k, v in target.items()}})
    return model.to(device)


TSCM_CONFIG = "tscm_config.json"


def read_tscm_config(folder: Path):
    """The TSCM settings saved beside a yumebench checkpoint, else the released code's mode (a Wan or
    Yume release: Yume-5B-720P ships no TSCM settings and runs the released layout)."""
    from yume_model.tscm import TSCMConfig

    path = folder / TSCM_CONFIG
    if not path.exists():  # a Yume release (Yume-5B-720P has none) or a base Wan2.2 checkpoint
        return TSCMConfig(mode="released")
    data = json.loads(path.read_text())
    data["tiers"] = [tuple(t) for t in data.get("tiers", TSCMConfig().tiers)]
    if "channel_patch" in data:
        data["channel_patch"] = tuple(data["channel_patch"])
    return TSCMConfig(**data)


def save_yume(model, path: str | Path) -> Path:
    """The DiT in native format, plus the coarse kernels under the released names and the channel
    branch under ``tscm.``, in one extra shard."""
    folder = save_checkpoint(model.dit, path)
    rate_to_name = {rate: name for name, rate in RELEASED_COARSE.items()}
    extra = {}
    for key, value in model.state_dict().items():
        if key.startswith("dit."):
            continue
        if key.startswith("coarse_patch."):
            rate, _, rest = key[len("coarse_patch.") :].partition(".")
            extra[f"{rate_to_name[int(rate)]}.{rest}"] = value.detach().contiguous().cpu()
        elif key.startswith("far_reduce."):
            extra[f"{RELEASED_FAR}.{key[len('far_reduce.') :]}"] = value.detach().contiguous().cpu()
        else:
            extra[TSCM_PREFIX + key] = value.detach().contiguous().cpu()
    save_file(extra, str(folder / "tscm.safetensors"))
    (folder / TSCM_CONFIG).write_text(json.dumps(asdict(model.tscm), indent=1) + "\n", encoding="utf-8")
    index_path = folder / INDEX_NAME
    index = json.loads(index_path.read_text())
    index["weight_map"].update({k: "tscm.safetensors" for k in extra})
    index_path.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return folder
