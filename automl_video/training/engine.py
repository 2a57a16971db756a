"""Train a model on a split dataset, resumably, within a wall-clock budget, for any prediction type.

Each epoch trains on TRAIN (small datasets repeat their examples, each time augmented anew, up to
:data:`MIN_STEPS_PER_EPOCH` steps), scores VALIDATION with the task's score (AU-PRC for
classification; ties broken by the loss) and commits a checkpoint to ``<model>/checkpoints/``:
weights, optimizer state and then ``state.json`` (epoch, history, best epoch and score, time spent),
the commit point. Data order, augmentation and dropout are functions of (seed, epoch), and the
learning rate follows a cosine over the budget's time, so a run killed at any moment and started
again with the same command continues from its last committed epoch. Training ends on early stopping
(no VALIDATION improvement for ``patience`` epochs), the budget or ``max_epochs``; the best weights are
then calibrated on VALIDATION (the task's :meth:`~automl_video.tasks.base.TrainingRecipe.calibrate`,
folded into the output layer) and published with ``model.json`` and ``_COMPLETE``
(``storage.publish_dir``).

What the examples, the network, the loss and the VALIDATION score are is the task's
(:class:`automl_video.tasks.base.TrainingRecipe`); everything else here serves every task.
"""

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.data.dataset import Dataset, Split
from automl_video.modeling.calibration import describe
from automl_video.modeling.loading import WEIGHTS_FILE, load_init_weights
from automl_video.modeling.metadata import (
    METADATA_FILE,
    Calibration,
    ClipFailure,
    EpochRecord,
    InputSpec,
    ModelMetadata,
    ModelType,
    TrainingSummary,
    load_metadata,
    parse_model_type,
    save_metadata,
)
from automl_video.progress import Progress
from automl_video.tasks import get_task
from automl_video.tasks.base import Task, TrainingRecipe
from automl_video.training.checkpoints import CHECKPOINT_DIR, STATE_FILE, Checkpoints, TrainingError, TrainState
from automl_video.training.clip_cache import (
    DEFAULT_CACHE_GB,
    ClipExample,
    ClipStore,
    evaluation_dataset,
    without_failures,
)
from automl_video.training.logs import LOGS_DIR, LogDir, write_hparams, write_hparams_end, write_scalar

log = logging.getLogger(__name__)

DEFAULT_BUDGET_MINUTES = 60.0
DEFAULT_MAX_EPOCHS = 200
DEFAULT_PATIENCE = 20
LEARNING_RATE = 2e-3
# Small datasets repeat their examples so that an epoch has at least this many steps.
MIN_STEPS_PER_EPOCH = 32
# Score changes smaller than this are ties, broken by the VALIDATION loss.
SCORE_TOLERANCE = 1e-4
MAX_REPORTED_FAILURES = 20


@dataclass
class TrainResult:
    """What a training produced (also the CLI's ``--json`` document)."""

    model_uri: str
    model_type: str
    prediction_type: str
    input_spec: InputSpec
    labels: list[str]
    epochs: int
    best_epoch: int
    best_validation_score: float
    validation_metric: str  # what the score measures (``au_prc`` for classification)
    stop_reason: str  # early_stopping | budget | max_epochs
    resumed_from_epoch: int  # 0 when the run started fresh
    train_examples: int
    validation_examples: int
    failed_clips: int
    elapsed_seconds: float
    history: list[EpochRecord]
    calibration: Calibration | None  # the scores' calibration on VALIDATION (None: published as trained)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Examples:
    """The TRAIN and VALIDATION examples of a training, and the spans that could not be decoded."""

    train: list[ClipExample]
    validation: list[ClipExample]
    failures: list[ClipFailure] = field(default_factory=list)


