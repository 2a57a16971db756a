"""Video I/O on real encoded videos: which frames a clip takes, robustness, rotation, VFR, gs://, and that
skipping unneeded frames (B-frames, open GOPs, VFR, HEVC) reads exactly what decoding every frame reads."""

import hashlib
import itertools
import math

import numpy as np
import pytest

from automl_video import storage, synth, video
from automl_video.modeling.metadata import InputSpec

FPS = 15
NUM_FRAMES = 90  # 6 s, a keyframe every second: clips cross GOPs
SPEC = InputSpec(num_frames=8, height=24, width=32)


BITS = 8


def _coded_frame(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """A frame that spells its index in binary: vertical stripe ``b`` is white when bit ``b`` is set."""
    image = np.zeros((height, width, 3), np.uint8)
    stripe = width // BITS
    for bit in range(BITS):
        if index >> bit & 1:
            image[:, bit * stripe : (bit + 1) * stripe] = 255
    return image


def _indices(clip: np.ndarray) -> list[int]:
    width = clip.shape[2]
    centres = [int((bit + 0.5) * width / BITS) for bit in range(BITS)]
    return [sum(1 << bit for bit, x in enumerate(centres) if frame[:, x].mean() > 128) for frame in clip]


def _on_screen(times, frame_times) -> list[int]:
    """Index of the frame on screen at each time: the last presented at or before it."""
    return [int(np.searchsorted(frame_times, t + 1e-9, side="right")) - 1 for t in times]


@pytest.fixture(scope="module")
def coded(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("video") / "coded.mp4")
    return synth.make_video(path, _coded_frame, FPS, num_frames=NUM_FRAMES)


def test_sample_times_are_sub_span_centres_or_jittered_inside_them():
    np.testing.assert_allclose(video.sample_times(1.0, 3.0, 4), [1.25, 1.75, 2.25, 2.75])
    rng = np.random.default_rng(0)
    for _ in range(200):
        times = video.sample_times(1.0, 3.0, 4, rng)
        assert np.all((times >= [1.0, 1.5, 2.0, 2.5]) & (times < [1.5, 2.0, 2.5, 3.0]))
    assert not np.allclose(video.sample_times(1.0, 3.0, 4, rng), video.sample_times(1.0, 3.0, 4, rng))
    with pytest.raises(ValueError):
        video.sample_times(2.0, 1.0, 4)
    with pytest.raises(ValueError):
        video.sample_times(0.0, math.inf, 4)


def test_probe_and_content_hash(coded):
    info = video.probe(coded)
    assert info == video.VideoInfo(
        duration=6.0, fps=15.0, width=64, height=48, rotation=0, frame_count=90, codec="h264"
    )
    with open(coded, "rb") as f:
        assert video.content_hash(coded) == hashlib.sha256(f.read()).hexdigest()


@pytest.mark.parametrize("start, end", [(0.0, 6.0), (0.0, math.inf), (0.5, 1.0), (1.9, 4.3), (5.9, 6.0)])
def test_centre_sampling_takes_the_frame_on_screen_at_each_time(coded, start, end):
    clip = video.read_clip(coded, start, end, SPEC)
    assert clip.shape == (8, 24, 32, 3) and clip.dtype == np.uint8
    times = video.sample_times(start, min(end, 6.0), 8)
    assert _indices(clip) == _on_screen(times, np.arange(NUM_FRAMES) / FPS)


def test_one_reader_serves_many_clips_with_at_most_one_seek_each(coded):
    spans = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.5), (0.2, 0.8), (4.0, 6.0), (3.0, 4.0)]
    with video.VideoReader(coded) as reader:
        for start, end in spans:
            clip = reader.read_clip(start, end, SPEC)
            assert _indices(clip) == _on_screen(video.sample_times(start, end, 8), np.arange(NUM_FRAMES) / FPS)
        # Forward neighbours continue decoding; only going back (0.2) or jumping GOPs ahead seeks.
        assert reader.stats.seeks <= 4
        assert reader.stats.clips == len(spans)
        assert reader.stats.frames_converted <= 8 * len(spans)


def test_consecutive_clips_decode_each_frame_once(tmp_path):
    """B-frames put a keyframe's decode time ahead of its presentation time: a seek aimed just past one
    lands a whole GOP back, so consecutive clips must keep decoding forward instead of seeking."""
    path = synth.make_motion_video(str(tmp_path / "m.mp4"), "left_to_right", seconds=10, fps=30, seed=1)
    with video.VideoReader(path) as reader:
        for start in range(0, 10, 2):
            reader.read_clip(start, start + 2, SPEC)
        assert reader.stats.seeks == 1  # the first read
        assert reader.stats.frames_decoded <= reader.info.frame_count + 1  # (+ the probe's first frame)


