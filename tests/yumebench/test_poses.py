import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tests.conftest import random_c2w
from yumebench.actions import ALL_ACTIONS, KEYS, Action, SpeedFields
from yumebench.poses import (
    ActionRun,
    PoseError,
    as_c2w,
    decode_action_labels,
    decode_actions,
    dominant_action,
    find_action_runs,
    load_poses,
    mean_motion_action,
    speed_fields,
)
from yumebench.synthetic import camera_path, relative_pose, segments_path


def naive_published_rule(c2w, stride=1, tt=1e-4, rt=1e-3):
    """The published rule, restated one pair at a time from yume_repo.md §2 (the fast path must agree)."""
    c2w, tt, rt = c2w[::stride], tt * stride, rt * stride
    out = []
    for i in range(len(c2w) - 1):
        rel = np.linalg.inv(c2w[i]) @ c2w[i + 1]
        x, _, z = rel[:3, 3]
        keys = []
        if z > tt:
            keys.append("W")
        if z < -tt:
            keys.append("S")
        if x > tt:
            keys.append("D")
        if x < -tt:
            keys.append("A")
        e = Rotation.from_matrix(rel[:3, :3]).as_euler("xyz")
        h = "→" if e[1] > rt else "←" if e[1] < -rt else ""
        v = "↑" if e[0] > rt else "↓" if e[0] < -rt else ""
        out.append({"frame": i, "keys": "+".join(keys) or "None", "mouse": (v + h) or "·"})
    return out


@pytest.mark.parametrize("action", ALL_ACTIONS, ids=str)
def test_decoder_recovers_each_of_the_81_known_trajectories(action, rng):
    c2w = camera_path([action] * 12, start=random_c2w(rng))
    labels = decode_actions(c2w)
    assert len(labels) == 12
    assert all((lab["keys"], lab["mouse"]) == (action.keys, action.mouse) for lab in labels)
    assert [lab["frame"] for lab in labels] == list(range(12))


def test_fast_path_equals_naive_rule_on_random_walks(rng):
    for _ in range(5):
        steps = [ALL_ACTIONS[i] for i in rng.integers(0, 81, size=40)]
        c2w = camera_path(
            steps, step=float(rng.uniform(1e-5, 3e-4)), turn_deg=float(rng.uniform(0.01, 0.2)), start=random_c2w(rng)
        )
        c2w[1:, :3, 3] += rng.normal(scale=2e-5, size=(40, 3))  # jitter around the thresholds
        for stride in (1, 2, 3):
            assert decode_actions(c2w, stride=stride) == naive_published_rule(c2w, stride=stride)


def test_thresholds_scale_with_stride():
    # 0.8e-4 per frame: below the stride-1 threshold, so idle; over 2 frames 1.6e-4 < 2e-4 stays idle;
    # 1.5e-4 per frame moves at stride 1 and 3.0e-4 > 2e-4 at stride 2.
    slow = camera_path([Action("W", "·")] * 8, step=0.8e-4)
    assert {d["keys"] for d in decode_actions(slow)} == {"None"}
    assert {d["keys"] for d in decode_actions(slow, stride=2)} == {"None"}
    fast = camera_path([Action("W", "·")] * 8, step=1.5e-4)
    assert {d["keys"] for d in decode_actions(fast)} == {"W"}
    assert [d["frame"] for d in decode_actions(fast, stride=2)] == [0, 1, 2, 3]
    turn = camera_path([Action("None", "→")] * 8, turn_deg=math.degrees(0.8e-3))
    assert {d["mouse"] for d in decode_actions(turn)} == {"·"}
    assert {d["mouse"] for d in decode_actions(turn, stride=4)} == {"·"}  # 3.2e-3 < 4e-3


def test_code_not_comment_euler_order():
    # With roll the published call ("xyz", extrinsic) and its comment ("YXZ") disagree; we follow the code.
    rel = np.eye(4)
    rel[:3, :3] = Rotation.from_euler("xyz", [0.02, -0.01, 0.5]).as_matrix()
    c2w = np.stack([np.eye(4), rel])
    assert decode_actions(c2w)[0]["mouse"] == "↑←"
    assert Rotation.from_matrix(rel[:3, :3]).as_euler("YXZ")[0] > 0  # the comment's order would say →


