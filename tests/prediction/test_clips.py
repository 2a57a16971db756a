"""Clips cut from one streaming decode equal the clips a seek reads, for spans apart and overlapping."""

import numpy as np
import pytest

from automl_video import synth
from automl_video.modeling.metadata import InputSpec
from automl_video.prediction.clips import FixedSpanCollector, collect_clips
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
