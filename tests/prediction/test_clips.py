"""Clips cut from one streaming decode equal the clips a seek reads, for spans apart and overlapping."""

import numpy as np
import pytest

from automl_video import synth
from automl_video.modeling.metadata import InputSpec
from automl_video.prediction.clips import FixedSpanCollector, SegmentCollector, collect_clips
from automl_video.video import VideoReader

SPEC = InputSpec(num_frames=5, height=24, width=32)


@pytest.mark.parametrize(
    "spans",
    [
        [(0.0, 1.0), (1.0, 2.0), (2.0, 2.7)],  # one-second intervals
        [(0.0, 1.0), (0.25, 1.25), (0.5, 1.5), (0.75, 1.75), (1.6, 2.6)],  # dense clips on a short stride
        [(0.3, 2.5), (0.5, 0.9)],  # a span inside an earlier one: still handed out in the order given
    ],
)
def test_streamed_clips_equal_seeking(tmp_path, spans):
    path = str(tmp_path / "video.mp4")
    synth.make_cut_video(path, [1.3], 3.0, fps=12, width=64, height=48, seed=4)
    collector = FixedSpanCollector("clip", spans, SPEC)
    with VideoReader(path) as reader:
        streamed = list(collect_clips(reader, 0.0, 3.0, [collector], (SPEC.width, SPEC.height)))
    with VideoReader(path) as reader:
        seeked = [reader.read_clip(start, end, SPEC) for start, end in spans]
    assert [(span.start, span.end) for span, _ in streamed] == spans
    for (_, clip), expected in zip(streamed, seeked):
        assert np.array_equal(clip, expected)


class _EveryFrame(FixedSpanCollector):
    """A collector that asks for every decoded frame (as classification's shots do)."""

    needs_every_frame = True


@pytest.mark.parametrize("x264_params", [synth.B_FRAMES, synth.OPEN_GOP])
def test_collected_clips_skip_unneeded_frames_and_equal_decoding_every_frame(tmp_path, x264_params):
    """Segment (multi-clip) and 1-second clips from one pass that skips non-reference frames equal, uint8
    for uint8, the clips of a pass that decodes every frame; a collector needing every frame turns skipping off."""
    path = synth.make_camera_video(str(tmp_path / "video.mp4"), 3.0, 30, 160, 96, seed=2, x264_params=x264_params)
    one_second = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    segment_spec = InputSpec(num_frames=4, height=24, width=32, clips_per_segment=3)

    def collected(decode_every_frame: bool, collector_type=FixedSpanCollector):
        collectors = [collector_type("second", one_second, SPEC), SegmentCollector("segment", 0.0, 3.0, segment_spec)]
        with VideoReader(path, threads="NONE", decode_every_frame=decode_every_frame) as reader:
            clips = list(collect_clips(reader, 0.0, 3.0, collectors, (SPEC.width, SPEC.height)))
            return clips, reader.stats

    skipping, stats = collected(decode_every_frame=False)
    every_frame, _ = collected(decode_every_frame=True)
    assert [span for span, _ in skipping] == [span for span, _ in every_frame]
    for (_, clip), (_, expected) in zip(skipping, every_frame, strict=True):
        np.testing.assert_array_equal(clip, expected)
    assert stats.frames_skipped > 0 and stats.skip_fallbacks == 0
    _, every_frame_stats = collected(decode_every_frame=False, collector_type=_EveryFrame)
    assert every_frame_stats.frames_skipped == 0
