"""Instruction following on rendered scenes with known camera paths (depth variety: a room with boxes)."""

import numpy as np
import pytest

from yumebench.actions import KEYS, MOUSE, Action
from yumebench.metrics.camera_motion import OpenCVMotionEstimator
from yumebench.metrics.instruction_following import IFConfig, accuracy_tables, score_segments, wilson_interval
from yumebench.synthetic import DEGRADATIONS, degrade, random_segment_video

NUM_VIDEOS = 12  # 36 segments: every key class and every mouse class 4 times, in varied pairs


def _actions(v: int) -> list[Action]:
    ks = [3 * v + j for j in range(3)]
    return [Action(KEYS[k % 9], MOUSE[(4 * k + k // 9) % 9]) for k in ks]


@pytest.fixture(scope="module")
def rendered():
    return [random_segment_video(_actions(v), seed=500 + v) for v in range(NUM_VIDEOS)]


@pytest.fixture(scope="module")
def estimator():
    return OpenCVMotionEstimator(IFConfig().motion)


def _score(rendered, estimator, kind="clean", shuffle=False):
    results = []
    perm = np.random.default_rng(7).permutation(3 * NUM_VIDEOS)
    flat = [s for _, segs in rendered for s in segs]
    for i, (frames, segs) in enumerate(rendered):
        if shuffle:
            other = [flat[perm[3 * i + j]] for j in range(len(segs))]
            segs = [{**s, "keys": o["keys"], "mouse": o["mouse"]} for s, o in zip(segs, other, strict=True)]
        video = frames if kind == "clean" else degrade(frames, kind, seed=i)
        results += score_segments(video, segs, estimator, IFConfig())
    return accuracy_tables(results)


def test_coverage_of_every_class():
    segs = [a for v in range(NUM_VIDEOS) for a in _actions(v)]
    assert {a.keys for a in segs} == set(KEYS) and {a.mouse for a in segs} == set(MOUSE)
    assert min(sum(a.keys == k for a in segs) for k in KEYS) >= 4


def test_accuracy_on_known_paths_across_all_classes(rendered, estimator):
    table = _score(rendered, estimator)
    assert table["segment_accuracy"] >= 0.9, table["confusion"]
    assert min(table["keys_accuracy"].values()) >= 0.75, table["keys_accuracy"]
    assert min(table["mouse_accuracy"].values()) >= 0.75, table["mouse_accuracy"]
    assert table["keys_accuracy"]["None"] >= 0.75  # static and rotation-only segments


def test_shuffled_commands_score_low(rendered, estimator):
    assert _score(rendered, estimator, shuffle=True)["segment_accuracy"] <= 0.3


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_accuracy_holds_under_degradation(rendered, estimator, kind):
    table = _score(rendered, estimator, kind)
    assert table["segment_accuracy"] >= 0.85, (kind, table["confusion"])


def test_static_camera_is_idle(estimator):
    frames, segs = random_segment_video([Action("None", "·")], seed=3)
    result = score_segments(frames, segs, estimator, IFConfig())[0]
    assert result["predicted"] == {"keys": "None", "mouse": "·"} and result["correct"]


def test_deterministic(rendered, estimator):
    frames, segs = rendered[0]
    a = score_segments(frames, segs, estimator, IFConfig())
    b = score_segments(frames, segs, OpenCVMotionEstimator(IFConfig().motion), IFConfig())
    assert a == b


def test_grey_frames_score_as_their_rgb_frames(rendered, estimator):
    import cv2

    frames, segs = rendered[1]
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    assert score_segments(grey, segs, estimator, IFConfig()) == score_segments(frames, segs, estimator, IFConfig())


def test_wilson_interval_known_answers():
    """Wilson's interval (95 %): 15 of 18 spans 0.608-0.942 (as scipy.stats.binomtest's Wilson interval),
    0 of 10 reaches up to 0.278 and 10 of 10 down to 0.722 (the normal approximation has zero width at
    both ends)."""
    assert wilson_interval(15, 18) == pytest.approx((0.6078, 0.9416), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    table = accuracy_tables(
        [
            {
                "correct": c,
                "expected": {"keys": "W", "mouse": "·"},
                "predicted": {"keys": "W", "mouse": "·"},
                "components": dict.fromkeys(("forward", "strafe", "yaw", "pitch"), c),
                "motion": {"decision": "translation"},
            }
            for c in [True] * 15 + [False] * 3
        ]
    )
    assert table["segment_accuracy_95"] == pytest.approx((0.6078, 0.9416), abs=1e-4)


def test_a_videos_rotation_threshold_rises_to_its_deformation_angle():
    """Known answers: the published threshold where no segment measures a deformation (a still camera,
    or an estimator that does not measure one) or where the deformation angle times the factor stays
    under it; otherwise that product over the video's median angle (segments without one left out)."""
    import math
    from types import SimpleNamespace

    from yumebench.metrics.instruction_following import rotation_threshold_deg

    published = math.degrees(1e-3)
    config = IFConfig(turn_above_deformation=1.5)

    def motions(*angles):
        return [SimpleNamespace(deformation_deg=a) for a in angles]

    assert rotation_threshold_deg(motions(None, None), config) == published
    assert rotation_threshold_deg([SimpleNamespace(), SimpleNamespace()], config) == published
    assert rotation_threshold_deg(motions(0.01, 0.02, 0.03), config) == published  # 1.5 x 0.02 < 0.0573
    assert rotation_threshold_deg(motions(0.1, None, 0.3, 0.2), config) == pytest.approx(1.5 * 0.2)
    assert rotation_threshold_deg(motions(0.1, 0.3), config) == pytest.approx(1.5 * 0.2)
    off = IFConfig(turn_above_deformation=0.0)
    assert rotation_threshold_deg(motions(0.1, 0.3), off) == published
