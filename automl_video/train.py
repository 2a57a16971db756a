"""Train a video classifier on a split dataset, resumably, within a wall-clock budget.

Each epoch trains on TRAIN (small datasets repeat their examples, each time augmented anew, up to
:data:`MIN_STEPS_PER_EPOCH` steps), scores VALIDATION (micro AU-PRC over every (example, label) pair,
ties broken by the loss) and commits a checkpoint to ``<model>/checkpoints/``: weights, optimizer state
and then ``state.json`` (epoch, history, best epoch and score, time spent), the commit point. Data
order, augmentation and dropout are functions of (seed, epoch), and the learning rate follows a cosine
over the budget's time, so a run killed at any moment and started again with the same command
continues from its last committed epoch. Training ends on early stopping (no VALIDATION improvement
for ``patience`` epochs), the budget or ``max_epochs``; the best weights are then published with
``model.json`` and ``_COMPLETE`` (``storage.publish_dir``).
"""
import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from automl_video import dataset as dataset_lib
from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.inputs import (
    DEFAULT_CACHE_GB,
    ClipFailure,
    ClipStore,
    Example,
    blend_clips,
    build_examples,
    epoch_order,
    evaluation_dataset,
    targets_matrix,
    training_dataset,
    without_failures,
)
from automl_video.metrics import average_precision
from automl_video.model import (
    WEIGHTS_FILE,
    build_network,
    check_classification_type,
    default_input_spec,
    load_init_weights,
    load_weights,
)
from automl_video.model_spec import (
    METADATA_FILE,
    InputSpec,
    ModelMetadata,
    ModelType,
    load_metadata,
    parse_model_type,
    save_metadata,
)
from automl_video.progress import Progress

import keras  # noqa: E402  (after automl_video.model, which quiets TensorFlow's C++ logs first)

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"
LOGS_DIR = "logs"
DEFAULT_BUDGET_MINUTES = 60.0
DEFAULT_MAX_EPOCHS = 200
DEFAULT_PATIENCE = 20
BATCH_SIZES = {ModelType.MOBILE_VERSATILE_1: 16, ModelType.CLOUD: 8}
LEARNING_RATE = 2e-3
# Small datasets repeat their examples so that an epoch has at least this many steps.
MIN_STEPS_PER_EPOCH = 32
# AU-PRC changes smaller than this are ties, broken by the VALIDATION loss.
SCORE_TOLERANCE = 1e-4
MAX_REPORTED_FAILURES = 20


class TrainingError(AutoMLVideoError):
    """Training cannot start or continue; the message says why and what to do."""


@dataclass
class EpochRecord:
    """One epoch of the training history (``complete`` is False when the budget cut it short)."""

    epoch: int
    loss: float
    val_au_prc: float
    val_loss: float
    learning_rate: float
    clips_per_second: float
    seconds: float
    complete: bool = True


@dataclass
class TrainState:
    """``checkpoints/state.json``: everything besides weights that a resumed run needs."""

    fingerprint: str
    epochs: int = 0
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_au_prc: float = -1.0
    best_val_loss: float = math.inf
    elapsed_seconds: float = 0.0
    weights_file: str = ""
    optimizer_file: str = ""
    best_weights_file: str = ""
    stop_reason: str = ""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "TrainState":
        doc = dict(doc)
        doc["history"] = [EpochRecord(**r) for r in doc.get("history", [])]
        return cls(**doc)


