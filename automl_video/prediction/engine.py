"""Batch prediction over many (long) videos, for every prediction type.

Every input row is predicted on its own and its result (predictions or error) is written atomically to
a work folder keyed by the run (model, inputs, parameters) and the row index:
``<output_prefix>/.predict-work/<run key>/rows/00000012.json``. So

* a bad row (missing, corrupt or truncated video, bad times) fails alone;
* a rerun after a crash skips rows that have a result and computes the others, exactly once each;
* ``shard=(i, n)`` runs take the rows with ``index % n == i``, so replicas share one work folder, and
  :func:`merge_shards` assembles the final files once every row has a result.

The final output (AutoML index CSV + JSON files, or Vertex ``predictions_*.jsonl``) is written file by
file atomically into ``prediction-<model>-<timestamp>``, whose name is recorded in the work folder
before the first file is written, so a crash while assembling is finished by a rerun into the same
folder. Then the run's result is recorded and the row files are removed: running the same prediction
(or merge) again returns that result instead of predicting again (to predict afresh, use another
output prefix or delete the run's work folder).

Rows decode side by side in one thread per CPU while the calling thread scores their clips in batches,
with Keras or LiteRT (``inference``, :mod:`automl_video.modeling.inference`; LiteRT gets the cores the
decoding threads leave). With fewer rows than CPUs, each row's span is cut between the spare cores
(:mod:`automl_video.prediction.split_reader`), so one long video uses the whole machine.
Which clips a row gives and what their scores mean is the model's task's
(:class:`automl_video.tasks.base.PredictionRecipe`).
"""

import dataclasses
import hashlib
import json
import logging
import math
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from automl_video import storage
from automl_video.data.dataset import RowFailure
from automl_video.errors import AutoMLVideoError
from automl_video.modeling.metadata import METADATA_FILE, ModelMetadata, load_metadata
from automl_video.prediction.clips import ClipSpan
from automl_video.prediction.inputs import LEGACY_CSV, InputSet, PredictionInput, read_inputs
from automl_video.prediction.outputs import RowResult, write_legacy_output, write_vertex_output
from automl_video.prediction.split_reader import SplitReader
from automl_video.progress import Progress
from automl_video.rpc import MAX_PARTIAL_FAILURES, Code
from automl_video.tasks import get_task
from automl_video.tasks.base import PredictionRecipe, RowPlan
from automl_video.times import rfc3339_now
from automl_video.video import DURATION_TOLERANCE_SECONDS, VideoError, VideoReader

if TYPE_CHECKING:
    from automl_video.modeling.loading import TrainedModel

log = logging.getLogger(__name__)

WORK_FOLDER = ".predict-work"
_ROW_FILE = re.compile(r"^(\d{8})\.json$")
_OUTPUT_RECORD = "output.json"
_RESULT_RECORD = "result.json"
CLIP_BATCH_SIZE = 16
# Clips decoded ahead of the model: bounds memory while decoding and inference overlap.
_PREFETCH_CLIPS = 32
# Each process computing rows tags their results, so a resumed run can show what it recomputed.
RUN_ID = uuid.uuid4().hex[:12]


class PredictionError(AutoMLVideoError):
    """A prediction run cannot go on (e.g. merging before every shard finished); the message says why."""


@dataclass
class PredictionResult:
    """What a prediction run did.

    ``output_dir`` and ``files`` are empty for a shard run (``shard[1] > 1``): :func:`merge_shards`
    writes the final output. Row counts cover the rows of this run's shard, or all rows once merged.
    """

    output_dir: str
    format: str
    total_rows: int
    shard: tuple[int, int]
    shard_rows: int
    predicted_rows: int
    resumed_rows: int
    succeeded_rows: int
    failed_rows: int
    video_seconds: float
    wall_seconds: float
    work_dir: str
    files: list[str] = field(default_factory=list)
    failures: list[RowFailure] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.output_dir)

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "complete": self.complete}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "PredictionResult":
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in doc.items() if k in fields}
        return cls(**{**values, "shard": tuple(doc["shard"]), "failures": [RowFailure(**f) for f in doc["failures"]]})


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (0-based shard I of N) as a tuple; ValueError says what is wrong."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"shard {text!r} is not I/N (e.g. 0/4 for the first of 4 shards)")
    return _checked_shard((int(match.group(1)), int(match.group(2))))


