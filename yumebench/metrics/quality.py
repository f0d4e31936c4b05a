"""VBench quality dimensions: subject consistency (DINO ViT-B/16) and background consistency (CLIP
ViT-B/32) and aesthetic quality (LAION linear head on CLIP ViT-L/14) on transformers backbones; motion
smoothness (AMT-S, ``amt.py``) and imaging quality (MUSIQ-SPAQ, ``musiq.py``) on small torch ports that
load the official checkpoints.

Preprocessing and formulas follow VBench ``master`` @45e79ec as ``../shared/reference/vbench_metrics.md``
records them: tensor resizes without antialias (shorter side to 224; bilinear for DINO, bicubic + centre
crop for CLIP), ImageNet / CLIP normalisation, per frame s_i = (max(0, cos(f_i, f_{i-1})) +
max(0, cos(f_i, f_0))) / 2 for i >= 1, frame-pair-weighted aggregation; aesthetic = linear head on the
L2-normalised CLIP-L embedding, / 10, mean over frames, then over videos; motion smoothness = AMT-S
predicts every odd frame from its even neighbours, video score (255 - MAE) / 255 on uint8 frames;
imaging quality = MUSIQ MOS per frame (longer side capped at 512, bilinear, no antialias), mean over
frames on the 0-100 scale, dimension score mean over videos / 100.

Frames are batched across videos: ``score_videos`` gets several decoded videos and fills every backbone
batch with frames from all of them (grouped by frame size); scores do not depend on the batch size
(tested). On a CPU, AMT-S and MUSIQ run one frame at a time (``cpu_batch_limit``): measured, batches of
16 run them at half speed there; the transformers backbones gain little from batching on a CPU either.

Known differences from VBench (documented, not hidden):
- DINO through transformers' ``ViTModel``, made to compute what DINO's own model does: LayerNorm eps 1e-6
  (the hub conversion's config says 1e-12) and DINO's position-embedding interpolation (scale factor with
  the + 0.1 offset; transformers interpolates to the exact grid). Left: VBench runs DINO in fp32 on a GPU,
  here fp16 there (fp32 on CPU, as VBench).
- CLIP: fp16 on a GPU and fp32 on a CPU, as VBench; VBench keeps CLIP's LayerNorms in fp32 inside the fp16
  model, transformers runs them in fp16 (its CUDA kernel accumulates in fp32).
- Weights are never downloaded at run time: they come from ``--weights`` or the local Hugging Face cache.
- Motion smoothness pads frames to multiples of 16 with replicate padding split evenly on both sides
  (AMT's ``InputPadder``); VBench's CPU branch runs at full resolution, as here. The uint8 conversion
  truncates, as VBench does. VBench decodes with OpenCV for this dimension, the runner once with decord:
  on our H.264 files both give identical frames (measured: 0 difference over 17 frames at 256x448).
- Imaging quality: MUSIQ's bicubic rescales use ``F.interpolate`` exactly as pyiqa does; none known.
"""

from __future__ import annotations

