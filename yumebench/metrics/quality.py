"""VBench quality dimensions with transformers backbones: subject consistency (DINO ViT-B/16),
background consistency (CLIP ViT-B/32) and aesthetic quality (LAION linear head on CLIP ViT-L/14).

Preprocessing and formulas follow VBench ``master`` @45e79ec as ``../shared/reference/vbench_metrics.md``
records them: tensor resizes without antialias (shorter side to 224; bilinear for DINO, bicubic + centre
crop for CLIP), ImageNet / CLIP normalisation, per frame s_i = (max(0, cos(f_i, f_{i-1})) +
max(0, cos(f_i, f_0))) / 2 for i >= 1, frame-pair-weighted aggregation; aesthetic = linear head on the
L2-normalised CLIP-L embedding, / 10, mean over frames, then over videos.

Known differences from VBench (documented, not hidden):
- DINO through transformers' ``ViTModel``: LayerNorm eps 1e-12 (DINO: 1e-6) and bicubic position-embedding
  interpolation to the exact grid (DINO: scale factor + 0.1 offset): features close, not bit-exact.
- VBench runs CLIP in fp16 on CUDA; here fp32 on CPU (bf16 on GPU): differences of fp16 rounding size.
- Weights are never downloaded at run time: they come from ``--weights`` or the local Hugging Face cache.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from yumebench.metrics.base import Dimension, MissingWeights, Requirements, WeightFile

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
AESTHETIC_HEAD = "sa_0_4_vit_l_14_linear.pth"  # LAION-AI/aesthetic-predictor


# ----------------------------------------------------------------------------------------------------
# Functional core


def resize_shorter(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """x (T, 3, H, W) float 0-255 -> shorter side ``size`` (longer: int(size * long / short)), no antialias."""
    h, w = x.shape[-2:]
    if h <= w:
        out = (size, int(size * w / h))
    else:
        out = (int(size * h / w), size)
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    return F.interpolate(x, size=out, mode=mode, antialias=False, **kwargs)


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return x[..., top : top + size, left : left + size]


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x / 255.0 - m) / s


def dino_preprocess(frames: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.array(frames, copy=True)).permute(0, 3, 1, 2).float()
    return normalize(resize_shorter(x, 224, "bilinear"), IMAGENET_MEAN, IMAGENET_STD)


def clip_preprocess(frames: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.array(frames, copy=True)).permute(0, 3, 1, 2).float()
    return normalize(center_crop(resize_shorter(x, 224, "bicubic"), 224), CLIP_MEAN, CLIP_STD)


def consistency_terms(features: torch.Tensor) -> torch.Tensor:
    """(T, D) features -> (T-1,) s_i = (max(0, cos(f_i, f_{i-1})) + max(0, cos(f_i, f_0))) / 2."""
    f = F.normalize(features.double(), dim=-1)
    prev = (f[1:] * f[:-1]).sum(-1).clamp(min=0)
    first = (f[1:] * f[:1]).sum(-1).clamp(min=0)
    return (prev + first) / 2


def pair_weighted_mean(entries: Sequence[dict]) -> float:
    """Σ over videos of Σ s_i / Σ (N_v - 1), as VBench aggregates on one process."""
    total = sum(e["sum"] for e in entries if e.get("video_results") is not None)
    count = sum(e["pairs"] for e in entries if e.get("video_results") is not None)
    return total / count if count else float("nan")


# ----------------------------------------------------------------------------------------------------
# Weights


def weights_root(weights_dir: str | None) -> Path | None:
    root = weights_dir or os.environ.get("YUMEBENCH_WEIGHTS")
    return Path(root) if root else None


def resolve_hub_folder(hub_id: str, weights_dir: str | None, dimension: str) -> str:
    """``<weights>/<hub id with / as -->`` if present, else the hub id from the local cache only."""
    root = weights_root(weights_dir)
    if root is not None and (root / hub_id.replace("/", "--")).is_dir():
        return str(root / hub_id.replace("/", "--"))
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(hub_id, local_files_only=True)
    except Exception:
        folder = hub_id.replace("/", "--")
        where = f"{root}/{folder}" if root else f"WEIGHTS/{folder}"
        raise MissingWeights(
            f"{dimension}: {hub_id} is not in {where if root else 'a --weights folder'} nor in the Hugging Face "
            f"cache; get it with: huggingface-cli download {hub_id} --local-dir {where} (then pass --weights "
            f"{root or 'WEIGHTS'})"
        ) from None


def sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_of_folder(path: str) -> dict[str, str]:
    """Checksums of a model folder's weight files (recorded in the results' meta)."""
    files = [f for pattern in ("*.safetensors", "*.bin", "*.pth") for f in sorted(Path(path).glob(pattern))]
    return {f.name: sha256_file(f) for f in files}


# ----------------------------------------------------------------------------------------------------
# Dimensions


class _Backbone(Dimension):
    hub_id: str
    checksums: dict[str, str]

    def _device_dtype(self) -> tuple[str, torch.dtype]:
        return self.device, (torch.float32 if self.device == "cpu" else torch.bfloat16)

    def _load(self, model_cls, **kwargs):
        """The backbone from ``--weights`` or the local cache, on this dimension's device and dtype."""
        path = resolve_hub_folder(self.hub_id, self.weights_dir, self.name)
        device, dtype = self._device_dtype()
        self.checksums = sha256_of_folder(path)
        return model_cls.from_pretrained(path, **kwargs).to(device, dtype).eval()

    def _embed(self, model, pixels: torch.Tensor, fn) -> torch.Tensor:
        device, dtype = self._device_dtype()
        outs = []
        with torch.no_grad():
            for start in range(0, len(pixels), self.batch_size):
                batch = pixels[start : start + self.batch_size].to(device, dtype)
                outs.append(fn(model, batch).float().cpu())
        return torch.cat(outs)

    def _clip_features(self, frames: np.ndarray) -> torch.Tensor:
        return self._embed(self.model, clip_preprocess(frames), lambda m, b: m(pixel_values=b).image_embeds)

    def weight_checksums(self) -> dict[str, str]:
        return self.checksums