def train(
    dataset_uri: str,
    model_uri: str,
    model_type: str = ModelType.MOBILE_VERSATILE_1.value,
    budget_minutes: float = DEFAULT_BUDGET_MINUTES,
    seed: int = 0,
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    init_weights: str | None = None,
    input_spec: InputSpec | None = None,
    batch_size: int | None = None,
    patience: int = DEFAULT_PATIENCE,
    cache_dir: str | None = None,
    cache_gb: float = DEFAULT_CACHE_GB,
    display_name: str = "",
) -> TrainResult:
    """Train (or resume training) a model of the dataset's prediction type and publish it at ``model_uri``.

    Args:
        dataset_uri: a split dataset (TRAIN and VALIDATION videos).
        model_uri: the model folder (any fsspec URL); rerunning with the same arguments resumes from its
            last checkpoint, or returns at once when that training already finished.
        model_type: MOBILE_VERSATILE_1 (small, exportable) or CLOUD (bigger, multi-clip, not exportable).
        budget_minutes: wall-clock budget over all runs of this training, decoding included.
        seed: fixes initialisation, data order and augmentation.
        max_epochs: upper bound on epochs.
        init_weights: a trained automl-video model folder to start from (layers matched by name/shape).
        input_spec: clip shape; default the task's for the model type.
        batch_size: clips per step per accelerator (default by model type).
        patience: epochs without VALIDATION improvement before stopping.
        cache_dir: local folder of decoded clips (default ``$AUTOML_VIDEO_CACHE`` or ``~/.cache``).
        cache_gb: size budget of that cache.
        display_name: the model's display name (default: last part of ``model_uri``).

    Returns:
        The :class:`TrainResult`.
    """
    run_started = time.monotonic()
    if max_epochs < 1 or budget_minutes <= 0 or patience < 1:
        raise ValueError("max_epochs and patience must be at least 1 and budget_minutes positive")
    dataset = dataset_lib.load(dataset_uri)
    task = get_task(dataset.prediction_type)
    parsed_type = parse_model_type(model_type, dataset.prediction_type)
    spec = input_spec or task.networks().default_input_spec(parsed_type)
    _check_input_spec(spec)
    recipe = task.training()
    examples = _examples(dataset, dataset_uri, recipe, seed)
    batch_size = batch_size or recipe.batch_size(parsed_type)
    checkpoints = Checkpoints(model_uri)
    fingerprint = _fingerprint(dataset, parsed_type, spec, seed, init_weights, batch_size)
    state = _state_to_resume(checkpoints, model_uri, fingerprint)
    if state.stop_reason and storage.is_published(model_uri):
        log.info("%s: this training already finished (%s); nothing to do", model_uri, state.stop_reason)
        return _result_from_metadata(model_uri, load_metadata(model_uri), resumed_from_epoch=state.epochs)
    resumed_from_epoch = state.epochs
    if resumed_from_epoch:
        log.info("resuming from epoch %d (checkpoint in %s)", resumed_from_epoch, checkpoints.directory)
    plan = _Plan(
        task,
        parsed_type,
        spec,
        len(dataset.annotation_specs),
        batch_size,
        seed,
        init_weights,
        run_started,
        budget_minutes,
        max_epochs,
        patience,
    )
    with _accelerators() as (strategy, replicas):
        session = TrainingSession.start(plan, state, checkpoints, strategy, replicas)
        session.store = ClipStore(spec, cache_dir, cache_gb)
        _decode(session, examples, dataset_uri)
        metadata = ModelMetadata(
            model_type=parsed_type.value,
            annotation_specs=list(dataset.annotation_specs),
            input_spec=spec,
            display_name=display_name or model_uri.rstrip("/").rsplit("/", 1)[-1],
            prediction_type=dataset.prediction_type,
            dataset_uri=dataset_uri,
        )
        session.train_and_publish(model_uri, metadata, budget_minutes, init_weights, replicas, examples.failures)
    checkpoints.remove_unreferenced(state)
    log.info(
        "trained %s at %s: best VALIDATION %s %.4f at epoch %d of %d (%s)",
        parsed_type.value,
        model_uri,
        recipe.validation_metric_title,
        state.best_validation_score,
        state.best_epoch,
        state.epochs,
        state.stop_reason,
    )
    return _result_from_metadata(model_uri, metadata, resumed_from_epoch)


@dataclass(frozen=True)
class _Plan:
    """What one training builds and when it stops (the budget counts over all runs, from this run's start)."""

    task: Task
    model_type: ModelType
    spec: InputSpec
    num_labels: int
    batch_size: int  # per accelerator
    seed: int
    init_weights: str | None
    run_started: float
    budget_minutes: float
    max_epochs: int
    patience: int


def _check_input_spec(spec: InputSpec) -> None:
    if spec.num_frames < 1 or spec.height < 16 or spec.width < 16 or spec.clips_per_segment < 1:
        raise ValueError(f"input spec {spec}: need at least 1 frame, 16×16 pixels and 1 clip per segment")
    if spec.sampling != "uniform":
        raise ValueError(f"input spec sampling {spec.sampling!r} is not supported (only 'uniform')")