import math
import os
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from yumebench.files import sha256_file
from yumebench.metrics.base import Dimension, MissingWeights, Requirements, WeightFile

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
AESTHETIC_HEAD = "sa_0_4_vit_l_14_linear.pth"  # LAION-AI/aesthetic-predictor
AESTHETIC_HEAD_URL = f"https://github.com/LAION-AI/aesthetic-predictor/raw/main/{AESTHETIC_HEAD}"  # VBench's source
AMT_S = "amt-s.pth"  # huggingface.co/lalala125/AMT, a copy of the MCG-NKU/AMT release
MUSIQ_SPAQ = "musiq_spaq_ckpt-358bb6af.pth"  # IQA-PyTorch release v0.1-weights / chaofengc/IQA-PyTorch-Weights


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
    """torchvision's ``CenterCrop``: a side shorter than ``size`` is first zero-padded, split as evenly as
    it goes (after VBench's int() sizing a 'shorter side 512' frame can come out 511 high)."""
    h, w = x.shape[-2:]
    if h < size or w < size:
        dh, dw = max(size - h, 0), max(size - w, 0)
        x = F.pad(x, (dw // 2, (dw + 1) // 2, dh // 2, (dh + 1) // 2))
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


def dino_position_embeddings(embeddings, tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """DINO's own position-embedding interpolation, bound in place of transformers' on the ViT's embeddings.

    facebookresearch/dino ``vision_transformer.py::interpolate_pos_encoding`` (what VBench's torch.hub model
    runs): bicubic with the scale factor (n + 0.1) / sqrt(N) per side, not transformers' exact target size.
    Both give an n-patch grid, but the source coordinates differ, so non-square frames get other positions.
    """
    table = embeddings.position_embeddings  # (1, 1 + N, D)
    n = table.shape[1] - 1
    if tokens.shape[1] - 1 == n and height == width:
        return table
    side = math.isqrt(n)
    rows, cols = height // embeddings.patch_size + 0.1, width // embeddings.patch_size + 0.1
    grid = table[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(rows / side, cols / side), mode="bicubic")
    return torch.cat([table[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, table.shape[-1])], dim=1)


def clip_preprocess(frames: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.array(frames, copy=True)).permute(0, 3, 1, 2).float()
    return normalize(center_crop(resize_shorter(x, 224, "bicubic"), 224), CLIP_MEAN, CLIP_STD)


def consistency_terms(features: torch.Tensor) -> torch.Tensor:
    """(T, D) features -> (T-1,) s_i = (max(0, cos(f_i, f_{i-1})) + max(0, cos(f_i, f_0))) / 2."""
    f = F.normalize(features.double(), dim=-1)
    prev = (f[1:] * f[:-1]).sum(-1).clamp(min=0)
    first = (f[1:] * f[:1]).sum(-1).clamp(min=0)
    return (prev + first) / 2


def midpoint_pairs(num_frames: int) -> list[tuple[int, int, int]]:
    """(previous even, odd target, next even) frame indices VBench's motion smoothness compares: with N
    frames the even frames 0, 2, ... are kept and each odd frame between two kept ones is predicted."""
    return [(i - 1, i, i + 1) for i in range(1, num_frames - 1, 2)]


def amt_size_problem(height: int, width: int) -> str | None:
    """Why AMT-S cannot take frames of this size, or None. Padded to multiples of 16, each side must reach
    64 px: the encoder's coarsest level (1/32) must keep 2 cells for the pooling after it."""
    padded = [math.ceil(side / 16) * 16 for side in (height, width)]
    if min(padded) < 64:
        return f"frames of {height}x{width} are too small for AMT-S (each side must be at least 49 px)"
    return None


def to_uint8_truncated(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats -> uint8 by x255, clip and truncation (VBench's ``img.numpy().astype(np.uint8)``)."""
    return (x * 255.0).clamp(0, 255).to(torch.uint8)


def smoothness_from_mae(mae: Sequence[float]) -> float:
    """Video score (255 - mean MAE) / 255; MAE per predicted frame over H x W x 3 on the 0-255 scale."""
    return (255.0 - float(np.mean(mae))) / 255.0


IMAGING_MODES = ("longer", "shorter", "shorter_centercrop", "None")  # VBench's imaging_quality_preprocessing_mode


def imaging_preprocess(frames: np.ndarray, mode: str = "longer", side: int = 512) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (T, 3, h, w) in [0, 1], as VBench's ``imaging_quality.transform``:
    'longer' (the default) caps the longer side at ``side``; 'shorter' caps the shorter side, and
    'shorter_centercrop' then crops a ``side`` square; 'None' keeps the frames as they are. A resize is to
    int(s h) x int(s w), bilinear, no antialias."""
    if mode not in IMAGING_MODES:
        raise ValueError(f"imaging quality preprocessing mode {mode!r} is none of {', '.join(IMAGING_MODES)}")
    x = torch.from_numpy(np.array(frames, copy=True)).permute(0, 3, 1, 2).float()
    if mode == "None":
        return x / 255.0
    h, w = x.shape[-2:]
    bound = max(h, w) if mode == "longer" else min(h, w)
    if bound > side:
        s = side / bound
        x = F.interpolate(x, size=(int(s * h), int(s * w)), mode="bilinear", align_corners=False, antialias=False)
        if mode == "shorter_centercrop":
            x = center_crop(x, side)
    return x / 255.0


def pair_weighted_mean(entries: Sequence[dict]) -> float:
    """Σ over videos of Σ s_i / Σ (N_v - 1), as VBench aggregates on one process."""
    total = sum(e["sum"] for e in entries if e.get("video_results") is not None)
    count = sum(e["pairs"] for e in entries if e.get("video_results") is not None)
    return total / count if count else float("nan")


def batched_map(tensors: Sequence[torch.Tensor], batch_size: int, fn) -> list[torch.Tensor]:
    """Apply ``fn`` to the rows of several tensors in shared batches of ``batch_size`` rows, grouping
    tensors whose rows have the same shape, and split the results back per tensor. The frames of many
    videos thus fill each backbone batch."""
    results: list[torch.Tensor | None] = [None] * len(tensors)
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault(tuple(t.shape[1:]), []).append(i)
    for members in groups.values():
        rows = torch.cat([tensors[i] for i in members])
        outs = torch.cat([fn(rows[s : s + batch_size]) for s in range(0, len(rows), batch_size)])
        for i, part in zip(members, outs.split([len(tensors[i]) for i in members]), strict=True):
            results[i] = part
    return results


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


def resolve_file(name: str, weights_dir: str | None, dimension: str, hub_repo: str | None, url: str) -> Path:
    """``<weights>/<name>``, else the file from ``hub_repo`` in the local Hugging Face cache only; else
    ``MissingWeights`` with the command that fetches it (``url`` when the file is not on the hub)."""
    root = weights_root(weights_dir)
    if root is not None and (root / name).is_file():
        return root / name
    if hub_repo is not None:
        try:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(hub_repo, name, local_files_only=True))
        except Exception:
            pass
    where = root or "WEIGHTS"
    fetch = (
        f"huggingface-cli download {hub_repo} {name} --local-dir {where}"
        if hub_repo
        else f"curl -L -o {where}/{name} {url}"
    )
    raise MissingWeights(
        f"{dimension}: {name} is not in {root or 'a --weights folder'}"
        + (" nor in the Hugging Face cache" if hub_repo else "")
        + f"; get it with: {fetch} (then pass --weights {where})"
    )


def sha256_of_folder(path: str) -> dict[str, str]:
    """Checksums of a model folder's weight files (recorded in the results' meta)."""
    files = [f for pattern in ("*.safetensors", "*.bin", "*.pth") for f in sorted(Path(path).glob(pattern))]
    return {f.name: sha256_file(f) for f in files}


# ----------------------------------------------------------------------------------------------------
# Dimensions


class _Backbone(Dimension):
    hub_id: str

    def _device_dtype(self) -> tuple[str, torch.dtype]:
        # VBench's precision where we can: fp32 on a CPU, and fp16 on a GPU, which is what OpenAI's CLIP
        # package runs there (bf16 would round 8x more coarsely)
        return self.device, (torch.float32 if self.device == "cpu" else torch.float16)

    def _load(self, model_cls, **kwargs):
        """The backbone from ``--weights`` or the local cache, on this dimension's device and dtype."""
        path = resolve_hub_folder(self.hub_id, self.weights_dir, self.name)
        device, dtype = self._device_dtype()
        self.checksums = sha256_of_folder(path)
        return model_cls.from_pretrained(path, **kwargs).to(device, dtype).eval()

    def _embed(self, model, pixels: Sequence[torch.Tensor], fn) -> list[torch.Tensor]:
        device, dtype = self._device_dtype()
        with torch.no_grad():
            return batched_map(pixels, self.batch_size, lambda b: fn(model, b.to(device, dtype)).float().cpu())

    def _clip_features(self, videos: Sequence[np.ndarray]) -> list[torch.Tensor]:
        pixels = [clip_preprocess(f) for f in videos]
        return self._embed(self.model, pixels, lambda m, b: m(pixel_values=b).image_embeds)


class _Consistency(_Backbone):
    """First- and previous-frame feature similarity, frame-pair-weighted over videos."""

    def features(self, videos: Sequence[np.ndarray]) -> list[torch.Tensor]:
        raise NotImplementedError

    def score_videos(self, videos: Sequence[tuple[np.ndarray, dict]]) -> list[dict]:
        out = []
        for feats in self.features([frames for frames, _ in videos]):
            terms = consistency_terms(feats)
            if len(terms) == 0:  # VBench divides by zero here; a single frame has no consistency to measure
                out.append({"video_results": None, "note": "fewer than 2 frames", "sum": 0.0, "pairs": 0})
                continue
            out.append({"video_results": float(terms.mean()), "sum": float(terms.sum()), "pairs": len(terms)})
        return out

    def aggregate(self, entries: Sequence[dict]) -> float:
        return pair_weighted_mean(entries)


class SubjectConsistency(_Consistency):
    name = "subject_consistency"
    version = "2"  # 2: DINO's own LayerNorm eps and position interpolation; scores cached by 1 are not reused
    hub_id = "facebook/dino-vitb16"
    requirements = Requirements(
        frame_size="shorter side 224, bilinear, no antialias, no crop",
        weights=(WeightFile("facebook--dino-vitb16", "facebook/dino-vitb16"),),
        devices=("cpu", "cuda"),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from transformers import ViTModel

        # The hub conversion of DINO says LayerNorm eps 1e-12; the DINO model VBench loads uses 1e-6.
        self.model = self._load(ViTModel, add_pooling_layer=False, layer_norm_eps=1e-6)
        embeddings = self.model.embeddings
        embeddings.interpolate_pos_encoding = types.MethodType(dino_position_embeddings, embeddings)

    def features(self, videos: Sequence[np.ndarray]) -> list[torch.Tensor]:
        return self._embed(
            self.model,
            [dino_preprocess(f) for f in videos],
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

    def features(self, videos: Sequence[np.ndarray]) -> list[torch.Tensor]:
        return self._clip_features(videos)


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
        head_path = resolve_file(AESTHETIC_HEAD, self.weights_dir, self.name, None, AESTHETIC_HEAD_URL)
        state = torch.load(head_path, map_location="cpu", weights_only=True)
        width = state["weight"].shape[1]
        self.head = torch.nn.Linear(width, 1)
        self.head.load_state_dict(state)  # keys "weight" (1, 768) and "bias" (1,), as LAION ships them
        self.head = self.head.to(self.device).eval()
        self.checksums[AESTHETIC_HEAD] = sha256_file(head_path)

    def score_videos(self, videos: Sequence[tuple[np.ndarray, dict]]) -> list[dict]:
        out = []
        for feats in self._clip_features([frames for frames, _ in videos]):
            with torch.no_grad():
                scores = self.head(F.normalize(feats, dim=-1).to(self.head.weight.device)).squeeze(-1).cpu() / 10.0
            out.append({"video_results": float(scores.double().mean())})
        return out


class MotionSmoothness(Dimension):
    name = "motion_smoothness"
    # measured (bench/quality_speed.py, 2 cores): AMT-S at batch 16 runs at half the speed of batch 1 on a CPU
    cpu_batch_limit = 1
    requirements = Requirements(
        frame_size="native, replicate-padded to multiples of 16",
        weights=(WeightFile(AMT_S, "https://huggingface.co/lalala125/AMT (amt-s.pth)"),),
        devices=("cpu", "cuda"),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from yumebench.metrics.amt import load_amt_s

        path = resolve_file(AMT_S, self.weights_dir, self.name, "lalala125/AMT", "")
        self.model = load_amt_s(path, self.device)  # fp32 on every device, as VBench
        self.checksums = {AMT_S: sha256_file(path)}

    def score_videos(self, videos: Sequence[tuple[np.ndarray, dict]]) -> list[dict]:
        from yumebench.metrics.amt import pad_to, unpad

        # one (before, after) pair per predicted frame, from every video; predicted batch_size pairs at a time
        pairs, targets, notes = [], [], []
        for frames, _ in videos:
            x = torch.from_numpy(np.array(frames, copy=True)).permute(0, 3, 1, 2)
            triples = midpoint_pairs(len(frames))
            notes.append(amt_size_problem(*x.shape[-2:]) or ("fewer than 3 frames" if not triples else None))
            if notes[-1] is not None:
                triples = []
            pairs.append(torch.stack([torch.stack([x[a], x[b]]) for a, _, b in triples]) if triples else None)
            targets.append(x[[t for _, t, _ in triples]] if triples else None)

        def predict(batch: torch.Tensor) -> torch.Tensor:  # (n, 2, 3, H, W) uint8 -> (n, 3, H, W) uint8
            imgs = batch.float().div(255.0).to(self.device)
            img0, pad = pad_to(imgs[:, 0])
            img1, _ = pad_to(imgs[:, 1])
            embt = torch.full((len(batch), 1, 1, 1), 0.5, device=self.device)
            with torch.no_grad():
                mid = self.model(img0, img1, embt)
            return to_uint8_truncated(unpad(mid, pad)).cpu()

        present = [p for p in pairs if p is not None]
        predicted = iter(batched_map(present, self.effective_batch_size, predict))
        out = []
        for p, target, note in zip(pairs, targets, notes, strict=True):
            if p is None:
                out.append({"video_results": None, "note": note})
                continue
            pred = next(predicted)
            mae = (pred.int() - target.int()).abs().float().mean(dim=(1, 2, 3)).tolist()
            out.append({"video_results": smoothness_from_mae(mae), "frames_predicted": len(mae)})
        return out


class ImagingQuality(Dimension):
    name = "imaging_quality"
    cpu_batch_limit = 1  # as AMT-S: MUSIQ's convolutions over thousands of patches thrash the CPU caches
    requirements = Requirements(
        frame_size="longer side capped at 512 (bilinear, no antialias; VBench's other modes: shorter, "
        "shorter_centercrop, None); MUSIQ rescales to 224 and 384 inside",
        weights=(
            WeightFile(
                MUSIQ_SPAQ,
                "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",
            ),
        ),
        devices=("cpu", "cuda"),
    )

    def __init__(self, preprocessing_mode: str = "longer", **kwargs) -> None:
        super().__init__(**kwargs)
        from yumebench.metrics.musiq import load_musiq

        if preprocessing_mode not in IMAGING_MODES:
            raise ValueError(f"imaging_quality: preprocessing mode {preprocessing_mode!r} is none of {IMAGING_MODES}")
        self.preprocessing_mode = preprocessing_mode

        path = resolve_file(MUSIQ_SPAQ, self.weights_dir, self.name, "chaofengc/IQA-PyTorch-Weights", "")
        self.model = load_musiq(path, self.device)  # fp32, as VBench
        self.checksums = {MUSIQ_SPAQ: sha256_file(path)}

    def score_videos(self, videos: Sequence[tuple[np.ndarray, dict]]) -> list[dict]:
        def mos(batch: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return self.model(batch.to(self.device)).double().cpu()

        frames = [imaging_preprocess(f, self.preprocessing_mode) for f, _ in videos]
        scores = batched_map(frames, self.effective_batch_size, mos)
        return [{"video_results": float(s.mean())} for s in scores]  # 0-100 per video, as VBench stores it

    def config(self) -> dict:
        return {"preprocessing_mode": self.preprocessing_mode}

    def aggregate(self, entries: Sequence[dict]) -> float:
        values = [e["video_results"] for e in entries if e.get("video_results") is not None]
        return float(np.mean(values)) / 100.0 if values else float("nan")
