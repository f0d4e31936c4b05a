"""``instruction_following``: does the generated camera obey the commanded keys and mouse?

Yume-Bench's IF score was judged by people (``../shared/reference/anchors.md`` §1). Here it is
computed: per commanded segment, the camera motion is estimated from the frames
(``yumebench.metrics.camera_motion``) and decoded to keys and mouse with the published rule family
(``yumebench.poses.action_from_motion``), adapted to what two views can give:

- translation is known only up to scale, so keys fire on the *unit* direction (|x| or |z| above
  ``direction_threshold``, the scale-free ``direction`` rule of ``yumebench.poses``), and only when the
  segment shows parallax (rotation alone cannot explain the tracks);
- rotation thresholds are the published 1e-3 rad per frame pair, in degrees per frame (0.0573), raised
  in a video whose world deforms enough to fake a turn of that size (below).

A segment is correct when all four components (forward/back, left/right, yaw, pitch) match. A segment
whose frames carry too little evidence (sky only, black frames) is **undetermined**: predicted as
``?``, scored as not followed and counted in the results (per video and per run). The video score is
the fraction of correct segments; the dimension is the mean over videos, with per-component and
per-class accuracy beside it.

Where the camera's horizontal field of view is known (a model that renders at a fixed FOV), give it:
``fov_deg`` for the run (``yumebench bench run --fov``) or per spec item (its ``fov_deg``, which wins).
Every segment is then measured at it instead of self-calibrating the focal length, the estimate a
deforming world disturbs first.

Generated worlds deform, and the estimate assumes they do not. Each segment and video therefore also
reports its scene deformation (``deformation_px``, ``camera_motion.epipolar_deformation_px``); a video
past ``IFConfig.deforming_above_px`` is flagged ``deforming`` and the run's summary counts such videos:
it says how far to trust the score (calibration in ``docs/instruction_following.md``, "How far a world
deforms"). The deformation also sets a floor under the video's turns: a deforming world moves its
pixels as a slow turn would, so a turn counts only above ``IFConfig.turn_above_deformation`` times the
video's deformation angle (``rotation_threshold_deg``; a rigid world stays far below the published
threshold's 0.057 deg).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from yumebench.actions import COMPONENT_NAMES, Action
from yumebench.metrics.base import Dimension, Requirements
from yumebench.metrics.camera_motion import (
    CameraMotionEstimator,
    DepthConsistency,
    MotionConfig,
    OpenCVMotionEstimator,
    SegmentMotion,
    WalkerFit,
    median_of_present,
)
from yumebench.poses import DIRECTION_THRESHOLD, ROTATION_THRESHOLD, action_from_motion

UNDETERMINED = "?"


@dataclass
class IFConfig:
    direction_threshold: float = DIRECTION_THRESHOLD  # on the unit translation direction (x right, z forward)
    # the published labelling rule's 1e-3 rad per frame pair; see the accuracy-vs-rate curve in the README
    rotation_threshold_deg: float = math.degrees(ROTATION_THRESHOLD)
    motion: MotionConfig = field(default_factory=MotionConfig)
    # A video whose scene deforms more than this (camera_motion.epipolar_deformation_px, analysis px) is
    # flagged "deforming": past what the metric's validation corpus shows when rigid. Its score stands;
    # the flag says the metric reads such worlds less reliably (docs/instruction_following.md).
    deforming_above_px: float = 0.3
    # A turn must stand above what the world's own deformation can fake: a video's rotation threshold is at
    # least this many times its deformation angle (the median of its segments' deformation_deg), and the
    # published 1e-3 rad/frame (0.0573 deg) where that is smaller: a rigid corpus video measures 0.086 px
    # in the median, 0.02 deg at 320 wide and 70 deg. 0 turns it off. Chosen on the tuning seeds, rigid
    # and under extra wobble (docs/instruction_following.md, "Turns that stand above the deformation").
    turn_above_deformation: float = 0.7


def motion_to_action(motion: SegmentMotion, config: IFConfig) -> tuple[Action, float]:
    """Decode estimated motion to an action and a confidence in [0, 1] (the smallest relative margin
    of any component to its threshold)."""
    x, z = float(motion.direction[0]), float(motion.direction[2])
    yaw, pitch = motion.yaw_deg_per_frame, motion.pitch_deg_per_frame
    action = action_from_motion(x, z, yaw, pitch, config.direction_threshold, config.rotation_threshold_deg)
    margins = [
        abs(abs(v) - t) / t
        for v, t in (
            (x, config.direction_threshold),
            (z, config.direction_threshold),
            (yaw, config.rotation_threshold_deg),
            (pitch, config.rotation_threshold_deg),
        )
    ]
    return action, float(min(1.0, min(margins)))


def rotation_threshold_deg(motions: Sequence[SegmentMotion], config: IFConfig) -> float:
    """The video's rotation threshold (deg/frame): the configured one, raised to
    ``turn_above_deformation`` times the video's deformation angle (the median of its segments'
    ``deformation_deg``; an estimator that does not measure it leaves the threshold as configured)."""
    angle = median_of_present(getattr(m, "deformation_deg", None) for m in motions)
    if angle is None:
        return config.rotation_threshold_deg
    return max(config.rotation_threshold_deg, config.turn_above_deformation * angle)


def score_segments(
    frames: np.ndarray, segments: Sequence[dict], estimator: CameraMotionEstimator, config: IFConfig
) -> list[dict]:
    """One result per segment ``{"start", "end", "keys", "mouse"}`` of ``frames``: (T, H, W, 3) RGB or
    (T, H, W) grey."""
    spans = [(int(seg["start"]), int(seg["end"])) for seg in segments]
    if hasattr(estimator, "estimate_video"):
        motions = estimator.estimate_video(frames, spans)
    else:
        motions = [estimator.estimate(frames[s:e]) for s, e in spans]
    fov_given = getattr(getattr(estimator, "config", None), "known_fov_deg", None) is not None
    threshold = rotation_threshold_deg(motions, config)
    decoding = replace(config, rotation_threshold_deg=threshold)
    out = []
    for seg, (start, end), motion in zip(segments, spans, motions, strict=True):
        expected = Action(seg["keys"], seg["mouse"])
        if motion.decision == "undetermined":
            predicted, confidence = None, 0.0
            components = dict.fromkeys(COMPONENT_NAMES, False)
        else:
            predicted, confidence = motion_to_action(motion, decoding)
            components = {
                name: e == p
                for name, e, p in zip(COMPONENT_NAMES, expected.components, predicted.components, strict=True)
            }
        out.append(
            {
                "start": start,
                "end": end,
                "expected": {"keys": expected.keys, "mouse": expected.mouse},
                "predicted": (
                    {"keys": predicted.keys, "mouse": predicted.mouse}
                    if predicted
                    else {"keys": UNDETERMINED, "mouse": UNDETERMINED}
                ),
                "correct": all(components.values()),
                "components": components,
                "confidence": round(confidence, 6),
                "rotation_threshold_deg": round(threshold, 6),
                # raised above the configured threshold by the world's deformation (rotation_threshold_deg)
                "rotation_threshold_raised": threshold > config.rotation_threshold_deg,
                "motion": {
                    "decision": motion.decision,
                    "yaw_deg_per_frame": round(motion.yaw_deg_per_frame, 6),
                    "pitch_deg_per_frame": round(motion.pitch_deg_per_frame, 6),
                    "direction": [round(float(v), 6) for v in motion.direction],
                    "translating_fraction": round(motion.translating_fraction, 6),
                    "static_fraction": round(motion.static_fraction, 6),
                    "windows_with_evidence": motion.num_pairs,
                    "parallax_score": round(motion.parallax_score, 4),
                    "noise_px": round(motion.noise_px, 4),
                    "fov_deg": round(motion.fov_deg, 3),
                    **({"fov_given": True} if fov_given else {}),  # the caller's known FOV, not self-calibrated
                    "lens_barrel": round(getattr(motion, "barrel", 0.0), 4),
                    "rolling_readout": round(getattr(motion, "readout", 0.0), 3),
                    "rolling_readout_lines": "rows" if getattr(motion, "readout_axis", 1) == 1 else "columns",
                    "coherent_parallax": round(getattr(motion, "coherent_share", 0.0), 4),
                    **_depth_fields(getattr(motion, "depth_consistency", None)),
                    "camera_roll_deg": _roll_field(getattr(motion, "walker_fit", None)),
                    "still_background": _still_field(getattr(motion, "still_background", None)),
                    "deformation_px": _rounded(getattr(motion, "deformation_px", None)),
                    "deformation_deg": _rounded(getattr(motion, "deformation_deg", None), 5),
                },
                "tracks": getattr(motion, "tracks", None),
            }
        )
    return out


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def video_deformation_px(segment_results: Sequence[dict]) -> float | None:
    """The video's deformation (``camera_motion.epipolar_deformation_px``): the median of its segments'
    values, None where no segment's camera moves."""
    return median_of_present(r["motion"].get("deformation_px") for r in segment_results)