def _examples(dataset: Dataset, dataset_uri: str, recipe: TrainingRecipe, seed: int) -> _Examples:
    """The TRAIN and VALIDATION examples; TrainingError when a split has none or there are no labels."""
    if not dataset.annotation_specs:
        raise TrainingError(
            f"{dataset_uri}: the dataset has no labels; import labelled {get_task(dataset.prediction_type).annotations.noun} first"
        )
    label_names = dataset.label_names()
    examples = _Examples(
        train=recipe.examples(dataset, Split.TRAIN, label_names, seed),
        validation=recipe.examples(dataset, Split.VALIDATION, label_names, seed),
    )
    for split, found in ((Split.TRAIN, examples.train), (Split.VALIDATION, examples.validation)):
        if not found:
            raise TrainingError(
                f"{dataset_uri}: no {split} {get_task(dataset.prediction_type).annotations.noun}; "
                "run 'automl-video dataset split' first"
            )
    return examples


def _state_to_resume(checkpoints: Checkpoints, model_uri: str, fingerprint: str) -> TrainState:
    """The committed state of this training in ``model_uri``, or a fresh one; refuses another training's."""
    state = checkpoints.load_state()
    if state is None:
        if storage.exists(storage.join(model_uri, METADATA_FILE)):
            raise TrainingError(f"{model_uri}: already holds a model; choose another --model URI or delete it")
        return TrainState(fingerprint=fingerprint)
    if state.fingerprint != fingerprint:
        raise TrainingError(
            f"{model_uri}: holds a checkpoint of another training (dataset, model type, input spec, seed, batch "
            "size or init weights differ); choose another --model URI or delete it to start over"
        )
    return state


def _decode(session: "TrainingSession", examples: _Examples, dataset_uri: str) -> None:
    """Decode (and cache) every clip; undecodable spans are left out and reported."""
    store = session.store
    examples.failures = store.prepare(examples.train, training=True) + store.prepare(
        examples.validation, training=False
    )
    session.train_examples = without_failures(examples.train, examples.failures)
    session.val_examples = without_failures(examples.validation, examples.failures)
    for split, kept in ((Split.TRAIN, session.train_examples), (Split.VALIDATION, session.val_examples)):
        if not kept:
            raise TrainingError(
                f"{dataset_uri}: no {split} span could be decoded (first error: {examples.failures[0].reason})"
            )


