"""Video I/O with PyAV: probe, hash, and fast clip extraction for training and prediction.

A clip is ``T`` frames sampled over a time span, resized to ``H×W`` RGB uint8. Extraction seeks once to
the keyframe before the first sampled time, decodes forward and converts (colour + resize in one
swscale call through a reused reformatter) only the frames that are sampled. A :class:`VideoReader`
keeps its container open so consecutive clips of one video continue decoding where the last one
stopped instead of seeking back.

Times are seconds from the start of the video stream. The frame taken for a sample time ``t`` is the
frame on screen at ``t``: the last one presented at or before ``t`` (so variable frame rates work, and
a span ``[start, end)`` that starts on a frame never yields the first frame of the next segment).
Frames are returned as displayed: the display-matrix rotation is applied.

When the sample times are known in advance (:meth:`VideoReader.frames_at`, :meth:`VideoReader.read_clip`)
the decoder also skips the frames nothing needs: see :class:`VideoReader` for how that stays exact.
"""

import collections
import contextlib
import hashlib
import itertools
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import av
import av.video.reformatter
import numpy as np

from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.modeling.metadata import InputSpec

log = logging.getLogger(__name__)

# Containers round their durations (and the last frame's length); END times this far past the probed
# duration are still inside the video.
DURATION_TOLERANCE_SECONDS = 0.1
# Two times this close are the same instant: absorbs float conversion and CSV times rounded to 4 decimals.
_TIME_EPSILON = 1e-4
# B-frame reordering: a keyframe's decode time precedes its presentation time by a few frames, so
# seek this many frame durations before the wanted time.
_SEEK_MARGIN_FRAMES = 4
# Without a seek index, decode forward instead of seeking when the next wanted time is this close.
_CONTINUE_SECONDS = 2.0
# A sample time whose nearest decodable frame is further than this (seconds, or average frame
# durations, whichever is more) gets the nearest good sample of its clip instead.
_MAX_GAP_SECONDS = 2.0
_MAX_GAP_FRAMES = 4
# Skipping non-reference frames: a packet is decoded when a sample time falls less than this many
# average frame durations after its presentation time. A frame of a constant-rate stream is on screen for
# one duration; 5% more absorbs timestamps rounded to a coarse time base (30 fps in milliseconds: 33 or 34
# ms). A frame shown longer (variable frame rates) is caught afterwards: that stretch is decoded again
# with the window doubled, up to _MAX_NEEDED_WINDOW_FRAMES, where skipping stops. Measured on 360p30 x264
# medium B-frame video with 8 samples a second (1-second clips + segment): 1.05 skips 196 of 601 frames
# and decodes 11-14% faster than every frame; 1.5 skips 156 (8-9% faster).
_NEEDED_WINDOW_FRAMES = 1.05
_MAX_NEEDED_WINDOW_FRAMES = 8.0
# Decoders whose skip_frame=NONREF drops only frames that no other frame references (per slice, so it can
# change from packet to packet); other decoders may ignore the setting or drop more, so they decode all.
_NONREF_SKIPPING_CODECS = frozenset({"h264", "hevc"})
_HASH_CHUNK_BYTES = 1 << 20


class VideoError(AutoMLVideoError):
    """A video is missing, cannot be decoded, or a time span is not inside it; the message names it."""


@dataclass
class VideoInfo:
    """What :func:`probe` measured. ``width``/``height`` are as displayed (after ``rotation``)."""

    duration: float
    fps: float
    width: int
    height: int
    rotation: int
    frame_count: int
    codec: str


@dataclass
class ClipStats:
    """Counters of one :class:`VideoReader`, for reporting rather than crashing on bad frames."""

    clips: int = 0
    frames_decoded: int = 0
    frames_converted: int = 0
    decode_errors: int = 0
    repeated_frames: int = 0
    seeks: int = 0
    # Non-reference frames the decoder skipped because no sample time needed them.
    frames_skipped: int = 0
    # Times a skipped frame turned out to be needed (a frame on screen longer than the skip window):
    # the reader re-decoded from a keyframe with its window doubled (or without skipping).
    skip_fallbacks: int = 0


def probe(uri: str) -> VideoInfo:
    """Measure a video: real duration (from the last packet, not only the header), size, fps, rotation.

    Also decodes the first frame, so a file that does not decode raises here.

    Raises:
        VideoError: missing file, not a video, or nothing decodable; the message names ``uri``.
    """
    with VideoReader(uri) as reader:
        return reader.info