def test_runs_and_dominant_action():
    segs = [(Action("W+A", "·"), 40), (Action("W+A", "→"), 10), (Action("S", "↑"), 35)]
    labels = decode_action_labels(segments_path(segs))
    runs = find_action_runs(labels, min_frames=33)
    assert runs == [ActionRun(0, 41, "W+A", "·"), ActionRun(50, 86, "S", "↑")]
    assert [r.num_frames for r in find_action_runs(labels, min_frames=1)] == [41, 11, 36]
    assert find_action_runs(labels, min_frames=37) == [ActionRun(0, 41, "W+A", "·")]
    strided = find_action_runs(decode_action_labels(segments_path(segs), stride=5), min_frames=33, stride=5)
    assert strided[0] == ActionRun(0, 41, "W+A", "·")
    assert dominant_action(labels, 30, 60) == Action("W+A", "·")  # 10 pairs of each; first seen wins
    assert dominant_action(labels, 35, 86) == Action("S", "↑")
    with pytest.raises(ValueError):
        dominant_action(labels, 10, 11)


def test_formats_load_to_the_same_poses(tmp_path, rng):
    c2w = camera_path([Action("W+D", "↓←")] * 6, start=random_c2w(rng))
    np.save(tmp_path / "a.npy", c2w)
    np.save(tmp_path / "b.npy", c2w[:, :3, :])
    np.savez(tmp_path / "c.npz", c2w=c2w)
    np.savetxt(tmp_path / "d.txt", c2w[:, :3, :].reshape(len(c2w), 12))
    np.savetxt(tmp_path / "e.csv", c2w.reshape(len(c2w), 16), delimiter=",", header="m00,m01", comments="")
    for name in ("a.npy", "b.npy", "c.npz", "d.txt", "e.csv"):
        np.testing.assert_allclose(load_poses(tmp_path / name), c2w, atol=1e-12, err_msg=name)
    np.save(tmp_path / "w2c.npy", np.linalg.inv(c2w))
    np.testing.assert_allclose(load_poses(tmp_path / "w2c.npy", world_to_camera=True), c2w, atol=1e-9)
    gl = c2w @ np.diag([1.0, -1.0, -1.0, 1.0])
    np.save(tmp_path / "gl.npy", gl)
    loaded = load_poses(tmp_path / "gl.npy", opengl=True)
    np.testing.assert_allclose(loaded, c2w, atol=1e-12)
    assert decode_actions(loaded) == decode_actions(c2w)