def test_jittered_frames_stay_inside_the_segment_and_in_order(coded):
    rng = np.random.default_rng(1)
    seen = set()
    with video.VideoReader(coded) as reader:
        for _ in range(20):
            indices = _indices(reader.read_clip(1.0, 2.0, SPEC, rng=rng))
            assert all(15 <= i < 30 for i in indices) and indices == sorted(indices)
            seen.update(indices)
    assert len(seen) > 10  # jitter really moves the samples


def test_augmentation_keeps_shape_and_never_flips(tmp_path):
    def left_bright(index: int) -> np.ndarray:
        image = np.full((48, 64, 3), 40, np.uint8)
        image[:, :32] = 200
        return image

    path = synth.make_video(str(tmp_path / "left.mp4"), left_bright, FPS, num_frames=30)
    rng = np.random.default_rng(2)
    clips = [video.read_clip(path, 0.0, 2.0, SPEC, rng=rng, augment=True) for _ in range(10)]
    for clip in clips:
        assert clip.shape == (8, 24, 32, 3) and clip.dtype == np.uint8
        assert clip[:, :, :4].mean() > clip[:, :, -4:].mean() + 100
    assert len({float(c.mean()) for c in clips}) > 1  # brightness/crop vary between clips


def test_frames_streams_every_frame_or_a_resampled_grid(coded):
    with video.VideoReader(coded) as reader:
        every = list(reader.frames(1.0, 2.0))
        assert [round(t * FPS) for t, _ in every] == list(range(15, 30))
        assert _indices(np.stack([f for _, f in every])) == list(range(15, 30))
        assert every[0][1].shape == (48, 64, 3)
        grid = list(reader.frames(0.0, math.inf, fps=2, size=(16, 8)))
        assert [t for t, _ in grid] == [k / 2 for k in range(12)]
        assert _indices(np.stack([f for _, f in grid])) == [round(k * 7.5 - 0.49) for k in range(12)]
        assert grid[0][1].shape == (8, 16, 3)


def test_variable_frame_rate_uses_real_timestamps(tmp_path):
    gaps = np.tile([0.03, 0.2, 0.07], 10)[:29]
    frame_times = np.concatenate([[0.0], np.cumsum(gaps)])
    path = synth.make_video(str(tmp_path / "vfr.mp4"), _coded_frame, FPS, num_frames=30, timestamps=frame_times)
    assert video.probe(path).duration == pytest.approx(frame_times[-1], abs=0.25)
    spec = InputSpec(num_frames=12, height=24, width=32)
    for start, end in [(0.0, 2.5), (0.4, 1.3)]:
        clip = video.read_clip(path, start, end, spec)
        assert _indices(clip) == _on_screen(video.sample_times(start, end, 12), frame_times)


@pytest.mark.parametrize("rotation, corner", [(90, (-1, 0)), (-90, (0, -1)), (180, (-1, -1))])
def test_rotation_metadata_is_applied_as_players_show_it(tmp_path, rotation, corner):
    """The stored top-left marker ends where ffmpeg's autorotate puts it (checked against ffmpeg 5.1)."""

    def marked(index: int) -> np.ndarray:
        image = np.zeros((48, 64, 3), np.uint8)
        image[:12, :16] = 255
        return image

    path = synth.make_video(str(tmp_path / "rot.mp4"), marked, FPS, num_frames=10, rotation=rotation)
    info = video.probe(path)
    assert info.rotation == rotation % 360
    assert (info.width, info.height) == ((48, 64) if rotation % 180 else (64, 48))
    clip = video.read_clip(path, 0.0, 0.5, InputSpec(2, info.height, info.width))
    brightness = clip[0].mean(axis=-1)
    corners = {(r, c): brightness[2 if r == 0 else -3, 2 if c == 0 else -3] for r in (0, -1) for c in (0, -1)}
    assert max(corners, key=corners.get) == corner
    assert sorted(corners.values())[-2] < 50


def test_bad_files_raise_video_error_naming_the_uri(tmp_path, coded):
    with open(coded, "rb") as f:
        data = f.read()
    header_only = tmp_path / "header_only.mp4"
    header_only.write_bytes(data[:1500])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 200)
    for path in (header_only, garbage, tmp_path / "missing.mp4"):
        with pytest.raises(video.VideoError, match=str(path)):
            video.probe(str(path))
    with pytest.raises(video.VideoError, match="missing.mp4"):
        video.content_hash(str(tmp_path / "missing.mp4"))


