import numpy as np
import pytest

from yumebench.actions import Action
from yumebench.synthetic import Scene, SceneConfig, camera_path
from yumebench.video import (
    VideoError,
    available_backends,
    probe,
    read_frames,
    read_luma,
    resample_indices,
    write_mp4,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    scene = Scene(SceneConfig(width=96, height=64, seed=5, num_boxes=4))
    frames = scene.render_video(camera_path([Action("W", "→")] * 23))
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_mp4(path, frames, fps=16)
    return path, frames


@pytest.mark.parametrize("backend", available_backends())
def test_write_probe_read_round_trip(clip, backend):
    path, frames = clip
    info = probe(path, backend=backend)
    assert (info.num_frames, info.fps, info.width, info.height) == (24, 16.0, 96, 64)
    assert info.backend == backend and info.duration == pytest.approx(1.5)
    decoded, _ = read_frames(path, backend=backend)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    # H.264 at crf 18 on a tiny, busy texture: small loss; a channel swap or a frame shift costs > 30.
    assert np.abs(decoded.astype(int) - frames).mean() < 8.0
    assert np.abs(decoded[1:].astype(int) - frames[:-1]).mean() > 2 * np.abs(decoded.astype(int) - frames).mean()
    sampled, _ = read_frames(path, [7, 0, 7, 23], backend=backend)
    np.testing.assert_array_equal(sampled, decoded[[7, 0, 7, 23]])


def test_backends_decode_identical_frames(clip):
    if "decord" not in available_backends():
        pytest.skip("decord is not installed")
    a, _ = read_frames(clip[0], backend="decord")
    b, _ = read_frames(clip[0], backend="opencv")
    np.testing.assert_array_equal(a, b)


def test_luma_is_the_grey_of_the_decoded_frames(clip, tmp_path):
    import av
    import cv2

    path, frames = clip
    luma, info = read_luma(path)
    assert luma.shape == frames.shape[:3] and luma.dtype == np.uint8 and info.backend == "pyav"
    rgb, _ = read_frames(path)
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb])
    # the same picture: decord's conversion to RGB and back rounds about one grey level lower (a frame
    # shift, or the 16-235 range left unstretched, differs by several)
    assert np.abs(luma.astype(int) - grey).mean() < 2.0 and np.abs(luma.astype(int) - grey).max() <= 8
    assert np.abs(luma[1:].astype(int) - grey[:-1]).mean() > 5.0
    with av.open(str(path)) as container:  # the limited-range stretch is ffmpeg's own grey conversion
        np.testing.assert_array_equal(luma, np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)]))
    full = tmp_path / "full.mp4"  # full-range (JPEG) luma is taken as stored
    with av.open(str(full), "w") as c:
        s = c.add_stream("libx264", rate=16)
        s.width, s.height, s.pix_fmt = 96, 64, "yuvj420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuvj420p")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    full_luma, _ = read_luma(full)
    full_grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in read_frames(full)[0]])
    assert np.abs(full_luma.astype(int) - full_grey).mean() < 1.5


def test_writes_are_deterministic_and_odd_sizes_pad(tmp_path, clip):
    _, frames = clip
    write_mp4(tmp_path / "a.mp4", frames, 16)
    write_mp4(tmp_path / "b.mp4", frames, 16)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    write_mp4(tmp_path / "odd.mp4", frames[:, :63, :95], 16)
    assert probe(tmp_path / "odd.mp4").width == 96
    assert not list(tmp_path.glob(".*partial*"))


def test_resample_indices():
    assert resample_indices(10, 16, 16) == list(range(10))
    assert resample_indices(30, 30, 15) == list(range(0, 30, 2))
    assert resample_indices(60, 30, 16) == [int(k * 30 / 16) for k in range(32)]
    assert resample_indices(4, 8, 16) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert resample_indices(0, 30, 16) == []
    with pytest.raises(ValueError):
        resample_indices(5, 0, 16)


def _corruptions(tmp_path, clip):
    data = clip[0].read_bytes()
    cases = {
        "empty.mp4": b"",
        "text.mp4": b"this is not a video\n" * 10,
        "half.mp4": data[: len(data) // 2],
        "header_only.mp4": data[:64],
        "noise.mp4": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
    }
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(payload)
    return [tmp_path / n for n in cases] + [tmp_path / "missing.mp4", tmp_path]


@pytest.mark.parametrize("backend", ["auto", *available_backends()])
def test_bad_videos_raise_one_clear_error(tmp_path, clip, backend):
    for path in _corruptions(tmp_path, clip):
        calls = [lambda p: probe(p, backend=backend), lambda p: read_frames(p, backend=backend)]
        for call in calls + ([read_luma] if backend == "auto" else []):
            with pytest.raises(VideoError) as info:
                call(path)
            assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_faststart_truncation_is_an_error_not_a_short_read(tmp_path, clip):
    import av

    frames = clip[1]
    path = tmp_path / "fast.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=16)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    assert probe(path).num_frames == 24
    for read in (read_frames, read_luma):
        try:
            got, _ = read(cut)
        except VideoError as e:
            assert str(e).startswith(str(cut))
        else:  # a decoder that conceals errors must still return every frame it promised
            assert got.shape[0] == probe(cut).num_frames


def test_out_of_range_index(clip):
    with pytest.raises(VideoError, match="out of range"):
        read_frames(clip[0], [0, 24])


def test_write_rejects_bad_frames(tmp_path):
    with pytest.raises(VideoError, match="uint8"):
        write_mp4(tmp_path / "x.mp4", np.zeros((2, 8, 8, 3), np.float32), 16)
    with pytest.raises(VideoError, match="no frames"):
        write_mp4(tmp_path / "y.mp4", [], 16)
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "y.mp4").exists()


def test_luma_without_pyav_is_converted_from_rgb(clip, monkeypatch):
    import sys

    import cv2

    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    luma, info = read_luma(clip[0])
    rgb, _ = read_frames(clip[0])
    assert info.backend != "pyav"
    np.testing.assert_array_equal(luma, np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb]))


def test_luma_falls_back_to_the_rgb_readers_where_pyav_stops_short(clip, monkeypatch):
    import cv2

    from yumebench import video

    def short_read(*args):
        raise VideoError(f"{clip[0]}: stream ends at frame 3 of 24 (truncated?)")
        yield  # a generator, like the real one

    monkeypatch.setattr(video, "_decode_pyav", short_read)
    luma, info = read_luma(clip[0])
    rgb, _ = read_frames(clip[0])
    assert info.backend != "pyav" and len(luma) == 24
    np.testing.assert_array_equal(luma, np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb]))
