"""Clips cut from one streaming decode of a row's span: each output a task needs, in one pass.

A task names what to cut with collectors: spans known in advance (:class:`FixedSpanCollector`, e.g.
1-second intervals; :class:`SegmentCollector`, a segment's multi-clip sampling) or spans found while
streaming (classification's shots). :func:`collect_clips` feeds every collector the same frames: only
the frames on screen at their sample times, unless a collector needs every frame. With sample times
only, the reader also skips decoding the non-reference frames none of them shows
(:meth:`VideoReader.frames_at`); a collector needing every frame makes it decode every frame.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from automl_video.modeling.metadata import InputSpec
from automl_video.video import VideoError, VideoReader, sample_times

# Decoding that stops this long before the span's end means the file is cut short or damaged.
TRUNCATION_TOLERANCE_SECONDS = 1.0
TIME_EPSILON = 1e-6


@dataclass(frozen=True)
class ClipSpan:
    """What a clip stands for: a span ``[start, end)`` of one kind (named by the task)."""

    kind: str
    start: float
    end: float


class ClipCollector:
    """Turns a stream of ``(time, frame)`` into finished ``(span, clip)`` pairs.

    ``needs_every_frame`` collectors see every decoded frame; the others declare their sample times
    (:meth:`sample_times`) and see only the frames on screen at them.
    """

    needs_every_frame = False

    def sample_times(self) -> np.ndarray:
        raise NotImplementedError

    def add(self, time: float, frame: np.ndarray) -> list[tuple[ClipSpan, np.ndarray]]:
        raise NotImplementedError

    def finish(self) -> list[tuple[ClipSpan, np.ndarray]]:
        raise NotImplementedError


class FixedSpanCollector(ClipCollector):
    """Clips of spans known in advance; each sample time takes the frame on screen at that time.

    That is :meth:`VideoReader.read_clip`'s rule (the last frame presented at or before the time, or
    the first frame for a time before it), so a span's clip is the one a seek would give. A sample time
    is settled once the next frame's presentation time has passed it. Spans may overlap (dense clips on
    a stride shorter than a clip): every span's sample times are settled in time order, and only the
    clips being filled are held. Clips come out in the order of ``spans``.
    """

    def __init__(self, kind: str, spans: list[tuple[float, float]], spec: InputSpec):
        self.kind = kind
        self.spans = spans
        self.spec = spec
        times = [sample_times(start, end, spec.num_frames) for start, end in spans]
        self._times = np.concatenate(times or [np.empty(0)])
        # Every sample (span, slot) in time order; a stable sort keeps earlier spans first on equal times.
        self._order = np.argsort(self._times, kind="stable")
        self._next = 0  # position in _order of the first sample not settled yet
        self._filling: dict[int, tuple[np.ndarray, list[int]]] = {}  # span -> (clip, [slots filled])
        self._done: dict[int, np.ndarray] = {}  # finished clips waiting for an earlier span
        self._next_span = 0
        self._on_screen: np.ndarray | None = None

    def sample_times(self) -> np.ndarray:
        """Every span's sample times: the only frames this collector needs to see."""
        return self._times

    def add(self, time: float, frame: np.ndarray) -> list[tuple[ClipSpan, np.ndarray]]:
        done = []
        while self._next < len(self._order) and self._times[self._order[self._next]] < time - TIME_EPSILON:
            done += self._settle(frame if self._on_screen is None else self._on_screen)
        self._on_screen = frame
        return done

    def finish(self) -> list[tuple[ClipSpan, np.ndarray]]:
        """Sample times after the last frame's presentation time show the last frame."""
        done = []
        while self._next < len(self._order) and self._on_screen is not None:
            done += self._settle(self._on_screen)
        return done

    def _settle(self, frame: np.ndarray) -> list[tuple[ClipSpan, np.ndarray]]:
        """Give the next sample in time order ``frame``; hand out the clips that are then complete."""
        span_index, slot = divmod(int(self._order[self._next]), self.spec.num_frames)
        self._next += 1
        clip, filled = self._filling.setdefault(span_index, (np.empty(self.spec.shape, np.uint8), []))
        clip[slot] = frame
        filled.append(slot)
        if len(filled) < self.spec.num_frames:
            return []
        del self._filling[span_index]
        self._done[span_index] = clip
        finished = []
        while self._next_span in self._done:
            span = ClipSpan(self.kind, *self.spans[self._next_span])
            finished += self._emit(span, self._done.pop(self._next_span))
            self._next_span += 1
        return finished

    def _emit(self, span: ClipSpan, frames: np.ndarray) -> list[tuple[ClipSpan, np.ndarray]]:
        """The clips of a finished span (one: its frames)."""
        return [(span, frames)]


class SegmentCollector(FixedSpanCollector):
    """A segment's ``clips_per_segment`` clips, cut from its ``N·T`` frames (as
    :meth:`automl_video.modeling.loading.TrainedModel.segment_clips`)."""

    def __init__(self, kind: str, start: float, end: float, spec: InputSpec):
        super().__init__(kind, [(start, end)], spec.segment_sampling())
        self.clip_spec = spec

    def _emit(self, span: ClipSpan, frames: np.ndarray) -> list[tuple[ClipSpan, np.ndarray]]:
        return [(span, clip) for clip in self.clip_spec.segment_clips(frames)]


def collect_clips(
    reader: VideoReader, start: float, end: float, collectors: list[ClipCollector], size: tuple[int, int]
) -> Iterator[tuple[ClipSpan, np.ndarray]]:
    """Yield every collector's ``(span, clip)`` pairs from one decoding pass over ``[start, end)``.

    Args:
        reader: the open video.
        start, end: the span, inside the video.
        collectors: what to cut.
        size: ``(width, height)`` frames are converted to.

    Raises:
        VideoError: decoding ended in errors well before ``end`` (a truncated or damaged file).
    """
    if any(c.needs_every_frame for c in collectors):
        frames = reader.frames(start, end, size=size)
    else:
        times = np.unique(np.concatenate([c.sample_times() for c in collectors]))
        frames = reader.frames_at(times, size=size)
    for frame_time, frame in frames:
        for collector in collectors:
            yield from collector.add(frame_time, frame)
    # Decoding that ends in errors well before the span's end: a damaged file, not a last frame shown long.
    reached = reader.last_streamed_frame_time
    if reached is None or (reader.stats.decode_errors and reached < end - TRUNCATION_TOLERANCE_SECONDS):
        stopped = "the first frame" if reached is None else f"{reached:.3f}s"
        raise VideoError(
            f"{reader.uri}: decoding stopped at {stopped}, before the span's end {end:.3f}s (truncated or corrupt video)"
        )
    for collector in collectors:
        yield from collector.finish()