def _roll_field(fit: WalkerFit | None) -> list[float] | None:
    """[roll at the first frame of the segment's first window, at the last frame of its last] in degrees
    where the segment's walker was fitted with the camera rolled about its optical axis, else None."""
    roll = fit.roll_deg if fit is not None else None
    return None if roll is None else [round(r, 3) for r in roll]


def _still_field(shares: tuple[float, float] | None) -> list[float] | None:
    """[top, bottom]: the shares of the top and bottom thirds' tracks that a translating segment's walker
    put at infinity (both high: a still background, so a camera at rest), else None."""
    return None if shares is None else [round(float(v), 4) for v in shares]


def _depth_fields(consistency: DepthConsistency | None) -> dict:
    """The depth check's ratio, and its carried-over tracks the depths predicted worse than the rotation
    alone: [worse, carried]."""
    if consistency is None:
        return {"depth_consistency": None, "depth_worse_tracks": None}
    return {
        "depth_consistency": round(consistency.ratio, 4),
        "depth_worse_tracks": [consistency.worse, consistency.carried],
    }


def score_video_segments(frames: np.ndarray, segments: Sequence[dict], config: IFConfig | None = None) -> list[dict]:
    """``score_segments`` with the default estimator."""
    config = config or IFConfig()
    return score_segments(frames, segments, OpenCVMotionEstimator(config.motion), config)


