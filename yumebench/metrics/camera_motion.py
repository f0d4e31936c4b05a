"""Camera motion from video frames alone: OpenCV tracking + robust two-view geometry, CPU, no weights.

Per video the frames are turned grey at ``analysis_width`` once, contrast-normalised locally for
tracking: flicker and exposure changes cancel, while a whole-frame normalisation would shift every grey
level as sky or ground enters the view and break Lucas-Kanade's brightness constancy. Each segment is
cut into windows of ``step`` frames; in each window, features spread over a grid are tracked frame to
frame with pyramidal Lucas-Kanade (forward-backward checked; each step uses the pyramid levels the last
step's motion needs; a step whose frames are shifted as a whole by more than that reaches starts from
the shift phase correlation finds), then refined by one direct step from the window's first to its last
frame. A window ends early, before the step that would take half its tracks out of the view. Only
features whose corner strength (the structure tensor's smaller eigenvalue) stands clear of the frame's
own noise count as evidence: a sky gradient, black frames and compression blocks give none. In a
very dark frame (grey levels below 10) few real corners reach the contrast that rules out compression
artefacts in a bright sky; a frame left with too few corners is searched again with a floor that falls
with the corner's surroundings' brightness, never below 1.5 grey levels (one 8-bit step is banding).

Each segment gets one of four explicit decisions:

- **undetermined**: most windows have too few trustworthy tracks; reported, scored as not followed,
  never silently "static";
- **static**: tracks stay put in every window;
- **rotation only**: one rotation per window maps the tracks at the focal length that fits best
  (self-calibration: under pure rotation only the true focal length fits). Where no rotation fits
  (what looks like parallax), a barrel lens distortion is searched with the focal length: a lens bends
  a turn's flow, and once its coefficient is fitted a distorted turn fits a rotation again; so does a
  rolling shutter, whose readout is searched the same way (``unroll_points``);
- **translation**: the rotation-only model leaves parallax. The two models are compared by Torr's
  geometric robust information criterion (GRIC) summed over the segment's windows, with the noise
  sigma measured from the tracks themselves (the essential matrix's Sampson error; a 1-D distance
  whose median is 0.6745 sigma). GRIC charges the essential matrix for its extra freedom and caps each
  point's cost, so parallax carried by a fifth of the points (a near ground plane under a distant
  view) is found while up to a third of outliers (water, moving objects) is not read as parallax.
  (The first version compared raw median residuals: their ratio is 2.47 on pure noise, so rotations
  read as translation.) GRIC's cap also hides parallax that sits on tracks no rigid model fits well
  (near water that ripples, in front of a distant shore); where the tracks the rotation leaves out
  mostly point along the flow of one translation with the points in front of the camera, the segment
  is translation all the same (``coherent_translation_share``).

Translation segments get one motion for the whole segment (a segment is one held action): the windows'
essential-matrix and homography decompositions (each guarded: a decomposition whose cheirality vote is
split or whose rotation strays from the rotation-only fit is degenerate and is not used) propose
starting points, and the best few are refined on all windows at once in the space of motions the action
vocabulary spans (``walker_poses``: a level step, yaw about the vertical, pitch about the camera's own x
axis, no roll; the camera's tilt is fitted). The cost is each track's Sampson error plus its cheirality
error (how far it moved to the wrong side of the point at infinity): the Sampson error alone cannot tell
a sideways step from its bas-relief twin, a step the other way with a little more or less yaw. The twin
can still be a local minimum that every proposed start settles in, so the best motion's mirror image
(the sideways step reversed) is refined too and kept when it fits better; a fit that turns past a
quarter turn per window is an alias of a slower turn and is refused. Where the walker leaves much
unexplained and a small rotation and displacement of the camera at each window's ends (handheld shake,
a walker's bob and sway) explains most of it, the segment is fitted with that shake; where a walker
whose step, yaw and pitch each change linearly in time (``walker_ramps``: a walker speeding up, a turn
tightening) explains most of it, with that walker, its rates read at the segment's middle frame. The
focal length of translating segments is the video's (a camera keeps its lens): the median of its rotation
segments' self-calibrations (a turn of ``min_calibration_deg`` per window pins the focal to about a degree), else
a Mendonça-Cipolla self-calibration from the translating windows (poorly conditioned for a level walker:
its rotation axis is perpendicular to its step, nearly a critical motion), else ``default_fov_deg``.
Where the camera's FOV is known (``MotionConfig.known_fov_deg``: a renderer's or a calibrated camera),
every segment is measured at it and nothing is self-calibrated; a lens and a rolling shutter are still
searched, at that FOV.

Conventions follow ``yumebench.poses``: relative motions are the pose of the later camera in the
earlier camera's frame (OpenCV axes), so the published decision rule applies.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Protocol

import cv2
import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

# Median of the essential matrix's Sampson error under pure noise of one sigma per image coordinate: a
# 1-D |N(0, sigma)| variable.
SAMPSON_MEDIAN = 0.6745
# The Laplacian-like kernel of Immerkaer (1996), "Fast noise variance estimation": for i.i.d. noise of
# sigma the response has standard deviation 6 sigma.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass
class MotionConfig:
    analysis_width: int = 480  # frames are resized to this width before tracking
    # local contrast normalisation of the tracking images (see prepare_grey), analysis px. Tuning seeds:
    # whole-frame normalisation 508/576 segments, 7/159 rotations read as translation; local, sigma 4, 6,
    # 9, 13, 20 px: 535, 537, 540, 535, 535 of 576, no rotation read as translation
    contrast_sigma_px: float = 9.0
    step: int = 8  # frames between the two views of a window (tracked frame to frame in between)
    # Fast motion (track_window): a frame step whose frames are shifted by more than predict_shift_px as
    # a whole (analysis px) starts tracking from that shift, beyond what the pyramid reaches from zero;
    # and a window ends early where more than the share max_left_view of its tracks would leave the view
    predict_shift_px: float = 12.0
    max_left_view: float = 0.5
    # tracks started per window; tuning seeds (IF version 7): 400 -> 544 of 576 segments, 300 -> 545,
    # 200 -> 541 (scored in 168, 149 and 125 s)
    max_corners: int = 300
    grid: tuple[int, int] = (4, 6)  # features are spread over these cells (rows, columns)
    # A feature is evidence when its corner strength (min eigenvalue, blockSize 7 on the blurred grey,
    # grey levels) exceeds both floors: compression blocks in a flat sky stay below 1; sensor noise of
    # sigma reaches 0.4 sigma^2 at most (measured), so 0.3 sigma^2 keeps nearly all of it out.
    min_strength: float = 1.0
    noise_strength: float = 0.3
    # Dark footage: a corner of c grey levels has strength 0.1155 c^2 here, so the floor of 1.0 asks for
    # 3 levels of contrast, which a very dark frame (grey below 10) rarely has. A frame left with fewer
    # than dark_below_corners corners is searched again with a floor that falls with the square of the
    # corner's surroundings' brightness below dark_grey (compression artefacts scale with it: a bright
    # H.264 sky reaches 0.9, a black one 0.15), down to quantisation_strength, a 1.5-level corner (a
    # single 8-bit step, 0.1155, is banding, not a corner). Only starved frames: in every frame, this floor
    # put 4 tuning segments right and 2 wrong, 1 test segment right and 3 wrong (weak corners in well-lit
    # views add noise); a fixed 0.3 changed 27 tuning segments (net -1).
    dark_below_corners: int = 24
    dark_grey: float = 48.0
    quantisation_strength: float = 0.26
    default_fov_deg: float = 65.0  # horizontal FOV where self-calibration is not possible
    # The camera's horizontal FOV where it is known: every segment is measured at it, none self-calibrates.
    # Self-calibration is what a deforming world hides first (street-wobble-5003 of the test seeds: 57 deg
    # estimated, 70 true, its three strafes wrong, two flipped; at the true FOV two of three read right).
    known_fov_deg: float | None = None
    fov_candidates: tuple[float, ...] = tuple(float(f) for f in range(35, 120, 5))
    # rotation per window below which a rotation segment's focal length is not trusted. Tuning seeds,
    # videos without a turn of 6 deg per window: their rotation segments' focal lengths were off by 0.6
    # deg (median) down to 1.6 deg per window, Mendonca-Cipolla's by 6.3 deg (level walking is nearly
    # its critical motion: rotation axis perpendicular to the step). 6 -> 1.5 took the translating
    # segments' focal error from 2.5 to 1.6 deg (median); segment accuracy unchanged (516 of 576).
    min_calibration_deg: float = 1.5
    static_flow_px: float = 0.04  # median track motion per frame (analysis px) below which a window is static
    # translation when GRIC prefers the essential matrix by more than this per point (0 is the plain
    # criterion; 0.1 keeps rotations over sky-dominated views, which scored up to +0.07, rotation only)
    gric_margin: float = 0.1
    # floor of the measured noise sigma (analysis px): Lucas-Kanade is never better than ~0.15 px on real
    # texture (patches deform as the view turns). Tuning seeds: 0.05 -> 0.15 took pure rotations read as
    # translation from 4.3 % to 2.1 % and segment accuracy from 0.894 to 0.896; 0.3 loses translations.
    min_noise_px: float = 0.15
    min_points: int = 12
    min_cheirality: float = 0.6  # share of essential inliers in front of both cameras for a usable decomposition
    # A translating segment's windows are decomposed (and their noise measured) from an essential matrix
    # fitted with an inlier threshold of pose_inlier_px (2 x the noise floor). MAGSAC++ at 1 px, which the
    # rotation/translation decision keeps, settles on a compromise where a fifth of the tracks move on
    # their own (street-objects-1008, true motion's median Sampson error 0.06-0.19 px; MAGSAC's 0.30-0.83
    # px; at 0.3 px 0.06-0.16). Tuning seeds 738 -> 742 of 780 (9 put right, 5 wrong), test seeds 622 ->
    # 625 of 648 (5 right, 2 wrong); graph-cut RANSAC at 0.5 px and LMedS: 738, RANSAC at 0.3 px: 739.
    # Deciding with it too: 736 (4 pure turns read as translation: the tighter fit leaves less noise).
    pose_inlier_px: float = 0.3
    max_unknown_fraction: float = 0.5  # more windows without evidence than this: undetermined
    # A segment left undetermined because its windows hold fewer than min_points tracks (a turn over a
    # mostly blank sky starts windows with 5-11 corners) is a turn where enough windows hold at least
    # min_turn_points tracks and one rotation per window leaves each one's median track within
    # max_sparse_turn_px (_sparse_turn). Tuning seeds: 377 -> 379 of 402 (2 such turns put right, nothing
    # else changed); test seeds unchanged (their undetermined segments have fewer than 5 tracks).
    min_turn_points: int = 5
    max_sparse_turn_px: float = 0.5
    # A translating segment is a rotation where the depths its walker gives one window's tracks predict
    # the next window's tracks no better than the rotation alone does, their errors' ratio at or above
    # max_depth_inconsistency (median over consecutive windows, depth_consistency): a static scene keeps
    # its depths, the smooth wobble of a generated world (which an essential matrix with a depth per track
    # absorbs) does not.
    # At 1.0 the depths predict no better than no translation at all: the tracks show no step the scene's
    # own deformation does not. Tuning seeds (633 segments): pure turns under wobble 1.11-1.77, the 389
    # translations read right 0.01-1.94 (7 above 1.0: crossing objects, water, a wobbling walk). Version 19
    # took 1.3 (6 wobbling turns put right, 1 walk past a crossing object wrong; 0.75: 7 right, 9 wrong).
    # With the corpus's wobble laid over every condition (`bench/instruction_following_accuracy.py --wobble
    # 1`: generated video deforms, and measured on Oasis's samples far more than this wobble), 1.3 read 28
    # of 103 pure turns and 13 of 32 still cameras as walks (243 of 342 segments right); 1.0: 7 and 3 (257
    # right, walks 147 -> 133 of 207), at 596 instead of 601 on the rigid tuning seeds (walks past crossing
    # objects, over water and in a wobble, whose depths barely carry their step).
    max_depth_inconsistency: float = 1.0
    # ... where one window's depths predict the next window's tracks at the best speed ratio between the
    # two within max_speed_change (either way) of the walker's steady speed: a walker that speeds up or
    # slows down (starting, stopping, a car leaving a bend) keeps its depths, but its steady fit carries
    # them over at the wrong scale. The corpus's ramps (walk_path(ramps=...): a segment's speed from
    # 0.1-0.5 to 1.5-1.9 times, or back) change it by up to 2.4 times from one 8-frame window to the
    # next. Tuning seeds (version 35 against 34): ramps 27 -> 29 of 36, 2.0 and 4.0 alike; the other 54
    # conditions read as before but one walk past a crossing object lost and one wobbling walk put right;
    # under the corpus's wobble (--wobble 1, 20 conditions, 360 segments) 286 -> 289: one pure turn and
    # three walks put right, one pure turn read as a walk.
    max_speed_change: float = 2.5
    # ... and only where the carried-over tracks say so: the depths predict more than half of them worse
    # than the rotation alone, significantly (one-sided sign test, p below depth_significance). A ratio of
    # two medians from 8-20 tracks (a fast turn keeps few from one window to the next) or one that most
    # tracks contradict (their median paired error improves) is no evidence against the step. Tuning
    # seeds: rigid, walks demoted 3 -> 1 of 185 checked, turns kept 8 of 8 (at 0.05, 7); under the wobble
    # (`--wobble 1`), walks demoted 42 -> 19 of 194, turns 100 -> 94 of 108 (0.2: 24 and 95; 0.05: 19 and
    # 92). Neighbouring tracks deform together, so the nominal level is optimistic.
    depth_significance: float = 0.1
    # ... and only where at least min_depth_tracks tracks carry over (all pairs of windows together). A fast
    # turn's windows pass on 8-23 in all, from a few patches of the view, and a patch's tracks err together
    # (it deforms, an object crosses it): 7 of 8 worse is one patch's vote, not a significant sign test.
    # Tuning seeds, 6 videos per condition (936 segments): 2 walks put right (a fast turn's 23 tracks, a
    # rolling shutter's 15), none put wrong; under the wobble (--wobble 1, 468 segments) one night walk (18)
    # put right and one pure turn through a barrel lens (14) read as a walk. 16 keeps the 23-track walk
    # demoted; 32 also walks a wobbling pure turn that carries 27.
    min_depth_tracks: int = 24
    # A translating segment is a rotation where its walker puts at least a share min_still_share of the
    # tracks in the top third of the frame and of those in the bottom third (each third holding
    # min_still_tracks tracks over the segment) at infinity: an inverse depth below still_depth_share of
    # the 75th percentile of its window's (still_background_shares). That is a still background from top
    # to bottom with things moving through it, such as a camera at rest facing oncoming traffic, whose
    # cars stream out of a vanishing point exactly as a walk towards them would make them. Under a camera
    # that steps, the points with no parallax are the sky and the far skyline: the ground in front of it,
    # at the bottom of the view, cannot be at infinity, and content fixed to the frame there (a bonnet, a
    # smudge on the windscreen) does not reach the top. The segment's rotation is then fitted on the
    # tracks at infinity alone (the moving things would bias it). Measured (version 31): the wrong
    # segments of the real oncoming-traffic clip put 0.42-0.73 of the top third and 0.47-0.69 of the
    # bottom third at infinity (5 -> 13 of 14 right); on the tuning seeds' 607 translating segments the
    # smaller of the two is at most 0.12, and the test and tuning tables are unchanged segment for segment.
    min_still_share: float = 0.3
    min_still_tracks: int = 30
    still_depth_share: float = 0.15
    # the joint fit also refines its best motion with the sideways step mirrored (the bas-relief twin):
    # tuning seeds 538 -> 544 of 576 (6 put right, none put wrong); test seeds 539 -> 541 (3 put right,
    # 1 put wrong)
    refine_mirror: bool = True
    # ... and from its step turned to each of step_starts azimuths, its turn kept (constant_motion_fit), in
    # a segment's first fit (a refit starts from one that has had them). Stopped in the bas-relief valley
    # on one side of the true step, a fit and its mirror image can both be far from it (a forward walk read
    # as a step right and left). At the true FOV, the fit refined from the exact motion cost 1111 against
    # the estimate's 1496 (street-roll-5001, test seed). Tuning seeds (the roll, wobble, objects, night and
    # water conditions, 126 segments): 111 -> 114 (3 put right, none wrong); refined on all tracks, 115 at
    # 15-25 % lower speed; also in every refit, 113.
    step_starts: int = 8
    # videos without a calibrating pure turn: the joint fits of the translating segments that turn refine
    # the focal length too, and the video takes their median (OpenCVMotionEstimator._walker_focal). Tuning
    # seeds 544 -> 548 of 576 (549 with FIT_TOLERANCE; test seeds 541 -> 545); translating segments whose
    # focal is off by more than 10 deg: 39 -> 2 of 342. (Version 8's opt-in form ran a whole joint fit per
    # segment at the new focal: 547, at three quarters of the speed; this one refines each fit once from
    # its walker.)
    walker_focal: bool = True
    # a camera rolled about its optical axis (held askew, rolling, a drone banking): a translating segment
    # whose level walker leaves much unexplained is refitted with roll (constant_motion_fit, ROLL_COST and
    # ROLL_GAIN). Test seeds (5000+), streets 8 videos each: rolled 10 deg, 22 -> 23 of 24 segments;
    # rolling 0.1 deg/frame, 19 -> 24; 0.3 deg/frame, 15 -> 22; the roll conditions 29 -> 32 of 36; every
    # other reading of the test table (738 segments) the same.
    fit_roll: bool = True
    # a walker whose step, yaw and pitch change linearly in time (walker_ramps; constant_motion_fit, RAMP_COST
    # and RAMP_GAIN): version 36, the ramp conditions 25 -> 34 of 36 on the test seeds, none put wrong
    fit_ramps: bool = True
    # A translating segment whose joint constant-motion fit leaves more than max_walker_misfit per track
    # (capped at 9: most tracks are off by over 2 sigma) did not move at one rate: a car entering a bend
    # (KITTI odometry 07 turns by 0.6 deg per frame at a segment's start and 3.3 at its end, while each
    # window's own essential matrix reads its motion within 0.2 deg). Its rates and direction are then the
    # medians of its windows' own motions, each brought to one frame (_per_frame), and no check that rests
    # on the walker (depth consistency, a still background) applies. None: always the walker. Tuning seeds
    # (IF version 33): of the 640 segments fitted with a walker outside the ramp conditions, 12 left more
    # than 4 per track (4 of them wobbling pure turns the depth check read right), 1 more than 5 and none
    # more than 6; KITTI's three turning segments left 5.9-7.3, the ramp conditions' segments read wrong
    # 1.4-6.7 (8 of 12 above 3.8). Without the two conditions below, the ramp conditions read 28 of 36 at 4,
    # 5 and 5.5 (24 at version 33), 27 at 6; with them, 27 at 5.
    max_walker_misfit: float | None = 5.0
    # ... where the windows' own rates (yaw or pitch, deg per frame) span at least min_unsteady_turn_deg:
    # a motion that does not keep its rate shows it window by window. Tuning seeds: the one segment outside
    # the ramp conditions that leaves more than 5 (a rolling shutter's walk) spans 0.12, the ramp
    # conditions' 0.35-2.4; KITTI 07's turning segments 2.0-3.0.
    min_unsteady_turn_deg: float = 0.25
    # ... and where more than half of its windows step within max_step_disagreement_deg of their median
    # direction. The smooth wobble of a generated world also leaves a walker over 5 and windows whose rates
    # differ: under the corpus's wobble once more (--wobble 1, tuning seeds), pure turns whose windows'
    # spurious steps point 25-157 deg apart (at most one within 20 deg of the median), which the depth
    # check had read right and which the rule without this condition read as steps (4 put wrong); the ramp
    # conditions' windows agree within 0.3-18 deg but for one outlier window per segment, or not at all
    # (33-45 deg), and KITTI's within a few degrees.
    max_step_disagreement_deg: float = 20.0
    # Barrel lens distortion (action cameras, phones, EuRoC's VI-sensor) bends a pure rotation's flow so
    # that no rotation fits it: with the pinhole model alone, 9 of 24 tuning segments of
    # pano-rotation-distorted were read as translation (15 of 24 right; 24 with this). A segment read as
    # translation with a score below barrel_below_score is tried again with the coefficient of
    # undistort_points (0 to max_barrel) fitted with the FOV; where that lowers the rotation's median
    # transfer error by more than the share min_barrel_gain and GRIC then finds no parallax, it is a
    # rotation. The score limit only saves time (a first form that searched every moving segment cost
    # 21-29 % more CPU on the speed bench's videos): distorted rotations scored -1.2 to 0.97 on the
    # pinhole model (tuning seeds), translations up to 2.05 (half of them above 1.5).
    max_barrel: float = 0.4
    min_barrel_gain: float = 0.1
    barrel_below_score: float = 1.2
    # A rolling shutter (a phone's CMOS sensor reads its lines one after another over 30-90 % of the
    # frame interval) sees each line at its own moment: a track that changes line in a fast turn is seen
    # over more or less than its window, and no one rotation fits the turn, which reads as a walk. A
    # segment the barrel search leaves read as translation is tried again with both ends of each track
    # turned back to the moment their frame's middle line was read (unroll_points), the signed readout
    # (a fraction of the frame interval, up to max_readout, along the rows or the columns) searched like
    # the barrel coefficient; where that lowers the rotation's median transfer error by more than the
    # share min_readout_gain and GRIC then finds no parallax, it is a rotation, and the video's
    # translating segments are measured with its readout too (a camera keeps its sensor). Tuning seeds
    # (the four rolling-shutter conditions, 6 videos each): 68 -> 69 of 72; the other 414 tuning segments
    # unchanged.
    max_readout: float = 1.0
    min_readout_gain: float = 0.1
    # A segment that GRIC reads as a rotation (score above coherent_above_score) is translation where at
    # least coherent_min_tracks tracks are left out by the rotation and a share min_coherent_share of them
    # point along one translation's flow (coherent_translation_share): parallax on tracks that fit no
    # rigid model well, such as rippling water in front of a distant shore.
    coherent_above_score: float = -0.6
    coherent_min_tracks: int = 30
    min_coherent_share: float = 0.65
    # Content fixed to the frame (a channel's logo, a burnt-in clock, a game's HUD, a car's bonnet) stays
    # put while the scene moves, and its tracks read a turn as a walk (a still point beside turning ones
    # is parallax to the essential matrix) or a moving window as static (camera_fixed_cells). A cell of
    # fixed_cell_px is fixed where a track in it or beside it moves less than fixed_still_px in three of
    # the video's moving windows (a share fixed_moving_share of their tracks move more than fixed_moving_px)
    # and in two of its turning ones; fixed cells covering more than fixed_max_area of the frame are a
    # still scene with something moving through it, not an overlay.
    # Tuning seeds (street-overlay, pano-walk-overlay and pano-rotation-overlay, 12 videos each): 93 ->
    # 106 of 108 segments, pure turns read as walks 6 -> 2 of 36; the rest of the tuning table unchanged.
    # fixed_moving_share was 0.5 until version 29: a logo over a plain wall (the held-out panoramas'
    # bathroom) holds most of the corners, no window had half its tracks moving, and three pure turns read
    # as walks. At 0.3 the masks change on overlay videos only (tuning, test and held-out caches, 768
    # videos); at 0.2 a tuning pano-walk video without any overlay gets a mask.
    # find_fixed_content turns it and the black bars' margin (content_view) off.
    find_fixed_content: bool = True
    fixed_still_px: float = 0.25
    fixed_moving_px: float = 1.0
    fixed_moving_share: float = 0.3
    fixed_cell_px: int = 8
    fixed_max_area: float = 0.25
    # A drive's scene does not move alike (the near road sweeps past, the skyline barely moves), so a
    # bonnet was found only where the car turned on the spot. A window whose scene does not move alike
    # also confirms a candidate where no static point explains its still tracks under the essential
    # matrix of the window's other tracks: a point stays put under a turn and a step only where the step's
    # flow at some depth cancels the turn's (an orbit's pivot, the focus of expansion), and content fixed
    # to the frame stays put anywhere (unexplained_still_px at least fixed_unexplained_px). A region found
    # so must also hold still in fixed_always_still of the moving windows that track anything in or
    # around it: a skyline stays put through a walk without a turn and the essential matrix of the objects
    # crossing it can leave it unexplained, but it moves in the walk's turns.
    # Measured (test seeds): with highway-2's real bonnet pasted over the bottom 15 % of the drives
    # (street-drive), version 31 read turns of 0.1-0.23 deg/frame as none in 8 of 18 segments, version
    # 32 none; their bonnets' still tracks lie 4-7 px from any static point's flow. Still tracks in the
    # straight real drives (highway, highway-3) lie up to 2.6 px from it (the essential matrix turns
    # 0.1-0.4 deg per window on its own). The tuning, test and held-out caches' masks are unchanged (the
    # new street-drive-bonnet aside) but for one or two cells on two overlay videos.
    fixed_unexplained_px: float = 3.0
    fixed_always_still: float = 0.8
    # The scene's own deformation (epipolar_deformation_px) is each track's epipolar distance averaged over
    # this many nearest tracks: tracking error averages down by its square root, a deformation does not.
    deformation_neighbours: int = 8


@dataclass
class PairMotion:
    """Relative motion between the first and last frame of one window (pose of the later camera in
    the earlier camera's frame)."""

    kind: str  # "unknown" (too few tracks), "static", "rotation" or "translation"
    rotation: np.ndarray  # (3, 3)
    direction: np.ndarray  # (3,) unit translation direction, zeros unless kind == "translation"
    num_points: int
    rotation_residual_px: float = 0.0  # median transfer error of the rotation-only model
    essential_residual_px: float = 0.0  # median Sampson error of the essential matrix
    median_flow_px: float = 0.0
    frames: int = 0
    degenerate: bool = False  # an essential decomposition was refused


@dataclass
class SegmentMotion:
    """Camera motion over a segment, per frame."""

    yaw_deg_per_frame: float  # + turns right (→)
    pitch_deg_per_frame: float  # + tilts up (↑)
    direction: np.ndarray  # (3,) mean unit translation direction (x right, z forward); zeros if none
    translating_fraction: float  # share of windows decided as translation
    static_fraction: float
    num_pairs: int  # windows with evidence
    fov_deg: float
    pairs: list[PairMotion] = field(default_factory=list, repr=False)
    decision: str = "rotation"  # static, rotation, translation or undetermined
    parallax_score: float = 0.0  # GRIC(rotation) - GRIC(essential) per point: > margin means translation
    noise_px: float = 0.0  # the essential matrix's noise sigma (analysis px)
    barrel: float = 0.0  # the lens's barrel coefficient (undistort_points) the segment was measured with; 0: pinhole
    # the rolling shutter's signed readout (unroll_points) the segment was measured with; 0: a global shutter
    readout: float = 0.0
    readout_axis: int = 1  # 1: lines are rows (read top to bottom where readout > 0); 0: columns
    # share of the tracks the rotation left out that point along one translation's flow
    # (coherent_translation_share), where GRIC alone read a rotation and enough tracks were left out; else 0
    coherent_share: float = 0.0
    # the walker's depths of one window predicting the next window's tracks against the rotation alone
    # (depth_consistency); None where not measured (no walker, shake, too few matched tracks)
    depth_consistency: DepthConsistency | None = None
    # the shares of the top and of the bottom third's tracks that a translating segment's walker put at
    # infinity (still_background_shares); None where not measured
    still_background: tuple[float, float] | None = None
    tracks: dict | None = field(default=None, repr=False)  # one window's tracks, in video pixels
    walker_fit: WalkerFit | None = field(default=None, repr=False)  # the joint fit of a translating segment
    # how far the scene itself deforms (``epipolar_deformation_px``, median over the moving windows, analysis
    # px); None where no window moves. Not part of the motion's decision: it says how far to trust it.
    deformation_px: float | None = None
    # the same as an angle at the segment's focal length (degrees): what the instruction-following decoder
    # weighs a turn against (IFConfig.turn_above_deformation)
    deformation_deg: float | None = None


class CameraMotionEstimator(Protocol):
    """What a pose estimator must provide to score instruction following (OpenCV here; VGGT or
    MegaSaM can plug in by returning the same ``SegmentMotion``)."""

    name: str

    def estimate(self, frames: np.ndarray) -> SegmentMotion: ...


# ----------------------------------------------------------------------------------------------------
# Frames and tracks


@dataclass
class GreyFrames:
    """A video at analysis size: ``tracking`` (contrast-normalised uint8, robust to flicker and dark
    frames) and ``raw`` (float grey levels, lightly blurred: absolute corner strength and noise)."""

    tracking: list[np.ndarray]
    raw: list[np.ndarray]
    scale: float  # analysis pixels per video pixel
    # where tracks may start and stay (x0, y0, x1, y1), analysis px: inside a letterbox's or pillarbox's
    # black bars by the Lucas-Kanade window's half-width (``content_view``)
    view: tuple[float, float, float, float] | None = None


def prepare_grey(
    frames: np.ndarray, width: int, contrast_sigma_px: float = MotionConfig.contrast_sigma_px
) -> GreyFrames:
    """Frames (T, H, W, 3) RGB or (T, H, W) grey at analysis size. The tracking images are
    contrast-normalised locally (mean and standard deviation in a Gaussian window of
    ``contrast_sigma_px``), which cancels flicker and exposure changes (any gain and offset) the way a
    whole-frame normalisation does, without tying a pixel's grey level to the rest of the frame:
    normalised by the whole frame, every grey level shifts as bright sky or dark ground enters the view,
    Lucas-Kanade's brightness constancy fails, and tracks on edges slide by up to a pixel per window (a
    pure pitch over a sunset at 480x146: homography residuals 0.9-1.0 px; locally normalised 0.05-0.08
    px, as on the raw frames). ``contrast_sigma_px`` 0 restores the whole-frame normalisation (IF
    version 5)."""
    h, w = frames.shape[1:3]
    width = min(width, w)
    size = (width, max(8, int(round(h * width / w))))
    tracking, raw = [], []
    for frame in frames:
        g = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        raw.append(g)
        b = cv2.GaussianBlur(g, (3, 3), 0.8)
        if contrast_sigma_px > 0:
            detail = b - _smooth(b, contrast_sigma_px)
            spread = np.sqrt(np.maximum(_smooth(detail * detail, contrast_sigma_px), 0.0))
            norm = detail / (spread + 1.0)  # + 1 grey level: flat sky and black frames are not amplified into noise
        else:
            norm = (b - b.mean()) / (b.std() + 1e-6)
        tracking.append(np.clip(norm * 40 + 128, 0, 255).astype(np.uint8))
    return GreyFrames(tracking, raw, width / w)


# Black bars (letterbox, pillarbox): rows or columns at the frame's edges that stay dark and flat through
# the video, on both opposite edges alike (bars centre the picture). BAR_GREY is ffmpeg cropdetect's
# default limit (24 of 255); BAR_SPREAD allows for compression noise in the bars.
BAR_GREY = 24.0
BAR_SPREAD = 6.0


def content_view(raw: list[np.ndarray], margin: float) -> tuple[float, float, float, float] | None:
    """The picture inside black bars (x0, y0, x1, y1), shrunk by ``margin``; None without bars. A corner
    on a bar's edge is half bar: Lucas-Kanade holds it still or drags it part of the way as the picture
    slides under the bar, and such tracks look like parallax. A night sky darkens the top edge only, so
    bars count only in pairs of about the same size."""
    frames = np.stack(raw[:: max(1, len(raw) // 16)])
    h, w = frames.shape[1:]

    def bar_lines(over: tuple[int, int]) -> np.ndarray:
        high, low = frames.max(axis=over), frames.min(axis=over)
        return (high <= BAR_GREY) & (high - low <= BAR_SPREAD)

    def leading(flags: np.ndarray) -> int:
        return len(flags) if flags.all() else int(np.argmin(flags))

    def paired(a: int, b: int, n: int) -> bool:
        return min(a, b) >= max(2, 0.02 * n) and abs(a - b) <= 2 + 0.02 * n and a + b <= 0.6 * n

    rows, cols = bar_lines((0, 2)), bar_lines((0, 1))
    top, bottom, left, right = leading(rows), leading(rows[::-1]), leading(cols), leading(cols[::-1])
    if not paired(top, bottom, h):
        top = bottom = 0
    if not paired(left, right, w):
        left = right = 0
    if not (top or left):
        return None

    def inner(bar: int) -> float:
        return bar + margin if bar else 0

    return (inner(left), inner(top), w - inner(right), h - inner(bottom))


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur computed at a quarter of the size (the result is smooth, so nothing is lost
    that the normalisation needs; a quarter of the cost of blurring at full size)."""
    h, w = image.shape
    small = cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(small, (0, 0), sigma * small.shape[1] / w)
    return cv2.resize(blurred, (w, h), interpolation=cv2.INTER_LINEAR)


def noise_sigma(raw: np.ndarray) -> float:
    """Noise standard deviation of one grey frame (grey levels): Immerkaer's kernel, read at the 25th
    percentile of its absolute response so texture and edges do not count as noise."""
    response = np.abs(cv2.filter2D(raw, cv2.CV_32F, _NOISE_KERNEL)[1:-1, 1:-1])
    return float(np.percentile(response, 25)) / (6.0 * 0.3186)  # 25th percentile of |N(0, 1)| = 0.3186


def structure_eigen(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frame lightly blurred, and per pixel its structure tensor's eigenvalues and eigenvectors
    (h, w, 6: l1, l2, x1, y1, x2, y2): a corner's strength is the smaller eigenvalue (``detect_features``)."""
    blurred = cv2.GaussianBlur(raw, (3, 3), 0.8)
    return blurred, cv2.cornerEigenValsAndVecs(blurred, 7, 3)


def detect_features(
    tracking: np.ndarray,
    raw: np.ndarray,
    config: MotionConfig,
    view: tuple[float, float, float, float] | None = None,
    fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Corners (N, 1, 2) float32 and their structure tensors (N, 2, 2): strongest first within each
    grid cell, only those whose strength (the tensor's smaller eigenvalue) stands clear of the frame's
    noise and of compression artefacts (a floor that a frame starved of corners lowers with its
    brightness, see ``MotionConfig.dark_grey``)."""
    none = np.zeros((0, 1, 2), np.float32), np.zeros((0, 2, 2))
    pts = cv2.goodFeaturesToTrack(tracking, 3 * config.max_corners, qualityLevel=0.001, minDistance=6, blockSize=7)
    if pts is None:
        return none
    blurred, eig = structure_eigen(raw)
    xy = pts[:, 0]
    h, w = raw.shape
    ix = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
    iy = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
    e = eig[iy, ix].astype(np.float64)
    strength = np.minimum(e[:, 0], e[:, 1])
    noise_floor = config.noise_strength * noise_sigma(raw) ** 2
    inside = _in_view(xy, w, h, view)
    if fixed is not None:
        inside &= ~fixed[iy // config.fixed_cell_px, ix // config.fixed_cell_px]
    keep = inside & (strength >= max(config.min_strength, noise_floor))
    if keep.sum() < config.dark_below_corners:  # too few for a window: a dark frame's corners may be weak
        brightness = cv2.blur(blurred, (15, 15))[iy, ix]
        artefacts = config.min_strength * np.minimum(1.0, brightness / config.dark_grey) ** 2
        keep = inside & (strength >= np.maximum(np.maximum(artefacts, config.quantisation_strength), noise_floor))
    xy, strength, ix, iy, e = xy[keep], strength[keep], ix[keep], iy[keep], e[keep]
    rows, cols = config.grid
    cell = (iy * rows // h) * cols + (ix * cols // w)
    order = np.lexsort((-strength, cell))
    cell_sorted = cell[order]
    first = np.searchsorted(cell_sorted, cell_sorted)  # index where each cell's run starts
    rank = np.arange(len(order)) - first
    quota = math.ceil(config.max_corners / (rows * cols))
    chosen = np.sort(order[rank < quota])
    e = e[chosen]
    v1, v2 = e[:, 2:4], e[:, 4:6]
    outer1, outer2 = np.einsum("ni,nj->nij", v1, v1), np.einsum("ni,nj->nij", v2, v2)
    tensors = e[:, 0, None, None] * outer1 + e[:, 1, None, None] * outer2
    return xy[chosen].reshape(-1, 1, 2).astype(np.float32), tensors


_LK = dict(winSize=(15, 15), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.02))


def pyramid_levels(flow_px: np.ndarray) -> int:
    """The pyramid levels the next frame step needs, from this step's track motion: Lucas-Kanade with
    a 15 px window converges from up to ~4 px away at its top level, so a motion d needs 2^L x 4 >= d;
    twice the 95th percentile covers a camera that speeds up and the faster tracks. Most steps move a
    few pixels and need 1 level of 3: the coarse levels cost most (at 60x34 px a window is a quarter of
    the image and iterates longest; measured on 400 tracks at 480x272: 6.1 ms per step with 3 levels,
    2.3 ms with 1)."""
    need = 2.0 * float(np.percentile(flow_px, 95)) / 4.0
    return int(min(_LK["maxLevel"], max(1, math.ceil(math.log2(max(need, 1.0))))))


def dominant_shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The image translation (dx, dy) that best maps frame ``a`` onto ``b``: phase correlation on frames
    shrunk 4 times (0.2-0.6 ms at 480x272). A starting point for Lucas-Kanade, which refines it (a fast turn
    moves nearly every pixel by about the same amount): within a pixel of the full-size answer on a
    panorama turning 49 px per frame, 2 px off on a fine random texture."""
    h, w = a.shape
    size = (max(8, w // 4), max(8, h // 4))
    small_a = cv2.resize(a, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_b = cv2.resize(b, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    (dx, dy), _ = cv2.phaseCorrelate(small_a, small_b, cv2.createHanningWindow(size, cv2.CV_32F))
    return np.array([dx * w / size[0], dy * h / size[1]], np.float32)


def _in_view(points: np.ndarray, width: int, height: int, view: tuple[float, float, float, float] | None) -> np.ndarray:
    x0, y0, x1, y1 = view or (0, 0, width, height)
    return (points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1)


class TrackedWindow(NamedTuple):
    p1: np.ndarray  # (N, 2) positions in the window's first frame
    p2: np.ndarray  # (N, 2) positions in its last frame
    tensors: np.ndarray  # (N, 2, 2) each track's structure tensor
    end: int  # the window's last frame: earlier than asked where the next step would take too many out of view


def track_window(
    grey: GreyFrames, start: int, end: int, config: MotionConfig, fixed: np.ndarray | None = None
) -> TrackedWindow:
    """Correspondences between frames ``start`` and ``end`` and each track's structure tensor: tracks
    followed frame to frame (small steps track reliably), then one direct LK step from first to last
    frame removes the drift that chaining accumulates.

    Fast motion: a step whose frames are shifted by more than ``predict_shift_px`` as a whole (a turn of
    6 deg per frame moves a 56 deg view by 50 px at 480 px) starts Lucas-Kanade from that shift, which its
    pyramid could not reach from zero (without it 9 of 312 corners survived such a step, 267 with it);
    and the window ends early, before the step that would take more than ``max_left_view`` of its tracks
    out of the view (the next window starts there): at 6 deg per frame an 8-frame window turns 48 deg of
    a 56 deg view and keeps almost nothing.

    No track starts in the cells ``fixed`` marks (content fixed to the camera, ``camera_fixed_cells``)."""
    frames = grey.tracking
    pts, strength = detect_features(frames[start], grey.raw[start], config, grey.view, fixed)
    empty = np.zeros((0, 2))
    if len(pts) == 0:
        return TrackedWindow(empty, empty, np.zeros((0, 2, 2)), end)
    h, w = frames[start].shape
    alive = np.ones(len(pts), bool)
    left_view = np.zeros(len(pts), bool)
    cur = pts
    levels = _LK["maxLevel"]  # the first step may move any amount
    for i in range(start, end):
        lk = {**_LK, "maxLevel": levels}
        shift = dominant_shift(frames[i], frames[i + 1])
        predict = bool(np.hypot(*shift) > config.predict_shift_px)
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW if predict else 0
        nxt, st1, _ = cv2.calcOpticalFlowPyrLK(
            frames[i], frames[i + 1], cur, cur + shift if predict else None, flags=flags, **lk
        )
        back, st2, _ = cv2.calcOpticalFlowPyrLK(
            frames[i + 1], frames[i], nxt, nxt - shift if predict else None, flags=flags, **lk
        )
        inside = _in_view(nxt[:, 0], w, h, grey.view)
        # where a track was lost (its position is arbitrary), whether it left the view is judged by where
        # the frames' dominant shift takes it
        leaving = alive & ~np.where(st1[:, 0] == 1, inside, _in_view(cur[:, 0] + shift, w, h, grey.view))
        if i > start and (left_view | leaving).sum() > config.max_left_view * len(pts):
            end = i  # this step would take too many tracks out of the view: the window ends before it
            break
        left_view |= leaving
        ok = (st1[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm(cur - back, axis=2)[:, 0] < 0.5) & inside
        alive &= ok
        if alive.any():
            levels = pyramid_levels(np.linalg.norm(nxt - cur, axis=2)[alive, 0])
        cur = nxt
    start_pts, cur, strength = pts[alive], cur[alive], strength[alive]
    if len(start_pts):
        direct, st, _ = cv2.calcOpticalFlowPyrLK(
            frames[start],
            frames[end],
            start_pts,
            cur.copy(),
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
            **{**_LK, "maxLevel": 1},
        )
        ok = (st[:, 0] == 1) & (np.linalg.norm(direct - cur, axis=2)[:, 0] < 2.0)
        start_pts, cur, strength = start_pts[ok], direct[ok], strength[ok]
    return TrackedWindow(start_pts[:, 0].astype(np.float64), cur[:, 0].astype(np.float64), strength, end)


def track_covariance(tensors: np.ndarray) -> np.ndarray:
    """Each track's error covariance (N, 2, 2) relative to the window's typical track. Lucas-Kanade's
    error covariance is sigma^2 times the inverse structure tensor: a corner is pinned both ways, a point
    on a long edge (a horizon, a roof line) slides along it (the aperture problem), a weak texture
    (dark sky) is loose everywhere. Scaled so the median track has unit size; each direction's scale
    clipped to [0.5, 4]."""
    if len(tensors) == 0:
        return np.zeros((0, 2, 2))
    vals, vecs = np.linalg.eigh(tensors)
    vals = np.maximum(vals, 1e-9)
    typical = float(np.median(np.sqrt(vals[:, 0] * vals[:, 1])))
    scale = np.clip(typical / vals, 0.25, 16.0)  # variances: (0.5 .. 4)^2
    return np.einsum("nij,nj,nkj->nik", vecs, scale, vecs)


def mahalanobis(residuals: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """|r| in units of each track's covariance (equal to |r| for the identity)."""
    return np.sqrt(np.einsum("ni,nij,nj->n", residuals, np.linalg.inv(cov), residuals))


def sampson_with_covariance(e: np.ndarray, n1: np.ndarray, n2: np.ndarray, cov: np.ndarray, focal: float) -> np.ndarray:
    """The Sampson distance (pixels) with each track's covariance on both of its points (normalised
    coordinates in, ``focal`` scales back): error across the epipolar line counts, error along a slide
    direction of the track counts less. Equal to the plain Sampson error for the identity."""
    h1 = np.column_stack([n1, np.ones(len(n1))])
    h2 = np.column_stack([n2, np.ones(len(n2))])
    ex1 = h1 @ e.T
    etx2 = h2 @ e
    num = np.sum(h2 * ex1, axis=1) ** 2
    g2, g1 = ex1[:, :2], etx2[:, :2]
    den = np.einsum("ni,nij,nj->n", g2, cov, g2) + np.einsum("ni,nij,nj->n", g1, cov, g1)
    return focal * np.sqrt(num / np.maximum(den, 1e-18))


def _covariances(w) -> np.ndarray:
    if w.cov is not None and len(w.cov) == len(w.p1):
        return w.cov
    return np.tile(np.eye(2), (len(w.p1), 1, 1))


def _bearings(pts: np.ndarray, focal: float, center: tuple[float, float]) -> np.ndarray:
    rays = np.column_stack([(pts[:, 0] - center[0]) / focal, (pts[:, 1] - center[1]) / focal, np.ones(len(pts))])
    return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def fit_rotation(b1: np.ndarray, b2: np.ndarray, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R with b2 ≈ R b1 (Kabsch), refit on the best 80% to shed outliers; returns (R, angular
    residuals in radians)."""
    keep = np.ones(len(b1), bool)
    rot = np.eye(3)
    for _ in range(iterations):
        u, _, vt = np.linalg.svd(b2[keep].T @ b1[keep])
        d = np.sign(np.linalg.det(u @ vt))
        rot = u @ np.diag([1, 1, d]) @ vt
        err = np.linalg.norm(b2 - b1 @ rot.T, axis=1)
        keep = err <= quantile(err, 0.8)
    return rot, err


def quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear method, bit for bit) by partial sort: a tenth of its time
    on a few hundred values, and the rotation fit takes it thousands of times per video."""
    n = len(values)
    index = q * (n - 1)  # numpy's virtual index for the linear method
    lo = min(max(int(math.floor(index)), 0), n - 1)
    hi = min(lo + 1, n - 1)
    part = np.partition(values, [lo, hi] if hi > lo else lo)
    below, above, t = part[lo], part[hi], index - lo
    gap = above - below
    return float(above - gap * (1.0 - t) if t >= 0.5 else below + gap * t)


def rotation_transfer(
    p1: np.ndarray, p2: np.ndarray, focal: float, center: tuple[float, float], vectors: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The rotation-only model at ``focal``: (R with x2 ~ K R K^-1 x1, transfer errors in pixels, or
    the (N, 2) error vectors with ``vectors``)."""
    rot, _ = fit_rotation(_bearings(p1, focal, center), _bearings(p2, focal, center))
    residuals = rotation_residuals(p1, p2, rot, focal, center)
    return rot, residuals if vectors else np.linalg.norm(residuals, axis=1)


def rotation_residuals(
    p1: np.ndarray, p2: np.ndarray, rot: np.ndarray, focal: float, center: tuple[float, float]
) -> np.ndarray:
    """(N, 2) how far (pixels) each ``p2`` lies from where the rotation ``rot`` at ``focal`` puts ``p1``."""
    rays = _bearings(p1, focal, center) @ rot.T
    z = np.maximum(rays[:, 2], 1e-6)
    return p2 - np.column_stack([focal * rays[:, 0] / z + center[0], focal * rays[:, 1] / z + center[1]])


def shifted_as_one(windows: list, rotation_cost: Callable[[float], float], config: MotionConfig) -> bool:
    """Whether every window's tracks move as one: one 2-D shift per window leaves them within the tracks'
    noise floor (``MotionConfig.min_noise_px``, median), and at most half of what a rotation leaves at the
    narrowest FOV the search tries (``rotation_cost(fov)``: its median transfer error). A turn shows its
    lens's perspective (the flow grows towards the frame's edges) and a step its scene's depths; a shift
    shows neither: a pan through a long lens, or over a photograph. A sideways step past a flat wall that
    fills the whole view would look the same, which no depth in view (ground, sky, a second wall) allows."""

    def left_by_shift(w: _Window) -> np.ndarray:
        flow = w.p2 - w.p1
        return np.linalg.norm(flow - np.median(flow, axis=0), axis=1)

    shift_cost = float(np.median(np.concatenate([left_by_shift(w) for w in windows])))
    return shift_cost <= config.min_noise_px and shift_cost <= 0.5 * rotation_cost(config.fov_candidates[0])


class EssentialFit(NamedTuple):
    errors: np.ndarray | None  # plain Sampson errors (pixels) of every point
    rotation: np.ndarray | None  # R with x2 = R x1 + t (None without pose)
    translation: np.ndarray | None
    cheirality: float  # share of the points with parallax in front of both cameras
    matrix: np.ndarray | None


def essential(
    p1: np.ndarray,
    p2: np.ndarray,
    focal: float,
    center: tuple[float, float],
    pose: bool = True,
    inlier_px: float | None = None,
) -> EssentialFit:
    """Robust essential matrix; every field None (cheirality 0) when there is none. By default MAGSAC++
    with a 1 px threshold; with ``inlier_px``, graph-cut RANSAC (OpenCV's USAC_ACCURATE) with that
    threshold. The RNG is reseeded per call, so results are repeatable."""
    n1, n2 = (p1 - center) / focal, (p2 - center) / focal
    none = EssentialFit(None, None, None, 0.0, None)
    method, threshold = (cv2.USAC_MAGSAC, 1.0) if inlier_px is None else (cv2.USAC_ACCURATE, inlier_px)
    cv2.setRNGSeed(0)
    try:
        e_mat, mask = cv2.findEssentialMat(
            n1, n2, focal=1.0, pp=(0.0, 0.0), method=method, prob=0.999, threshold=threshold / focal
        )
    except cv2.error:  # USAC asserts on some degenerate point sets instead of returning no model
        return none
    if e_mat is None or e_mat.shape != (3, 3):
        return none
    errors = _sampson(e_mat, n1, n2) * focal
    if not pose:
        return EssentialFit(errors, None, None, 0.0, e_mat)
    inliers = mask[:, 0].astype(bool)
    r_a, r_b, t = cv2.decomposeEssentialMat(e_mat)
    # The four (R, t) candidates: the one that puts most points with parallax in front of both cameras.
    # (cv2.recoverPose votes only with points nearer than 50 baselines: on a short baseline in a street
    # that leaves a few near points, and the vote flips the direction.)
    candidates = [(r, sign * t[:, 0]) for r in (r_a, r_b) for sign in (1.0, -1.0)]
    votes = [cheirality(n1[inliers], n2[inliers], r, tt, 0.5 / focal) for r, tt in candidates]
    best = int(np.argmax(votes))
    return EssentialFit(errors, candidates[best][0], candidates[best][1], votes[best], e_mat)


def window_evidence(w, focal: float, center, min_noise: float, fit: EssentialFit | None = None):
    """(GRIC(rotation) - GRIC(essential), noise sigma, rotation-only R) of one window with residuals
    whitened by each track's covariance; None when no essential matrix exists."""
    fit = fit if fit is not None else essential(w.p1, w.p2, focal, center, pose=False)
    if fit.matrix is None:
        return None
    rot, vectors = rotation_transfer(w.p1, w.p2, focal, center, vectors=True)
    cov = _covariances(w)
    n1, n2 = (w.p1 - center) / focal, (w.p2 - center) / focal
    sampson = sampson_with_covariance(fit.matrix, n1, n2, cov, focal)
    sigma = max(float(np.median(sampson)) / SAMPSON_MEDIAN, min_noise)
    return gric_difference(mahalanobis(vectors, cov), sampson, sigma), sigma, rot


@functools.cache
def sphere_directions(count: int = 600) -> np.ndarray:
    """``count`` unit vectors spread evenly over the sphere (a Fibonacci lattice)."""
    i = np.arange(count) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / count)
    azimuth = math.pi * (1.0 + math.sqrt(5.0)) * i
    return np.column_stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)])


def coherent_translation_share(
    windows: list,
    rotations: list[np.ndarray],
    sigmas: list[float],
    focal: float,
    center: tuple[float, float],
    within_deg: float = 25.0,
) -> tuple[int, float]:
    """(tracks, share): of the tracks that each window's rotation-only fit (``rotations``, as
    ``window_evidence`` found them) leaves out (residual above 4 sigma of the window), the largest share
    whose residual points, within ``within_deg``, along the flow one translation gives a point in front of
    the camera, (x t_z - t_x, y t_z - t_y) / Z with Z > 0, over directions t spread on the sphere.
    Parallax carried by tracks that no rigid model fits well (near water that ripples) still points one
    way; the heavy tail of a rotation's tracking errors does not (tuning seeds: pure turns 0.23-0.56
    with 30 tracks or more)."""
    directions = sphere_directions()
    agree = []
    for w, rot, sigma in zip(windows, rotations, sigmas, strict=True):
        vectors = rotation_residuals(w.p1, w.p2, rot, focal, center)
        length = np.linalg.norm(vectors, axis=1)
        out = length > 4.0 * sigma
        if not out.any():
            continue
        at = (w.p2[out] - vectors[out] - np.asarray(center)) / focal  # where the rotation puts them
        flow = at[None] * directions[:, None, 2:3] - directions[:, None, :2]  # (directions, tracks, 2)
        cos = np.einsum("dnk,nk->dn", flow, vectors[out]) / (np.linalg.norm(flow, axis=2) * length[out] + 1e-12)
        agree.append(cos > math.cos(math.radians(within_deg)))
    if not agree:
        return 0, 0.0
    votes = np.concatenate(agree, axis=1)
    return votes.shape[1], float(votes.mean(axis=1).max())


def cheirality(n1: np.ndarray, n2: np.ndarray, rot: np.ndarray, t: np.ndarray, min_parallax: float) -> float:
    """Share of the points with parallax (rays at least ``min_parallax`` radians apart) that lie in
    front of both cameras. Points without parallax are left out: at infinity their depth sign is noise.
    (``cv2.recoverPose`` drops points beyond 50 baselines instead, which on a short baseline is most of a
    street, and counts what is left over all inliers.)"""
    if len(n1) == 0:
        return 0.0
    r1 = np.column_stack([n1, np.ones(len(n1))]) @ rot.T  # camera-1 rays in camera 2's orientation
    r2 = np.column_stack([n2, np.ones(len(n2))])
    r1 /= np.linalg.norm(r1, axis=1, keepdims=True)
    r2 /= np.linalg.norm(r2, axis=1, keepdims=True)
    angle = np.arccos(np.clip((r1 * r2).sum(1), -1.0, 1.0))
    informative = angle >= min_parallax
    if informative.sum() < 6:
        return 0.0
    # depths d1, d2 with d1 r1 + t = d2 r2, by least squares per point
    a11, a22, a12 = (r1 * r1).sum(1), (r2 * r2).sum(1), -(r1 * r2).sum(1)
    b1, b2 = -(r1 @ t), (r2 @ t)
    det = a11 * a22 - a12 * a12
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (b1 * a22 - a12 * b2) / det
        d2 = (a11 * b2 - a12 * b1) / det
    front = (d1 > 0) & (d2 > 0)
    return float(front[informative].mean())


def _sampson(e: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    h1 = np.column_stack([x1, np.ones(len(x1))])
    h2 = np.column_stack([x2, np.ones(len(x2))])
    ex1 = h1 @ e.T
    etx2 = h2 @ e
    num = np.sum(h2 * ex1, axis=1) ** 2
    den = ex1[:, 0] ** 2 + ex1[:, 1] ** 2 + etx2[:, 0] ** 2 + etx2[:, 1] ** 2
    return np.sqrt(num / np.maximum(den, 1e-18))


def epipolar_deformation_px(
    p1: np.ndarray, p2: np.ndarray, focal: float, center: tuple[float, float], neighbours: int = 8
) -> float | None:
    """How far one window's tracks move off any rigid camera motion together with their neighbours
    (analysis px): each track's signed distance from its epipolar line under the window's essential
    matrix, averaged over its ``neighbours`` nearest tracks (in the first frame); the median of those
    averages' sizes. None where there is no essential matrix or too few tracks.

    The camera's own step moves each track along its epipolar line, which the essential matrix absorbs
    whatever the depths; what stays is tracking error, moving objects and a scene that deforms.
    Tracking error is independent from track to track and averages down (by the square root of
    ``neighbours``); a deforming world moves neighbouring tracks together and stays; objects crossing a
    minority of the view leave the median. Segments measured through a lens or a rolling shutter pass
    their corrected tracks. On the validation corpus (tuning seeds, 2 videos per condition, IF version
    37; ``bench/instruction_following_deformation.py``) videos measure 0.086 px in the median as rendered
    (90 % below 0.19; the most, 0.41, a condition with the corpus's own wobble), 0.35 under the
    corpus's wobble (``motion_corpus.Wobble``) and 0.58 under twice it."""
    if len(p1) <= max(neighbours, 4):
        return None
    fit = essential(p1, p2, focal, center, pose=False)
    if fit.matrix is None:
        return None
    h1 = np.column_stack([(p1 - center) / focal, np.ones(len(p1))])
    h2 = np.column_stack([(p2 - center) / focal, np.ones(len(p2))])
    lines = h1 @ fit.matrix.T  # each track's epipolar line in the second view (normalised coordinates)
    signed_px = np.sum(h2 * lines, axis=1) / np.maximum(np.linalg.norm(lines[:, :2], axis=1), 1e-12) * focal
    _, nearest = cKDTree(p1).query(p1, neighbours + 1)  # the track itself is its own nearest
    return float(np.median(np.abs(signed_px[nearest[:, 1:]].mean(axis=1))))


def median_of_present(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None; None where there are none."""
    present = [v for v in values if v is not None]
    return float(np.median(present)) if present else None


def segment_deformation_px(windows: list, focal: float, center: tuple[float, float], neighbours: int) -> float | None:
    """``epipolar_deformation_px`` over a segment's moving windows (their median), None where none moves."""
    return median_of_present(
        epipolar_deformation_px(w.p1, w.p2, focal, center, neighbours) for w in windows if w.kind == "moving"
    )


def fundamental_fov(windows: list, width: int, config: MotionConfig) -> float | None:
    """Self-calibration from translating windows (Mendonca & Cipolla 1999): with the right focal
    length f, E = K^T F K of every window has two equal singular values. The cost (sigma1 - sigma2) /
    (sigma1 + sigma2), averaged over windows, is smooth in f, unlike essential-matrix residuals, whose
    robust inlier sets change with f. None when no interior minimum exists (e.g. pure forward motion,
    a critical configuration)."""
    fundamentals = []
    for w in windows:
        center = np.array([(width - 1) / 2, w.center_y])
        cv2.setRNGSeed(0)
        try:
            f_mat, _ = cv2.findFundamentalMat(w.p1 - center, w.p2 - center, cv2.USAC_MAGSAC, 0.5, 0.999)
        except cv2.error:  # USAC asserts on some degenerate point sets instead of returning no model
            continue
        if f_mat is not None and f_mat.shape == (3, 3):
            fundamentals.append(f_mat)
    if not fundamentals:
        return None

    def cost(fov: float) -> float:
        k = np.diag([_focal_of(fov, width), _focal_of(fov, width), 1.0])
        values = [np.linalg.svd(k @ f @ k, compute_uv=False) for f in fundamentals]
        return float(np.mean([(v[0] - v[1]) / (v[0] + v[1]) for v in values]))

    grid = config.fov_candidates
    costs = [cost(f) for f in grid]
    best = int(np.argmin(costs))
    if best in (0, len(grid) - 1):
        return None
    return _golden_min(cost, grid[best - 1], grid[best + 1])


def gric_difference(transfer_px: np.ndarray, sampson_px: np.ndarray, sigma: float | np.ndarray) -> float:
    """GRIC(rotation only) - GRIC(essential) for one window (Torr 1998, "Geometric motion segmentation and
    model selection"): positive when the essential matrix explains the tracks better than a rotation
    does, after its extra freedom is paid for. Per point the robust residual is capped (a point that fits
    neither model costs the same in both), so parallax carried by ~20 % of the points decides for
    translation, while up to ~38 % outliers do not. r = 4 (two image points), rotation: d = 2, k = 3;
    essential: d = 3, k = 5; lambda1 = ln 4, lambda2 = ln 4n, lambda3 = 2.
    The rotation model's 4-D geometric error is about the transfer error / sqrt(2); Sampson's error
    already is the 4-D distance."""
    n = len(transfer_px)
    rho_rot = np.minimum((transfer_px / sigma) ** 2 / 2.0, 2.0 * (4 - 2))
    rho_ess = np.minimum((sampson_px / sigma) ** 2, 2.0 * (4 - 3))
    lam1, lam2 = math.log(4.0), math.log(4.0 * n)
    gric_rot = rho_rot.sum() + lam1 * 2 * n + lam2 * 3
    gric_ess = rho_ess.sum() + lam1 * 3 * n + lam2 * 5
    return float(gric_rot - gric_ess)


def undistort_points(points: np.ndarray, barrel: float, center: tuple[float, float], width: int) -> np.ndarray:
    """Points (N, 2) seen through a barrel lens moved to where a pinhole of the same focal length sees
    them: a point at radius r (in half image widths from the centre) moves out to r (1 + ``barrel`` r^2)
    (Brown's radial model, inverted to first order). In half-widths, not in focal lengths, so the same
    coefficient holds at every focal length the fits try."""
    if not barrel or len(points) == 0:
        return points
    half = width / 2.0
    rel = (points - center) / half
    return center + (points - center) * (1.0 + barrel * np.sum(rel * rel, axis=1, keepdims=True))


def _undistorted(w: _Window, barrel: float, center: tuple[float, float], width: int) -> _Window:
    """The window itself for a pinhole (``barrel`` 0): the FOV search asks for it at every step."""
    if not barrel:
        return w
    return replace(
        w, p1=undistort_points(w.p1, barrel, center, width), p2=undistort_points(w.p2, barrel, center, width)
    )


def rotation_cost(windows: list, fov: float, width: int, center: tuple[float, float], barrel: float = 0.0) -> float:
    """The median transfer error of one rotation per window over ``windows`` at a FOV (through a barrel
    lens of coefficient ``barrel``): what the FOV search minimises."""
    focal = _focal_of(fov, width)
    undistorted = [_undistorted(w, barrel, center, width) for w in windows]
    return float(np.median(np.concatenate([rotation_transfer(w.p1, w.p2, focal, center)[1] for w in undistorted])))


def unroll_points(
    p1: np.ndarray,
    p2: np.ndarray,
    frames: int,
    readout: float,
    axis: int,
    size: int,
    focal: float,
    center: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """A window's tracks (``p1`` in its first frame, ``p2`` ``frames`` later; (N, 2) each) seen by a
    rolling shutter moved to where a global shutter sees them at the moment each frame's middle line is
    read. The sensor reads line l ``readout`` x (l - middle) / ``size`` frame intervals after the middle
    one (``readout`` < 0: the other way); each point is turned back by the camera's rotation over its
    line's delay, the window's rotation (fitted to the tracks at ``focal``, then again to the moved ones)
    scaled to that share of the window. For a steady turn this is exact; for a walk it also brings every
    line's point into one camera, which the essential matrix needs (a fast turn's lines are seen from
    cameras turned up to a few degrees apart). On exact rolling-shutter tracks of a turn of 9 deg/frame
    (readout 0.56, a 5-frame window) the rotation's median error falls from 0.41 px to 0.0003 px; moving
    each point by its mean velocity instead left 0.34 px (a fast turn's flow is far from uniform over
    the shift), moving only the later end by its extra delay 0.14 px."""
    if not readout or len(p2) == 0:
        return p1, p2
    from scipy.spatial.transform import Rotation

    middle = (size - 1) / 2

    def turned_back(points: np.ndarray, rotvec: np.ndarray) -> np.ndarray:
        share = readout * (points[:, axis] - middle) / size / frames
        back = Rotation.from_rotvec(-share[:, None] * rotvec).as_matrix()
        rays = np.einsum("nij,nj->ni", back, _bearings(points, focal, center))
        z = np.maximum(rays[:, 2], 1e-6)
        return np.column_stack([focal * rays[:, 0] / z + center[0], focal * rays[:, 1] / z + center[1]])

    q1, q2 = p1, p2
    for _ in range(2):
        rotvec = Rotation.from_matrix(rotation_transfer(q1, q2, focal, center)[0]).as_rotvec()
        q1, q2 = turned_back(p1, rotvec), turned_back(p2, rotvec)
    return q1, q2


def _unrolled(w: _Window, readout: float, axis: int, size: int, focal: float, center: tuple[float, float]) -> _Window:
    """The window itself for a global shutter (``readout`` 0)."""
    if not readout:
        return w
    p1, p2 = unroll_points(w.p1, w.p2, w.frames, readout, axis, size, focal, center)
    return replace(w, p1=p1, p2=p2)


def _corrected(w: _Window, d: dict, focal: float, width: int, height: int, center: tuple[float, float]) -> _Window:
    """The window's tracks as a global shutter and a pinhole would see them, with the decision ``d``'s
    barrel coefficient and readout (at ``focal``)."""
    undistorted = _undistorted(w, d["barrel"], center, width)
    size = height if d["readout_axis"] == 1 else width
    return _unrolled(undistorted, d["readout"], d["readout_axis"], size, focal, center)


def _video_shutter(calibrating: list[dict]) -> dict:
    """The readout a video's translating segments are measured with: the median of its turns that
    needed one, along the lines most of them were read; none where no turn did (a turn slow enough to
    fit without one says nothing about the sensor)."""
    rolling = [d for d in calibrating if d["readout"]]
    if not rolling:
        return {"readout": 0.0, "readout_axis": 1}
    axes = [d["readout_axis"] for d in rolling]
    axis = 1 if axes.count(1) >= axes.count(0) else 0
    return {
        "readout": float(np.median([d["readout"] for d in rolling if d["readout_axis"] == axis])),
        "readout_axis": axis,
    }


def _window_kind(p1: np.ndarray, p2: np.ndarray, frames: int, min_points: int, static_flow_px: float) -> str:
    """unknown (fewer than ``min_points`` tracks), static (median track motion below ``static_flow_px``
    per frame) or moving."""
    if len(p1) < min_points:
        return "unknown"
    if np.median(np.linalg.norm(p2 - p1, axis=1)) < static_flow_px * frames:
        return "static"
    return "moving"


def unexplained_still_px(
    points: np.ndarray, rotation: np.ndarray, translation: np.ndarray, focal: float, center: tuple[float, float]
) -> np.ndarray:
    """(N,) how far (pixels) a point that stays put at each of ``points`` is from the flow of every static
    scene point there under the camera motion ``x2 = rotation x1 + translation``: the smallest flow over
    inverse depths from 0 (at infinity, the rotation's flow alone) upwards. Zero where a step's flow at
    some depth cancels the turn's (an orbit's pivot, the focus of expansion of a step without a turn);
    the turn's whole flow where the step's flow cannot oppose it (a bonnet under a car that turns)."""
    n = (np.asarray(points, float) - center) / focal
    rays = np.column_stack([n, np.ones(len(n))]) @ rotation.T
    depth_ratio = np.maximum(rays[:, 2], 1e-6)
    # at inverse depth rho the point moves by (turn + rho * step) / depth_ratio (normalised units)
    turn = rays[:, :2] - n * depth_ratio[:, None]
    step = translation[:2][None] - n * translation[2]
    rho = np.maximum(0.0, -(turn * step).sum(1) / np.maximum((step * step).sum(1), 1e-18))
    return np.linalg.norm(turn + rho[:, None] * step, axis=1) / depth_ratio * focal


def camera_fixed_cells(windows: list, width: int, height: int, config: MotionConfig) -> np.ndarray | None:
    """Grid cells (rows, cols) of ``fixed_cell_px`` whose content stays put in the frame while the camera
    turns (see ``MotionConfig.fixed_still_px``); None where there are none.

    A cell is a candidate where a track in it or beside it stays put in at least three of the video's
    moving windows. Points at infinity (a sky, a far skyline) do that too while the camera steps without
    turning, but a turn moves every scene point by about as much as any other: a candidate is fixed where
    it also stays put in two turning windows, whose other tracks all move alike (their 10th percentile at
    least half their median). A window whose other tracks do not move alike (a car that drives and turns)
    counts for the candidates whose still tracks no static point there explains under those tracks'
    essential matrix (``unexplained_still_px``, ``MotionConfig.fixed_unexplained_px``); a region that
    two turning windows do not confirm on their own must hold still in most of the windows that track
    it (``fixed_always_still``)."""
    c = config
    cell = c.fixed_cell_px
    shape = (math.ceil(height / cell), math.ceil(width / cell))
    ring = np.ones((3, 3), np.uint8)
    seen = []  # per moving window: it, its tracks' cells and motion, and the cells a still track marks
    for w in windows:
        if len(w.p1) < c.min_points:
            continue
        moved = np.linalg.norm(w.p2 - w.p1, axis=1)
        if np.mean(moved > c.fixed_moving_px) < c.fixed_moving_share:
            continue
        rows = np.clip((w.p1[:, 1] // cell).astype(int), 0, shape[0] - 1)
        cols = np.clip((w.p1[:, 0] // cell).astype(int), 0, shape[1] - 1)
        hit = np.zeros(shape, np.uint8)
        still = moved < c.fixed_still_px
        hit[rows[still], cols[still]] = 1
        seen.append((w, rows, cols, moved, cv2.dilate(hit, ring).astype(bool)))
    if len(seen) < 3:
        return None
    candidates = np.sum([hit for *_, hit in seen], axis=0) >= 3
    if not candidates.any():
        return None
    focal, center = _focal_of(c.default_fov_deg, width), ((width - 1) / 2, (height - 1) / 2)
    turning, unexplained = [], []
    for w, rows, cols, moved, hit in seen:
        in_scene = ~candidates[rows, cols]
        scene = moved[in_scene]
        if len(scene) < c.min_points:
            continue
        if np.percentile(scene, 10) >= 0.5 * np.median(scene):
            turning.append(hit)
            continue
        still = (moved < c.fixed_still_px) & ~in_scene
        if not still.any() or (fit := essential(w.p1[in_scene], w.p2[in_scene], focal, center)).rotation is None:
            continue
        off = unexplained_still_px(w.p1[still], fit.rotation, fit.translation, focal, center) >= c.fixed_unexplained_px
        mark = np.zeros(shape, np.uint8)
        mark[rows[still][off], cols[still][off]] = 1
        unexplained.append(cv2.dilate(mark, ring).astype(bool))
    fixed = candidates & (np.sum(turning, axis=0) >= 2) if len(turning) >= 2 else np.zeros(shape, bool)
    if len(turning) + len(unexplained) >= 2:
        found = candidates & (np.sum(turning + unexplained, axis=0) >= 2) & ~fixed
        count, regions = cv2.connectedComponents(found.astype(np.uint8), connectivity=8)
        for k in range(1, count):
            region = regions == k
            around = cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            tracked = [m for _, rows, cols, moved, _ in seen if (m := moved[around[rows, cols]]).size]
            if sum(np.median(m) < c.fixed_still_px for m in tracked) >= c.fixed_always_still * len(tracked):
                fixed |= region
    if not fixed.any():
        return None
    # a see-through logo shows different corners as the scene behind it changes: those seen only in slow
    # windows sit next to the ones seen in moving windows
    fixed = cv2.dilate(fixed.astype(np.uint8), ring).astype(bool)
    return fixed if fixed.mean() <= c.fixed_max_area else None


def _fov_of(focal: float, width: int) -> float:
    return math.degrees(2.0 * math.atan(width / 2.0 / focal))


def _focal_of(fov_deg: float, width: int) -> float:
    return width / 2 / math.tan(math.radians(fov_deg) / 2)


def _angle_deg(rot: np.ndarray) -> float:
    return math.degrees(math.acos(float(np.clip((np.trace(rot) - 1) / 2, -1.0, 1.0))))


# ----------------------------------------------------------------------------------------------------
# The estimator


@dataclass
class _Window:
    p1: np.ndarray
    p2: np.ndarray
    frames: int
    start: int
    kind: str  # unknown, static or moving
    center_y: float = 0.0  # the principal point's row (the image centre)
    cov: np.ndarray | None = None  # (N, 2, 2) each track's error covariance relative to the typical one


# A decision's fields where no window gave evidence (and a pinhole lens)
_NO_EVIDENCE = {
    "calibrated": False,
    "score": 0.0,
    "noise": 0.0,
    "barrel": 0.0,
    "readout": 0.0,
    "readout_axis": 1,
    "coherent_share": 0.0,
}


class OpenCVMotionEstimator:
    """The default estimator: tracking + two-view geometry, deterministic for the same frames."""

    name = "opencv"

    def __init__(self, config: MotionConfig | None = None) -> None:
        config = config or MotionConfig()
        if (fov := config.known_fov_deg) is not None:
            if not 0.0 < fov < 180.0:
                raise ValueError(f"known_fov_deg {fov!r}: a horizontal field of view is between 0 and 180 degrees")
            # the fallback everywhere, and no walker focal; _decide and _sparse_turn measure at it
            config = replace(config, default_fov_deg=float(fov), walker_focal=False)
        self.config = config

    def estimate(self, frames: np.ndarray) -> SegmentMotion:
        return self.estimate_video(frames, [(0, len(frames))])[0]

    def windows(self, grey: GreyFrames, start: int, end: int, fixed: np.ndarray | None = None) -> list[_Window]:
        c = self.config
        out = []
        b = start
        while b < end - 1:
            p1, p2, tensors, e = track_window(grey, b, min(b + c.step, end - 1), c, fixed)
            kind = _window_kind(p1, p2, e - b, c.min_points, c.static_flow_px)
            out.append(_Window(p1, p2, e - b, b, kind, (grey.tracking[b].shape[0] - 1) / 2, track_covariance(tensors)))
            b = e
        return out

    def video_windows(
        self, frames: np.ndarray, segments: list[tuple[int, int]]
    ) -> tuple[GreyFrames, list[list[_Window]]]:
        """The video at analysis size and each ``[start, end)`` segment's windows, tracked inside any black
        bars (``content_view``) and, where the video shows content fixed to the frame
        (``camera_fixed_cells``), tracked again without starting tracks there (its corners took scene
        corners' places in the grid)."""
        c = self.config
        grey = prepare_grey(frames, c.analysis_width, c.contrast_sigma_px)
        height, width = grey.tracking[0].shape
        if c.find_fixed_content:
            grey.view = content_view(grey.raw, margin=_LK["winSize"][0] // 2 + 1)
        per_segment = [self.windows(grey, s, e) for s, e in segments]
        every_window = [w for ws in per_segment for w in ws]
        fixed = camera_fixed_cells(every_window, width, height, c) if c.find_fixed_content else None
        if fixed is not None:
            per_segment = [self.windows(grey, s, e, fixed) for s, e in segments]
        return grey, per_segment

    def estimate_video(self, frames: np.ndarray, segments: list[tuple[int, int]]) -> list[SegmentMotion]:
        """Motion of each ``[start, end)`` segment of one video (see the module docstring)."""
        c = self.config
        grey, per_segment = self.video_windows(frames, segments)
        height, width = grey.tracking[0].shape
        center = ((width - 1) / 2, (height - 1) / 2)
        decisions = [self._decide(w, width, center) for w in per_segment]
        for i, d in enumerate(decisions):
            if d["decision"] == "undetermined" and (turn := self._sparse_turn(per_segment[i], width, center)):
                per_segment[i], decisions[i] = turn
        calibrating = [d for d in decisions if d["decision"] == "rotation" and d["calibrated"]]
        calibrations = [d["fov"] for d in calibrating]
        # A camera keeps its lens: the translating segments take the lens of the turns that set the video's
        # FOV (their median coefficient), as they take that FOV (distorted tracks at a FOV fitted through
        # the lens would mix two cameras); a turn keeps its own.
        video_barrel = float(np.median([d["barrel"] for d in calibrating])) if calibrating else 0.0
        shutter = _video_shutter(calibrating)  # and its sensor
        decisions = [
            {**d, "barrel": video_barrel, **shutter} if d["decision"] == "translation" else d for d in decisions
        ]
        # (a turn's readout at its own FOV; the translating segments get one only where turns calibrated
        # the video's FOV)
        turns_fov = float(np.median(calibrations)) if calibrations else c.default_fov_deg
        per_segment = [
            [
                _corrected(
                    w,
                    d,
                    _focal_of(d["fov"] if d["decision"] == "rotation" else turns_fov, width),
                    width,
                    height,
                    center,
                )
                for w in windows
            ]
            for windows, d in zip(per_segment, decisions, strict=True)
        ]
        if calibrations:
            video_fov = float(np.median(calibrations))
        elif c.known_fov_deg is not None:
            video_fov = c.known_fov_deg
        else:
            translating = [
                w for ws, d in zip(per_segment, decisions, strict=True) if d["decision"] == "translation" for w in ws
            ]
            video_fov = fundamental_fov([w for w in translating if w.kind == "moving"], width, c) or c.default_fov_deg
        out = []
        for windows, d in zip(per_segment, decisions, strict=True):
            fov = d["fov"] if d["decision"] == "rotation" and d["calibrated"] else video_fov
            motion = self._motion(windows, d, _focal_of(fov, width), center, fov)
            motion.tracks = _sample_tracks(windows, grey.scale)
            out.append(motion)
        if c.walker_focal and not calibrations:
            out = self._walker_focal(per_segment, decisions, out, video_fov, width, center)
        checked = [
            self._background_checked(windows, d, self._depth_checked(windows, d, m, width, center), width, center)
            for windows, d, m in zip(per_segment, decisions, out, strict=True)
        ]
        measured = []
        for windows, m in zip(per_segment, checked, strict=True):
            focal = _focal_of(m.fov_deg, width)
            px = segment_deformation_px(windows, focal, center, c.deformation_neighbours)
            deg = None if px is None else math.degrees(math.atan(px / focal))
            measured.append(replace(m, deformation_px=px, deformation_deg=deg))
        return measured

    def _depth_checked(
        self, windows: list[_Window], d: dict, motion: SegmentMotion, width: int, center: tuple[float, float]
    ) -> SegmentMotion:
        """A translating segment whose walker's depths do not carry over from one window to the next
        (``depth_consistency``: a ratio at or above ``max_depth_inconsistency`` that the carried-over
        tracks bear out, ``_depths_fail``) is a rotation: the parallax its windows showed was the scene
        deforming, not the camera stepping. (A segment fitted with shake is left as it is: its fit's shake
        absorbs part of a wobble. A segment fitted without shake that fails is fitted with shake, and kept
        where that fit explains the tracks by the shake rule's margin and its windows' motions carry the
        depths over.)"""
        c = self.config
        fit = motion.walker_fit
        if motion.decision != "translation" or fit is None or fit.sigmas is None or fit.shake:
            return motion
        focal = _focal_of(motion.fov_deg, width)
        moving = [w for w in windows if w.start in fit.sigmas]
        consistency = depth_consistency(moving, fit.params, focal, center, speed_change=c.max_speed_change)
        if self._depths_fail(consistency):
            # Shake the walker alone left unfitted makes its windows' motions wrong, and its predictions with
            # them: where a fit with shake explains the tracks by the shake rule's margin (SHAKE_GAIN), its
            # windows' motions predict instead. Of the 28 segments the check demoted at version 19 on the
            # tuning and test seeds (wobbling and fast turns, night, water, a crossing object, two walks), the
            # fits with shake of 27 kept 0.60-0.98 of the walker's cost (shake-aware ratios 1.24-4.93); the
            # shaken walk's (street-shake-5001/0) kept 0.40, ratio 1.77 -> 0.14. Without the margin, a
            # wobbling turn of the tuning seeds went back to a walk.
            shaken = self._refit(windows, motion, focal, center, motion.fov_deg, shake=True).walker_fit
            if shaken.shake and shaken.cost < SHAKE_GAIN * fit.cost:
                consistency = depth_consistency(
                    moving, shaken.params, focal, center, shake=shaken.shake_poses, speed_change=c.max_speed_change
                )
        if not self._depths_fail(consistency):
            return replace(motion, depth_consistency=consistency)
        turn = self._motion(windows, {**d, "decision": "rotation"}, focal, center, motion.fov_deg)
        return replace(turn, tracks=motion.tracks, depth_consistency=consistency)

    def _background_checked(
        self, windows: list[_Window], d: dict, motion: SegmentMotion, width: int, center: tuple[float, float]
    ) -> SegmentMotion:
        """A translating segment whose walker puts a still background at the top and the bottom of the
        view (``MotionConfig.min_still_share``) is a rotation, measured on its tracks at infinity."""
        c = self.config
        fit = motion.walker_fit
        if motion.decision != "translation" or fit is None or fit.sigmas is None:
            return motion
        focal = _focal_of(motion.fov_deg, width)
        moving = [w for w in windows if w.start in fit.sigmas]
        shake = fit.shake_poses if fit.shake else None
        shares, counts, still = still_background_shares(
            moving, fit.params, focal, center, c.still_depth_share, shake=shake
        )
        ends = [0, 2]  # the top and bottom thirds
        measured = (float(shares[0]), float(shares[2]))
        if counts[ends].min() < c.min_still_tracks or shares[ends].min() < c.min_still_share:
            return replace(motion, still_background=measured)
        background = []
        for w in windows:
            at_infinity = still.get(w.start)
            if at_infinity is None:  # a window the walker was not fitted on (static, unknown)
                background.append(w)
            elif at_infinity.sum() < c.min_points:  # too few to measure this window's rotation by
                background.append(replace(w, kind="unknown"))
            else:
                cov = None if w.cov is None else w.cov[at_infinity]
                background.append(replace(w, p1=w.p1[at_infinity], p2=w.p2[at_infinity], cov=cov))
        turn = self._motion(background, {**d, "decision": "rotation"}, focal, center, motion.fov_deg)
        return replace(
            turn, tracks=motion.tracks, depth_consistency=motion.depth_consistency, still_background=measured
        )

    def _depths_fail(self, consistency: DepthConsistency | None) -> bool:
        c = self.config
        return (
            consistency is not None
            and consistency.ratio >= c.max_depth_inconsistency
            and consistency.carried >= c.min_depth_tracks
            and consistency.sign_test() < c.depth_significance
        )

    def _walker_focal(
        self,
        per_segment: list[list[_Window]],
        decisions: list[dict],
        motions: list[SegmentMotion],
        fov: float,
        width: int,
        center: tuple[float, float],
    ) -> list[SegmentMotion]:
        """For a video without a calibrating pure turn (its FOV from Mendonca-Cipolla, or the default):
        each translating segment that turns at least ``min_calibration_deg`` per window refines its joint
        fit once more with the focal length free (a walker's turn pins the focal the way a pure turn does;
        a level walker's essential matrices barely do), and the video takes the median of those focal
        lengths that fall within the FOV candidates' range. Where they disagree by more than
        ``WALKER_FOCAL_TOLERANCE`` (a segment fitted in its bas-relief twin pulls its own away), the one
        of them or their median at which the turning segments' fits, summed, cost least is taken. Where
        fewer than two fall in range, that one refinement may have slid into a local minimum: the focal
        profile (``_focal_profile``) proposes another, and again the fits' summed cost decides. Where the
        focal moves by more than ``WALKER_FOCAL_TOLERANCE``, the translating segments' fits (each with
        its mirrored twin) are refined at it and the rotation segments' fits are redone."""
        c = self.config
        focal = _focal_of(fov, width)
        scales, turning = [], []
        for i, (windows, d, m) in enumerate(zip(per_segment, decisions, motions, strict=True)):
            if m.decision != "translation" or not d["calibrated"]:  # no turn to pin the focal
                continue
            fit = self._refit(windows, m, focal, center, fov, fit_focal=True).walker_fit
            if fit is None or fit.turn_deg_per_window < c.min_calibration_deg:
                continue
            turning.append(i)
            if c.fov_candidates[0] <= _fov_of(focal * fit.focal_scale, width) <= c.fov_candidates[-1]:
                scales.append(fit.focal_scale)
        if not turning:
            return motions
        new_fov, fitted = _fov_of(focal * float(np.median(scales)), width) if scales else fov, motions
        candidates = []  # (FOV, the fits to refine from) among which the fits' summed cost chooses
        if len(scales) >= 2:
            if math.log(max(scales) / min(scales)) >= WALKER_FOCAL_TOLERANCE:
                # a fit in its bas-relief twin pulls its focal length away: the fits decide, together
                candidates = [(f, motions) for f in sorted({_fov_of(focal * s, width) for s in scales} | {new_fov})]
        else:
            profile_fov, profile_fits = self._focal_profile(per_segment, motions, turning, fov, width, center)
            if profile_fov != new_fov:
                candidates = [(new_fov, motions), (profile_fov, profile_fits)]
        if candidates:  # the first of equals
            costs = [self._fits_at(per_segment, ms, turning, f, width, center)[0] for f, ms in candidates]
            new_fov, fitted = candidates[int(np.argmin(costs))]
        if abs(math.log(_focal_of(new_fov, width) / focal)) < WALKER_FOCAL_TOLERANCE:
            return motions
        focal = _focal_of(new_fov, width)
        out = []
        for windows, d, m, first in zip(per_segment, decisions, fitted, motions, strict=True):
            if m.decision == "translation":  # with shake where the segment's first fit had it
                shaken = first.walker_fit is not None and first.walker_fit.shake
                m = self._refit(windows, m, focal, center, new_fov, mirror=True, shake=shaken)
            elif m.decision == "rotation":
                m = replace(self._motion(windows, d, focal, center, new_fov), tracks=m.tracks)
            out.append(m)
        return out

    def _fits_at(
        self,
        per_segment: list[list[_Window]],
        motions: list[SegmentMotion],
        segments: list[int],
        fov: float,
        width: int,
        center: tuple[float, float],
    ) -> tuple[float, list[SegmentMotion]]:
        """The ``segments``' joint fits (each with its mirrored twin) refined from ``motions`` at ``fov`` on
        ``PROFILE_TRACKS`` tracks each: their summed capped cost and the motions with those fits."""
        focal, fitted = _focal_of(fov, width), list(motions)
        for i in segments:
            fitted[i] = self._refit(
                per_segment[i], motions[i], focal, center, fov, mirror=True, tracks=PROFILE_TRACKS, shake=False
            )
        return sum(fitted[i].walker_fit.cost for i in segments), fitted

    def _focal_profile(
        self,
        per_segment: list[list[_Window]],
        motions: list[SegmentMotion],
        turning: list[int],
        fov: float,
        width: int,
        center: tuple[float, float],
    ) -> tuple[float, list[SegmentMotion]]:
        """The FOV at which the ``turning`` segments' joint fits, summed, cost least, and their fits at the
        grid point nearest it (``fov`` and ``motions`` where no minimum lies inside the grid). The grid
        ``FOCAL_PROFILE_DEG`` is swept outward from ``fov``, each fit refined from its fit at the grid
        point before, so it follows its minimum instead of restarting far from it. At the best grid point
        each fit is refined once more with the focal length free: the capped costs make too sharp a V about
        the minimum for a parabola through the grid points to place it."""
        profile = {fov: self._fits_at(per_segment, motions, turning, fov, width, center)}
        for grid in ([f for f in FOCAL_PROFILE_DEG if f > fov], [f for f in FOCAL_PROFILE_DEG[::-1] if f < fov]):
            previous = profile[fov][1]
            for grid_fov in grid:
                profile[grid_fov] = self._fits_at(per_segment, previous, turning, grid_fov, width, center)
                previous = profile[grid_fov][1]
        fovs = sorted(profile)
        k = min(range(len(fovs)), key=lambda j: profile[fovs[j]][0])
        if k in (0, len(fovs) - 1):  # the costs fall towards the grid's end: they do not pin the focal
            return fov, motions
        grid_fov, fitted = fovs[k], profile[fovs[k]][1]
        focal = _focal_of(grid_fov, width)
        scales = [
            self._refit(per_segment[i], fitted[i], focal, center, grid_fov, fit_focal=True).walker_fit.focal_scale
            for i in turning
        ]
        best = _fov_of(focal * float(np.median(scales)), width)
        return min(max(best, fovs[k - 1]), fovs[k + 1]), fitted

    def _decide(self, windows: list[_Window], width: int, center: tuple[float, float]) -> dict:
        """The segment's decision, its best rotation-only FOV and the noise comparison behind it."""
        c = self.config
        known = [w for w in windows if w.kind != "unknown"]
        moving = [w for w in known if w.kind == "moving"]
        base = {"fov": c.default_fov_deg, **_NO_EVIDENCE}
        if not windows or len(known) < (1 - c.max_unknown_fraction) * len(windows):
            return {**base, "decision": "undetermined"}
        if not moving:
            return {**base, "decision": "static"}

        thinned = _thinned(moving, _thinning(moving, SEARCH_TRACKS))

        def cost(fov: float, barrel: float = 0.0) -> float:
            return rotation_cost(thinned, fov, width, center, barrel)

        def best_fov() -> float:  # the pinhole FOV at which one rotation per window fits best
            costs = [cost(f) for f in c.fov_candidates]
            best = int(np.argmin(costs))
            lo = c.fov_candidates[max(0, best - 1)]
            hi = c.fov_candidates[min(len(costs) - 1, best + 1)]
            return _golden_min(cost, lo, hi)

        fov = best_fov() if c.known_fov_deg is None else c.known_fov_deg
        decision = gate = self._evidence(moving, fov, width, center)
        if c.known_fov_deg is None and decision["decision"] == "translation" and shifted_as_one(thinned, cost, c):
            # No FOV can be measured here, nor any depth: read as the turn it looks like (at the video's FOV)
            return {**decision, "decision": "rotation", "calibrated": False}
        if c.known_fov_deg is not None and decision["decision"] == "translation":
            # Whether a lens or a shutter may explain the parallax is a question about the tracks, asked at
            # the FOV a rotation fits best as without a known FOV: at the true FOV a distorted turn fits a
            # plain rotation worse (a 0.25 barrel at 80 deg: scores 1.7-1.8, over the gate's 1.2).
            gate = self._evidence(moving, best_fov(), width, center)
        if decision["decision"] != "translation" or gate["score"] >= c.barrel_below_score:
            return decision
        pinhole_cost = cost(fov)
        return (
            self._through_lens(moving, thinned, fov, cost, pinhole_cost, width, center)
            or self._through_rolling_shutter(moving, thinned, fov, pinhole_cost, width, center)
            or decision
        )

    def _through_lens(
        self,
        moving: list[_Window],
        thinned: list[_Window],
        fov: float,
        cost,
        pinhole_cost: float,
        width: int,
        center: tuple[float, float],
    ) -> dict | None:
        """The segment as a rotation through a barrel lens (coefficient and FOV fitted, ``cost`` the
        rotation's median error at a FOV and coefficient, ``pinhole_cost`` at ``fov`` without one), or None."""
        c = self.config
        if c.max_barrel <= 0:
            return None
        # A distorting lens bends a pure rotation's flow so that no rotation fits it. The coefficient and
        # the FOV are searched together (they trade along a valley: more barrel, wider FOV); where they
        # fit the rotation clearly better and the segment is then a rotation, it is one. Elsewhere the
        # pinhole decision stands: a rotation-only fit to parallax finds some "barrel" too.
        if c.known_fov_deg is not None:  # the coefficient alone
            barrel = _golden_min(lambda b: cost(fov, b), 0.0, c.max_barrel)
            lens_fov, lens_cost = fov, cost(fov, barrel)
        else:
            from scipy.optimize import minimize

            def joint(x: np.ndarray) -> float:
                inside = c.fov_candidates[0] <= x[0] <= c.fov_candidates[-1] and 0.0 <= x[1] <= c.max_barrel
                return cost(float(x[0]), float(x[1])) if inside else math.inf

            # the simplex reaches 25 deg wider: from a pinhole fit 28 deg narrow, a start 10 deg wide stalled
            simplex = np.array([[fov, 0.0], [fov + 25.0, 0.5 * c.max_barrel], [fov + 10.0, 0.1 * c.max_barrel]])
            found = minimize(
                joint, simplex[0], method="Nelder-Mead", options={"initial_simplex": simplex, "maxfev": 40}
            )
            lens_fov, barrel, lens_cost = float(found.x[0]), float(found.x[1]), float(found.fun)
        if lens_cost >= (1.0 - c.min_barrel_gain) * pinhole_cost:
            return None
        undistorted = [_undistorted(w, barrel, center, width) for w in moving]
        lens = self._evidence(undistorted, lens_fov, width, center)
        return {**lens, "barrel": barrel} if lens["decision"] == "rotation" else None

    def _through_rolling_shutter(
        self,
        moving: list[_Window],
        thinned: list[_Window],
        fov: float,
        pinhole_cost: float,
        width: int,
        center: tuple[float, float],
    ) -> dict | None:
        """The segment as a rotation seen by a rolling shutter (``MotionConfig.max_readout``): the signed
        readout searched along the rows and along the columns, or None."""
        c = self.config
        if c.max_readout <= 0:
            return None
        height = round(2 * center[1] + 1)

        def cost(readout: float, axis: int, fov: float = fov) -> float:
            focal, size = _focal_of(fov, width), height if axis == 1 else width
            ws = [_unrolled(w, readout, axis, size, focal, center) for w in thinned]
            return float(np.median(np.concatenate([rotation_transfer(w.p1, w.p2, focal, center)[1] for w in ws])))

        readouts = [(_golden_min(lambda r, a=axis: cost(r, a), -c.max_readout, c.max_readout), axis) for axis in (1, 0)]
        readout, axis = min(readouts, key=lambda ra: cost(*ra))
        if c.known_fov_deg is None:  # the shear and the focal length trade a little: the FOV is searched again
            fov = _golden_min(lambda f: cost(readout, axis, f), fov - 5.0, fov + 5.0, iterations=6)
        if cost(readout, axis, fov) >= (1.0 - c.min_readout_gain) * pinhole_cost:
            return None
        size, focal = height if axis == 1 else width, _focal_of(fov, width)
        unrolled = [_unrolled(w, readout, axis, size, focal, center) for w in moving]
        shutter = self._evidence(unrolled, fov, width, center)
        return {**shutter, "readout": readout, "readout_axis": axis} if shutter["decision"] == "rotation" else None

    def _sparse_turn(
        self, windows: list[_Window], width: int, center: tuple[float, float]
    ) -> tuple[list[_Window], dict] | None:
        """An undetermined segment read as a turn from windows with too few tracks for an essential matrix
        but enough for a rotation (3 degrees of freedom): where the windows with at least
        ``min_turn_points`` tracks are as many as a decision needs, some of them move, and one rotation
        per window at one focal length leaves each moving window's median track within
        ``max_sparse_turn_px``. So few tracks cannot show a translation; the rotation is the model that
        explains them with the fewest parameters. The windows relabelled and the decision (uncalibrated:
        the segment takes the video's FOV), or None: the segment stays undetermined."""
        c = self.config
        relabelled = [
            replace(w, kind=_window_kind(w.p1, w.p2, w.frames, c.min_turn_points, c.static_flow_px))
            if w.kind == "unknown"
            else w
            for w in windows
        ]
        known = [w for w in relabelled if w.kind != "unknown"]
        moving = [w for w in known if w.kind == "moving"]
        if not moving or len(known) < (1 - c.max_unknown_fraction) * len(windows):
            return None

        worst_window_px = {
            fov: max(float(np.median(rotation_transfer(w.p1, w.p2, _focal_of(fov, width), center)[1])) for w in moving)
            for fov in (c.fov_candidates if c.known_fov_deg is None else (c.known_fov_deg,))
        }
        fov = min(worst_window_px, key=worst_window_px.get)
        if worst_window_px[fov] > c.max_sparse_turn_px:
            return None
        return relabelled, {"decision": "rotation", "fov": fov, **_NO_EVIDENCE}

    def _evidence(self, moving: list[_Window], fov: float, width: int, center: tuple[float, float]) -> dict:
        """The GRIC comparison of the rotation-only model and the essential matrix over the moving
        windows at ``fov``: the decision, and the noise and calibration behind it."""
        c = self.config
        focal = _focal_of(fov, width)
        windows_gric, angles, noise, used, rotations = [], [], [], [], []
        for w in moving:
            evidence = window_evidence(w, focal, center, c.min_noise_px)
            if evidence is None:
                continue
            used.append(w)
            windows_gric.append(evidence[0])
            noise.append(evidence[1])
            rotations.append(evidence[2])
            angles.append(_angle_deg(evidence[2]))
        if not windows_gric:
            return {"decision": "rotation", "fov": fov, **_NO_EVIDENCE}
        # Summed over the segment's windows: evidence adds up, so parallax seen in every window counts.
        score = float(np.sum(windows_gric)) / max(1, sum(len(w.p1) for w in moving))
        translating, share = score > c.gric_margin, 0.0
        if not translating and score > c.coherent_above_score:
            tracks, share = coherent_translation_share(used, rotations, noise, focal, center)
            enough = tracks >= c.coherent_min_tracks
            share = share if enough else 0.0  # the share of a few tracks says nothing
            translating = enough and share >= c.min_coherent_share
        return {
            "decision": "translation" if translating else "rotation",
            "fov": fov,
            "calibrated": float(np.median(angles)) >= c.min_calibration_deg,
            "score": score,
            "noise": float(np.median(noise)),
            "barrel": 0.0,
            "readout": 0.0,
            "readout_axis": 1,
            "coherent_share": share,
        }

    def _motion(
        self,
        windows: list[_Window],
        d: dict,
        focal: float,
        center: tuple[float, float],
        fov: float,
    ) -> SegmentMotion:
        c = self.config
        decision = d["decision"]
        pairs = []
        sigmas: dict[int, np.ndarray] = {}  # per track, for the windows that had an essential fit
        for w in windows:
            n = len(w.p1)
            flow = float(np.median(np.linalg.norm(w.p2 - w.p1, axis=1))) if n else 0.0
            if w.kind != "moving" or decision in ("static", "undetermined"):
                kind = "unknown" if w.kind == "unknown" else "static"
                pairs.append(PairMotion(kind, np.eye(3), np.zeros(3), n, median_flow_px=flow, frames=w.frames))
                continue
            rot_k, transfer = rotation_transfer(w.p1, w.p2, focal, center)
            rot_res = float(np.median(transfer))
            if decision == "rotation":
                pairs.append(PairMotion("rotation", rot_k.T, np.zeros(3), n, rot_res, 0.0, flow, w.frames))
                continue
            fit = essential(w.p1, w.p2, focal, center, inlier_px=c.pose_inlier_px)
            r_e, t_e = fit.rotation, fit.translation
            ess_res = float(np.median(fit.errors)) if fit.errors is not None else math.inf
            evidence = window_evidence(w, focal, center, c.min_noise_px, fit) if fit.matrix is not None else None
            if evidence is not None:
                sigmas[w.start] = evidence[1]
            # A decomposition is degenerate when this window shows no parallax of its own (pure rotation
            # admits any translation and the twisted-pair rotation), when the cheirality vote is split, or
            # when its rotation strays from the rotation-only fit further than any parallax could push
            # that fit (the twisted pair is ~180 deg off); the rotation-only fit then stands in.
            flow_deg = math.degrees(flow / focal)
            degenerate = (
                r_e is None
                or evidence is None
                or evidence[0] <= c.gric_margin * n
                or fit.cheirality < c.min_cheirality
                or _angle_deg(r_e @ rot_k.T) > 10.0 + 2.0 * (_angle_deg(rot_k) + flow_deg)
            )
            if degenerate:
                pairs.append(PairMotion("rotation", rot_k.T, np.zeros(3), n, rot_res, ess_res, flow, w.frames, True))
                continue
            # x2 = R x1 + t: camera 2 sits at -Rᵀt in camera 1's frame, turned by Rᵀ.
            centre2 = -r_e.T @ t_e
            unit = centre2 / (np.linalg.norm(centre2) + 1e-12)
            pairs.append(PairMotion("translation", r_e.T, unit, n, rot_res, ess_res, flow, w.frames))
        per_frame = None
        if decision == "translation":
            moving = [(w, p) for w, p in zip(windows, pairs, strict=True) if w.start in sigmas]
            candidates = [(p.rotation, p.direction, p.frames) for _, p in moving if p.kind == "translation"]
            for w, _ in moving:
                candidates += motion_hypotheses(w.p1, w.p2, w.frames, focal, center)
            per_frame = constant_motion_fit(
                [w for w, _ in moving],
                [sigmas[w.start] for w, _ in moving],
                candidates,
                focal,
                center,
                c.refine_mirror,
                roll=None if c.fit_roll else False,
                ramp=None if c.fit_ramps else False,
                step_starts=c.step_starts,
            )
            if per_frame is not None:
                per_frame = per_frame._replace(sigmas=sigmas)
            tracks = sum(len(w.p1) for w, _ in moving)
            misfit = c.max_walker_misfit
            if per_frame is not None and misfit is not None and per_frame.cost > misfit * max(tracks, 1):
                # ... and only where the windows' own motions show a step at a changing rate: their yaw or
                # pitch rates differ, and most of them step the same way
                rates = np.array([per_frame_euler(p.rotation, p.frames) for _, p in moving])
                unsteady = float(np.max(np.ptp(rates, axis=0))) >= c.min_unsteady_turn_deg
                if unsteady and _steps_agree([p for _, p in moving], c.max_step_disagreement_deg):
                    per_frame = None
        return _summarise(pairs, decision, fov, d, per_frame)

    def _refit(
        self,
        windows: list[_Window],
        motion: SegmentMotion,
        focal: float,
        center: tuple[float, float],
        fov: float,
        fit_focal: bool = False,
        mirror: bool = False,
        tracks: int | None = None,
        shake: bool | None = None,
    ) -> SegmentMotion:
        """A translating segment's joint fit refined once more from its walker at another focal length
        (and its mirrored twin with ``mirror``; the focal length too with ``fit_focal``), on the same
        windows and noise levels; the segment as it was where no fit is left."""
        fit = motion.walker_fit
        if fit is None or fit.sigmas is None:
            return motion
        moving = [w for w in windows if w.start in fit.sigmas]
        sigmas = [fit.sigmas[w.start] for w in moving]
        if tracks is not None:
            moving = _thinned(moving, _thinning(moving, tracks))
        shake = fit.shake if shake is None else shake
        new = constant_motion_fit(moving, sigmas, [], focal, center, mirror, fit_focal, fit.params, shake)
        if new is None:
            return motion
        d = {
            "score": motion.parallax_score,
            "noise": motion.noise_px,
            "barrel": motion.barrel,
            "readout": motion.readout,
            "readout_axis": motion.readout_axis,
            "coherent_share": motion.coherent_share,
        }
        refitted = _summarise(motion.pairs, "translation", fov, d, new._replace(sigmas=fit.sigmas))
        return replace(refitted, tracks=motion.tracks)


def _window_steps(pairs: list[PairMotion]) -> tuple[np.ndarray, np.ndarray]:
    """The translating windows' steps, each brought to one frame (a window's chord turns with it by half
    its turn), (K, 3), and their median direction (unit; zeros where there are none)."""
    steps = np.array([_per_frame(p.rotation, p.direction, p.frames)[1] for p in pairs if p.kind == "translation"])
    if not len(steps):
        return steps.reshape(0, 3), np.zeros(3)
    median = np.median(steps, axis=0)
    return steps, median / (np.linalg.norm(median) + 1e-12)


def _steps_agree(pairs: list[PairMotion], max_deg: float) -> bool:
    """Whether more than half, and at least two, of the windows with a decomposition (not degenerate) step
    within ``max_deg`` of their median per-frame direction."""
    steps, median = _window_steps(pairs)
    agree = int((np.degrees(np.arccos(np.clip(steps @ median, -1.0, 1.0))) <= max_deg).sum())
    return agree >= 2 and agree > len(steps) / 2


def _skew(t: np.ndarray) -> np.ndarray:
    """The cross-product matrices (..., 3, 3) of vectors (..., 3)."""
    zero = np.zeros_like(t[..., 0])
    rows = [[zero, -t[..., 2], t[..., 1]], [t[..., 2], zero, -t[..., 0]], [-t[..., 1], t[..., 0], zero]]
    return np.stack([np.stack(row, -1) for row in rows], -2)


def _per_frame(rotation: np.ndarray, position: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The constant per-frame motion (rotation, unit position of the next camera in the current one's
    frame) that, repeated ``frames`` times, produces a window's (rotation, position direction)."""
    step = Rotation.from_rotvec(Rotation.from_matrix(rotation).as_rotvec() / frames).as_matrix()
    powers = np.eye(3)
    total = np.zeros((3, 3))
    for _ in range(frames):
        total += powers
        powers = powers @ step
    v = np.linalg.solve(total, position)
    return step, v / (np.linalg.norm(v) + 1e-12)


# a walker-fitted focal length within 5 % of the video's (|log scale| < 0.05) is not applied: on the
# tuning seeds 0, 3 % and 5 % changed no segment's label, and each skipped video saves its refits
WALKER_FOCAL_TOLERANCE = 0.05
# the focal profile's grid (deg) and the tracks a segment keeps in it and where fits' costs are compared
# (every k-th). The profile runs where fewer than two walking turns calibrate (10 of the 192 tuning
# videos): every tuning segment kept its label (549 of 576; test seeds 545 -> 546). Choosing among
# disagreeing walking turns' focal lengths by the fits' cost as well: tuning 549 -> 550, translating
# segments' focal off by more than 5 deg 12 -> 9 of 342 (test seeds 546 -> 549, 28 -> 13 of 352), at
# 1.07x the CPU time (1.17x where they agree too, with the same labels). The profile run in every video
# that turns, with a parabola through the grid points: 549, at 1.35x the CPU time (120 tracks: 548)
FOCAL_PROFILE_DEG = (45.0, 55.0, 65.0, 75.0, 85.0, 95.0, 105.0)
PROFILE_TRACKS = 300
# relative tolerances (ftol, xtol) of the joint fit's least squares. Tuning seeds (with walker_focal):
# scipy's 1e-8 548 of 576, 1e-5 and 1e-4 549 (the same labels), 1e-3 524 (stops short); 1e-5 takes 0.57
# of 1e-8's time, 1e-4 0.46
FIT_TOLERANCE = 1e-5
WALKER_REFINED = 3  # the best starting points that are refined
STEP_START_GAP = math.radians(20.0)  # a step start this close to the fit's step (or its mirror's) is not tried
SEARCH_TRACKS = 600  # tracks a segment keeps (every k-th) where many candidates are ranked: FOV and walker starts


def _thinning(windows: list, limit: int) -> int:
    """Keep every k-th track: at most about ``limit`` tracks in all (k = 1 when they hold fewer)."""
    return max(1, math.ceil(sum(len(w.p1) for w in windows) / limit))


def _thinned(windows: list, k: int) -> list:
    if k <= 1:
        return windows
    return [replace(w, p1=w.p1[::k], p2=w.p2[::k], cov=None if w.cov is None else w.cov[::k]) for w in windows]


AXES = [
    np.array(v, float) / np.linalg.norm(v)
    for v in [(1, 0, 0), (-1, 0, 0), (0, 0, 1), (0, 0, -1), (1, 0, 1), (-1, 0, 1), (1, 0, -1), (-1, 0, -1)]
]


def motion_hypotheses(p1: np.ndarray, p2: np.ndarray, frames: int, focal: float, center) -> list[tuple]:
    """Further starting points for a window's motion (rotation, unit direction, frames): the dominant
    plane's homography decompositions (a near-planar view has two motions that fit it about equally;
    the essential matrix returns one of them) and the rotation-only fit with each horizontal direction."""
    out = []
    rot_k, _ = rotation_transfer(p1, p2, focal, center)
    out += [(rot_k.T, axis, frames) for axis in AXES]
    k = np.array([[focal, 0, center[0]], [0, focal, center[1]], [0, 0, 1.0]])
    try:
        h, _ = cv2.findHomography(p1, p2, cv2.RANSAC, 1.0)
        if h is not None:
            _, rotations, translations, _ = cv2.decomposeHomographyMat(h, k)
            for r, t in zip(rotations, translations, strict=True):
                position = -r.T @ t[:, 0]
                if np.linalg.norm(position) > 1e-9:
                    out.append((r.T, position / np.linalg.norm(position), frames))
    except cv2.error:
        pass
    return out


# In the joint fit's capped cost (``_capped``) a track's cheirality error counts up to CHEIRALITY_CAP sigma
# (4 at most, where a Sampson outlier costs 9). A track that keeps to its epipolar line but runs past the
# point at infinity is most often something moving away on its own (traffic ahead of a car, a walker
# ahead), not a mismatch. At 3 sigma a dashcam's receding cars (udacity/CarND-LaneLines-P1's
# solidWhiteRight.mp4, a straight highway; bench/validation_footage.py) cost a forward drive more than the
# scene's poorer fit cost an orbit, and 4 of its 6 forward segments read as a sideways step with a turn of
# 0.8 deg/frame; at 2.5, 2 of them; at 2, none (OpenCV's own essential matrices read every window forward).
# IF version 30; tuning seeds 916 -> 914 of 954 (a street pitched up gains a pitch, a wobbling pure turn
# reads a sideways step; street-drive unchanged), test seeds 913 -> 914 (a walk past crossing objects put
# right). Only the cost is capped: the least-squares refinement sees the whole error (capped there, its
# gradient vanishes beyond the cap, and the tuning seeds read 913).
CHEIRALITY_CAP = 2.0


def _epipolar_residuals(windows: list, sigmas: list[float], focal: float, center: tuple[float, float]):
    """A function of each window's motion (R (..., W, 3, 3) and t (..., W, 3) with x2 ~ R x1 + t; any
    leading axes are motions evaluated side by side) that returns every track's Sampson error (with its
    covariance) in units of its window's noise sigma, followed by its cheirality error: how far the
    track moved along its epipolar line to the wrong side of the point at infinity (a negative depth;
    Hartley 1998, "Chirality"). The Sampson error alone is blind to motion along the epipolar lines, so
    a sideways step traded for a little more or less yaw (the bas-relief ambiguity) costs it nothing;
    the trade puts the distant points behind the camera. ``scale`` (...,) evaluates at ``focal`` times
    ``scale`` instead: the coordinates x / scale make E into D E D and R into R D (D = diag(1/s, 1/s, 1)),
    the same errors as residuals built at that focal."""
    h1 = np.column_stack(
        [(np.concatenate([w.p1 for w in windows]) - center) / focal, np.ones(sum(len(w.p1) for w in windows))]
    )
    h2 = np.column_stack([(np.concatenate([w.p2 for w in windows]) - center) / focal, np.ones(len(h1))])
    cov = np.concatenate([_covariances(w) for w in windows])
    c00, c01, c11 = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    weight = focal / np.concatenate([np.full(len(w.p1), s) for w, s in zip(windows, sigmas, strict=True)])
    window_of = np.repeat(np.arange(len(windows)), [len(w.p1) for w in windows])
    ends = np.cumsum([0] + [len(w.p1) for w in windows])  # a window's tracks are rows ends[k]:ends[k+1]

    def per_track(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
        # points (N, 3) times their own window's matrix (..., W, 3, 3): one product per window, a third of
        # the time of every track against every window
        return np.concatenate(
            [points[ends[k] : ends[k + 1]] @ matrices[..., k, :, :] for k in range(len(windows))], axis=-2
        )

    def quadratic(u: np.ndarray, v: np.ndarray) -> np.ndarray:  # (u, v) Σ (u, v)ᵀ per track
        return c00 * u * u + 2.0 * c01 * u * v + c11 * v * v

    def residuals(rotations: np.ndarray, translations: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
        e = _skew(translations) @ rotations
        if scale is not None:
            d = np.zeros((*np.shape(scale), 1, 3, 3))
            d[..., 0, 0, 0] = d[..., 0, 1, 1] = 1.0 / np.asarray(scale)
            d[..., 2, 2] = 1.0
            e, rotations = d @ e @ d, rotations @ d
        ex1 = per_track(h1, np.swapaxes(e, -1, -2))
        etx2 = per_track(h2, e)
        x = per_track(h1, np.swapaxes(rotations, -1, -2))
        t = translations[..., window_of, :]
        num = np.einsum("...i,...i->...", h2, ex1) ** 2
        den = quadratic(ex1[..., 0], ex1[..., 1]) + quadratic(etx2[..., 0], etx2[..., 1])
        sampson = np.sqrt(num / np.maximum(den, 1e-18)) * weight
        # inverse depth rho >= 0 moves the image of R x1 (rho = 0, at infinity) along d
        z = np.where(np.abs(x[..., 2]) < 1e-9, 1e-9, x[..., 2])
        ax, ay = x[..., 0] / z, x[..., 1] / z
        dx, dy = (t[..., 0] - ax * t[..., 2]) / z, (t[..., 1] - ay * t[..., 2]) / z
        norm = np.maximum(np.hypot(dx, dy), 1e-12)
        dx, dy = dx / norm, dy / norm
        if scale is not None:  # the point at infinity in the given focal's coordinates (same direction)
            ax, ay = ax * np.asarray(scale)[..., None], ay * np.asarray(scale)[..., None]
        along = (h2[:, 0] - ax) * dx + (h2[:, 1] - ay) * dy
        spread = np.sqrt(np.maximum(quadratic(dx, dy), 1e-12))
        behind = np.where(norm > 1e-9, np.maximum(-along, 0.0), 0.0) / spread * weight
        return np.concatenate([sampson, behind], axis=-1)

    residuals.tracks = len(h1)  # the residuals are each track's Sampson error, then each one's cheirality error
    return residuals


def _relative(rot: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, unit t) with x2 ~ R x1 + t for later cameras at ``pos`` (..., 3) turned by ``rot`` (..., 3, 3)
    (the first camera's frame)."""
    r = np.swapaxes(rot, -1, -2)
    t = -np.einsum("...ij,...j->...i", r, pos)
    return r, t / (np.linalg.norm(t, axis=-1, keepdims=True) + 1e-12)


def _window_relatives(rot: np.ndarray, pos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``n`` windows' (R, unit t) from camera poses (..., 2n, 3, 3) and (..., 2n, 3): the
    windows' first frames, then their last frames."""
    first_rot_t = np.swapaxes(rot[..., :n, :, :], -1, -2)
    moved = np.einsum("...ij,...j->...i", first_rot_t, pos[..., n:, :] - pos[..., :n, :])
    return _relative(first_rot_t @ rot[..., n:, :, :], moved)


def _window_offsets(windows: list) -> np.ndarray:
    """The frames (from the first window's start) where the windows start, then where they end."""
    first = np.array([w.start for w in windows]) - min(w.start for w in windows)
    return np.concatenate([first, first + np.array([w.frames for w in windows])])


def _walker_relatives(
    params: np.ndarray, offsets: np.ndarray, shake: np.ndarray | None = None, at: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The windows' (R, unit t) under walkers ``params`` (..., 4 or 7) at the frame ``offsets``
    (``_window_offsets``), each camera turned by its frame's ``shake`` rotation vector (..., F, 3), frame
    ``at[i]`` for offset i, where given; a ``shake`` of (..., F, 6) also moves each camera by its last
    three (the walker's frame-0 axes, in steps)."""
    rot, pos = walker_poses(params, offsets)
    if shake is not None:
        rot = rot @ _rotation_matrices(shake[..., :3])[..., at, :, :]
        if shake.shape[-1] > 3:  # and moved off the walker's path (a walker's bob and sway)
            pos = pos + shake[..., at, 3:]
    return _window_relatives(rot, pos, len(offsets) // 2)


def walker_window_motions(
    params: np.ndarray, windows: list, shake: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each window's (R (W, 3, 3), unit t (W, 3)), x2 ~ R x1 + t, under the walker ``params`` (with the
    ``shake`` rotation vectors of a fit with shake, one per distinct start or end frame, in frame order)."""
    offsets = _window_offsets(windows)
    _, at = np.unique(offsets, return_inverse=True)
    shake = None if shake is None else np.asarray(shake, float)
    return _walker_relatives(np.asarray(params, float), offsets, shake, at)


def walker_path_lengths(params: np.ndarray, windows: list) -> np.ndarray:
    """The length of the walker's path over each window, in steps: the window's frames, or for a ramped
    walker (``walker_ramps``) the sum of its steps' lengths."""
    frames = np.array([w.frames for w in windows], float)
    if len(params) != RAMPED_WALKER:
        return frames
    first = np.array([w.start for w in windows]) - min(w.start for w in windows)
    steps, _, _ = walker_ramps(np.asarray(params, float), int((first + frames).max()))
    return np.array([steps[f : f + int(n)].sum() for f, n in zip(first, frames, strict=True)])


def inverse_depths(p1: np.ndarray, p2: np.ndarray, rot: np.ndarray, t: np.ndarray, focal: float, center) -> np.ndarray:
    """Per track, the rho with x2 ~ R x1 + rho t that fits best (least squares on x2 x (R x1 + rho t) = 0):
    the inverse depth at the first view, in units of the baseline."""
    x1 = np.column_stack([(p1 - center) / focal, np.ones(len(p1))])
    x2 = np.column_stack([(p2 - center) / focal, np.ones(len(p2))])
    a = np.cross(x2, x1 @ rot.T)
    b = np.cross(x2, np.broadcast_to(t, x2.shape))
    return -np.sum(a * b, axis=1) / np.maximum(np.sum(b * b, axis=1), 1e-18)


def still_background_shares(
    windows: list,
    params: np.ndarray,
    focal: float,
    center: tuple[float, float],
    still_depth_share: float,
    shake: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Under the walker ``params``: the share of the tracks at infinity in each third of the frame (top,
    middle, bottom; all windows together), the tracks in each, and per window (by start frame) the mask
    of its tracks at infinity. A track is at infinity where its inverse depth (``inverse_depths``) is
    below ``still_depth_share`` of its window's 75th percentile (in absolute value: a track just behind
    the point at infinity is noise about it); a window whose 75th percentile is not positive has none."""
    rotations, translations = walker_window_motions(params, windows, shake)
    height = 2 * center[1] + 1
    still_in, tracks_in, masks = np.zeros(3), np.zeros(3), {}
    for w, rot, t in zip(windows, rotations, translations, strict=True):
        rho = inverse_depths(w.p1, w.p2, rot, t, focal, center)
        reference = np.percentile(rho, 75) if len(rho) else 0.0
        masks[w.start] = still = np.abs(rho) < still_depth_share * reference
        third = np.clip((w.p1[:, 1] * 3 / height).astype(int), 0, 2)
        still_in += np.bincount(third[still], minlength=3)
        tracks_in += np.bincount(third, minlength=3)
    return still_in / np.maximum(tracks_in, 1), tracks_in, masks


class DepthConsistency(NamedTuple):
    """How well one window's depths predict the next window's tracks (``depth_consistency``)."""

    ratio: float  # median over window pairs: the prediction's median error over the rotation's
    worse: int  # carried-over tracks the depths predict worse than the rotation alone
    carried: int  # tracks carried over, all pairs

    def sign_test(self) -> float:
        """The one-sided sign test's p-value that the depths predict worse than the rotation alone for
        more than half of the carried-over tracks."""
        from scipy.stats import binom

        return float(binom.sf(self.worse - 1, self.carried, 0.5))


SPEED_STEPS = 33  # speed ratios tried per pair of windows (depth_consistency), log-spaced


def depth_consistency(
    windows: list,
    params: np.ndarray,
    focal: float,
    center: tuple[float, float],
    match_px: float = 2.0,
    min_matches: int = 8,
    shake: np.ndarray | None = None,
    speed_change: float = 1.0,
) -> DepthConsistency | None:
    """Whether a translating segment's scene keeps its depths: for each pair of consecutive windows, the
    tracks of the second that start where tracks of the first end (within ``match_px``, in the frame they
    share) are predicted from the first's inverse depths (``inverse_depths``, scaled by the windows'
    lengths: the walker moves at constant speed, and by the speed ratio in ``[1 / speed_change,
    speed_change]`` that predicts best, SPEED_STEPS ratios tried) and the second's walker motion, and
    compared with the second window's rotation-only fit on the same tracks. Its ``ratio`` (the median over
    the pairs of the median prediction error over the median rotation error): below 1 the depths carry
    over (a rigid scene); above it they predict worse than no translation at all (a smooth wobble that
    each window's essential matrix absorbs with a depth per track, which changes from one window to the
    next). Its ``worse`` and ``carried``: the paired comparison, track by track. None where no pair has
    ``min_matches`` tracks. (Refining each window's rotation with its translation held, so that shake the
    walker does not span would not count: tuning seeds 598 instead of 601 of 633; the rotation absorbs
    part of the wobble.)"""
    from scipy.spatial import cKDTree

    rotations, translations = walker_window_motions(params, windows, shake)
    lengths = walker_path_lengths(params, windows)
    speeds = np.geomspace(1.0 / speed_change, speed_change, SPEED_STEPS) if speed_change > 1.0 else np.ones(1)
    ratios, worse, carried = [], 0, 0
    for k in range(len(windows) - 1):
        a, b = windows[k], windows[k + 1]
        if a.start + a.frames != b.start or min(len(a.p2), len(b.p1)) < min_matches:
            continue
        distance, nearest = cKDTree(a.p2).query(b.p1)
        matched = distance < match_px
        if matched.sum() < min_matches:
            continue
        j = nearest[matched]
        rho = (
            inverse_depths(a.p1[j], a.p2[j], rotations[k], translations[k], focal, center) * lengths[k + 1] / lengths[k]
        )
        x1 = np.column_stack([(b.p1[matched] - center) / focal, np.ones(matched.sum())])
        moved = x1 @ rotations[k + 1].T + speeds[:, None, None] * rho[:, None] * translations[k + 1]
        predicted = moved[..., :2] / np.maximum(moved[..., 2:], 1e-6) * focal + np.asarray(center)
        errors = np.linalg.norm(predicted - b.p2[matched], axis=-1)
        error = errors[np.argmin(np.median(errors, axis=1))]
        _, rotation_error = rotation_transfer(b.p1, b.p2, focal, center)  # the window's own rotation
        rotation_error = rotation_error[matched]
        ratios.append(float(np.median(error) / max(float(np.median(rotation_error)), 1e-9)))
        worse += int((error > rotation_error).sum())
        carried += len(error)
    return DepthConsistency(float(np.median(ratios)), worse, carried) if ratios else None


def _capped(r: np.ndarray, tracks: int) -> float | np.ndarray:
    """Squared residuals summed over the last axis, each capped: the ``tracks`` Sampson errors and any rows
    after the cheirality errors (priors) at 3 sigma, the ``tracks`` cheirality errors at CHEIRALITY_CAP."""
    sampson, behind, rest = r[..., :tracks], r[..., tracks : 2 * tracks], r[..., 2 * tracks :]
    return (
        np.minimum(sampson**2, 9.0).sum(-1)
        + np.minimum(behind**2, CHEIRALITY_CAP**2).sum(-1)
        + np.minimum(rest**2, 9.0).sum(-1)
    )


# The walker with roll (walker_poses, walker_roll): its parameters, and the bounds of its roll at the first
# frame (deg), its rate (deg per frame) and its curvature (deg per frame squared)
ROLLING_WALKER = 7
# The walker whose rates change (walker_poses, walker_ramps): its parameters (the level walker's four, three
# ramps and the frame they are centred on) and the bound of a ramp's factor's change from that frame to the
# first and the last (1: from nothing to twice the rate, or back)
RAMPED_WALKER = 8
RAMP_MAX = 1.0
ROLL_MAX_DEG, ROLL_RATE_MAX_DEG, ROLL_CURVATURE_MAX_DEG = 15.0, 0.5, 0.03


def walker_poses(params: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera rotations (..., M, 3, 3) and positions (..., M, 3) (frame 0's heading) at the M frame
    ``offsets`` of a camera moved the way the action vocabulary moves it (``walk_path``): one
    horizontal step of unit length per frame along azimuth ``a`` of the current heading, yaw ``psi``
    per frame about the world's vertical, pitch ``phi`` per frame about its own x axis from ``theta`` at
    frame 0, no roll. ``params`` = (..., 4) (theta, psi, phi, a), radians; leading axes are walkers
    evaluated side by side. ``params`` = (..., 7) turns the camera about its optical axis too (a camera
    held askew, a hand's sway, a drone banking) by ``walker_roll``, bounded so that a roll cannot turn the
    level step into a vertical one (unbounded, a roll near 90 deg made a forward walk in a tuning-seed street a climb
    with 3.8 deg/frame of pitch). ``params`` = (..., 8) is the level walker whose step, yaw and pitch
    change linearly in time (``walker_ramps``: a walker that speeds up, a turn that tightens or eases); its
    ``a``, ``psi`` and ``phi`` are then the step's azimuth and the rates at the frame its last entry names."""
    theta, psi, phi, a = (params[..., i, None] for i in range(4))
    k = np.arange(int(offsets.max()) + 1)
    if params.shape[-1] == RAMPED_WALKER:
        step_length, yaw_sum, pitch_sum = walker_ramps(params, len(k))
    else:
        step_length, yaw_sum, pitch_sum = 1.0, k, k
    heading = psi * yaw_sum
    step = np.stack([np.sin(heading + a), np.zeros_like(heading), np.cos(heading + a)], -1)
    step = step * np.asarray(step_length)[..., None]
    position = np.concatenate([np.zeros_like(step[..., :1, :]), np.cumsum(step, -2)[..., :-1, :]], -2)
    tilt = theta + phi * pitch_sum
    ch, sh = np.cos(heading[..., offsets]), np.sin(heading[..., offsets])
    cp, sp = np.cos(tilt[..., offsets]), np.sin(tilt[..., offsets])
    r_y, r_x = np.zeros((*ch.shape, 3, 3)), np.zeros((*cp.shape, 3, 3))
    r_y[..., 0, 0], r_y[..., 0, 2], r_y[..., 1, 1], r_y[..., 2, 0], r_y[..., 2, 2] = ch, sh, 1.0, -sh, ch
    r_x[..., 0, 0], r_x[..., 1, 1], r_x[..., 1, 2], r_x[..., 2, 1], r_x[..., 2, 2] = 1.0, cp, -sp, sp, cp
    if params.shape[-1] != ROLLING_WALKER:
        return r_y @ r_x, position[..., offsets, :]
    roll = walker_roll(params, offsets)
    cr, sr = np.cos(roll), np.sin(roll)
    r_z = np.zeros((*cr.shape, 3, 3))
    r_z[..., 0, 0], r_z[..., 0, 1], r_z[..., 1, 0], r_z[..., 1, 1], r_z[..., 2, 2] = cr, -sr, sr, cr, 1.0
    return r_y @ r_x @ r_z, position[..., offsets, :]


def walker_ramps(params: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ramped walker's (``params`` (..., 8): theta, psi, phi, a, then the step's, the yaw's and the
    pitch's ramp, then the frame c they are centred on) step length from frame k to k + 1 and its yaw and
    pitch turned by frame k, in steps and in rates, for k < ``frames`` (each (..., frames)). Each of the
    three changes linearly in time: its factor ``1 + r (k - c) / c`` with ``r = RAMP_MAX tanh(p)``, one
    at frame c and from ``1 - r`` at frame 0 to ``1 + r`` at frame 2c: a rate that grows from nothing or
    dies away over the segment at most, never reversing. (A rate that grows by a steady factor per frame,
    at most 10 %, fitted the corpus's ramps, linear in time, poorly: in a probe of the test-seed walk
    pano-walk-ramp-5001/0 it left 4.2 per track, the linear ramp 1.1, the steady walker 4.8.)"""
    k = np.arange(frames)
    centre = np.maximum(params[..., 7, None], 1.0)
    factors = [1.0 + RAMP_MAX * np.tanh(params[..., i, None]) * (k - centre) / centre for i in (4, 5, 6)]

    def turned_by(factor: np.ndarray) -> np.ndarray:  # the sum of the factors of the frames before k
        return np.concatenate([np.zeros_like(factor[..., :1]), np.cumsum(factor, -1)[..., :-1]], -1)

    return np.maximum(factors[0], 0.0), turned_by(factors[1]), turned_by(factors[2])


def walker_roll(params: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The roll (radians, (..., M)) of a walker with roll (``params`` (..., 7)) at the frame ``offsets``:
    ``ROLL_MAX_DEG tanh(p4)`` at the first, changing by ``ROLL_RATE_MAX_DEG tanh(p5)`` per frame, bent by
    ``ROLL_CURVATURE_MAX_DEG tanh(p6)`` per frame squared about the middle of the span (a hand's sway, a
    drone levelling out: over a segment, a sway of 2-6 deg over 60-150 frames is no straight line)."""
    middle = offsets.max() / 2
    roll = ROLL_MAX_DEG * np.tanh(params[..., 4, None]) + ROLL_RATE_MAX_DEG * np.tanh(params[..., 5, None]) * offsets
    return np.radians(roll + ROLL_CURVATURE_MAX_DEG * np.tanh(params[..., 6, None]) * (offsets - middle) ** 2)


def walker_step(params: np.ndarray, at: int) -> tuple[np.ndarray, np.ndarray]:
    """The walker's motion from frame ``at`` to the next (rotation, unit position), in frame ``at``'s camera."""
    rot, pos = walker_poses(params, np.array([at, at + 1]))
    direction = rot[0].T @ (pos[1] - pos[0])
    return rot[0].T @ rot[1], direction / (np.linalg.norm(direction) + 1e-12)


def walker_starts(step_rot: np.ndarray, v: np.ndarray) -> list[tuple]:
    """Walker parameters (theta, psi, phi, a) that reproduce a per-frame motion (rotation, unit
    direction): the camera's pitch theta read from the tilt of the yaw axis where the camera turns, and
    from the elevation of the direction for a forward and for a backward step; both senses of the step."""
    omega = Rotation.from_matrix(step_rot).as_rotvec()  # about (x, world vertical tilted by theta)
    psi, phi = math.copysign(math.hypot(omega[1], omega[2]), omega[1]), omega[0]
    thetas = [0.0, math.atan2(v[1], v[2]), math.atan2(-v[1], -v[2])]
    if abs(psi) > 1e-3:
        thetas.append(math.atan2(-omega[2], omega[1]) if omega[1] >= 0 else math.atan2(omega[2], -omega[1]))
    out = []
    for theta in thetas:
        if abs(theta) > math.radians(75):
            continue
        # the direction in the level heading frame: undo the pitch, then take its azimuth
        level = Rotation.from_rotvec([theta, 0.0, 0.0]).as_matrix() @ v
        for sense in (1.0, -1.0):
            out.append((theta, psi, phi, math.atan2(sense * level[0], sense * level[2])))
    return out


def constant_motion_fit(
    windows: list,
    sigmas: list[float],
    candidates: list[tuple],
    focal: float,
    center: tuple[float, float],
    refine_mirror: bool = True,
    fit_focal: bool = False,
    start: np.ndarray | None = None,
    shake: bool | None = None,
    roll: bool | None = None,
    step_starts: int = 0,
    ramp: bool | None = None,
) -> WalkerFit | None:
    """One motion (per-frame rotation, unit direction, at the segment's middle frame) for all of a
    segment's windows: a segment is one commanded action, so its motion is near constant. Each window's
    decompositions propose motions; they become starting points of the walker (``walker_poses``: the
    space of motions the action vocabulary spans); the best few are refined on all windows at once
    (Cauchy loss) and the one that fits every window best (Sampson plus cheirality error, capped at 3
    sigma) wins, against the refined mirror image of its sideways step (the bas-relief twin). A
    near-planar view gives each window two solutions that fit it about equally; only the true one also
    fits the other windows, where the camera sees other structure.
    (Version 3 refined a general five-parameter motion by its Sampson error alone: 0.852 on the tuning
    seeds; this fit: 0.894. The walker cannot trade a vertical step for pitch, nor a roll for a sideways
    step.) ``fit_focal`` refines the focal length too (its log scale, with a weak prior of
    ``FOCAL_PRIOR_LOG_SIGMA``): a walker's turn fixes it the way a pure rotation's does. ``start`` (walker
    parameters, e.g. an earlier fit's) replaces the proposals: it alone is refined (with its mirror image
    under ``refine_mirror``). ``step_starts`` refines the best motion again from its step turned to each of
    that many azimuths (its turn kept), on thinned tracks. ``shake`` adds a small rotation and displacement
    of the camera at each window's first and last frame (a handheld camera's shake, a walker's bob and sway,
    on top of the walker; priors of ``SHAKE_PRIOR_DEG`` and ``SHAKE_PRIOR_STEPS``, in plain squares, keep
    them small): a walker alone must explain each window's share of the shake by its step, and the sideways
    step is what gives. ``None`` tries it where the walker alone leaves more than ``SHAKE_COST`` per track
    (from the best walker, and from that fit stepping each of four ways) and keeps it where it leaves less
    than ``SHAKE_GAIN`` of that. ``roll`` fits the walker with roll (``walker_poses`` with seven parameters:
    a camera rolled, rolling or swaying about its optical axis, which the level walker can explain only by a
    sideways step or a turn); a ``start`` with seven parameters is one. ``None`` (with ``shake`` None too)
    tries it before shake where the walker alone leaves more than ``ROLL_COST`` per track, and keeps it,
    without shake, where it leaves less than ``ROLL_GAIN`` of that."""
    if (not candidates and start is None) or not windows:
        return None
    from scipy.optimize import least_squares

    origin = min(w.start for w in windows)
    residuals = _epipolar_residuals(windows, sigmas, focal, center)
    offsets = _window_offsets(windows)
    # the frames where a window starts or ends, each with its own shake (windows do not overlap:
    # a window's first and last frame are neighbours in this list, so one is even and one is odd)
    frames_shaken, at = np.unique(offsets, return_inverse=True)
    size = None if start is None else np.shape(start)[-1]
    ramped = bool(ramp) or size == RAMPED_WALKER
    rolling = not ramped and (bool(roll) or size == ROLLING_WALKER)
    walker = RAMPED_WALKER - 1 if ramped else ROLLING_WALKER if rolling else 4  # the walker's free parameters
    walker_size = walker + 1 if fit_focal else walker
    centre = float(offsets.max()) / 2  # a ramped walker's ramps are centred on the middle of its frames

    def params_of(x: np.ndarray) -> np.ndarray:  # walker_poses' parameters: a ramped walker's centre is fixed
        if not ramped:
            return x[..., :walker]
        return np.concatenate([x[..., :walker], np.full((*x.shape[:-1], 1), centre)], -1)

    def terms(x: np.ndarray, fn=residuals) -> np.ndarray:  # x (..., walker [+ 1 log focal] [+ 6 per shaken frame])
        shaken = x.shape[-1] > walker_size
        omega = x[..., walker_size:].reshape(*x.shape[:-1], len(frames_shaken), SHAKE_DOF) if shaken else None
        relative = _walker_relatives(params_of(x), offsets, omega, at)
        out = [fn(*relative, np.exp(x[..., walker])) if fit_focal else fn(*relative)]
        if fit_focal:
            out.append(x[..., walker : walker + 1] / FOCAL_PRIOR_LOG_SIGMA)
        if shaken:
            out.append(x[..., walker_size:] / prior_sigma)
        return np.concatenate(out, axis=-1) if len(out) > 1 else out[0]

    longest = max(w.frames for w in windows)
    shake_rows = SHAKE_DOF * len(frames_shaken)
    prior_sigma = np.tile(
        [math.radians(SHAKE_PRIOR_DEG)] * 3 + [SHAKE_PRIOR_STEPS] * (SHAKE_DOF - 3), len(frames_shaken)
    )

    def shake_loss(z: np.ndarray) -> np.ndarray:
        # Cauchy on the tracks, plain squares on the shake prior: made robust, the prior would let a roll of
        # tens of degrees at every frame stand in for a turn the walker does not span
        rho = np.empty((3, len(z)))
        rho[0], rho[1], rho[2] = np.log1p(z), 1.0 / (1.0 + z), -1.0 / (1.0 + z) ** 2
        rho[:, -shake_rows:] = [z[-shake_rows:], np.ones(shake_rows), np.zeros(shake_rows)]
        return rho

    def cost(x: np.ndarray, fn=residuals) -> float:  # capped on the tracks, the shake prior in full
        f = terms(x, fn)
        if len(x) == walker_size:
            return float(_capped(f, fn.tracks))
        return float(_capped(f[:-shake_rows], fn.tracks) + np.sum(f[-shake_rows:] ** 2))

    def refiner(fn, tracks: list[int]):
        last: dict = {}
        rows = 2 * sum(tracks) + (1 if fit_focal else 0) + shake_rows
        groups = _shake_groups(walker_size, at, tracks, rows)

        def value(x: np.ndarray) -> np.ndarray:
            last["x"], last["f"] = x.copy(), terms(x, fn)
            return last["f"]

        def jacobian(x: np.ndarray) -> np.ndarray:  # least_squares asks for it where it has just evaluated
            f0 = last["f"] if np.array_equal(last.get("x"), x) else terms(x, fn)
            if len(x) == walker_size:
                return forward_jacobian(lambda y: terms(y, fn), x, f0)
            return _shake_jacobian(lambda y: terms(y, fn), x, f0, walker_size, groups)

        def refined(x0: np.ndarray) -> tuple[float, np.ndarray]:  # (capped cost, parameters)
            loss = "cauchy" if len(x0) == walker_size else shake_loss
            x = least_squares(value, x0, jac=jacobian, loss=loss, max_nfev=40, ftol=FIT_TOLERANCE, xtol=FIT_TOLERANCE).x
            return (math.inf if aliased_turn(params_of(x), longest) else cost(x, fn)), x

        return refined

    refined = refiner(residuals, [len(w.p1) for w in windows])

    # shake is tried and its mirror image refined on a thinned set of tracks (its fit takes several times
    # the walker's); the fit kept is refined once on all
    @functools.cache  # built once, on first use: where shake, the mirror or the step starts are tried
    def on_thin() -> tuple:  # (residuals, refine, whether they are all the tracks)
        every = _thinning(windows, PROFILE_TRACKS)
        thin = _thinned(windows, every)
        fn = _epipolar_residuals(thin, [s[::every] if np.ndim(s) else s for s in sigmas], focal, center)
        return fn, refiner(fn, [len(w.p1) for w in thin]), every == 1

    def mirrored(x: np.ndarray) -> np.ndarray:
        # The best motion's mirror image, its sideways step the other way (azimuth a -> -a), is refined
        # too: a sideways step traded for more or less yaw (bas-relief) can be a local minimum that
        # every start the windows propose settles in, while the true motion fits better.
        mirror = np.ones(len(x))
        mirror[3] = -1.0
        return x * mirror

    def stepping(x: np.ndarray, azimuth: float) -> np.ndarray:  # the walker stepping along azimuth, turn kept
        x = x.copy()
        x[3] = azimuth
        return x

    def settled(best: tuple[float, np.ndarray], thin_fit: tuple[float, np.ndarray]) -> tuple[float, np.ndarray]:
        # a fit refined on the thinned tracks against the best: taken where those are all the tracks, else
        # refined on all where it fits the thinned ones better
        thin_residuals, _, all_tracks = on_thin()
        if all_tracks:
            return min([best, thin_fit], key=lambda f: f[0])
        if thin_fit[0] < cost(best[1], thin_residuals):
            return min([best, refined(thin_fit[1])], key=lambda f: f[0])
        return best

    def with_mirror(fit: tuple[float, np.ndarray], step_starts: int = 0) -> tuple[float, np.ndarray]:
        if not refine_mirror:
            return fit
        tries = [fit, refined(mirrored(fit[1]))]
        best = min(tries, key=lambda f: f[0])  # the first of equals
        # and from the fit stepping each of step_starts ways around the circle (its turn kept): a step
        # traded for yaw (bas-relief) leaves a valley along the step's azimuth, and the fit can stop in it
        # on either side of the true step, where neither it nor its mirror image is near that step. They
        # are refined on the thinned tracks; the best is refined on all where it fits those better.
        starts = []
        for azimuth in np.linspace(-math.pi, math.pi, step_starts, endpoint=False):
            if min(abs(math.remainder(azimuth - f[1][3], 2 * math.pi)) for f in tries) > STEP_START_GAP:
                starts.append(stepping(fit[1], azimuth))
        if starts:
            best = settled(best, min((on_thin()[1](x) for x in starts), key=lambda f: f[0]))
        return best

    def shaken_fit(trial: tuple[float, np.ndarray]) -> tuple[float, np.ndarray]:
        # a fit on the thinned tracks refined on all; its mirror image is refined on the thinned tracks,
        # and on all only where it fits them better (where there are few tracks, the thinned are all)
        _, refined_thin, all_tracks = on_thin()
        fit = trial if all_tracks else refined(trial[1])
        return settled(fit, refined_thin(mirrored(fit[1]))) if refine_mirror else fit

    no_shake = np.zeros(shake_rows)
    if start is not None:  # known starts (walker parameters, one per row), refined at this focal
        x0s = []
        for row in np.atleast_2d(np.asarray(start, float)):
            x0 = np.zeros(walker)  # a level walker's start takes no roll and no ramps
            x0[: min(len(row), walker)] = row[:walker]
            x0s.append(np.append(x0, 0.0) if fit_focal else x0)
        if shake:
            best = shaken_fit(on_thin()[1](np.concatenate([x0s[0], no_shake])))
        else:
            best = with_mirror(min((refined(x0) for x0 in x0s), key=lambda f: f[0]), step_starts)
    else:
        # starts are ranked (all at once) on a thinned set of tracks, which keeps that batch small; refined on all
        every = _thinning(windows, SEARCH_TRACKS)
        thin_sigmas = [s[::every] if np.ndim(s) else s for s in sigmas]  # a window's sigma may be per track
        ranking = _epipolar_residuals(_thinned(windows, every), thin_sigmas, focal, center)
        proposed = [x for rot, direction, k in candidates for x in walker_starts(*_per_frame(rot, direction, k))]
        # distinct starts only (many proposals coincide), so the refined few are different motions
        starts = np.unique(np.round(np.array(proposed), 4), axis=0)
        if rolling:
            starts = np.column_stack([starts, np.zeros((len(starts), walker - starts.shape[1]))])
        costs = _capped(terms(starts, ranking), ranking.tracks)  # all starts at once
        if fit_focal:
            starts = np.column_stack([starts, np.zeros(len(starts))])
        ranked = np.argsort(costs, kind="stable")[:WALKER_REFINED]
        fits = [refined(starts[i]) for i in ranked]
        best = min(fits, key=lambda fit: fit[0])  # the first of equals, as before
        tracks = sum(len(w.p1) for w in windows)

        def refitted(walker_starts: np.ndarray, gain: float, **kind) -> WalkerFit | None:
            # the best walker refitted as another kind (from these starts, its mirror image too), where that
            # leaves less than gain of what the walker leaves
            fit = constant_motion_fit(
                windows,
                sigmas,
                [],
                focal,
                center,
                refine_mirror,
                fit_focal,
                walker_starts,
                False,
                step_starts=step_starts,
                **kind,
            )
            return fit if fit is not None and fit.cost < gain * best[0] else None

        if roll is None and shake is None and math.isfinite(best[0]) and best[0] > ROLL_COST * tracks:
            # the walker with roll, refined from the best walker; shake is then not tried
            if rolled := refitted(best[1][:walker], ROLL_GAIN, roll=True):
                return rolled
        if ramp is None and shake is None and math.isfinite(best[0]) and best[0] > RAMP_COST * tracks:
            # the walker whose rates change, refined from the best walker and from the best-ranked starts
            # (a steady walker can absorb a rate that changes by tilting the camera steeply, so that a
            # level step moves the view up or down: refined from there alone, the ramps stay near nothing);
            # shake is then not tried
            ramp_starts = np.array([best[1][:4], *(starts[i][:4] for i in ranked)])
            if ramped := refitted(ramp_starts, RAMP_GAIN, roll=False, ramp=True):
                return ramped
        # shake is tried where asked, or (None) where the walker leaves much unexplained; kept where asked,
        # or where it explains most of that
        if shake is None:
            tried = math.isfinite(best[0]) and best[0] > SHAKE_COST * tracks
        else:
            tried = shake
        trial = None
        if tried:
            # and again from that fit stepping forward, right, back and left: a bob the walker alone cannot
            # explain leaves its fits about equally poor in every direction, and a shaken fit keeps the side
            # of the step it starts on (a forward walk with sway, started on the walker's sideways step)
            trial = on_thin()[1](np.concatenate([best[1], no_shake]))
            turned = []
            for azimuth in (0.0, math.pi / 2, math.pi, -math.pi / 2):
                turned.append(on_thin()[1](np.concatenate([stepping(trial[1][:walker_size], azimuth), no_shake])))
            trial = min([trial, *turned], key=lambda f: f[0])
        if shake is None:
            shake = tried and trial[0] < SHAKE_GAIN * cost(best[1], on_thin()[0])
        best = shaken_fit(trial) if shake else with_mirror(best, step_starts)
    if not math.isfinite(best[0]):
        return None
    middle = int(round(np.mean([w.start - origin + w.frames / 2 for w in windows])))
    x = best[1]
    params = params_of(x)
    yaw_rate, pitch_rate = x[1], x[2]
    if ramped:  # the rates at the middle frame
        _, yaw_sum, pitch_sum = walker_ramps(params, middle + 2)
        yaw_rate, pitch_rate = x[1] * np.diff(yaw_sum[-2:])[0], x[2] * np.diff(pitch_sum[-2:])[0]
    turn = math.degrees(math.hypot(yaw_rate, pitch_rate)) * longest
    return WalkerFit(
        *walker_step(params, middle),
        math.exp(x[walker]) if fit_focal else 1.0,
        turn,
        params.copy(),
        cost=best[0],
        shake=bool(shake),
        shake_poses=x[walker_size:].reshape(-1, SHAKE_DOF).copy() if shake else None,
        roll_deg=tuple(float(r) for r in np.degrees(walker_roll(x, np.array([0, offsets.max()])))) if rolling else None,
    )


class WalkerFit(NamedTuple):
    """A segment's joint constant-motion fit."""

    rotation: np.ndarray  # per-frame rotation at the segment's middle frame
    direction: np.ndarray  # unit position of the next camera in the current one's frame
    focal_scale: float  # the fitted focal length over the given one (1 unless fit_focal)
    turn_deg_per_window: float  # yaw and pitch over the longest window: how well the turn pins the focal
    params: np.ndarray  # the walker's (theta, psi, phi, a [, roll, its rate, its curvature]) (walker_poses)
    sigmas: dict | None = None  # the noise sigma of each window it was fitted on, by the window's start frame
    cost: float = 0.0  # capped cost on the tracks it was fitted on
    shake: bool = False  # fitted with shake at each window's ends (constant_motion_fit)
    # each shaken frame's rotation vector and displacement (in steps, the walker's frame-0 axes), in frame
    # order, if shaken
    shake_poses: np.ndarray | None = None
    roll_deg: tuple[float, float] | None = None  # the camera's roll at the first and last frame, if fitted


# Prior on the log focal scale of a joint fit that refines the focal length: weak (a factor e at one
# sigma), only keeps the scale finite where nothing pins it (no turn)
FOCAL_PRIOR_LOG_SIGMA = 1.0
# Shake (constant_motion_fit): the prior's sigma on each shaken frame's rotation (deg, per axis); the
# capped cost per track of the walker alone above which shake is tried; the share of that cost the fit
# with shake must stay below to be kept. Measured on the tuning seeds with shake tried in every
# translating segment (a 1 deg prior): the fit with shake cost 0.11-0.48 of the walker's in the 26
# segments of the shake conditions, 0.50-1.00 in the 316 others, where the walker alone left 3.35-6.76 and
# at most 4.85 per track; kept everywhere, shake put 11 segments wrong and 3 right. As built (prior 0.5
# deg, tried on PROFILE_TRACKS tracks, carried into the walking turns' focal refinements but not into
# the fits that compare focal lengths): tuning seeds 550 -> 553 of 576, test seeds 549 -> 550, none put
# wrong; IF's CPU time 1.15x on the speed bench's rooms (whose turns about the camera's own axes the
# walker does not span, so shake is tried there too). A robust (capped) prior instead: tuning 554, test
# 551, but a roll of 35-68 deg at every frame then stood in for those rooms' turns (3 of their 24
# segments put wrong) at 1.5x the CPU time.
SHAKE_PRIOR_DEG = 0.5
# Since IF version 26 a shaken frame is also displaced (a walker's bob and sway, which moves the camera
# 1-4 cm up and sideways while a slow walker steps 3 cm per frame: the level walker alone read such walks
# as diagonal steps with a phantom turn), with a prior of SHAKE_PRIOR_STEPS (in the walker's steps) on each
# axis: 6 parameters per shaken frame. Tuning seeds, the gait and shake conditions (72 segments): rotation
# only 60, displaced with a prior of 0.25, 0.5 and 1 step 64, 64 and 63; with the shaken fit also started
# stepping each of four ways 65 (a fit started on the walker's sideways step stays there).
SHAKE_DOF = 6
SHAKE_PRIOR_STEPS = 0.5
SHAKE_COST = 3.0
SHAKE_GAIN = 0.5
# Roll (constant_motion_fit): the capped cost per track of the walker alone above which the walker with
# roll is tried (rigid corpus walks on the tuning seeds: median 1.68, 90th percentile 2.46), and the share
# of the walker's cost the fit with roll must stay below to be kept. Chosen with a roll linear in time, on
# tuning-seed streets (8 per setting) whose camera is rolled 10 deg or rolls 0.1-0.3 deg/frame: their fits
# with roll kept 0.23-0.59 of the walker's cost, the shake, barrel-lens and wobble conditions' fits
# 0.67-1.00; at 0.6 those streets read 23, 21 and 23 of 24 segments right (0.5: 22, 20, 22; no roll: 18,
# 18, 13). With the roll's curvature (a sway is no straight line over a segment): 24, 20 and 21; the
# corpus's roll conditions 27 -> 29 of 36 (tuning) and 29 -> 32 (test); every other reading of the tuning
# table (369 segments) the same but one wrong reading of a wobbling street that changed to another.
ROLL_COST = 2.0
ROLL_GAIN = 0.6
# Ramps (constant_motion_fit): the capped cost per track of the walker alone above which the ramped walker is
# tried, and the share of the walker's cost the ramped fit must stay below to be kept. IF version 36, tuning
# seeds, the ramped walker tried in every segment the walker alone leaves more than 1 per track (565 fits)
# and kept below 0.95: the ramp conditions' fits kept 0.08-0.51 of the walker's cost (three 0.65-0.77), the
# gait, shake, roll, wobble and other conditions' 0.59-1.04 (0.59 a 544x960 walk, 0.61 a barrel lens's
# walk, 0.63 a rolled walk, 0.67 a walk pitched up; most above 0.8). Kept below 0.95, it put 8 segments
# right and 15 wrong (8 of them gait). Below 0.6, 6 right (the ramp conditions 29 -> 34 of 36, and that
# 544x960 walk) and none wrong; every fit kept below 0.6 had left 2.6 or more per track alone (test seeds:
# 2.5), so a walker that leaves under ROLL_COST is not tried (half the fits, the same readings).
RAMP_COST = 2.0
RAMP_GAIN = 0.6


def aliased_turn(params: np.ndarray, frames: int) -> bool:
    """Whether a walker (``walker_poses`` parameters) turns or tilts more than a quarter turn per window
    of ``frames`` frames. A walker turning psi per frame shows windows of k frames the same two views as
    one turning psi + 360/k deg (only the path between them differs), and a refinement can slide to such
    an alias (a test-seed panorama walk: -1.97 deg/frame became 43.03, read as the opposite turn). No
    window shares a view with its start after a quarter turn, so faster rates are not fits. A ramped
    walker's rates are taken where they are fastest."""
    yaw, pitch = abs(params[1]), abs(params[2])
    if len(params) == RAMPED_WALKER:
        yaw *= 1 + RAMP_MAX * abs(math.tanh(params[5]))
        pitch *= 1 + RAMP_MAX * abs(math.tanh(params[6]))
    return bool(max(yaw, pitch) > math.radians(90.0) / frames)


_RELATIVE_STEP = np.finfo(float).eps ** 0.5  # scipy.optimize.approx_derivative's step for '2-point'


def _forward_steps(x: np.ndarray) -> np.ndarray:
    """scipy's '2-point' step for each parameter: relative, away from zero, at least the absolute step."""
    return _RELATIVE_STEP * ((x >= 0).astype(float) * 2.0 - 1.0) * np.maximum(1.0, np.abs(x))


def forward_jacobian(fn, x: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """The Jacobian of ``fn`` at ``x`` by forward differences with scipy's '2-point' steps, the
    perturbed points evaluated side by side in one call (``fn`` takes points (..., n)): the same
    derivative as ``least_squares(jac="2-point")`` at a fraction of the calls."""
    points = x + np.diag(_forward_steps(x))
    steps = np.diagonal(points) - x
    return ((fn(points) - f0) / steps[:, None]).T


def _shake_groups(walker_size: int, at: np.ndarray, tracks: list[int], rows: int) -> list[np.ndarray]:
    """The 2 x ``SHAKE_DOF`` parameter groups of ``_shake_jacobian`` for a fit whose windows have
    ``tracks`` tracks and start and end at the shaken frames ``at`` (window k: ``at[k]``,
    ``at[len(tracks) + k]``): per group, the parameter each of the ``rows`` residuals depends on (-1:
    none). A shaken frame's rotation and displacement move only the tracks of the (at most two) windows
    that start or end there, and its own prior terms; a window's two frames are one even, one odd. So
    one axis of every even (or every odd) frame can be stepped at once: each row then depends on one of
    them."""
    windows, shaken = len(tracks), int(at.max()) + 1
    window_of = np.repeat(np.arange(windows), tracks)
    owners = []
    for parity in (0, 1):
        frame_of_window = np.where(at[:windows] % 2 == parity, at[:windows], at[windows:])
        for axis in range(SHAKE_DOF):
            track_rows = np.tile(walker_size + SHAKE_DOF * frame_of_window[window_of] + axis, 2)
            own = np.arange(shaken) * SHAKE_DOF + axis
            own = np.where(np.arange(shaken) % 2 == parity, walker_size + own, -1)
            prior_rows = np.full(SHAKE_DOF * shaken, -1)
            prior_rows[axis::SHAKE_DOF] = own
            extra = rows - len(track_rows) - len(prior_rows)  # the focal prior, if any
            owners.append(np.concatenate([track_rows, np.full(extra, -1), prior_rows]))
    return owners


def _shake_jacobian(fn, x: np.ndarray, f0: np.ndarray, walker_size: int, owners: list[np.ndarray]) -> np.ndarray:
    """``forward_jacobian`` of the walker with shake (``constant_motion_fit``) in walker_size + 12 calls
    instead of one per parameter: the walker's parameters one at a time, then each group of
    ``_shake_groups`` stepped at once, each row's change credited to the one parameter it depends on."""
    steps = _forward_steps(x)
    points = [x + np.diag(steps)[j] for j in range(walker_size)]
    for owner in owners:
        stepped = np.zeros(len(x))
        stepped[owner[owner >= 0]] = steps[owner[owner >= 0]]
        points.append(x + stepped)
    changes = fn(np.array(points)) - f0
    jac = np.zeros((len(f0), len(x)))
    jac[:, :walker_size] = (changes[:walker_size] / steps[:walker_size, None]).T
    rows = np.arange(len(f0))
    for change, owner in zip(changes[walker_size:], owners, strict=True):
        ok = owner >= 0
        jac[rows[ok], owner[ok]] = change[ok] / steps[owner[ok]]
    return jac


def _rotation_matrices(omega: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of rotation vectors (..., 3), any leading axes."""
    return Rotation.from_rotvec(omega.reshape(-1, 3)).as_matrix().reshape(*omega.shape[:-1], 3, 3)


def per_frame_euler(rotation: np.ndarray, frames: int) -> tuple[float, float]:
    """(yaw, pitch) in degrees per frame of a rotation spanning ``frames`` frames: the rotation vector
    divided by the frames gives one frame's rotation, decoded as the published rule decodes a frame
    pair (extrinsic "xyz" Euler angles). Decoding the whole window's rotation instead would mix yaw and
    roll into phantom pitch."""
    step = Rotation.from_rotvec(Rotation.from_matrix(rotation).as_rotvec() / max(frames, 1))
    pitch, yaw, _ = step.as_euler("xyz", degrees=True)
    return float(yaw), float(pitch)


def _summarise(
    pairs: list[PairMotion], decision: str, fov: float, d: dict, per_frame: WalkerFit | None = None
) -> SegmentMotion:
    """Per-frame rates: the joint constant-motion fit of a translating segment where it exists, else
    medians over the windows with evidence (static windows count as no motion), so one window with a
    bad decomposition cannot set the segment's label."""
    known = [p for p in pairs if p.kind != "unknown"]
    rates = np.array([per_frame_euler(p.rotation, p.frames) for p in known]).reshape(-1, 2)
    yaw, pitch = (float(v) for v in np.median(rates, axis=0)) if len(known) else (0.0, 0.0)
    moving = [p for p in known if p.kind == "translation"]
    direction = np.zeros(3)
    if decision == "translation" and per_frame is not None:
        yaw, pitch = per_frame_euler(per_frame[0], 1)
        direction = per_frame[1]
    elif decision == "translation" and moving:
        direction = _window_steps(moving)[1]
    elif decision == "translation":
        decision = "rotation"  # every decomposition was degenerate: no translation is reported
    return SegmentMotion(
        yaw_deg_per_frame=yaw,
        pitch_deg_per_frame=pitch,
        direction=direction,
        translating_fraction=len(moving) / max(1, len(pairs)),
        static_fraction=sum(p.kind == "static" for p in pairs) / max(1, len(pairs)),
        num_pairs=len(known),
        fov_deg=float(fov),
        pairs=pairs,
        decision=decision,
        parallax_score=float(d.get("score", 0.0)),
        noise_px=float(d.get("noise", 0.0)),
        barrel=float(d.get("barrel", 0.0)),
        readout=float(d.get("readout", 0.0)),
        readout_axis=int(d.get("readout_axis", 1)),
        coherent_share=float(d.get("coherent_share", 0.0)),
        walker_fit=per_frame if decision == "translation" else None,
    )


def _sample_tracks(windows: list[_Window], scale: float, limit: int = 60) -> dict | None:
    """The tracks of the segment's middle window with evidence, in video pixels: what the report draws."""
    known = [w for w in windows if w.kind != "unknown"] or windows
    if not known:
        return None
    w = known[len(known) // 2]
    step = max(1, len(w.p1) // limit)
    pts = np.column_stack([w.p1, w.p2])[::step] / scale
    return {"frame": w.start, "to_frame": w.start + w.frames, "points": np.round(pts, 1).tolist()}


def _golden_min(fn, lo: float, hi: float, iterations: int = 10) -> float:
    """Golden-section search for the minimum of a unimodal ``fn`` on [lo, hi]."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = fn(c), fn(d)
    for _ in range(iterations):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = fn(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = fn(d)
    return (a + b) / 2