def _fingerprint(
    dataset: Dataset,
    model_type: ModelType,
    spec: InputSpec,
    seed: int,
    init_weights: str | None,
    batch_size: int,
) -> str:
    """Identifies a training: a checkpoint is resumed only by the training that wrote it."""
    doc = {
        "videos": [
            [v.content_hash, v.split, [list(a.key()) for a in v.annotations]]
            # A held-out stretch changes both sets; videos without one keep the fingerprint they had.
            + ([dataclasses.asdict(v.validation_stretch)] if v.validation_stretch else [])
            for v in dataset.videos
            if v.split in (Split.TRAIN, Split.VALIDATION)
        ],
        "labels": dataset.label_names(),
        "exhaustive": dataset.exhaustive,
        "model_type": model_type.value,
        "input_spec": dataclasses.asdict(spec),
        "seed": seed,
        "init_weights": init_weights or "",
        "batch_size": batch_size,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass
class TrainingSession:
    """One process's part of a training: the loop from the committed state to a stop reason."""

    state: TrainState
    checkpoints: Checkpoints
    network: Any
    trainer: Any
    recipe: TrainingRecipe
    batch_size: int
    seed: int
    deadline: float
    prior_elapsed: float
    run_started: float
    max_epochs: int
    patience: int
    store: ClipStore | None = None
    train_examples: list[ClipExample] = field(default_factory=list)
    val_examples: list[ClipExample] = field(default_factory=list)
    best_weights: list[np.ndarray] | None = None
    writer: Any = None  # the TensorBoard summary writer, while :meth:`loop` runs

    @classmethod
    def start(
        cls, plan: "_Plan", state: TrainState, checkpoints: Checkpoints, strategy: Any, replicas: int
    ) -> "TrainingSession":
        """The network and its trainer at the committed state: restored, or fresh (from ``init_weights``)."""
        recipe = plan.task.training()
        with strategy.scope():
            network = plan.task.networks().build(plan.model_type, plan.num_labels, plan.spec)
            trainer = recipe.trainer(network, keras.optimizers.Adam(LEARNING_RATE))
            trainer.optimizer.build(network.trainable_variables)
        session = cls(
            state=state,
            checkpoints=checkpoints,
            network=network,
            trainer=trainer,
            recipe=recipe,
            batch_size=plan.batch_size * replicas,
            seed=plan.seed,
            deadline=plan.run_started + plan.budget_minutes * 60.0 - state.elapsed_seconds,
            prior_elapsed=state.elapsed_seconds,
            run_started=plan.run_started,
            max_epochs=plan.max_epochs,
            patience=plan.patience,
        )
        if state.epochs:
            session.restore()
        elif plan.init_weights:
            load_init_weights(network, plan.init_weights)
        return session

    def train_and_publish(
        self,
        model_uri: str,
        metadata: ModelMetadata,
        budget_minutes: float,
        init_weights: str | None,
        replicas: int,
        failures: list[ClipFailure],
    ) -> None:
        """Train to a stop reason, then calibrate the best weights on VALIDATION (the task's
        :meth:`TrainingRecipe.calibrate`) and publish them with ``metadata`` (its training and calibration
        sections filled)."""
        with LogDir(model_uri) as logs:
            self.loop(logs, self.hyperparameters(metadata, budget_minutes, init_weights))
            self.network.set_weights(self.best_weights)
            metadata.training = self.summary(budget_minutes, init_weights, replicas, failures)
            with tempfile.TemporaryDirectory(prefix="automl-video-model-") as staged:
                _stage_checkpoint(self.network, self.state, staged)
                metadata.calibration = self.recipe.calibrate(self.network, self.validation_data(), self.val_examples)
                if metadata.calibration:
                    log.info("%s", describe(metadata.calibration))
                _publish(self.network, metadata, logs.local, staged, model_uri)

    def restore(self) -> None:
        """Load the best and the last committed weights and the optimizer state."""
        self.checkpoints.read_weights(self.network, self.state.best_weights_file)
        self.best_weights = self.network.get_weights()
        if not self.state.stop_reason:
            self.checkpoints.read_weights(self.network, self.state.weights_file)
            self.checkpoints.read_optimizer(self.trainer.optimizer, self.state.optimizer_file)

    def elapsed(self) -> float:
        return self.prior_elapsed + time.monotonic() - self.run_started

    def annealing(self) -> float:
        """Cosine decay of the learning rate over the budget, so a budget-bound run ends converged."""
        budget = self.deadline - self.run_started + self.prior_elapsed
        return 0.5 * (1 + math.cos(math.pi * min(1.0, self.elapsed() / budget)))

    def stop_reason(self) -> str:
        """Why training ends now ("" to go on); the first epoch always runs, so there is a best model."""
        state = self.state
        if not state.epochs:
            return ""
        if state.epochs >= self.max_epochs:
            return "max_epochs"
        if time.monotonic() >= self.deadline:
            return "budget"
        if state.epochs - state.best_epoch >= self.patience:
            return "early_stopping"
        return ""

    def hyperparameters(
        self, metadata: ModelMetadata, budget_minutes: float, init_weights: str | None
    ) -> dict[str, str | float | bool]:
        """What the HParams dashboard compares runs by."""
        spec = metadata.input_spec
        return {
            "prediction_type": metadata.prediction_type,
            "model_type": metadata.model_type,
            "budget_minutes": budget_minutes,
            "batch_size": self.batch_size,
            "learning_rate": LEARNING_RATE,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "seed": self.seed,
            "num_frames": spec.num_frames,
            "image_size": f"{spec.height}x{spec.width}",
            "clips_per_segment": spec.clips_per_segment,
            "init_weights": bool(init_weights),
        }

    def loop(self, logs: LogDir, hyperparameters: dict[str, str | float | bool]) -> None:
        """Epochs until a stop reason, each logged for TensorBoard (:mod:`automl_video.training.logs`)."""
        import tensorflow as tf

        writer = self.writer = tf.summary.create_file_writer(logs.local)
        metric = self.recipe.validation_metric
        if not self.state.epochs:  # a resumed run is the same run: its start is written already
            with writer.as_default():
                write_hparams(hyperparameters, time.time(), group_name=self.state.fingerprint[:16])
        while not self.state.stop_reason:
            reason = self.stop_reason()
            if reason:
                self.state.stop_reason = reason
                self.state.elapsed_seconds = self.elapsed()
                self.checkpoints.commit(self.state)
                break
            record = self.run_epoch()
            with writer.as_default(step=record.epoch):
                write_scalar("epoch/loss", record.loss)
                write_scalar(f"epoch/val_{metric}", record.validation_score)
                write_scalar("epoch/val_loss", record.validation_loss)
                write_scalar("epoch/learning_rate", record.learning_rate)
                write_scalar("epoch/clips_per_second", record.clips_per_second)
            writer.flush()
            logs.sync()
        with writer.as_default():
            write_hparams_end(time.time())
        writer.close()
        logs.sync()

    def run_epoch(self) -> EpochRecord:
        epoch = self.state.epochs
        keras.utils.set_random_seed(self.seed * 100_003 + epoch)  # dropout: same masks after a resume
        self.trainer.optimizer.learning_rate = LEARNING_RATE * self.annealing()
        min_clips = MIN_STEPS_PER_EPOCH * self.batch_size
        data, epoch_clips = self.recipe.batches(
            self.store, self.train_examples, self.batch_size, self.seed, epoch, min_clips
        )
        monitor = _EpochMonitor(epoch + 1, epoch_clips, self.batch_size, self.deadline, self.writer, self.state.steps)
        started = time.monotonic()
        history = self.trainer.fit(
            data, epochs=epoch + 1, initial_epoch=epoch, verbose=0, shuffle=False, callbacks=[monitor]
        )
        train_seconds = time.monotonic() - started
        scores = self.network.predict(self.validation_data(), verbose=0)
        validation_score, validation_loss = self.recipe.validate(scores, self.val_examples)
        record = EpochRecord(
            epoch=epoch + 1,
            loss=float(history.history["loss"][-1]),
            validation_score=validation_score,
            validation_loss=validation_loss,
            learning_rate=float(self.trainer.optimizer.learning_rate.numpy()),
            clips_per_second=monitor.clips_done / train_seconds if train_seconds > 0 else 0.0,
            seconds=time.monotonic() - started,
            complete=not monitor.cut_short,
        )
        self.commit_epoch(record, monitor.steps)
        return record

    def validation_data(self):
        """The VALIDATION clips as ``tf.data`` batches, in :attr:`val_examples` order."""
        return evaluation_dataset(self.store, self.val_examples, self.batch_size)

    def commit_epoch(self, record: EpochRecord, steps: int) -> None:
        state, network = self.state, self.network
        state.epochs = record.epoch
        state.steps += steps
        state.history.append(record)
        improved = record.validation_score > state.best_validation_score + SCORE_TOLERANCE or (
            record.validation_score >= state.best_validation_score - SCORE_TOLERANCE
            and record.validation_loss < state.best_validation_loss
        )
        if improved:
            state.best_epoch, state.best_validation_score = record.epoch, record.validation_score
            state.best_validation_loss = record.validation_loss
            self.best_weights = network.get_weights()
            state.best_weights_file = f"best-epoch-{record.epoch:04d}.weights.h5"
            self.checkpoints.write_weights(network, state.best_weights_file)
        state.weights_file = f"epoch-{record.epoch:04d}.weights.h5"
        state.optimizer_file = f"epoch-{record.epoch:04d}.optimizer.npz"
        self.checkpoints.write_weights(network, state.weights_file)
        self.checkpoints.write_optimizer(self.trainer.optimizer, state.optimizer_file)
        state.elapsed_seconds = self.elapsed()
        self.checkpoints.commit(state)
        self.checkpoints.remove_unreferenced(state)
        budget_left = max(0.0, self.deadline - time.monotonic())
        eta = min(budget_left, (self.max_epochs - state.epochs) * record.seconds)
        title = self.recipe.validation_metric_title
        log.info(
            "epoch %d/%d: loss %.4f, VALIDATION %s %.4f (best %.4f at epoch %d), %.1f clips/s, %.1fs; "
            "budget left %.0fs, ETA %.0fs at most",
            record.epoch,
            self.max_epochs,
            record.loss,
            title,
            record.validation_score,
            state.best_validation_score,
            state.best_epoch,
            record.clips_per_second,
            record.seconds,
            budget_left,
            eta,
        )

    def summary(
        self, budget_minutes: float, init_weights: str | None, replicas: int, failures: list[ClipFailure]
    ) -> TrainingSummary:
        """The ``training`` section of ``model.json``."""
        state = self.state
        return TrainingSummary(
            history=list(state.history),
            epochs=state.epochs,
            best_epoch=state.best_epoch,
            best_validation_score=state.best_validation_score,
            validation_metric=self.recipe.validation_metric,
            stop_reason=state.stop_reason,
            elapsed_seconds=state.elapsed_seconds,
            budget_minutes=budget_minutes,
            seed=self.seed,
            batch_size=self.batch_size // replicas,
            replicas=replicas,
            init_weights=init_weights or "",
            train_examples=len(self.train_examples),
            validation_examples=len(self.val_examples),
            failed_clips=len(failures),
            failures=failures[:MAX_REPORTED_FAILURES],
        )


class _EpochMonitor(keras.callbacks.Callback):
    """Logs clips/s and the epoch's ETA; writes each step's loss and learning rate for TensorBoard
    (global step: ``first_step`` + the batch); stops the epoch when the budget's deadline passes."""

    def __init__(self, epoch: int, total_clips: int, batch_size: int, deadline: float, writer: Any, first_step: int):
        super().__init__()
        self.writer = writer
        self.first_step = first_step
        self.steps = 0
        self.progress = Progress(f"epoch {epoch}", total_clips, "clips")
        self.total_clips = total_clips
        self.batch_size = batch_size
        self.deadline = deadline
        self.clips_done = 0
        self.cut_short = False

    def on_train_batch_end(self, batch, logs=None):
        done = min(self.total_clips, (batch + 1) * self.batch_size)
        self.progress.update(done - self.clips_done)
        self.clips_done = done
        self.steps = batch + 1
        with self.writer.as_default(step=self.first_step + self.steps):
            write_scalar("step/loss", float((logs or {}).get("loss", float("nan"))))
            write_scalar("step/learning_rate", float(self.model.optimizer.learning_rate.numpy()))
        if time.monotonic() >= self.deadline and done < self.total_clips:
            self.cut_short = True
            self.model.stop_training = True


@contextlib.contextmanager
def _accelerators() -> Iterator[tuple[Any, int]]:
    """The distribution strategy and replica count: mixed precision on GPUs, mirrored over several."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        yield tf.distribute.get_strategy(), 1
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")  # the tasks' output layers stay float32
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    log.info("training on %d GPU(s) with mixed precision", len(gpus))
    try:
        yield strategy, strategy.num_replicas_in_sync
    finally:
        keras.config.set_dtype_policy(previous)


def _stage_checkpoint(network, state: TrainState, staged: str) -> None:
    """Write the final checkpoint into the folder to publish: the best weights as trained, before
    calibration, so a run killed while publishing to an object store publishes again from it and
    calibrates the same weights to the same result (never calibrating calibrated weights)."""
    state.weights_file = state.optimizer_file = ""
    os.makedirs(os.path.join(staged, CHECKPOINT_DIR))
    network.save_weights(os.path.join(staged, CHECKPOINT_DIR, state.best_weights_file))
    storage.write_json(os.path.join(staged, CHECKPOINT_DIR, STATE_FILE), dataclasses.asdict(state))


def _publish(network, metadata: ModelMetadata, logs_dir: str, staged: str, model_uri: str) -> None:
    """Publish the model folder in one step (``_COMPLETE`` last): ``network`` (the best weights, calibrated)
    and ``metadata``, the logs and the final checkpoint already in ``staged``."""
    network.save_weights(os.path.join(staged, WEIGHTS_FILE))
    save_metadata(metadata, staged)
    shutil.copytree(logs_dir, os.path.join(staged, LOGS_DIR))
    storage.publish_dir(staged, model_uri)


def _result_from_metadata(model_uri: str, metadata: ModelMetadata, resumed_from_epoch: int) -> TrainResult:
    training = metadata.training
    return TrainResult(
        model_uri=model_uri,
        model_type=metadata.model_type,
        prediction_type=metadata.prediction_type,
        input_spec=metadata.input_spec,
        labels=metadata.label_names,
        epochs=training.epochs,
        best_epoch=training.best_epoch,
        best_validation_score=training.best_validation_score,
        validation_metric=training.validation_metric,
        stop_reason=training.stop_reason,
        resumed_from_epoch=resumed_from_epoch,
        train_examples=training.train_examples,
        validation_examples=training.validation_examples,
        failed_clips=training.failed_clips,
        elapsed_seconds=training.elapsed_seconds,
        history=training.history,
        calibration=metadata.calibration,
    )