def _bad(tmp_path, name, writer):
    path = tmp_path / name
    writer(path)
    with pytest.raises(PoseError) as info:
        load_poses(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_bad_poses_name_the_file_and_row(tmp_path):
    good = camera_path([Action("W", "·")] * 5)
    nan = good.copy()
    nan[3, 0, 3] = np.nan
    assert "row 3" in _bad(tmp_path, "nan.npy", lambda p: np.save(p, nan))
    skew = good.copy()
    skew[2, :3, :3] *= 1.5
    assert "row 2" in _bad(tmp_path, "scaled.npy", lambda p: np.save(p, skew))
    refl = good.copy()
    refl[4, :3, 0] *= -1
    assert "row 4" in _bad(tmp_path, "reflect.npy", lambda p: np.save(p, refl)) and "reflection" in str(
        pytest.raises(PoseError, load_poses, tmp_path / "reflect.npy").value
    )
    assert "shape" in _bad(tmp_path, "shape.npy", lambda p: np.save(p, np.zeros((5, 3, 3))))
    bottom = good.copy()
    bottom[1, 3, 0] = 1
    assert "row 1" in _bad(tmp_path, "bottom.npy", lambda p: np.save(p, bottom))
    assert "row 1" in _bad(tmp_path, "short.txt", lambda p: p.write_text("1 0 0 0 0 1 0 0 0 0 1 0\n1 2 3\n"))
    assert "row 1" in _bad(tmp_path, "words.txt", lambda p: p.write_text("1 0 0 0 0 1 0 0 0 0 1 0\nfoo bar\n"))
    assert "cannot read" in _bad(tmp_path, "junk.npy", lambda p: p.write_bytes(b"\x93NUMPY garbage"))
    assert "unsupported" in _bad(tmp_path, "poses.json", lambda p: p.write_text("[]"))
    assert "not found" in str(pytest.raises(PoseError, load_poses, tmp_path / "missing.npy").value)
    with pytest.raises(PoseError, match="no poses"):
        as_c2w(np.zeros((0, 4, 4)))


def test_speed_fields_known_values():
    # 0.004 per frame straight ahead at 30 fps: 100 * 0.004 * 30 = 12; no turning.
    straight = camera_path([Action("W", "·")] * 40, step=0.004)
    fields = speed_fields(straight)
    assert (fields.distance, fields.turn_speed, fields.rotation_speed) == pytest.approx((12.0, 0.0, 0.0), abs=1e-6)
    # Turning 1 degree per frame while walking: the heading and the view axis both turn 1 degree a frame.
    curve = camera_path([Action("W", "→")] * 40, step=0.004, turn_deg=1.0)
    fields = speed_fields(curve)
    assert fields.distance == pytest.approx(12.0)
    assert fields.turn_speed == pytest.approx(1.0, abs=1e-6)
    assert fields.rotation_speed == pytest.approx(1.0, abs=1e-6)
    # Published quirk kept: turning in place gives all zeros (no displacement survives).
    spin = camera_path([Action("None", "→")] * 40, turn_deg=1.0)
    assert speed_fields(spin) == SpeedFields(0.0, 0.0, 0.0)
    # The window: displacements i with start <= i < end - 2; frames [0, 10) see only the slow part.
    slow_then_fast = segments_path([(Action("W", "·"), 10)], step=0.004)
    fast = camera_path([Action("W", "·")] * 20, step=0.008, start=slow_then_fast[-1])
    both = np.concatenate([slow_then_fast, fast[1:]])
    assert speed_fields(both, 0, 10).distance == pytest.approx(12.0)
    assert speed_fields(both, 10, 30).distance == pytest.approx(24.0)
    assert speed_fields(both, 0, 10, fps=15).distance == pytest.approx(6.0)
    assert relative_pose(Action("W", "·"), step=0.5)[2, 3] == 0.5


def _driving_in_metres(rng, frames: int = 60, drift_m: float = 0.01) -> np.ndarray:
    """1 m per frame straight ahead with centimetre sideways drift: what GPS/INS poses of a car look like."""
    c2w = np.tile(np.eye(4), (frames, 1, 1))
    c2w[:, 2, 3] = np.arange(frames, dtype=float)
    c2w[:, 0, 3] = np.cumsum(rng.normal(0, drift_m, frames))
    return c2w


def test_direction_rule_is_scale_free_where_the_published_rule_is_not(rng):
    c2w = _driving_in_metres(rng)
    published = decode_action_labels(c2w)
    direction = decode_action_labels(c2w, translation_rule="direction")
    assert {a.keys for a in direction} == {"W"}
    assert sum(a.keys != "W" for a in published) > 0.8 * len(published)  # drift sets A or D almost everywhere
    # the same path in millimetres: the published rule's absolute 1e-4 now ignores the drift of 1e-5
    scaled = c2w.copy()
    scaled[:, :3, 3] *= 1e-3
    assert {a.keys for a in decode_action_labels(scaled)} == {"W"}
    assert decode_action_labels(scaled, translation_rule="direction") == direction


@pytest.mark.parametrize("action", [Action(k, m) for k in KEYS for m in ("·", "→", "↑←")])
def test_direction_rule_agrees_with_the_published_one_on_clean_motion(action):
    c2w = camera_path([action] * 5)
    assert decode_action_labels(c2w, translation_rule="direction") == decode_action_labels(c2w) == [action] * 5


def test_direction_rule_keeps_a_still_camera_still_and_refuses_unknown_rules():
    still = np.tile(np.eye(4), (4, 1, 1))
    assert {a.keys for a in decode_action_labels(still, translation_rule="direction")} == {"None"}
    with pytest.raises(ValueError, match="translation_rule"):
        decode_action_labels(still, translation_rule="metric")


@pytest.mark.parametrize("action", [Action(k, m) for k in KEYS for m in ("·", "→", "↑←")])
def test_mean_motion_action_is_the_per_frame_label_where_every_pair_moves_alike(action):
    c2w = camera_path([action] * 8)
    assert mean_motion_action(c2w) == action == dominant_action(decode_action_labels(c2w, translation_rule="direction"))


def test_mean_motion_action_reads_a_bouncing_turn_as_the_turn():
    """A car turning left by 1 deg per frame while its pitch jitters by +-3 deg per frame (it rides over
    the road): each pair's label carries a pitch, and the most frequent pair label is a pitch; the
    segment's mean motion is a level left turn forward."""
    pitch = np.tile([3.0, -3.0], 16)
    c2w = [np.eye(4)]
    for p in pitch:
        rel = np.eye(4)
        rel[:3, :3] = Rotation.from_euler("xyz", [p, -1.0, 0.0], degrees=True).as_matrix()
        rel[:3, 3] = [0.0, 0.0, 0.5]
        c2w.append(c2w[-1] @ rel)
    c2w = np.array(c2w)
    per_pair = decode_action_labels(c2w, translation_rule="direction")
    assert {a.mouse for a in per_pair} == {"↑←", "↓←"}
    assert mean_motion_action(c2w) == Action("W", "←")
    assert mean_motion_action(c2w, 0, 3) == Action("W", "←")  # one pair up and one down: the mean is level
    assert mean_motion_action(c2w, 0, 2) == Action("W", "↑←")
    with pytest.raises(ValueError, match="no frame pair"):
        mean_motion_action(c2w, 5, 6)