@dataclass
class TrainResult:
    """What a training produced (also the CLI's ``--json`` document)."""

    model_uri: str
    model_type: str
    input_spec: InputSpec
    labels: list[str]
    epochs: int
    best_epoch: int
    best_val_au_prc: float
    stop_reason: str  # early_stopping | budget | max_epochs
    resumed_from_epoch: int  # 0 when the run started fresh
    train_examples: int
    validation_examples: int
    failed_clips: int
    elapsed_seconds: float
    history: list[EpochRecord]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
    """Train (or resume training) a classification model and publish it at ``model_uri``.

    Args:
        dataset_uri: a split dataset (TRAIN and VALIDATION videos).
        model_uri: the model folder (any fsspec URL); rerunning with the same arguments resumes from its
            last checkpoint, or returns at once when that training already finished.
        model_type: MOBILE_VERSATILE_1 (small, exportable) or CLOUD (bigger, multi-clip, not exportable).
        budget_minutes: wall-clock budget over all runs of this training, decoding included.
        seed: fixes initialisation, data order and augmentation.
        max_epochs: upper bound on epochs.
        init_weights: a trained automl-video model folder to start from (layers matched by name/shape).
        input_spec: clip shape; default :func:`automl_video.model.default_input_spec` of the model type.
        batch_size: clips per step per accelerator (default by model type).
        patience: epochs without VALIDATION AU-PRC improvement before stopping.
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
    parsed_type = check_classification_type(parse_model_type(model_type, dataset.prediction_type))
    spec = input_spec or default_input_spec(parsed_type)
    _check_input_spec(spec)
    if not dataset.annotation_specs:
        raise TrainingError(f"{dataset_uri}: the dataset has no labels; import labelled segments first")
    label_names = dataset.label_names()
    train_examples = build_examples(dataset, "TRAIN", label_names, seed)
    val_examples = build_examples(dataset, "VALIDATION", label_names, seed)
    for split, examples in (("TRAIN", train_examples), ("VALIDATION", val_examples)):
        if not examples:
            raise TrainingError(f"{dataset_uri}: no {split} segments; run 'automl-video dataset split' first")
    batch_size = batch_size or BATCH_SIZES[parsed_type]
    fingerprint = _fingerprint(dataset, parsed_type, spec, seed, init_weights, batch_size)

    checkpoints = Checkpoints(model_uri)
    state = checkpoints.load_state()
    if state is None:
        if storage.exists(storage.join(model_uri, METADATA_FILE)):
            raise TrainingError(f"{model_uri}: already holds a model; choose another --model URI or delete it")
        state = TrainState(fingerprint=fingerprint)
    elif state.fingerprint != fingerprint:
        raise TrainingError(
            f"{model_uri}: holds a checkpoint of another training (dataset, model type, input spec, seed, batch "
            "size or init weights differ); choose another --model URI or delete it to start over"
        )
    elif state.stop_reason and storage.is_published(model_uri):
        log.info("%s: this training already finished (%s); nothing to do", model_uri, state.stop_reason)
        return _result_from_metadata(model_uri, load_metadata(model_uri), resumed_from_epoch=state.epochs)
    resumed_from_epoch = state.epochs
    if resumed_from_epoch:
        log.info("resuming from epoch %d (checkpoint in %s)", resumed_from_epoch, checkpoints.directory)

    with _accelerators() as (strategy, replicas):
        with strategy.scope():
            network = build_network(parsed_type, len(label_names), spec)
            trainer = MixupTrainer(network)
            trainer.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy")
            trainer.optimizer.build(network.trainable_variables)
        run = _Run(
            state=state,
            checkpoints=checkpoints,
            network=network,
            trainer=trainer,
            batch_size=batch_size * replicas,
            seed=seed,
            deadline=run_started + budget_minutes * 60.0 - state.elapsed_seconds,
            prior_elapsed=state.elapsed_seconds,
            run_started=run_started,
            max_epochs=max_epochs,
            patience=patience,
        )
        if state.epochs:
            run.restore()
        elif init_weights:
            load_init_weights(network, init_weights)

        run.store = ClipStore(spec, cache_dir, cache_gb)
        failures = run.store.prepare(train_examples, training=True) + run.store.prepare(val_examples, training=False)
        run.train_examples = without_failures(train_examples, failures)
        run.val_examples = without_failures(val_examples, failures)
        for split, examples in (("TRAIN", run.train_examples), ("VALIDATION", run.val_examples)):
            if not examples:
                raise TrainingError(
                    f"{dataset_uri}: no {split} segment could be decoded (first error: {failures[0].reason})"
                )
        with _LogDir(model_uri) as logs:
            run.loop(logs)
            network.set_weights(run.best_weights)
            metadata = ModelMetadata(
                model_type=parsed_type.value,
                annotation_specs=list(dataset.annotation_specs),
                input_spec=spec,
                display_name=display_name or model_uri.rstrip("/").rsplit("/", 1)[-1],
                prediction_type=dataset.prediction_type,
                dataset_uri=dataset_uri,
                training=run.summary(budget_minutes, init_weights, replicas, failures),
            )
            _publish(network, metadata, state, logs.local, model_uri)
    checkpoints.remove_unreferenced(state)
    log.info(
        "trained %s at %s: best VALIDATION AU-PRC %.4f at epoch %d of %d (%s)",
        parsed_type.value, model_uri, state.best_val_au_prc, state.best_epoch, state.epochs, state.stop_reason,
    )
    return _result_from_metadata(model_uri, metadata, resumed_from_epoch)


def _check_input_spec(spec: InputSpec) -> None:
    if spec.num_frames < 1 or spec.height < 16 or spec.width < 16 or spec.clips_per_segment < 1:
        raise ValueError(f"input spec {spec}: need at least 1 frame, 16×16 pixels and 1 clip per segment")
    if spec.sampling != "uniform":
        raise ValueError(f"input spec sampling {spec.sampling!r} is not supported (only 'uniform')")


def _fingerprint(
    dataset: dataset_lib.Dataset,
    model_type: ModelType,
    spec: InputSpec,
    seed: int,
    init_weights: str | None,
    batch_size: int,
) -> str:
    """Identifies a training: a checkpoint is resumed only by the training that wrote it."""
    doc = {
        "videos": [
            [v.content_hash, v.split, [[s.label, s.start, s.end] for s in v.segments]]
            for v in dataset.videos
            if v.split in ("TRAIN", "VALIDATION")
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


class Checkpoints:
    """``<model>/checkpoints/``: per-epoch weight and optimizer files, committed by ``state.json``."""

    def __init__(self, model_uri: str):
        self.directory = storage.join(model_uri, CHECKPOINT_DIR)

    def _uri(self, name: str) -> str:
        return storage.join(self.directory, name)

    def load_state(self) -> TrainState | None:
        uri = self._uri(STATE_FILE)
        if not storage.exists(uri):
            return None
        try:
            return TrainState.from_json(storage.read_json(uri))
        except (ValueError, TypeError) as e:
            raise TrainingError(
                f"{uri}: not a valid training checkpoint ({e}); delete the model folder to start over"
            ) from e

    def write_weights(self, network, name: str) -> None:
        with tempfile.TemporaryDirectory(prefix="automl-video-") as tmp:
            path = os.path.join(tmp, WEIGHTS_FILE)
            network.save_weights(path)
            with open(path, "rb") as f:
                storage.write_bytes(self._uri(name), f.read())

    def read_weights(self, network, name: str) -> None:
        load_weights(network, self._uri(name))

    def write_optimizer(self, optimizer, name: str) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, *[np.asarray(v.numpy()) for v in optimizer.variables])
        storage.write_bytes(self._uri(name), buffer.getvalue())

    def read_optimizer(self, optimizer, name: str) -> None:
        saved = np.load(io.BytesIO(storage.read_bytes(self._uri(name))))
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        variables = optimizer.variables
        if [v.shape for v in values] != [tuple(v.shape) for v in variables]:
            raise TrainingError(
                f"{self._uri(name)}: optimizer state does not fit this network; delete the model folder to start over"
            )
        for variable, value in zip(variables, values):
            variable.assign(value)

    def commit(self, state: TrainState) -> None:
        storage.write_json(self._uri(STATE_FILE), dataclasses.asdict(state))

    def remove_unreferenced(self, state: TrainState) -> None:
        """Delete checkpoint files the committed state no longer points to."""
        keep = {STATE_FILE, state.weights_file, state.optimizer_file, state.best_weights_file}
        for uri in storage.listdir(self.directory):
            if uri.rstrip("/").rsplit("/", 1)[-1] not in keep:
                storage.remove(uri)


class MixupTrainer(keras.Model):
    """Trains a network on :func:`automl_video.inputs.training_dataset` batches.

    The pixels of mixup are blended here, inside the compiled training step, where the work runs on all
    cores (or the accelerator) beside the model; blending in tf.data cost a sixth of the throughput on
    2 cores. Predicting goes straight to the network.
    """

    def __init__(self, network: keras.Model):
        super().__init__(name="mixup_trainer")
        self.network = network

    def call(self, clips, training=False):
        return self.network(clips, training=training)

    def train_step(self, data):
        (clips, weight, brightness), targets = data
        return super().train_step((blend_clips(clips, weight, brightness), targets))


@dataclass
class _Run:
    """One process's part of a training: the loop from the committed state to a stop reason."""

    state: TrainState
    checkpoints: Checkpoints
    network: Any
    trainer: MixupTrainer
    batch_size: int
    seed: int
    deadline: float
    prior_elapsed: float
    run_started: float
    max_epochs: int
    patience: int
    store: ClipStore | None = None
    train_examples: list[Example] = field(default_factory=list)
    val_examples: list[Example] = field(default_factory=list)
    best_weights: list[np.ndarray] | None = None

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

    def loop(self, logs: "_LogDir") -> None:
        import tensorflow as tf

        writer = tf.summary.create_file_writer(logs.local)
        val_targets = targets_matrix(self.val_examples, len(self.train_examples[0].targets))
        while not self.state.stop_reason:
            reason = self.stop_reason()
            if reason:
                self.state.stop_reason = reason
                self.state.elapsed_seconds = self.elapsed()
                self.checkpoints.commit(self.state)
                break
            record = self.run_epoch(val_targets)
            with writer.as_default(step=record.epoch):
                for name in ("loss", "val_au_prc", "val_loss", "learning_rate", "clips_per_second"):
                    _write_scalar(name, getattr(record, name))
            writer.flush()
            logs.sync()
        writer.close()

    def run_epoch(self, val_targets: np.ndarray) -> EpochRecord:
        state, network = self.state, self.network
        epoch = state.epochs
        keras.utils.set_random_seed(self.seed * 100_003 + epoch)  # dropout: same masks after a resume
        self.trainer.optimizer.learning_rate = LEARNING_RATE * self.annealing()
        min_clips = MIN_STEPS_PER_EPOCH * self.batch_size
        data = training_dataset(self.store, self.train_examples, self.batch_size, self.seed, epoch, min_clips)
        epoch_clips = len(epoch_order(len(self.train_examples), min_clips, self.seed, epoch))
        monitor = _EpochMonitor(epoch + 1, epoch_clips, self.batch_size, self.deadline)
        started = time.monotonic()
        history = self.trainer.fit(
            data, epochs=epoch + 1, initial_epoch=epoch, verbose=0, shuffle=False, callbacks=[monitor]
        )
        train_seconds = time.monotonic() - started
        scores = network.predict(evaluation_dataset(self.store, self.val_examples, self.batch_size), verbose=0)
        record = EpochRecord(
            epoch=epoch + 1,
            loss=float(history.history["loss"][-1]),
            val_au_prc=average_precision(scores, val_targets > 0.5),
            val_loss=_binary_cross_entropy(scores, val_targets),
            learning_rate=float(np.asarray(self.trainer.optimizer.learning_rate)),
            clips_per_second=monitor.clips_done / train_seconds if train_seconds > 0 else 0.0,
            seconds=time.monotonic() - started,
            complete=not monitor.cut_short,
        )
        self.commit_epoch(record)
        return record

    def commit_epoch(self, record: EpochRecord) -> None:
        state, network = self.state, self.network
        state.epochs = record.epoch
        state.history.append(record)
        improved = record.val_au_prc > state.best_val_au_prc + SCORE_TOLERANCE or (
            record.val_au_prc >= state.best_val_au_prc - SCORE_TOLERANCE and record.val_loss < state.best_val_loss
        )
        if improved:
            state.best_epoch, state.best_val_au_prc = record.epoch, record.val_au_prc
            state.best_val_loss = record.val_loss
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
        log.info(
            "epoch %d/%d: loss %.4f, VALIDATION AU-PRC %.4f (best %.4f at epoch %d), %.1f clips/s, %.1fs; "
            "budget left %.0fs, ETA %.0fs at most",
            record.epoch, self.max_epochs, record.loss, record.val_au_prc, state.best_val_au_prc, state.best_epoch,
            record.clips_per_second, record.seconds, budget_left, eta,
        )

    def summary(self, budget_minutes: float, init_weights: str | None, replicas: int, failures: list[ClipFailure]):
        """The ``training`` section of ``model.json``."""
        state = self.state
        return {
            "history": [dataclasses.asdict(r) for r in state.history],
            "epochs": state.epochs,
            "best_epoch": state.best_epoch,
            "best_val_au_prc": state.best_val_au_prc,
            "stop_reason": state.stop_reason,
            "elapsed_seconds": state.elapsed_seconds,
            "budget_minutes": budget_minutes,
            "seed": self.seed,
            "batch_size": self.batch_size // replicas,
            "replicas": replicas,
            "init_weights": init_weights or "",
            "train_examples": len(self.train_examples),
            "validation_examples": len(self.val_examples),
            "failed_clips": len(failures),
            "failures": [dataclasses.asdict(f) for f in failures[:MAX_REPORTED_FAILURES]],
        }