def _checked_shard(shard: tuple[int, int]) -> tuple[int, int]:
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= I < N")
    return index, count


# -- the run and its work folder ----------------------------------------------------------------------


@dataclass
class PredictionRun:
    """One prediction (model, inputs, parameters) and its work folder, shared by its shards and reruns."""

    model_uri: str
    metadata: ModelMetadata
    recipe: PredictionRecipe
    inputs: InputSet
    params: Any  # the task's parameters dataclass (PredictionRecipe.parse_params)
    work_dir: str

    def row_url(self, index: int) -> str:
        return storage.join(self.work_dir, "rows", f"{index:08d}.json")

    def finished_rows(self) -> set[int]:
        rows_dir = storage.join(self.work_dir, "rows")
        fs, path = storage.filesystem(rows_dir)
        fs.invalidate_cache(path)  # other processes (shards) add rows: never trust a cached listing
        names = (url.rstrip("/").rsplit("/", 1)[-1] for url in storage.listdir(rows_dir))
        return {int(m.group(1)) for m in map(_ROW_FILE.match, names) if m}

    def save_row(self, result: RowResult) -> None:
        storage.write_json(self.row_url(result.index), result.to_json(), indent=None)

    def load_row(self, index: int) -> RowResult:
        return RowResult.from_json(storage.read_json(self.row_url(index)), self.recipe.prediction_from_json)

    def completed_result(self) -> PredictionResult | None:
        """The result of this run's final output, once written (None before)."""
        record = storage.join(self.work_dir, _RESULT_RECORD)
        return PredictionResult.from_json(storage.read_json(record)) if storage.exists(record) else None

    def complete(self, result: PredictionResult) -> PredictionResult:
        """Record the finished run, then drop its row files (a rerun now returns ``result``)."""
        storage.write_json(storage.join(self.work_dir, _RESULT_RECORD), result.to_json())
        storage.remove(storage.join(self.work_dir, "rows"), recursive=True)
        return result

    def output_dir(self, output_prefix: str) -> str:
        """The final folder, named once (at the first assembly) and reused by reruns."""
        record = storage.join(self.work_dir, _OUTPUT_RECORD)
        if storage.exists(record):
            return storage.read_json(record)["output_dir"]
        name = self.metadata.display_name or self.model_uri.rstrip("/").rsplit("/", 1)[-1]
        safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "model"
        output_dir = storage.join(output_prefix, f"prediction-{safe_name}-{rfc3339_now()}")
        storage.write_json(record, {"output_dir": output_dir})
        return output_dir


def prediction_params(model_uri: str, mapping: dict[str, Any]) -> Any:
    """AutoML ``params`` / Vertex ``model_parameters`` parsed by the model's task; ValueError names a bad key."""
    return get_task(load_metadata(model_uri).prediction_type).prediction().parse_params(mapping)


def _open_run(model_uri: str, inputs: list[str], output_prefix: str, params: Any | None) -> PredictionRun:
    input_set = read_inputs(inputs)
    metadata = load_metadata(model_uri)
    recipe = get_task(metadata.prediction_type).prediction()
    params = recipe.default_params() if params is None else params
    key_source = {
        "model": model_uri,
        "model_json": hashlib.sha256(storage.read_bytes(storage.join(model_uri, METADATA_FILE))).hexdigest(),
        "inputs": input_set.digest,
        "params": dataclasses.asdict(params),
    }
    run_key = hashlib.sha256(json.dumps(key_source, sort_keys=True).encode()).hexdigest()[:16]
    work_dir = storage.join(output_prefix, WORK_FOLDER, run_key)
    description = storage.join(work_dir, "run.json")
    if not storage.exists(description):
        storage.write_json(description, {**key_source, "inputs": input_set.uris, "input_digest": input_set.digest})
    return PredictionRun(model_uri, metadata, recipe, input_set, params, work_dir)


# -- public entry points -----------------------------------------------------------------------------