def content_hash(uri: str) -> str:
    """sha256 hex digest of the bytes at ``uri``, streamed (identifies the same video under two URIs)."""
    digest = hashlib.sha256()
    try:
        with storage.open_read(uri) as f:
            for chunk in iter(lambda: f.read(_HASH_CHUNK_BYTES), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise VideoError(f"{uri}: file not found") from None
    return digest.hexdigest()


def sample_times(start: float, end: float, num_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """The times of ``num_frames`` samples over ``[start, end)``: one in each of T equal sub-spans.

    Args:
        start, end: the span in seconds (finite, ``start < end``).
        num_frames: T.
        rng: None for the centre of each sub-span (evaluation, prediction); a generator for a uniformly
            random time inside each sub-span (training's temporal jitter). Samples stay in order.

    Returns:
        float64 array of shape ``[T]``, ascending.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if not (math.isfinite(start) and math.isfinite(end) and start < end):
        raise ValueError(f"bad time span {start}..{end}: need finite start < end")
    step = (end - start) / num_frames
    offsets = np.full(num_frames, 0.5) if rng is None else rng.uniform(0.0, 1.0, size=num_frames)
    return start + (np.arange(num_frames) + offsets) * step


def read_clip(
    uri: str,
    start: float,
    end: float,
    spec: InputSpec,
    rng: np.random.Generator | None = None,
    augment: bool = False,
    threads: str = "NONE",
) -> np.ndarray:
    """One clip ``[T, H, W, 3]`` uint8 of the span ``[start, end)`` (``end`` may be ``inf``).

    Opens the video for this one clip; use a :class:`VideoReader` for several clips of one video.
    Decodes on one thread by default: a short clip gains less from decoder threads than it pays to
    start them, and callers decoding many clips run them in parallel instead (tf.data).
    See :meth:`VideoReader.read_clip`.
    """
    with VideoReader(uri, threads=threads) as reader:
        return reader.read_clip(start, end, spec, rng=rng, augment=augment)


class VideoReader:
    """One open video, reused across many clips (and a streaming frame iterator).

    Not thread-safe; do not interleave :meth:`frames` iteration with other reads of the same reader.

    Reads with sample times known in advance (:meth:`frames_at`, :meth:`read_clip`) skip decoding what
    they do not need: a packet whose presentation time is not within ``_NEEDED_WINDOW_FRAMES`` frame
    durations before an upcoming sample time goes to the decoder with ``skip_frame=NONREF``, so when it
    holds a non-reference frame (a B-frame nothing predicts from) that frame is never decoded. Reference
    frames decode as always, so every frame that is decoded, and every frame returned, is bit-identical
    to decoding every frame. Exactness is checked, not assumed: a skipped frame whose time lies between
    the frame chosen for a sample time and that time (a frame shown longer than the window, as variable
    frame rates do) makes the reader seek back and decode that stretch again with the window doubled,
    or without skipping once the window would keep nearly every frame anyway
    (:attr:`ClipStats.skip_fallbacks`). Packets past the last known sample time are always decoded (a
    later read may want them); packets without timestamps, and codecs other than h264/hevc, stop or
    prevent skipping. Frame threading keeps it exact: FFmpeg copies ``skip_frame`` into the worker
    context of each packet it submits (checked: threads NONE, FRAME and AUTO skip the same frames).

    Args:
        uri: local path or fsspec URL; remote files are read through a seekable file object.
        threads: PyAV decoder threading (``"AUTO"``, ``"FRAME"``, ``"SLICE"`` or ``"NONE"``).
        decode_every_frame: never skip (the reference that skipping is tested and measured against).
    """

    def __init__(self, uri: str, threads: str = "AUTO", decode_every_frame: bool = False):
        self.uri = uri
        self.stats = ClipStats()
        # Presentation time of the last frame :meth:`frames` or :meth:`frames_at` yielded: how far a
        # stream really got (on a damaged file, short of the span's end).
        self.last_streamed_frame_time: float | None = None
        self._threads = threads
        self._file = None
        self._container = None
        self._reformatter = av.video.reformatter.VideoReformatter()
        self._keyframe_times: np.ndarray | None = None
        self._upcoming: _UpcomingTimes | None = None  # sample times of the read in progress, if known
        self._skipping = False  # (until probed: the codec decides)
        self._open()
        try:
            self.info = self._probe()
        except BaseException:
            self.close()
            raise
        self._skipping = not decode_every_frame and self.info.codec in _NONREF_SKIPPING_CODECS
        self._needed_window = _NEEDED_WINDOW_FRAMES * self._frame_duration_hint

    # -- opening and probing -----------------------------------------------------------------------

    def _open(self) -> None:
        try:
            if storage.is_local(self.uri):
                self._container = av.open(storage.local_path(self.uri), "r")
            else:
                self._file = storage.open_read(self.uri)
                self._container = av.open(self._file, "r")
        except FileNotFoundError:
            self.close()
            raise VideoError(f"{self.uri}: file not found") from None
        except (av.FFmpegError, OSError) as e:
            self.close()
            raise VideoError(f"{self.uri}: cannot open as a video ({e})") from None
        if not self._container.streams.video:
            self.close()
            raise VideoError(f"{self.uri}: no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = self._threads
        self._time_base = float(self._stream.time_base)
        self._start_pts = self._stream.start_time or 0
        rate = self._stream.average_rate or self._stream.guessed_rate
        self._frame_duration_hint = 1.0 / float(rate or 25)  # typical frame interval, for margins
        self._decoder_skips_nonref = False  # the codec context's skip_frame is NONREF
        self._reset_position()

    def _reset_position(self) -> None:
        """Forget where decoding stands (after opening or a seek)."""
        self._source: Iterator[tuple[float, av.VideoFrame]] | None = None
        self._seek_time = -math.inf  # decoding restarted at a keyframe at or before this time
        self._current: tuple[float, av.VideoFrame] | None = None  # the frame on screen at the last time asked
        self._next: tuple[float, av.VideoFrame] | None = None  # the frame decoded after it (look-ahead)
        self._at_end = False
        self._skip_pending: list[float] = []  # times of packets sent with NONREF, not decoded yet
        self._skipped: collections.deque[float] = collections.deque()  # times of frames skipped, ascending
        self._skipped_untimed = False  # a frame's time was guessed after skipped frames (so it may be off)

    def _probe(self) -> VideoInfo:
        stream = self._stream
        first = self._first_frame()
        rotation = _normalised_rotation(first.rotation)
        end_time = self._measure_end_time()
        header_duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        duration = end_time if end_time > 0 else header_duration
        rate = stream.average_rate or stream.guessed_rate
        header_frames = stream.frames or 0
        if header_frames and abs(header_duration - duration) <= DURATION_TOLERANCE_SECONDS:
            frame_count = header_frames
        else:
            frame_count = round(duration * float(rate)) if rate else header_frames
        fps = float(rate) if rate else (frame_count / duration if duration > 0 else 0.0)
        width, height = first.width, first.height
        if rotation % 180:
            width, height = height, width
        self._reset_position()  # the next read seeks
        return VideoInfo(
            duration=duration,
            fps=fps,
            width=width,
            height=height,
            rotation=rotation,
            frame_count=frame_count,
            codec=stream.codec_context.name,
        )

    def _first_frame(self) -> av.VideoFrame:
        item = self._peek()
        if item is None:
            raise VideoError(f"{self.uri}: no decodable video frame")
        return item[1]

    def _measure_end_time(self) -> float:
        """End of the last frame, from the packets themselves: seek near the end and demux to EOF.

        Headers can be wrong (truncated uploads, bad muxers), so the last keyframe is found by a seek
        and the packets after it are read (no decoding). If that finds nothing, every packet is read.
        """
        header_end = self._stream.duration or int(3600 * 24 / self._time_base)
        for seek_pts in (self._start_pts + header_end, None):
            try:
                if seek_pts is None:
                    self._container.seek(self._start_pts, stream=self._stream, backward=True)
                else:
                    self._container.seek(seek_pts, stream=self._stream, backward=True)
            except av.FFmpegError:
                continue
            end_pts = self._last_packet_end()
            if end_pts is not None:
                return max(0.0, (end_pts - self._start_pts) * self._time_base)
        return 0.0

    def _last_packet_end(self) -> int | None:
        end_pts = None
        try:
            for packet in self._container.demux(self._stream):
                pts = packet.pts if packet.pts is not None else packet.dts
                if pts is None or packet.size == 0:
                    continue
                end = pts + (packet.duration or 0)
                end_pts = end if end_pts is None else max(end_pts, end)
        except av.FFmpegError:
            pass  # a truncated or damaged tail: what was read so far is the end
        return end_pts

    # -- decoding ------------------------------------------------------------------------------------

    def _decoded(self) -> Iterator[tuple[float, av.VideoFrame]]:
        """Frames from the current demux position, with times; bad packets are counted and skipped."""
        previous_time = None
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                self._settle_skipped(math.inf)
                return
            except av.FFmpegError:
                self.stats.decode_errors += 1
                packet = None  # demuxer broke: flush what the decoder holds and stop
            if packet is not None:
                self._allow_skipping(packet)
            try:
                frames = self._stream.codec_context.decode(packet)
            except av.FFmpegError:
                self.stats.decode_errors += 1
                if packet is None:
                    return
                continue
            for frame in frames:
                if frame.is_corrupt:
                    self.stats.decode_errors += 1
                    continue
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is not None:
                    time = self._time_of(pts)
                else:
                    time = 0.0 if previous_time is None else previous_time + self._frame_duration_hint
                    self._skipped_untimed |= bool(self._skipped or self._skip_pending)
                previous_time = time
                self._settle_skipped(time)
                self.stats.frames_decoded += 1
                yield time, frame
            if packet is None:
                self._settle_skipped(math.inf)
                return

    def _time_of(self, pts: int) -> float:
        return (pts - self._start_pts) * self._time_base

    def _allow_skipping(self, packet: av.Packet) -> None:
        """Let the decoder drop ``packet``'s frame (if nothing references it) when no upcoming sample time
        can show it; remember its time to check that afterwards. A packet without a timestamp (other than
        the empty one that ends a demux) ends skipping: frames are then timed by counting, which skipped
        frames would throw off."""
        skip = False
        if self._skipping and self._upcoming is not None and packet.size:
            if packet.pts is None:
                self._skipping = False
            else:
                time = self._time_of(packet.pts)
                skip = not self._upcoming.may_show(time, self._needed_window)
                if skip:
                    self._skip_pending.append(time)
        if skip != self._decoder_skips_nonref:
            self._stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            self._decoder_skips_nonref = skip

    def _settle_skipped(self, shown_time: float) -> None:
        """A frame presented at ``shown_time`` came out: packets sent with NONREF before it were either this
        frame (a reference frame, decoded anyway) or are skipped for good (frames come out in order)."""
        if not self._skip_pending:
            return
        still_pending = []
        for time in sorted(self._skip_pending):
            if time < shown_time:
                self._skipped.append(time)
                self.stats.frames_skipped += 1
            elif time != shown_time:
                still_pending.append(time)
        self._skip_pending = still_pending

    def _peek(self) -> tuple[float, av.VideoFrame] | None:
        """The next decoded frame, without moving past it (None at the end of the stream)."""
        if self._next is None and not self._at_end:
            if self._source is None:
                self._source = self._decoded()
            self._next = next(self._source, None)
            self._at_end = self._next is None
        return self._next

    def _advance(self) -> tuple[float, av.VideoFrame] | None:
        """Make the look-ahead frame the current one; returns it (None at the end)."""
        item = self._peek()
        if item is not None:
            self._current, self._next = item, None
        return item

    def _seek(self, time: float) -> None:
        """Seek to the keyframe before ``time`` (minus a B-frame margin) and restart decoding there."""
        seek_time = max(0.0, time - _SEEK_MARGIN_FRAMES * self._frame_duration_hint)
        pts = self._start_pts + int(math.floor(seek_time / self._time_base))
        self.stats.seeks += 1
        try:
            self._container.seek(pts, stream=self._stream, backward=True)
        except av.FFmpegError:
            log.debug("%s: seek failed; reopening to decode from the start", self.uri)
            self._close_container()
            self._open()
            return
        self._reset_position()
        self._seek_time = seek_time

    def _keyframe_time_before(self, time: float) -> float | None:
        """Decode time of the last keyframe at or before ``time`` per the index (None: no index)."""
        if self._keyframe_times is None:
            entries = self._stream.index_entries
            stamps = [e.timestamp for e in entries if e.is_keyframe] if entries is not None else []
            self._keyframe_times = (np.asarray(stamps, dtype=np.float64) - self._start_pts) * self._time_base
        if not len(self._keyframe_times):
            return None
        index = int(np.searchsorted(self._keyframe_times, time, side="right")) - 1
        return float(self._keyframe_times[max(index, 0)])

    def _reachable_by_decoding(self, time: float) -> bool:
        """Whether decoding forward from here reaches the frame on screen at ``time`` no slower than a seek."""
        if self._source is None:
            return False
        if self._current is None:
            return self._seek_time <= time  # just after a seek to before ``time``
        if self._current[0] > time + _TIME_EPSILON:
            return False  # decoded past it: only a seek back finds it
        decoded_to = self._next[0] if self._next is not None else self._current[0]
        # A seek lands on the last keyframe *presented* at or before its target, but the index holds decode
        # times, which lead presentation by up to the reorder delay: the landing keyframe is predicted from
        # a second margin back, or a seek meant to skip ahead would land behind ``decoded_to``.
        reorder_margin = _SEEK_MARGIN_FRAMES * self._frame_duration_hint
        keyframe = self._keyframe_time_before(time - 2 * reorder_margin)
        if keyframe is None:
            return time - decoded_to <= _CONTINUE_SECONDS
        return keyframe <= decoded_to

    def _frame_at(self, time: float) -> tuple[float, av.VideoFrame] | None:
        """The frame on screen at ``time``: the last one presented at or before it.

        Before the first decodable frame (or right after an undecodable stretch) this is the first
        frame after ``time`` instead. None only when nothing decodes from here to the end.
        """
        if not self._reachable_by_decoding(time):
            self._seek(time)
        item = self._decode_through(time)
        while self._skipped_a_shown_frame(time):
            self.stats.skip_fallbacks += 1
            self._needed_window *= 2
            self._skipping &= self._needed_window <= _MAX_NEEDED_WINDOW_FRAMES * self._frame_duration_hint
            log.debug(
                "%s: a skipped frame is on screen at %.3fs; skip window now %.3fs", self.uri, time, self._needed_window
            )
            self._seek(time)
            item = self._decode_through(time)
        return item

    def _decode_through(self, time: float) -> tuple[float, av.VideoFrame] | None:
        while (upcoming := self._peek()) is not None and upcoming[0] <= time + _TIME_EPSILON:
            self._advance()
        return self._current if self._current is not None else self._peek()

    def _skipped_a_shown_frame(self, time: float) -> bool:
        """Whether a frame the decoder skipped would have been the answer for ``time``: one presented after
        the current frame and at or before ``time`` (or, with no current frame, before the first one)."""
        if self._skipped_untimed:
            return True
        if not (self._skipped or self._skip_pending):
            return False
        if self._current is not None:
            shown = self._current[0]
            while self._skipped and self._skipped[0] <= shown:
                self._skipped.popleft()  # before the frame on screen: no later time can want it
            low, high = shown, time + _TIME_EPSILON
        else:
            first = self._peek()
            low, high = -math.inf, (math.inf if first is None else first[0] - _TIME_EPSILON)
        return any(low < skipped <= high for skipped in itertools.chain(self._skipped, self._skip_pending))

    # -- conversion ----------------------------------------------------------------------------------

    def _to_rgb(self, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
        """Convert colour and resize in one swscale call (``width``/``height`` as displayed), then rotate.

        AREA filtering downsizes without aliasing; one swscale thread is faster than its pool for the
        small outputs models take.
        """
        rotation = _normalised_rotation(frame.rotation)
        coded_width, coded_height = (height, width) if rotation % 180 else (width, height)
        rgb = self._reformatter.reformat(
            frame, width=coded_width, height=coded_height, format="rgb24", interpolation="AREA", threads=1
        )
        self.stats.frames_converted += 1
        array = rgb.to_ndarray()
        if rotation:
            array = np.ascontiguousarray(np.rot90(array, k=rotation // 90))
        return array

    # -- public reads ---------------------------------------------------------------------------------

    def read_clip(
        self,
        start: float,
        end: float,
        spec: InputSpec,
        rng: np.random.Generator | None = None,
        augment: bool = False,
    ) -> np.ndarray:
        """One clip ``[T, H, W, 3]`` uint8 of ``[start, end)`` as ``spec`` says (T, H, W).

        Args:
            start, end: seconds; ``end`` may be ``inf`` (end of video); an ``end`` slightly past the
                duration (container rounding) is clamped.
            spec: T = ``spec.num_frames``, output size ``spec.height`` × ``spec.width``.
            rng: None for centre sampling; a generator for random temporal jitter (and augmentation).
            augment: training-time spatial augmentation (random crop-resize, brightness, contrast; never
                a horizontal flip, which would swap left/right motion classes).

        Returns:
            uint8 array ``[T, H, W, 3]``. Sample times past undecodable frames repeat the nearest good
            frame (counted in :attr:`stats`).

        Raises:
            VideoError: a span outside the video, or no decodable frame in it (names URI and span).
        """
        start, end = self._checked_span(start, end)
        times = sample_times(start, end, spec.num_frames, rng)
        augment_rng = (rng or np.random.default_rng()) if augment else None
        out_width, out_height, crop = spec.width, spec.height, None
        if augment_rng is not None:
            out_width, out_height, crop = _random_crop(augment_rng, spec.width, spec.height)
        max_gap = max(_MAX_GAP_SECONDS, _MAX_GAP_FRAMES * self._frame_duration_hint)
        clip = np.empty((spec.num_frames, out_height, out_width, 3), dtype=np.uint8)
        filled = [False] * spec.num_frames
        converted_frame, converted = None, None
        with self._sampling(times) as upcoming:
            for i, time in enumerate(upcoming):
                item = self._frame_at(time)
                if item is None or abs(item[0] - time) > max_gap:
                    continue  # undecodable around ``time``: filled from the nearest good sample below
                if item[1] is not converted_frame:
                    converted_frame, converted = item[1], self._to_rgb(item[1], out_width, out_height)
                clip[i] = converted
                filled[i] = True
        if not any(filled):
            raise VideoError(f"{self.uri}: no decodable frame between {start:.3f}s and {end:.3f}s")
        _fill_missing(clip, filled)
        self.stats.repeated_frames += filled.count(False)
        self.stats.clips += 1
        if crop is not None:
            top, left = crop
            clip = clip[:, top : top + spec.height, left : left + spec.width]
            clip = _jitter_photometric(clip, augment_rng)
        return np.ascontiguousarray(clip)

    def _checked_span(self, start: float, end: float) -> tuple[float, float]:
        duration = self.info.duration
        if math.isinf(end) and end > 0:
            end = duration
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or start >= end:
            raise VideoError(f"{self.uri}: bad time span {start}s..{end}s")
        if start >= duration:
            raise VideoError(f"{self.uri}: span {start:.3f}s..{end:.3f}s starts after the end ({duration:.3f}s)")
        if end > duration + DURATION_TOLERANCE_SECONDS:
            raise VideoError(f"{self.uri}: span {start:.3f}s..{end:.3f}s ends after the end ({duration:.3f}s)")
        return start, min(end, duration)

    def frames(
        self,
        start: float = 0.0,
        end: float = math.inf,
        fps: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Stream ``(time_seconds, HxWx3 uint8)`` over ``[start, end)`` with one frame in memory at a time.

        Args:
            start, end: span in seconds (``end`` may be ``inf``).
            fps: None for every decoded frame (its own time); a rate to resample to a regular grid
                ``start + k / fps`` (each grid time gets the frame on screen then: see :meth:`frames_at`).
            size: ``(width, height)`` to resize to; None for the displayed size.
        """
        if fps is not None and fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        end = min(end, self.info.duration)
        if fps is not None:
            grid = (start + k / fps for k in itertools.count())
            yield from self.frames_at(itertools.takewhile(lambda t: t < end, grid), size)
            return
        width, height = size or (self.info.width, self.info.height)
        self.last_streamed_frame_time = None
        item = self._frame_at(start)
        if item is not None and (self._current is None or item[0] < start - _TIME_EPSILON):
            item = self._advance()  # the first frame at or after ``start``, made current
        while item is not None and item[0] < end:
            self.last_streamed_frame_time = item[0]
            yield item[0], self._to_rgb(item[1], width, height)
            item = self._advance()

    def frames_at(
        self, times: Iterable[float], size: tuple[int, int] | None = None
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Stream ``(t, frame on screen at t)`` for ascending ``times``, converting each distinct frame once.

        Decodes forward (seeking only to skip far ahead), skips decoding non-reference frames no time
        needs (see :class:`VideoReader`) and converts only the frames shown at ``times``. Times after the
        last decodable frame get that frame; :attr:`last_streamed_frame_time` says which frame that was
        (with :attr:`stats` decode errors, a sign of a damaged file).

        Args:
            times: ascending seconds (any iterable; consumed lazily, a few frame durations ahead).
            size: ``(width, height)`` to resize to; None for the displayed size.
        """
        width, height = size or (self.info.width, self.info.height)
        self.last_streamed_frame_time = None
        converted_frame, converted = None, None
        with self._sampling(times) as upcoming:
            for time in upcoming:
                item = self._frame_at(time)
                if item is None:
                    return
                if item[1] is not converted_frame:
                    converted_frame, converted = item[1], self._to_rgb(item[1], width, height)
                self.last_streamed_frame_time = item[0]
                yield time, converted

    @contextlib.contextmanager
    def _sampling(self, times: Iterable[float]) -> Iterator["_UpcomingTimes"]:
        """Make ``times`` the sample times skipping decisions look at, for the read in progress.

        A read given up before its last time may leave skipped frames ahead of the current one that the
        next read (which knows nothing of these times) could need: the position is then forgotten, so
        that read seeks and decodes them.
        """
        self._upcoming = _UpcomingTimes(times)
        try:
            yield self._upcoming
        finally:
            self._upcoming = None
            shown = -math.inf if self._current is None else self._current[0]
            if any(skipped > shown for skipped in itertools.chain(self._skipped, self._skip_pending)):
                self._reset_position()

    # -- lifetime ------------------------------------------------------------------------------------

    def _close_container(self) -> None:
        self._reset_position()
        if self._container is not None:
            self._container.close()
            self._container = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        """Release the container (and the remote file object)."""
        self._close_container()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _UpcomingTimes:
    """Ascending sample times still to be answered, read from an iterable only as far ahead as skipping
    decisions look (a lazy grid stays lazy). Iterating yields each time as the one being answered."""

    def __init__(self, times: Iterable[float]):
        self._source = iter(times)
        self._ahead: collections.deque[float] = collections.deque()
        self._answering: float | None = None

    def __iter__(self) -> Iterator[float]:
        while self._ahead or self._read_ahead():
            self._answering = self._ahead.popleft()
            yield self._answering

    def _read_ahead(self) -> bool:
        time = next(self._source, None)
        if time is None:
            return False
        self._ahead.append(float(time))
        return True

    def _last_known(self) -> float:
        if self._ahead:
            return self._ahead[-1]
        return -math.inf if self._answering is None else self._answering

    def may_show(self, time: float, window: float) -> bool:
        """Whether a frame presented at ``time`` may be on screen at a sample time still to come: one in
        ``[time, time + window)`` (within the reader's time epsilon), or one not known at all, past
        the last time of the read."""
        end = time + window
        while self._last_known() < end:
            if not self._read_ahead():
                return True
        answering = [] if self._answering is None else [self._answering]
        return any(time - _TIME_EPSILON <= t < end for t in itertools.chain(answering, self._ahead))


def _normalised_rotation(degrees: float | int | None) -> int:
    """Display rotation as a multiple of 90 in [0, 360) (counter-clockwise, as PyAV reports it)."""
    if not degrees:
        return 0
    return int(round(degrees / 90.0)) * 90 % 360


def _fill_missing(clip: np.ndarray, filled: list[bool]) -> None:
    """Give each unfilled slot the nearest filled frame (earlier on ties)."""
    good = np.flatnonzero(filled)
    for i in np.flatnonzero(~np.asarray(filled)):
        clip[i] = clip[good[np.argmin(np.abs(good - i))]]


def _random_crop(rng: np.random.Generator, width: int, height: int) -> tuple[int, int, tuple[int, int]]:
    """A random crop-resize: convert to a slightly larger size, then cut ``width``×``height`` from it."""
    scale = rng.uniform(1.0, 1.25)
    big_width, big_height = max(width, round(width * scale)), max(height, round(height * scale))
    top = int(rng.integers(0, big_height - height + 1))
    left = int(rng.integers(0, big_width - width + 1))
    return big_width, big_height, (top, left)


def _jitter_photometric(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same random brightness and contrast change on every frame of a clip."""
    contrast = rng.uniform(0.85, 1.15)
    brightness = rng.uniform(-20.0, 20.0)
    adjusted = (clip.astype(np.float32) - 128.0) * contrast + 128.0 + brightness
    return np.clip(adjusted, 0, 255).astype(np.uint8)