def _write_scalar(name: str, value: float) -> None:
    """A TensorBoard scalar through TF's core summary op (the ``tensorboard`` package is not needed)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tf.summary.write(name, tf.constant(value, tf.float32), metadata=metadata)


def _binary_cross_entropy(scores: np.ndarray, targets: np.ndarray) -> float:
    p = np.clip(np.asarray(scores, np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p)))


class _EpochMonitor(keras.callbacks.Callback):
    """Logs clips/s and the epoch's ETA; stops the epoch when the budget's deadline passes."""

    def __init__(self, epoch: int, total_clips: int, batch_size: int, deadline: float):
        super().__init__()
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
    keras.config.set_dtype_policy("mixed_float16")  # the output layer stays float32 (build_network)
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    log.info("training on %d GPU(s) with mixed precision", len(gpus))
    try:
        yield strategy, strategy.num_replicas_in_sync
    finally:
        keras.config.set_dtype_policy(previous)


class _LogDir:
    """TensorBoard logs: written locally, mirrored to ``<model>/logs`` after every epoch."""

    def __init__(self, model_uri: str):
        self.uri = storage.join(model_uri, LOGS_DIR)
        self._tmp = None
        if storage.is_local(self.uri):
            self.local = storage.local_path(self.uri)
            os.makedirs(self.local, exist_ok=True)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="automl-video-logs-")
            self.local = self._tmp.name
            if storage.exists(self.uri):
                storage.download_dir(self.uri, self.local)

    def sync(self) -> None:
        if self._tmp is not None:
            storage.upload_dir(self.local, self.uri)

    def __enter__(self) -> "_LogDir":
        return self

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _publish(network, metadata: ModelMetadata, state: TrainState, logs_dir: str, model_uri: str) -> None:
    """Publish the model folder in one step (``_COMPLETE`` last) with the final checkpoint and logs.

    ``network`` holds the best weights. The final checkpoint keeps only them, so a run killed while
    publishing to an object store can publish again from the checkpoint.
    """
    state.weights_file = state.optimizer_file = ""
    with tempfile.TemporaryDirectory(prefix="automl-video-model-") as tmp:
        network.save_weights(os.path.join(tmp, WEIGHTS_FILE))
        save_metadata(metadata, tmp)
        shutil.copytree(logs_dir, os.path.join(tmp, LOGS_DIR))
        os.makedirs(os.path.join(tmp, CHECKPOINT_DIR))
        shutil.copyfile(os.path.join(tmp, WEIGHTS_FILE), os.path.join(tmp, CHECKPOINT_DIR, state.best_weights_file))
        storage.write_json(os.path.join(tmp, CHECKPOINT_DIR, STATE_FILE), dataclasses.asdict(state))
        storage.publish_dir(tmp, model_uri)


def _result_from_metadata(model_uri: str, metadata: ModelMetadata, resumed_from_epoch: int) -> TrainResult:
    training = metadata.training
    return TrainResult(
        model_uri=model_uri,
        model_type=metadata.model_type,
        input_spec=metadata.input_spec,
        labels=metadata.label_names,
        epochs=training["epochs"],
        best_epoch=training["best_epoch"],
        best_val_au_prc=training["best_val_au_prc"],
        stop_reason=training["stop_reason"],
        resumed_from_epoch=resumed_from_epoch,
        train_examples=training["train_examples"],
        validation_examples=training["validation_examples"],
        failed_clips=training["failed_clips"],
        elapsed_seconds=training["elapsed_seconds"],
        history=[EpochRecord(**r) for r in training["history"]],
    )