def undetermined_count(segment_results: Sequence[dict]) -> int:
    return sum(r["motion"].get("decision") == "undetermined" for r in segment_results)


def video_score(segment_results: Sequence[dict]) -> float:
    return sum(r["correct"] for r in segment_results) / len(segment_results) if segment_results else math.nan


def accuracy_tables(segment_results: Sequence[dict]) -> dict:
    """Per-component accuracy and per-class (expected keys, expected mouse) accuracy."""
    comp = {name: float(np.mean([r["components"][name] for r in segment_results])) for name in COMPONENT_NAMES}
    by_keys: dict[str, list[bool]] = defaultdict(list)
    by_mouse: dict[str, list[bool]] = defaultdict(list)
    for r in segment_results:
        by_keys[r["expected"]["keys"]].append(r["components"]["forward"] and r["components"]["strafe"])
        by_mouse[r["expected"]["mouse"]].append(r["components"]["yaw"] and r["components"]["pitch"])
    return {
        "segments": len(segment_results),
        "segment_accuracy": float(np.mean([r["correct"] for r in segment_results])) if segment_results else None,
        "segment_accuracy_95": wilson_interval(sum(bool(r["correct"]) for r in segment_results), len(segment_results)),
        "undetermined_segments": undetermined_count(segment_results),
        "component_accuracy": comp,
        "keys_accuracy": {k: float(np.mean(v)) for k, v in sorted(by_keys.items())},
        "mouse_accuracy": {k: float(np.mean(v)) for k, v in sorted(by_mouse.items())},
        "confusion": dict(Counter(_confusion_label(r) for r in segment_results if not r["correct"])),
    }