def batch_predict(
    model_uri: str,
    inputs: list[str],
    output_prefix: str,
    params: Any | None = None,
    shard: tuple[int, int] = (0, 1),
    guard: storage.UriGuard | None = None,
    inference: str = "auto",
) -> PredictionResult:
    """Predict every row of the inputs (or one shard of them), resuming an interrupted run.

    Args:
        model_uri: a trained model folder.
        inputs: AutoML CSV files (``VIDEO_URI,START,END``) or Vertex JSONL files, not mixed.
        output_prefix: folder under which ``prediction-<model>-<timestamp>/`` is created.
        params: the task's parameters (:func:`prediction_params` parses AutoML/Vertex maps); default
            the task's (classification: segment only).
        shard: ``(i, n)``: process the rows with ``index % n == i``; with ``n > 1`` the final output is
            written by :func:`merge_shards` once every shard has run.
        guard: raises PermissionError for a video that may not be read (a server's allowed roots): that
            row fails with the reason and the video is never opened.
        inference: how clips are scored (:data:`automl_video.modeling.metadata.INFERENCE_BACKENDS`;
            ``auto``: LiteRT where it agrees with Keras). Not part of the run's key: every backend gives
            the same predictions within its checked tolerance, so a rerun may resume with another.

    Returns:
        The counts and, for an unsharded run, the output folder and files.
    """
    started = time.monotonic()
    shard = _checked_shard(shard)
    run = _open_run(model_uri, inputs, output_prefix, params)
    if (completed := run.completed_result()) is not None:
        return _already_complete(run, completed, started)
    shard_rows = [row for row in run.inputs.rows if row.index % shard[1] == shard[0]]
    finished = run.finished_rows()
    todo = [row for row in shard_rows if row.index not in finished]
    log.info(
        "predict %s: %d rows in shard %d/%d, %d already done (work folder %s)",
        model_uri,
        len(shard_rows),
        shard[0],
        shard[1],
        len(shard_rows) - len(todo),
        run.work_dir,
    )
    for row in todo:
        if not row.error and (refusal := storage.refused(row.video_uri, guard)) is not None:
            row.error = f"{row.source}: {refusal}"
    if todo:
        _predict_rows(run, todo, inference)
    if shard[1] == 1:
        output_dir, files, tally = _assemble(run, output_prefix)
        return run.complete(tally.result(output_dir, files, shard, len(todo), time.monotonic() - started))
    tally = RowResultCounter(run, shard_rows)
    tally.count_all()
    return tally.result("", [], shard, len(todo), time.monotonic() - started)


def merge_shards(model_uri: str, inputs: list[str], output_prefix: str, params: Any | None = None) -> PredictionResult:
    """Write the final output of a sharded run once every shard has finished.

    Takes the same arguments as the shard runs (they identify the work folder). Merging again returns
    the same result.

    Raises:
        PredictionError: some rows have no result yet (names how many and the first one).
    """
    started = time.monotonic()
    run = _open_run(model_uri, inputs, output_prefix, params)
    if (completed := run.completed_result()) is not None:
        return _already_complete(run, completed, started)
    output_dir, files, tally = _assemble(run, output_prefix)
    return run.complete(tally.result(output_dir, files, (0, 1), 0, time.monotonic() - started))


def _already_complete(run: PredictionRun, result: PredictionResult, started: float) -> PredictionResult:
    storage.remove(storage.join(run.work_dir, "rows"), recursive=True)  # if a crash left them behind
    log.info("predict: already finished: %s (delete %s to predict again)", result.output_dir, run.work_dir)
    return dataclasses.replace(
        result, predicted_rows=0, resumed_rows=result.shard_rows, wall_seconds=round(time.monotonic() - started, 3)
    )


# -- assembling the output ---------------------------------------------------------------------------


def _assemble(run: PredictionRun, output_prefix: str) -> tuple[str, list[str], "RowResultCounter"]:
    """Write the final files from every row's result (each file atomically)."""
    rows = run.inputs.rows
    finished = run.finished_rows()
    missing = [row for row in rows if row.index not in finished]
    if missing:
        raise PredictionError(
            f"{run.work_dir}: {len(missing)} of {len(rows)} rows have no result yet (first: {missing[0].source}, "
            f"row index {missing[0].index}); run every shard to completion before merging"
        )
    output_dir = run.output_dir(output_prefix)
    tally = RowResultCounter(run, rows)
    write = write_legacy_output if run.inputs.format == LEGACY_CSV else write_vertex_output
    files = write(output_dir, tally.counted(), run.recipe)
    log.info("predict: wrote %s (%d rows OK, %d failed)", output_dir, tally.succeeded, tally.failed)
    return output_dir, files, tally