def test_truncated_file_reports_its_real_duration_and_refuses_spans_past_it(tmp_path):
    path = synth.make_motion_video(str(tmp_path / "full.mp4"), "clockwise", seconds=6.0)
    data = (tmp_path / "full.mp4").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    with video.VideoReader(str(truncated)) as reader:
        assert 1.0 < reader.info.duration < 5.0  # the header still says 6 s
        assert video.probe(path).duration == 6.0
        np.testing.assert_array_equal(reader.read_clip(0.0, 1.0, SPEC), video.read_clip(path, 0.0, 1.0, SPEC))
        with pytest.raises(video.VideoError, match=f"{truncated}.*after the end"):
            reader.read_clip(5.0, 6.0, SPEC)


def test_damaged_frames_are_counted_not_fatal(tmp_path):
    path = synth.make_motion_video(str(tmp_path / "m.mp4"), "left_to_right", seconds=4.0)
    data = bytearray((tmp_path / "m.mp4").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    (tmp_path / "m.mp4").write_bytes(bytes(data))
    with video.VideoReader(path) as reader:
        clips = [reader.read_clip(s, s + 1.0, SPEC) for s in (0.0, 1.0, 1.5, 2.0, 3.0)]
        assert all(c.shape == (8, 24, 32, 3) for c in clips)
        assert reader.stats.decode_errors > 0


def test_bad_spans_raise_video_error(coded):
    with video.VideoReader(coded) as reader:
        for start, end in [(2.0, 1.0), (-1.0, 1.0), (6.5, 7.0), (5.0, 6.5)]:
            with pytest.raises(video.VideoError, match="coded.mp4"):
                reader.read_clip(start, end, SPEC)
        assert reader.read_clip(5.0, 6.05, SPEC).shape == SPEC.shape  # container rounding is tolerated


def test_gcs_video_reads_like_the_local_file(gcs_bucket, coded):
    uri = f"{gcs_bucket}/videos/coded.mp4"
    with open(coded, "rb") as f:
        storage.write_bytes(uri, f.read())
    assert video.probe(uri) == video.probe(coded)
    assert video.content_hash(uri) == video.content_hash(coded)
    with video.VideoReader(uri) as reader:
        for start, end in [(0.5, 1.5), (4.0, 6.0), (0.0, 0.5)]:
            np.testing.assert_array_equal(reader.read_clip(start, end, SPEC), video.read_clip(coded, start, end, SPEC))
    with pytest.raises(video.VideoError, match=f"{gcs_bucket}/videos/missing.mp4"):
        video.probe(f"{gcs_bucket}/videos/missing.mp4")


# -- skipping the decoding of frames no sample time needs ---------------------------------------------

CAMERA = dict(seconds=3.0, fps=30, width=160, height=96, seed=3)
CAMERA_SPANS = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (0.0, 3.0)]  # one-second clips and the segment


def _jittered_timestamps(count: int, fps: float, seed: int) -> np.ndarray:
    """A phone's variable frame rate: each interval 0.8 to 1.2 of the nominal one."""
    intervals = np.random.default_rng(seed).uniform(0.8, 1.2, count - 1) / fps
    return np.round(np.concatenate([[0.0], np.cumsum(intervals)]), 3)


def _gappy_timestamps(count: int, fps: float) -> np.ndarray:
    """A regular rate with a 0.3 s stall every seventh frame: frames shown far longer than the skip window."""
    intervals = np.where(np.arange(1, count) % 7 == 0, 0.3, 1 / fps)
    return np.round(np.concatenate([[0.0], np.cumsum(intervals)]), 3)


@pytest.fixture(scope="module")
def skippable_videos(tmp_path_factory, coded) -> dict[str, str]:
    """Videos named by structure, made once: x264 medium with B-frames (two of three non-reference), an
    open GOP, a jittered variable frame rate, the project's default videos (x264 veryfast: B-frames where
    the encoder finds them worth it), one without B-frames (every frame a reference) and an HEVC one (x265's
    default B-frame pyramid)."""
    folder = tmp_path_factory.mktemp("skippable")
    frames = round(CAMERA["seconds"] * CAMERA["fps"])
    return {
        "bframes": synth.make_camera_video(str(folder / "b.mp4"), **CAMERA),
        "open_gop": synth.make_camera_video(str(folder / "open.mp4"), **CAMERA, x264_params=synth.OPEN_GOP),
        "vfr": synth.make_camera_video(
            str(folder / "vfr.mp4"), **CAMERA, timestamps=_jittered_timestamps(frames, CAMERA["fps"], seed=5)
        ),
        "default_motion": synth.make_motion_video(str(folder / "motion.mp4"), "clockwise", seconds=3.0, fps=30),
        "default_coded": coded,
        "no_bframes": synth.make_camera_video(str(folder / "p.mp4"), **CAMERA, x264_params="bframes=0"),
        "hevc": synth.make_camera_video(str(folder / "hevc.mp4"), **CAMERA, codec="libx265"),
    }


