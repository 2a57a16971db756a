"""A long row cut between decoders (SplitReader) gives the single decoder's frames, clips and outputs."""

import os
import threading

import av
import numpy as np
import pytest

from automl_video import synth
from automl_video.prediction import split_reader
from automl_video.prediction.clips import FixedSpanCollector, collect_clips
from automl_video.prediction.engine import available_cpus, batch_predict, decoders_per_row
from automl_video.prediction.split_reader import SplitReader
from automl_video.tasks.classification.prediction import ClassificationRows, PredictionParams
from automl_video.video import VideoError, VideoReader, sample_times
from tests.prediction_support import FPS, SPEC, write_file

SECONDS = 24.0
SIZE = (48, 40)


def _textured(index: int) -> np.ndarray:
    """A moving gradient with a counter stripe: every frame differs, so a wrong frame shows."""
    y, x = np.mgrid[0:64, 0:96]
    frame = np.stack([(x * 3 + index * 2) % 256, (y * 4 + index) % 256, (x + y + index * 7) % 256], axis=-1)
    frame[:4, : (index % 96)] = 255
    return frame.astype(np.uint8)


def _remuxed(source: str, target: str) -> str:
    """The same stream in MPEG-TS, a container without a keyframe index."""
    with av.open(source) as inp, av.open(target, "w", format="mpegts") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return target