class RowResultCounter:
    """Reads the rows' results (one at a time, as the output writer consumes them) and counts them."""

    def __init__(self, run: PredictionRun, rows: list[PredictionInput]) -> None:
        self.run = run
        self.rows = rows
        self.succeeded = 0
        self.failed = 0
        self.video_seconds = 0.0
        self.failures: list[RowFailure] = []

    def counted(self) -> Iterator[tuple[PredictionInput, RowResult]]:
        for row in self.rows:
            result = self.run.load_row(row.index)
            if result.ok:
                self.succeeded += 1
                self.video_seconds += result.video_seconds
            else:
                self.failed += 1
                if len(self.failures) < MAX_PARTIAL_FAILURES:
                    self.failures.append(RowFailure(uri=row.input_uri, row=row.line, message=result.error))
            yield row, result

    def count_all(self) -> None:
        for _ in self.counted():
            pass

    def result(
        self, output_dir: str, files: list[str], shard: tuple[int, int], predicted: int, wall_seconds: float
    ) -> PredictionResult:
        return PredictionResult(
            output_dir=output_dir,
            format=self.run.inputs.format,
            total_rows=len(self.run.inputs.rows),
            shard=shard,
            shard_rows=len(self.rows),
            predicted_rows=predicted,
            resumed_rows=len(self.rows) - predicted,
            succeeded_rows=self.succeeded,
            failed_rows=self.failed,
            video_seconds=round(self.video_seconds, 3),
            wall_seconds=round(wall_seconds, 3),
            work_dir=self.run.work_dir,
            files=files,
            failures=self.failures,
        )


# -- predicting rows ---------------------------------------------------------------------------------


def _predict_rows(run: PredictionRun, rows: list[PredictionInput], inference: str) -> None:
    """Compute and save the result of each row; a row's failure is its result, not the run's."""
    valid = [row for row in rows if not row.error]
    for row in rows:
        if row.error:
            log.warning("%s", row.error)
            run.save_row(RowResult(row.index, error=row.error, error_code=Code.INVALID_ARGUMENT, run_id=RUN_ID))
    if not valid:
        return
    # TensorFlow loads only when there is work for it.
    from automl_video.modeling.inference import LITERT_BATCH_SIZE, use_inference
    from automl_video.modeling.loading import load_model

    # Loading TensorFlow and the model's graph can take most of a short run's time: say so before, and
    # how long it took after, so the wait is not silence.
    log.info("predict: loading model %s", run.model_uri)
    loading_started = time.monotonic()
    decoders = decode_workers(len(valid)) * decoders_per_row(len(valid))
    model = use_inference(
        load_model(run.model_uri), run.model_uri, inference, LITERT_BATCH_SIZE, inference_threads(decoders)
    )
    log.info("predict: model loaded in %.1fs", time.monotonic() - loading_started)
    predictor = _RowPredictor(model, run.recipe.rows(model, run.params))
    progress = Progress("predict", total=None, unit="video-s")
    for position, result in enumerate(predictor.predict(valid, progress)):
        run.save_row(result)
        if result.error:
            log.warning("%s", result.error)
        rows_left = len(valid) - position - 1
        progress.total = progress.done + rows_left * progress.done / (position + 1)
    progress.finish()


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: ``taskset`` or a container's cpuset)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def decode_workers(rows: int) -> int:
    """Rows decoding side by side: one per CPU."""
    return max(1, min(rows, available_cpus()))


