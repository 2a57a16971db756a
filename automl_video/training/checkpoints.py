"""``<model>/checkpoints/``: per-epoch weight and optimizer files, committed by ``state.json``."""

import dataclasses
import io
import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.modeling.loading import WEIGHTS_FILE, load_weights
from automl_video.modeling.metadata import EpochRecord, renamed_keys

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"


class TrainingError(AutoMLVideoError):
    """Training cannot start or continue; the message says why and what to do."""


@dataclass
class TrainState:
    """``checkpoints/state.json``: everything besides weights that a resumed run needs."""

    fingerprint: str
    epochs: int = 0
    steps: int = 0  # optimizer steps over all epochs: TensorBoard's step axis
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_validation_score: float = -1.0
    best_validation_loss: float = math.inf
    elapsed_seconds: float = 0.0
    weights_file: str = ""
    optimizer_file: str = ""
    best_weights_file: str = ""
    stop_reason: str = ""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "TrainState":
        doc = renamed_keys(doc, {"best_val_au_prc": "best_validation_score", "best_val_loss": "best_validation_loss"})
        doc["history"] = [EpochRecord.from_json(r) for r in doc.get("history", [])]
        return cls(**doc)


class Checkpoints:
    """The checkpoint folder of one model: weights and optimizer state per epoch, ``state.json`` last."""

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