def _sampled_reads(path: str, threads: str, decode_every_frame: bool) -> tuple[list[np.ndarray], video.ClipStats]:
    """What prediction and training read: the frames at every span's sample times in one pass, then each
    span's clip through one reader."""
    with video.VideoReader(path, threads=threads, decode_every_frame=decode_every_frame) as reader:
        spans = [(start, min(end, reader.info.duration)) for start, end in CAMERA_SPANS]
        times = np.unique(np.concatenate([video.sample_times(start, end, 8) for start, end in spans]))
        outputs = [np.stack([frame for _, frame in reader.frames_at(times, size=(32, 24))])]
        outputs += [reader.read_clip(start, end, SPEC) for start, end in spans]
        outputs.append(np.stack([frame for _, frame in reader.frames(fps=7.5, size=(32, 24))]))
        return outputs, reader.stats


@pytest.mark.parametrize("threads", ["NONE", "AUTO"])
@pytest.mark.parametrize(
    "name", ["bframes", "open_gop", "vfr", "default_motion", "default_coded", "no_bframes", "hevc"]
)
def test_skipping_unneeded_frames_reads_what_decoding_every_frame_reads(skippable_videos, name, threads):
    """Exactly equal (uint8), not within a tolerance: skipping leaves out only frames no sample time shows,
    and the frames that are decoded are the same frames converted the same way. With frame threads too:
    FFmpeg hands each packet's skip_frame to the thread that decodes it."""
    skipped, stats = _sampled_reads(skippable_videos[name], threads, decode_every_frame=False)
    expected, every_frame_stats = _sampled_reads(skippable_videos[name], threads, decode_every_frame=True)
    for output, reference in zip(skipped, expected, strict=True):
        np.testing.assert_array_equal(output, reference)
    assert every_frame_stats.frames_skipped == 0
    # Every video here but no_bframes has non-reference B-frames; without them nothing can be skipped. The
    # jittered VFR video's longer intervals cost a fallback (a stretch decoded twice) and still decode less.
    if name == "no_bframes":
        assert stats.frames_skipped == 0 and stats.frames_decoded == every_frame_stats.frames_decoded
    else:
        assert stats.frames_skipped > 0 and stats.frames_decoded < every_frame_stats.frames_decoded


def test_streaming_every_frame_never_skips(skippable_videos):
    with video.VideoReader(skippable_videos["bframes"]) as reader:
        assert len(list(reader.frames())) == 90
        assert reader.stats.frames_skipped == 0


def test_a_frame_shown_longer_than_the_skip_window_falls_back_to_decoding_every_frame(tmp_path):
    """Stalls (0.3 s, against a window of about one average frame interval, 0.07 s) put sample times far
    after the frame on screen: skipping dropped that frame when it was a non-reference one, which the reader
    notices, decoding that stretch again with a wider window (up to no skipping)."""
    timestamps = _gappy_timestamps(90, CAMERA["fps"])
    path = synth.make_camera_video(str(tmp_path / "stalls.mp4"), **CAMERA, timestamps=timestamps)
    spec = InputSpec(num_frames=16, height=24, width=32)
    with video.VideoReader(path, threads="NONE") as reader:
        clip = reader.read_clip(0.0, reader.info.duration, spec)
        assert reader.stats.skip_fallbacks > 0 and reader.stats.frames_skipped > 0
    with video.VideoReader(path, threads="NONE", decode_every_frame=True) as reader:
        np.testing.assert_array_equal(clip, reader.read_clip(0.0, reader.info.duration, spec))


def test_a_sampled_read_given_up_early_leaves_no_skipped_frame_behind(skippable_videos):
    """Frames between the last time answered and the next time asked may have been skipped: a following
    read that streams every frame must still see them (the reader forgets its position and seeks)."""

    def streamed_after_a_broken_off_read(decode_every_frame: bool) -> list[tuple[float, np.ndarray]]:
        with video.VideoReader(skippable_videos["bframes"], decode_every_frame=decode_every_frame) as reader:
            sampled = reader.frames_at(np.arange(0.0, 3.0, 0.25), size=(32, 24))
            assert [t for t, _ in itertools.islice(sampled, 2)] == [0.0, 0.25]
            sampled.close()
            return list(reader.frames(0.26, 1.0, size=(32, 24)))

    streamed, expected = streamed_after_a_broken_off_read(False), streamed_after_a_broken_off_read(True)
    assert [t for t, _ in streamed] == [t for t, _ in expected] and len(expected) == 22
    for (_, frame), (_, reference) in zip(streamed, expected):
        np.testing.assert_array_equal(frame, reference)
