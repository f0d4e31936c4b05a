"""Yume-Bench dimensions, registered by name (imported lazily on first use)."""

from yumebench.metrics.base import DIMENSIONS, Dimension, MissingWeights, Requirements, WeightFile

DIMENSIONS.register(
    "instruction_following",
    "yumebench.metrics.instruction_following:InstructionFollowing",
    description="Does the camera obey the commanded keys and mouse? Estimated from the frames (OpenCV), CPU.",
)

DIMENSIONS.register(
    "subject_consistency",
    "yumebench.metrics.quality:SubjectConsistency",
    description="VBench subject consistency: DINO ViT-B/16 CLS features, first- and previous-frame cosine.",
)
DIMENSIONS.register(
    "background_consistency",
    "yumebench.metrics.quality:BackgroundConsistency",
    description="VBench background consistency: CLIP ViT-B/32 image embeddings, same formula.",
)
DIMENSIONS.register(
    "motion_smoothness",
    "yumebench.metrics.quality:MotionSmoothness",
    description="VBench motion smoothness: AMT-S predicts each odd frame from its neighbours; (255 - MAE) / 255.",
)
DIMENSIONS.register(
    "aesthetic_quality",
    "yumebench.metrics.quality:AestheticQuality",
    description="VBench aesthetic quality: LAION linear head on CLIP ViT-L/14 embeddings, / 10.",
)

DIMENSIONS.register(
    "imaging_quality",
    "yumebench.metrics.quality:ImagingQuality",
    description="VBench imaging quality: MUSIQ (SPAQ) mean opinion score per frame, / 100 in aggregate.",
)

__all__ = ["DIMENSIONS", "Dimension", "MissingWeights", "Requirements", "WeightFile"]