def deformation_summary(entries: Sequence[dict], above_px: float) -> dict:
    """Over a run's videos: the median deformation, and how many videos deform more than ``above_px``
    (``IFConfig.deforming_above_px``), where the metric's own accuracy falls."""
    values = [e["deformation_px"] for e in entries if e.get("deformation_px") is not None]
    return {
        "median_px": _rounded(float(np.median(values))) if values else None,
        "videos_measured": len(values),
        "videos_deforming": sum(v > above_px for v in values),
        "deforming_above_px": above_px,
    }


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's score interval for a proportion (95 % at z 1.96; Wilson 1927), which stays inside [0, 1]
    and is not empty at 0 or n hits. With 18 segments an accuracy of 0.833 spans 0.61-0.94. Segments of
    one video share its scene, so the uncertainty across scenes is somewhat wider."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _confusion_label(r: dict) -> str:
    e, p = r["expected"], r["predicted"]
    return f"{e['keys']},{e['mouse']} -> {p['keys']},{p['mouse']}"


class InstructionFollowing(Dimension):
    name = "instruction_following"
    version = "38"  # 2: evidence test, noise-normalised parallax test, guarded decompositions, undetermined;
    # 3: per-track LK covariance, four joint-fit refinements; 4: joint fit in the action vocabulary's
    # motion space with the cheirality error, noise floor 0.15 px; 5: slow turns self-calibrate the focal;
    # 6: tracking images contrast-normalised locally instead of per frame; 7: the joint fit also refines
    # the best motion's mirrored sideways step, tracking uses the pyramid levels the motion needs; 8: a joint
    # fit that turns past a quarter turn per window (an alias of a slower turn) is refused; 9: videos
    # without a pure turn take the focal length from their walking turns (walker_focal on by default); 10:
    # where walking turns disagree on the focal length, or fewer than two calibrate (then a focal profile
    # proposes another), the joint fits' summed cost chooses it; 11: a segment that the walker leaves
    # much unexplained is fitted with a shake rotation at each window's ends where that explains most of it;
    # 12: the runner decodes the luma alone (the Y plane, not grey converted from decoded RGB); 13: a
    # segment read as translation is tried as a rotation through a barrel lens (coefficient and FOV fitted); 14:
    # a frame left with too few corners is searched again with a floor its darkness allows (night footage);
    # 15: a segment GRIC reads as rotation is translation where the tracks the rotation leaves out point
    # along one translation's flow (coherent_translation_share); 16: fast motion: tracking starts from the
    # frames' dominant shift, and a window ends before half its tracks leave the view (turns of about 7
    # deg/frame and faster were mostly undetermined); 17: a translating segment's windows are decomposed from
    # an essential matrix fitted at a 0.3 px inlier threshold (graph-cut RANSAC), not MAGSAC++'s 1 px,
    # which a fifth of the tracks on a moving object pulled to a compromise; 18: a segment whose windows hold
    # too few tracks for an essential matrix (5-11) is a turn where one rotation per window explains them
    # 19: a translating segment whose walker's depths do not carry over from one window to the next is a
    # rotation (the smooth wobble of a generated world is not a step: depth_consistency); 20: ... unless a
    # fit with shake explains the tracks and its windows' motions carry the depths over (a shaken walk); 21:
    # that check at 1.0, where the depths predict no better than no step (was 1.3): non-rigid worlds; 22:
    # ... and only where the carried-over tracks bear it out (a sign test, not a ratio of 8-20 tracks); 23:
    # a walker the level model leaves much unexplained is refitted with the camera rolled about its optical
    # axis (askew, rolling) and kept where that explains most of it; 24: content fixed to the frame (a
    # logo, a burnt-in clock, a HUD) is found and tracked around, and no track starts on black bars' edges;
    # 25: a segment read as translation is tried as a rotation seen by a rolling shutter (readout searched);
    # 26: shake also displaces the camera at each window's ends (a walker's bob and sway), and the shaken fit
    # is also started stepping each of four ways; 27: the depth check needs 24 carried-over tracks (a few
    # patches' tracks err together); 28: a segment's joint fit is also refined from its step turned each of
    # eight ways (a fit and its mirror image can both miss the true step between them); 29: content fixed
    # to the frame is also found where it holds most of the tracks (a logo over a plain wall): a window
    # shows the camera moving where 30 %, not half, of its tracks move; 30: a track's cheirality error
    # costs the joint fit at most 2 sigma's worth, not 3 (real dashcam footage: receding traffic made a
    # straight drive read as an orbit); 31: a translating segment whose walker puts 30 % of the tracks
    # at the top and of those at the bottom of the view at infinity is a rotation, fitted on those tracks
    # (a camera at rest facing oncoming traffic read as a walk towards it); 32: content fixed to the frame
    # is also found in windows whose scene does not move alike, where no static point explains its still
    # tracks under the other tracks' essential matrix (a car's bonnet made slow turns read as none); 33:
    # a segment read as translation whose tracks move as one 2-D shift per window (no perspective, no
    # depth: a pan through a long lens or over a photograph, read as a step) is a turn (shifted_as_one); 34:
    # a translating segment that no steady walker fits (over 5 per track: a car entering a bend, its turn
    # tightening), whose windows turn at different rates and mostly step the same way, takes its windows'
    # own motions, each brought to one frame (KITTI odometry 07's turns were read as turns without a step);
    # 35: the depth check carries depths over at the best speed ratio within 2.5 times either way of the
    # walker's steady speed (a walker that speeds up or slows down was read as a turn); 36: a translating
    # segment the steady walker leaves much unexplained is refitted with a walker whose step, yaw and pitch
    # change linearly in time, kept where that explains most of it (a ramp read with a steeply tilted walker);
    # 37: each segment and video also report how far the scene deforms (epipolar_deformation_px) and a video
    # past IFConfig.deforming_above_px is flagged "deforming" (every decision as in 36); 38: a video's
    # rotation threshold is at least 0.7 times its deformation angle (turn_above_deformation): a deforming
    # world's phantom turns were read as commanded turns
    requirements = Requirements(frame_size="grey, width 480 (area resize)", uses_segments=True, luma_only=True)

    def __init__(
        self,
        config: IFConfig | None = None,
        estimator: CameraMotionEstimator | None = None,
        fov_deg: float | None = None,
        **kwargs,
    ) -> None:
        """``fov_deg``: the videos' horizontal field of view where it is known (``MotionConfig.known_fov_deg``);
        a spec item's own ``fov_deg`` wins over it."""
        super().__init__(**kwargs)
        self.if_config = config or IFConfig()
        if fov_deg is not None:
            self.if_config = replace(self.if_config, motion=replace(self.if_config.motion, known_fov_deg=fov_deg))
        self.estimator = estimator or OpenCVMotionEstimator(self.if_config.motion)

    def config(self) -> dict:
        return {"estimator": self.estimator.name, **asdict(self.if_config)}

    def _estimator_for(self, item: dict) -> CameraMotionEstimator:
        """The estimator at the item's own known FOV where it gives one (the default estimator only)."""
        fov = item.get("fov_deg")
        if fov is None or not isinstance(self.estimator, OpenCVMotionEstimator):
            return self.estimator
        return OpenCVMotionEstimator(replace(self.if_config.motion, known_fov_deg=float(fov)))

    def score_video(self, frames: np.ndarray, item: dict) -> dict:
        segments = score_segments(frames, item["segments"], self._estimator_for(item), self.if_config)
        deformation = _rounded(video_deformation_px(segments))  # as reported, so the flag and the summary agree
        return {
            "video_results": video_score(segments),
            "undetermined": undetermined_count(segments),
            "deformation_px": deformation,
            "deforming": deformation is not None and deformation > self.if_config.deforming_above_px,
            "segments": segments,
        }

    def summary(self, entries: Sequence[dict]) -> dict:
        return {
            **accuracy_tables([s for e in entries for s in e.get("segments", [])]),
            "deformation": deformation_summary(entries, self.if_config.deforming_above_px),
        }