def decoders_per_row(rows: int) -> int:
    """Decoders each of the rows decoding side by side gets: the CPUs the other rows leave, so a lone long
    row is split across every core (:class:`~automl_video.prediction.split_reader.SplitReader`)."""
    return max(1, available_cpus() // decode_workers(rows))


def inference_threads(decoders: int) -> int:
    """LiteRT threads beside ``decoders`` decoding threads: the cores they leave, at least one.

    Once LiteRT scores, decoding is the slower side, so decoders keep a core each: segment + 1 s on
    360p30 videos (2 shared cores, 2 decoders, MOBILE_VERSATILE_1, runs interleaved) gave 111.5 video-s/s
    with one LiteRT thread and 113.6 with two (Keras: 83.7), and the network scores 557 clips/s on one
    thread, 569 on two (``benchmarks/inference_backends.py``).
    """
    return max(1, available_cpus() - decoders)


def _error_code(error: Exception) -> int:
    if isinstance(error, FileNotFoundError) or "not found" in str(error):
        return Code.NOT_FOUND
    return Code.INVALID_ARGUMENT


@dataclass
class _RowClip:
    """A clip of a row (``row`` indexes the rows being predicted), from a decoding thread to the model."""

    row: int
    span: ClipSpan
    clip: np.ndarray


@dataclass
class _RowDecoded:
    """A decoding thread is done with a row: the seconds it covered, or why it failed."""

    row: int
    seconds: float = 0.0
    error: Exception | None = None


@dataclass
class _DecoderExit:
    """A decoding thread ran out of rows (``error``: it broke, and the run must stop)."""

    error: BaseException | None = None


@dataclass
class _RowScores:
    """The model thread's side of one row: clips waiting for a batch, and scores so far."""

    reported: float  # progress: the end of the last span counted
    batch: list[tuple[ClipSpan, np.ndarray]] = field(default_factory=list)
    scored: list[tuple[ClipSpan, np.ndarray]] = field(default_factory=list)
    error: Exception | None = None


class _Abandoned(Exception):
    """The model thread stopped (an error or interrupt): decoding threads quit."""


class _Handoff:
    """A bounded queue from the decoding threads to the model thread, which the model thread can abandon."""

    def __init__(self, depth: int):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._abandoned = threading.Event()

    def put(self, item) -> None:
        while not self._abandoned.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Abandoned

    def get(self):
        return self._queue.get()

    def abandon(self, threads: list[threading.Thread]) -> None:
        """Make every decoding thread quit at its next hand-off, and wait for them."""
        self._abandoned.set()
        while any(thread.is_alive() for thread in threads):
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                continue


class _RowPredictor:
    """Predicts rows with one loaded model.

    Rows decode in parallel threads, one per CPU (with fewer rows than CPUs, a row's span is cut between
    the spare cores), while the calling thread scores their clips. A row's clips are batched only with each other, so results
    do not depend on which rows happen to decode side by side.
    """

    def __init__(self, model: "TrainedModel", plan: RowPlan):
        self.model = model
        self.plan = plan

    def predict(self, rows: list[PredictionInput], progress: Progress) -> Iterator[RowResult]:
        """Each row's result as soon as it is complete (so not always in input order)."""
        workers = decode_workers(len(rows))
        split = decoders_per_row(len(rows))
        # With several rows decoding side by side the cores are busy: decoder threads would only add switching.
        decoder_threads = "AUTO" if workers == 1 else "NONE"
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for position in range(len(rows)):
            todo.put(position)
        handoff = _Handoff(_PREFETCH_CLIPS)

        def decode_rows() -> None:
            error = None
            try:
                while True:
                    try:
                        position = todo.get_nowait()
                    except queue.Empty:
                        break
                    handoff.put(self._decode_row(position, rows[position], decoder_threads, split, handoff))
            except _Abandoned:
                return
            except BaseException as e:  # noqa: BLE001 - handed to the model thread, which re-raises it
                error = e
            try:
                handoff.put(_DecoderExit(error))
            except _Abandoned:
                pass

        threads = [
            threading.Thread(target=decode_rows, name=f"predict-decode-{i}", daemon=True) for i in range(workers)
        ]
        for thread in threads:
            thread.start()
        states: dict[int, _RowScores] = {}
        running = workers
        try:
            while running:
                message = handoff.get()
                if isinstance(message, _DecoderExit):
                    if message.error is not None:
                        raise message.error
                    running -= 1
                    continue
                state = states.setdefault(message.row, _RowScores(reported=rows[message.row].start))
                if isinstance(message, _RowClip):
                    self._add_clip(state, message, progress)
                else:
                    del states[message.row]
                    yield self._result(rows[message.row], state, message)
        finally:
            handoff.abandon(threads)

    def _decode_row(
        self, position: int, row: PredictionInput, threads: str, decoders: int, handoff: _Handoff
    ) -> _RowDecoded:
        """Hand every clip of the row to the model thread (its span cut between ``decoders`` decoders);
        expected failures become the row's error."""
        try:
            with SplitReader(row.video_uri, threads=threads, decoders=decoders) as reader:
                start, end = _resolved_span(row, reader)
                for span, clip in self.plan.clips(reader, start, end):
                    handoff.put(_RowClip(position, span, clip))
        except _Abandoned:
            raise
        except Exception as e:  # noqa: BLE001 - one broken row must not stop a batch of thousands
            return _RowDecoded(position, error=e)
        return _RowDecoded(position, seconds=end - start)

    def _add_clip(self, state: _RowScores, message: _RowClip, progress: Progress) -> None:
        progress.update(max(0.0, message.span.end - state.reported))
        state.reported = max(state.reported, message.span.end)
        if state.error is not None:
            return
        state.batch.append((message.span, message.clip))
        if len(state.batch) == CLIP_BATCH_SIZE:
            self._score_batch(state)

    def _score_batch(self, state: _RowScores) -> None:
        """Score the row's waiting clips: with Keras padded to the full batch size when the plan asks for one
        input shape (no TF retracing on streams of clips), else as they are (a LiteRT backend pads to its
        own, smaller batch)."""
        try:
            if self.plan.fixed_batch and self.model.backend is None:
                clips = np.zeros((CLIP_BATCH_SIZE, *self.model.input_spec.shape), np.uint8)
                clips[: len(state.batch)] = [clip for _, clip in state.batch]
                scores = self.model.predict_clips(clips, batch_size=CLIP_BATCH_SIZE)
            else:
                clips = np.stack([clip for _, clip in state.batch])
                scores = self.model.predict_clips(clips)
            state.scored += [(span, self.plan.compact(span, output)) for (span, _), output in zip(state.batch, scores)]
        except Exception as e:  # noqa: BLE001 - the row fails, the batch goes on
            state.error = e
        state.batch = []

    def _result(self, row: PredictionInput, state: _RowScores, decoded: _RowDecoded) -> RowResult:
        if decoded.error is None and state.error is None and state.batch:
            self._score_batch(state)
        error = decoded.error or state.error
        if error is not None:
            return self._failure(row, error)
        predictions = self.plan.predictions(state.scored)
        return RowResult(row.index, predictions=predictions, video_seconds=round(decoded.seconds, 6), run_id=RUN_ID)

    def _failure(self, row: PredictionInput, error: Exception) -> RowResult:
        if isinstance(error, (VideoError, ValueError, FileNotFoundError)):
            message = str(error) if row.video_uri in str(error) else f"{row.video_uri}: {error}"
            return RowResult(row.index, error=f"{row.source}: {message}", error_code=_error_code(error), run_id=RUN_ID)
        log.error("%s: unexpected error predicting %s", row.source, row.video_uri, exc_info=error)
        message = f"{row.source}: internal error predicting {row.video_uri}: {type(error).__name__}: {error}"
        return RowResult(row.index, error=message, error_code=Code.INTERNAL, run_id=RUN_ID)


def _resolved_span(row: PredictionInput, reader: VideoReader) -> tuple[float, float]:
    """The row's span inside the video (``inf`` END = the video's end); VideoError when outside."""
    duration = reader.info.duration
    if row.start >= duration:
        raise VideoError(f"{row.video_uri}: START {row.start:g}s is not before the video's end ({duration:.3f}s)")
    tolerance = max(1.0 / reader.info.fps if reader.info.fps else 0.0, DURATION_TOLERANCE_SECONDS)
    if math.isfinite(row.end) and row.end > duration + tolerance:
        raise VideoError(f"{row.video_uri}: END {row.end:g}s is after the video's end ({duration:.3f}s)")
    return row.start, min(row.end, duration)
