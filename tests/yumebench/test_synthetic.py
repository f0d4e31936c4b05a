import numpy as np

from yumebench.actions import Action, parse_action_text
from yumebench.poses import decode_action_labels, find_action_runs, load_poses
from yumebench.synthetic import Scene, SceneConfig, camera_path
from yumebench.video import probe


def test_render_is_deterministic_textured_and_moves_with_the_camera():
    scene = Scene(SceneConfig(width=80, height=48, seed=2))
    c2w = camera_path([Action("W", "→")] * 10)
    a, b = scene.render(c2w[0]), Scene(SceneConfig(width=80, height=48, seed=2)).render(c2w[0])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (48, 80, 3) and a.std() > 20
    assert np.abs(scene.render(c2w[10]).astype(int) - a).mean() > 5
    assert not np.array_equal(a, Scene(SceneConfig(width=80, height=48, seed=3)).render(c2w[0]))


def test_turning_right_shifts_the_image_left():
    # A pure yaw of one pixel's angle moves content left by about one pixel.
    scene = Scene(SceneConfig(width=160, height=96, seed=4))
    angle = np.degrees(np.arctan(1 / scene.focal)) * 4
    c2w = camera_path([Action("None", "→")], turn_deg=angle)
    a, b = scene.render(c2w[0]).astype(float), scene.render(c2w[1]).astype(float)
    errors = {s: np.abs(a[:, 40 + s : 120 + s] - b[:, 40:120]).mean() for s in range(-6, 7)}
    assert min(errors, key=errors.get) == 4


def test_sample_files_carry_the_ground_truth(small_sample):
    info = probe(small_sample["video"])
    c2w = load_poses(small_sample["poses"])
    assert info.num_frames == len(c2w) == 81
    runs = find_action_runs(decode_action_labels(c2w), min_frames=33)
    assert [(r.start, r.end, r.keys, r.mouse) for r in runs] == [(0, 41, "W+A", "→"), (40, 81, "S", "·")]
    assert parse_action_text(small_sample["caption"].read_text()) == Action("W+A", "→")