@pytest.fixture(scope="module")
def long_videos(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("split_videos")
    count = round(SECONDS * FPS)
    plain = synth.make_video(str(folder / "plain.mp4"), _textured, FPS, num_frames=count, gop=2 * FPS)
    # x264's medium preset: 3 B-frames with a pyramid, so decode order differs from presentation order.
    bframes = synth.make_video(
        str(folder / "bframes.mp4"), _textured, FPS, num_frames=count, gop=3 * FPS, preset="medium"
    )
    # Variable frame rate: runs of fast frames and frames held for up to 1.5 s.
    vfr_times = np.cumsum(np.resize([1 / 30, 1 / 30, 1 / 30, 0.25, 1.5], 120))
    vfr = synth.make_video(
        str(folder / "vfr.mp4"), _textured, FPS, num_frames=len(vfr_times), timestamps=[0.0, *vfr_times[:-1]]
    )
    return {
        "plain": plain,
        "bframes": bframes,
        "no_index": _remuxed(bframes, str(folder / "bframes.ts")),
        "vfr": vfr,
    }


def _frames(reader, times=None):
    stream = reader.frames(size=SIZE) if times is None else reader.frames_at(times, size=SIZE)
    return [(time, frame.copy()) for time, frame in stream]


def _assert_same(split: list, single: list) -> None:
    assert len(split) == len(single)
    for (split_time, split_frame), (single_time, single_frame) in zip(split, single):
        assert split_time == single_time
        np.testing.assert_array_equal(split_frame, single_frame)


@pytest.mark.parametrize("name", ["plain", "bframes", "no_index", "vfr"])
@pytest.mark.parametrize("decoders", [2, 3])
def test_split_reads_equal_one_decoder(long_videos, name, decoders):
    """Each read on a fresh reader: the single decoder's frames are those of one pass from the start."""
    path = long_videos[name]
    duration = VideoReader(path).info.duration
    times = np.concatenate([sample_times(s, min(s + 1, duration), 8) for s in range(int(duration))])
    for read_times in (times, None):
        with VideoReader(path, threads="NONE") as reader:
            single = _frames(reader, read_times)
            single_last = reader.last_streamed_frame_time
        with SplitReader(path, threads="NONE", decoders=decoders) as reader:
            split = _frames(reader, read_times)
            assert reader.last_streamed_frame_time == single_last
            pieces = reader.pieces_read
        _assert_same(split, single)
        if name == "no_index":
            assert pieces == 1  # seeks there do not land on keyframes: read as one piece
        else:
            assert pieces >= 3


def test_pieces_start_on_keyframes_so_nothing_is_decoded_twice(long_videos):
    """The pieces' decoders together decode about what one decoder does: a few frames of seek margin per
    piece, where a piece starting anywhere else would cost up to a GOP."""

    with VideoReader(long_videos["plain"], threads="NONE") as reader:
        _frames(reader)
        single = reader.stats.frames_decoded
    with SplitReader(long_videos["plain"], threads="NONE", decoders=2) as reader:
        _frames(reader)
        split, pieces = reader.stats.frames_decoded, reader.pieces_read
    assert pieces >= 3
    assert split - single <= pieces * 10  # up to two B-frame margins (4 frames) per piece, not a GOP (30)


def test_a_damaged_long_stream_fails_as_with_one_decoder(tmp_path, long_videos):
    data = open(long_videos["plain"], "rb").read()
    middle = len(data) // 3
    damaged = data[:middle] + np.random.default_rng(0).bytes(len(data) - middle - 100) + data[-100:]
    path = tmp_path / "damaged.mp4"
    path.write_bytes(damaged)
    spec = SPEC
    spans = [(s, s + 1.0) for s in range(int(SECONDS))]
    messages = []
    for reader_type, options in ((VideoReader, {}), (SplitReader, {"decoders": 2})):
        with reader_type(str(path), threads="NONE", **options) as reader:
            collector = FixedSpanCollector("clip", spans, spec)
            with pytest.raises(VideoError, match="decoding stopped at") as raised:
                list(collect_clips(reader, 0.0, SECONDS, [collector], (spec.width, spec.height)))
            messages.append(str(raised.value))
    assert messages[0] == messages[1]


def test_a_consumer_that_stops_early_stops_every_decoder(long_videos):
    with SplitReader(long_videos["plain"], threads="NONE", decoders=3) as reader:
        stream = reader.frames(size=SIZE)
        next(stream)
        assert any(t.name.startswith("split-decode") for t in threading.enumerate())
        stream.close()
    assert not any(t.name.startswith("split-decode") for t in threading.enumerate())


def test_pieces_hold_a_bounded_number_of_frames(long_videos, monkeypatch):
    """The buffer budget caps a piece's frames, so memory does not grow with the video's length."""
    monkeypatch.setattr(split_reader, "PIECE_BUFFER_BYTES", 3 * 60 * SIZE[0] * SIZE[1] * 3)  # 60 frames a piece
    with SplitReader(long_videos["plain"], threads="NONE", decoders=2) as reader:
        boundaries = reader._piece_boundaries(0.0, SECONDS, round(SECONDS * FPS), SIZE[0] * SIZE[1] * 3)
    widths = np.diff([0.0, *boundaries, SECONDS])
    gop_seconds, margins = 2.0, 2 * 4 / FPS  # a start moves to just after a keyframe
    assert widths.max() <= 60 / FPS + gop_seconds + margins and len(boundaries) >= 5


def test_a_lone_long_row_predicts_the_same_split_or_not(tmp_path, tiny_model, long_videos):
    """Batch prediction of one long row on every CPU (its span split) and pinned to one CPU (not split)."""
    if available_cpus() < 2:
        pytest.skip("needs 2 CPUs to split a row")
    assert decoders_per_row(1) == available_cpus()
    inputs = write_file(tmp_path / "in.csv", f"{long_videos['bframes']},0,inf\n")
    params = PredictionParams(shot_classification=True, one_sec_interval_classification=True)
    split = batch_predict(tiny_model, [inputs], str(tmp_path / "split"), params, inference="keras")
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        single = batch_predict(tiny_model, [inputs], str(tmp_path / "single"), params, inference="keras")
    finally:
        os.sched_setaffinity(0, allowed)

    def outputs(result) -> dict[str, bytes]:
        return {
            name: open(os.path.join(result.output_dir, name), "rb").read() for name in os.listdir(result.output_dir)
        }

    split_files, single_files = outputs(split), outputs(single)
    assert split.succeeded_rows == 1 and single.succeeded_rows == 1
    assert {n: f for n, f in split_files.items() if n.endswith(".json")} == {
        n: f for n, f in single_files.items() if n.endswith(".json")
    }


def test_clips_of_a_split_row_equal_the_single_decoder_clips(tiny_model, long_videos):
    """The classification plan's clips (segment, 1-second intervals, shots) through both readers."""
    from automl_video.modeling.loading import load_model

    plan = ClassificationRows(
        load_model(tiny_model), PredictionParams(shot_classification=True, one_sec_interval_classification=True)
    )
    results = []
    for reader_type, options in ((VideoReader, {}), (SplitReader, {"decoders": 2})):
        with reader_type(long_videos["bframes"], threads="NONE", **options) as reader:
            results.append([(span, clip.copy()) for span, clip in plan.clips(reader, 0.0, reader.info.duration)])
    single, split = results
    assert [span for span, _ in split] == [span for span, _ in single]
    for (_, split_clip), (_, single_clip) in zip(split, single):
        np.testing.assert_array_equal(split_clip, single_clip)
