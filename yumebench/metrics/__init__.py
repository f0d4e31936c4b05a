"""Yume-Bench dimensions, registered by name (imported lazily on first use)."""

from yumebench.metrics.base import DIMENSIONS, Dimension, MissingWeights, Requirements, WeightFile

DIMENSIONS.register(
    "instruction_following",
    "yumebench.metrics.instruction_following:InstructionFollowing",
    description="Does the camera obey the commanded keys and mouse? Estimated from the frames (OpenCV), CPU.",
)

__all__ = ["DIMENSIONS", "Dimension", "MissingWeights", "Requirements", "WeightFile"]
