"""One long row read by several decoders at once: its span cut into pieces decoded side by side.

A row is decoded by one thread, so a 3-hour video alone on a machine used one core. A
:class:`SplitReader` cuts a streaming read (:meth:`~automl_video.video.VideoReader.frames_at` or
:meth:`~automl_video.video.VideoReader.frames`) into consecutive pieces of the span, decodes them in
worker threads, each with its own open container, and yields their frames in time order. The output
is the single-threaded one, frame for frame: every sample time still gets the frame on screen at that
time, whichever decoder found it, because a reader that seeks to a piece's start decodes the same
frames from there on (the rule :meth:`VideoReader.read_clip` and the streaming reads already share).

Pieces start just after a keyframe (from the container's index), so a decoder that seeks to one decodes
nothing twice. A container without an index of every frame (only MP4 and MOV are split) is read by one
decoder: a seek there may not land on a keyframe, so the frames after it could differ. At most
``decoders + 1`` pieces are held ahead of the reader's consumer, each bounded in bytes, so memory stays
flat in the video's length.
"""

import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np

from automl_video.video import _SEEK_MARGIN_FRAMES, VideoReader

# Converted frames held ahead of the consumer, all pieces together (each may overrun its share by a GOP).
PIECE_BUFFER_BYTES = 64 << 20
# A piece is at least this long: shorter ones pay a seek and a decoder's start for little work.
MIN_PIECE_SECONDS = 5.0
# Pieces per decoder on a span that allows it: the last pieces finish close together.
PIECES_PER_DECODER = 4
# An index with entries for this share of the frames indexes them all (see SplitReader._seeks_to_keyframes).
FULL_INDEX_SHARE = 0.9
_POLL_SECONDS = 0.1

Piece = TypeVar("Piece")


@dataclass
class _PieceEnd:
    """A worker is done with a piece: the last frame time it yielded, whether it stopped short, or why it failed."""

    last_time: float | None = None
    stopped_short: bool = False
    error: BaseException | None = None