class _Consistency(_Backbone):
    """First- and previous-frame feature similarity, frame-pair-weighted over videos."""

    def features(self, frames: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def score_video(self, frames: np.ndarray, item: dict) -> dict:
        terms = consistency_terms(self.features(frames))
        return {"video_results": float(terms.mean()), "sum": float(terms.sum()), "pairs": len(terms)}

    def aggregate(self, entries: Sequence[dict]) -> float:
        return pair_weighted_mean(entries)


class SubjectConsistency(_Consistency):
    name = "subject_consistency"
    hub_id = "facebook/dino-vitb16"
    requirements = Requirements(
        frame_size="shorter side 224, bilinear, no antialias, no crop",
        weights=(WeightFile("facebook--dino-vitb16", "facebook/dino-vitb16"),),
        devices=("cpu", "cuda"),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from transformers import ViTModel

        self.model = self._load(ViTModel, add_pooling_layer=False)

    def features(self, frames: np.ndarray) -> torch.Tensor:
        return self._embed(
            self.model,
            dino_preprocess(frames),
            lambda m, b: m(pixel_values=b, interpolate_pos_encoding=True).last_hidden_state[:, 0],
        )


class BackgroundConsistency(_Consistency):
    name = "background_consistency"
    hub_id = "openai/clip-vit-base-patch32"
    requirements = Requirements(
        frame_size="shorter side 224, bicubic, no antialias, centre crop 224",
        weights=(WeightFile("openai--clip-vit-base-patch32", "openai/clip-vit-base-patch32"),),
        devices=("cpu", "cuda"),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from transformers import CLIPVisionModelWithProjection

        self.model = self._load(CLIPVisionModelWithProjection)

    def features(self, frames: np.ndarray) -> torch.Tensor:
        return self._clip_features(frames)


class AestheticQuality(_Backbone):
    name = "aesthetic_quality"
    hub_id = "openai/clip-vit-large-patch14"
    requirements = Requirements(
        frame_size="shorter side 224, bicubic, no antialias, centre crop 224",
        weights=(
            WeightFile("openai--clip-vit-large-patch14", "openai/clip-vit-large-patch14"),
            WeightFile(AESTHETIC_HEAD, "https://github.com/LAION-AI/aesthetic-predictor (sa_0_4_vit_l_14_linear.pth)"),
        ),
        devices=("cpu", "cuda"),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from transformers import CLIPVisionModelWithProjection

        self.model = self._load(CLIPVisionModelWithProjection)
        root = weights_root(self.weights_dir)
        head_path = root / AESTHETIC_HEAD if root else None
        if head_path is None or not head_path.exists():
            raise MissingWeights(
                f"{self.name}: {AESTHETIC_HEAD} is not in {root or '--weights DIR'}; get it from "
                "https://github.com/LAION-AI/aesthetic-predictor and put it there"
            )
        state = torch.load(head_path, map_location="cpu", weights_only=True)
        width = state["weight"].shape[1]
        self.head = torch.nn.Linear(width, 1)
        self.head.load_state_dict(state)  # keys "weight" (1, 768) and "bias" (1,), as LAION ships them
        self.head = self.head.to(self.device).eval()
        self.checksums[AESTHETIC_HEAD] = sha256_file(head_path)

    def score_video(self, frames: np.ndarray, item: dict) -> dict:
        feats = self._clip_features(frames)
        with torch.no_grad():
            scores = self.head(F.normalize(feats, dim=-1).to(self.head.weight.device)).squeeze(-1).cpu() / 10.0
        return {"video_results": float(scores.double().mean())}