class SplitReader(VideoReader):
    """A :class:`VideoReader` whose streaming reads use ``decoders`` threads on a long span.

    With ``decoders == 1``, or a span too short for two pieces, it reads as a plain reader. Seeking reads
    (:meth:`read_clip`) are the plain reader's.

    Args:
        uri, threads: as :class:`VideoReader` (``threads`` for this reader; the piece decoders run
            single-threaded, since they already keep the cores busy).
        decoders: pieces decoded at once.
    """

    def __init__(self, uri: str, threads: str = "AUTO", decoders: int = 1):
        super().__init__(uri, threads=threads)
        self.decoders = max(1, decoders)
        self.pieces_read = 0  # pieces the last streaming read was cut into (1: read as one)

    def frames_at(
        self, times: Iterable[float], size: tuple[int, int] | None = None
    ) -> Iterator[tuple[float, np.ndarray]]:
        times = np.fromiter(times, dtype=np.float64)
        boundaries = (
            self._piece_boundaries(float(times[0]), float(times[-1]), len(times), self._frame_bytes(size))
            if len(times)
            else []
        )
        if not boundaries:
            self.pieces_read = 1
            yield from super().frames_at(times, size)
            return
        cuts = np.searchsorted(times, boundaries, side="left")
        pieces = [piece for piece in np.split(times, cuts) if len(piece)]

        def read(reader: VideoReader, piece: np.ndarray) -> Iterator[tuple[float, np.ndarray]]:
            return reader.frames_at(piece, size)

        yield from self._read_pieces(pieces, read, expected=len)

    def frames(
        self,
        start: float = 0.0,
        end: float = math.inf,
        fps: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> Iterator[tuple[float, np.ndarray]]:
        end = min(end, self.info.duration)
        if fps is not None or end <= start:
            yield from super().frames(start, end, fps, size)  # a regular grid goes through frames_at
            return
        frame_count = max(1, round((end - start) * (self.info.fps or 1.0)))
        boundaries = self._piece_boundaries(start, end, frame_count, self._frame_bytes(size))
        if not boundaries:
            self.pieces_read = 1
            yield from super().frames(start, end, size=size)
            return
        edges = [start, *boundaries, end]

        def read(reader: VideoReader, piece: tuple[float, float]) -> Iterator[tuple[float, np.ndarray]]:
            return reader.frames(piece[0], piece[1], size=size)

        yield from self._read_pieces(list(itertools.pairwise(edges)), read, expected=None)

    # -- cutting the span ------------------------------------------------------------------------------

    def _frame_bytes(self, size: tuple[int, int] | None) -> int:
        width, height = size or (self.info.width, self.info.height)
        return width * height * 3

    def _piece_boundaries(self, start: float, end: float, frame_count: int, frame_bytes: int) -> list[float]:
        """Where pieces start after the first (empty: read it as one piece).

        A piece lasts a quarter of the span per decoder, at least :data:`MIN_PIECE_SECONDS`, and holds at
        most its share of :data:`PIECE_BUFFER_BYTES` (plus up to a GOP, as each start moves to just after
        the keyframe before it where there is one since the previous start).
        """
        span = end - start
        if self.decoders == 1 or span < 2 * MIN_PIECE_SECONDS or frame_count < 2 or not self._seeks_to_keyframes():
            return []
        frames_per_second = frame_count / span
        max_frames = PIECE_BUFFER_BYTES / ((self.decoders + 1) * frame_bytes)
        seconds = min(
            max(MIN_PIECE_SECONDS, span / (PIECES_PER_DECODER * self.decoders)), max_frames / frames_per_second
        )
        boundaries: list[float] = []
        for nominal in np.arange(start + seconds, end, seconds):
            previous = boundaries[-1] if boundaries else start
            boundary = self._after_keyframe(float(nominal))
            if boundary <= previous:  # a GOP longer than a piece, or an index that misses keyframes
                boundary = float(nominal)
            if previous < boundary < end:
                boundaries.append(boundary)
        return boundaries

    def _seeks_to_keyframes(self) -> bool:
        """Whether a seek lands on a keyframe: the container indexes every frame (MP4, MOV).

        Other containers are read as one piece. Without a full index a seek can land between keyframes
        (MPEG-TS indexes only the packets read so far, and FFmpeg searches the file for a time): on an
        x264 stream remuxed to TS, frames after such a seek differed from a decode from the start in 99 %
        of their pixels. Matroska's cues could do but are not checked here.
        """
        entries = self._stream.index_entries
        return entries is not None and len(entries) >= FULL_INDEX_SHARE * max(1, self.info.frame_count)

    def _after_keyframe(self, time: float) -> float:
        """A piece start near ``time`` whose seek lands on the keyframe at or before ``time``.

        A seek goes to the last keyframe *presented* before the wanted time less the reader's B-frame
        margin, while the index holds decode times, which lead presentation by up to that margin: a piece
        that starts two margins after a keyframe's decode time decodes from exactly that keyframe (one
        margin later, FFmpeg's MP4 seek landed a GOP earlier).
        """
        keyframe = self._keyframe_time_before(time)
        return time if keyframe is None else keyframe + 2 * _SEEK_MARGIN_FRAMES * self._frame_duration_hint + 1e-3

    # -- reading the pieces ----------------------------------------------------------------------------

    def _read_pieces(
        self,
        pieces: list[Piece],
        read: Callable[[VideoReader, Piece], Iterator[tuple[float, np.ndarray]]],
        expected: Callable[[Piece], int] | None,
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Yield every piece's frames in order while ``decoders`` workers read the pieces ahead.

        ``expected`` gives how many frames a piece must yield (``frames_at``: one per time); a piece that
        yields fewer met the end of what decodes, so the read stops there, as a single reader's would.
        """
        self.pieces_read = len(pieces)
        outputs: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in pieces]
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for index in range(len(pieces)):
            todo.put(index)
        permits = threading.Semaphore(self.decoders + 1)  # pieces read ahead of the consumer, at most
        stop = threading.Event()
        readers: list[VideoReader] = []
        readers_lock = threading.Lock()

        def work() -> None:
            reader = None
            try:
                while not stop.is_set():
                    if not permits.acquire(timeout=_POLL_SECONDS):
                        continue
                    try:
                        index = todo.get_nowait()
                    except queue.Empty:
                        return
                    yielded = 0
                    try:
                        if reader is None:
                            reader = VideoReader(self.uri, threads="NONE")
                            with readers_lock:
                                readers.append(reader)
                        for item in read(reader, pieces[index]):
                            if stop.is_set():
                                return
                            outputs[index].put(item)
                            yielded += 1
                    except BaseException as error:  # noqa: BLE001 - re-raised by the consumer, in order
                        outputs[index].put(_PieceEnd(error=error))
                        return
                    short = expected is not None and yielded < expected(pieces[index])
                    outputs[index].put(_PieceEnd(reader.last_streamed_frame_time if yielded else None, short))
            finally:
                if reader is not None:
                    reader.close()

        workers = [
            threading.Thread(target=work, name=f"split-decode-{i}", daemon=True)
            for i in range(min(self.decoders, len(pieces)))
        ]
        for worker in workers:
            worker.start()
        self.last_streamed_frame_time = None
        try:
            for output in outputs:
                while not isinstance(item := output.get(), _PieceEnd):
                    yield item
                permits.release()
                if item.error is not None:
                    raise item.error
                if item.last_time is not None:
                    self.last_streamed_frame_time = item.last_time
                if item.stopped_short:
                    return
        finally:
            stop.set()
            for worker in workers:
                worker.join()
            for reader in readers:
                self._add_stats(reader)

    def _add_stats(self, reader: VideoReader) -> None:
        for counter in fields(self.stats):
            setattr(self.stats, counter.name, getattr(self.stats, counter.name) + getattr(reader.stats, counter.name))
