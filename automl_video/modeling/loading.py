"""A trained model as later stages load it: its metadata and its network with the best weights.

The network comes from the model's task (:meth:`automl_video.tasks.base.Task.networks`), so loading,
scoring clips, transfer learning and export work the same for every prediction type.
"""

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Protocol

import keras
import numpy as np

from automl_video import storage
from automl_video.modeling.metadata import InputSpec, ModelMetadata, load_metadata
from automl_video.tasks import get_task
from automl_video.video import VideoReader

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.weights.h5"
# The output layer of every task's network: re-initialised when transfer learning changes the labels.
OUTPUT_LAYER = "scores"


def build_network(metadata: ModelMetadata) -> keras.Model:
    """The untrained network a model's metadata describes."""
    networks = get_task(metadata.prediction_type).networks()
    return networks.build(metadata.type, len(metadata.annotation_specs), metadata.input_spec)


class ClipBackend(Protocol):
    """Another runtime scoring clips as the Keras network would (:mod:`automl_video.modeling.inference`)."""

    name: str

    def predict(self, clips: np.ndarray) -> np.ndarray:
        """float32 ``[B, ...]`` outputs of checked uint8 clips ``[B, T, H, W, 3]``."""
        ...


@dataclass
class TrainedModel:
    """A trained network with what it was trained on: labels (output order) and input spec.

    ``backend``, when set, scores clips instead of the Keras network (same outputs within its tolerance).
    ``weights_digest`` is the sha256 of the weights file loaded (what names its LiteRT conversions).
    """

    metadata: ModelMetadata
    network: keras.Model
    backend: ClipBackend | None = None
    weights_digest: str = ""

    @property
    def input_spec(self) -> InputSpec:
        return self.metadata.input_spec

    def predict_clips(self, clips: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Scores of clips.

        Args:
            clips: uint8 ``[B, T, H, W, 3]`` shaped as :attr:`input_spec`.
            batch_size: clips per Keras forward pass (a ``backend`` has its own fixed batch).

        Returns:
            float32 ``[B, L]`` scores, labels in ``metadata.annotation_specs`` order.
        """
        clips = np.asarray(clips)
        if clips.ndim != 5 or clips.shape[1:] != self.input_spec.shape:
            expected = ", ".join(map(str, self.input_spec.shape))
            raise ValueError(f"clips must be [B, {expected}], got {list(clips.shape)}")
        if clips.dtype != np.uint8:
            raise ValueError(f"clips must be uint8 frames, got {clips.dtype}")
        if self.backend is not None:
            return self.backend.predict(clips)
        scores = [
            np.asarray(self.network.predict_on_batch(clips[i : i + batch_size]), dtype=np.float32)
            for i in range(0, len(clips), batch_size)
        ]
        return np.concatenate(scores) if scores else np.zeros((0, len(self.metadata.annotation_specs)), np.float32)

    def segment_clips(self, reader: VideoReader, start: float, end: float) -> np.ndarray:
        """The ``clips_per_segment`` clips scored for a segment: ``[N, T, H, W, 3]`` (see
        :meth:`InputSpec.segment_sampling`)."""
        spec = self.input_spec
        return spec.segment_clips(reader.read_clip(start, end, spec.segment_sampling()))

    def score_segment(self, reader: VideoReader, start: float, end: float) -> np.ndarray:
        """Scores ``[L]`` of the span ``[start, end)`` of an open video (the mean over its clips).

        Args:
            reader: the open video.
            start, end: seconds (``end`` may be ``inf``).

        Returns:
            float32 ``[L]``.
        """
        return self.predict_clips(self.segment_clips(reader, start, end)).mean(axis=0)


def load_model(model_uri: str) -> TrainedModel:
    """Load a published model folder (``model.json`` + ``weights.weights.h5``) from any URL.

    Raises:
        FileNotFoundError: no model there, or its training has not finished (no ``_COMPLETE``).
    """
    metadata = load_metadata(model_uri)
    if not storage.is_published(model_uri):
        raise FileNotFoundError(
            f"{model_uri}: the model is incomplete (training not finished: no {storage.COMPLETE_MARKER})"
        )
    network = build_network(metadata)
    digest = load_weights(network, storage.join(model_uri, WEIGHTS_FILE))
    return TrainedModel(metadata, network, weights_digest=digest)


def load_weights(network: keras.Model, weights_uri: str) -> str:
    """Load a Keras ``.weights.h5`` file from any URL (Keras needs a local file with that extension).

    Returns:
        The file's sha256 hex digest, taken from the bytes loaded (a remote file is downloaded once).
    """
    if storage.is_local(weights_uri):
        path = storage.local_path(weights_uri)
        network.load_weights(path)
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    with tempfile.TemporaryDirectory(prefix="automl-video-") as tmp:
        path = os.path.join(tmp, WEIGHTS_FILE)
        data = storage.read_bytes(weights_uri)
        with open(path, "wb") as f:
            f.write(data)
        network.load_weights(path)
        return hashlib.sha256(data).hexdigest()


def copy_matching_weights(source: keras.Model, target: keras.Model, source_uri: str) -> list[str]:
    """Copy weights layer by layer (by name) where shapes agree; the output layer may differ.

    Args:
        source: a network with trained weights.
        target: the network to initialise.
        source_uri: where ``source`` came from, for error messages.

    Returns:
        Names of the target layers left at their fresh initialisation (only the output layer can be).

    Raises:
        ValueError: a layer other than the output layer has other shapes, or no layer matches.
    """
    by_name = {layer.name: layer for layer in source.layers if layer.weights}
    fresh, copied = [], 0
    for layer in target.layers:
        if not layer.weights:
            continue
        origin = by_name.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        origin_shapes = [tuple(w.shape) for w in origin.weights] if origin else None
        if origin_shapes == shapes:
            layer.set_weights(origin.get_weights())
            copied += 1
        elif layer.name == OUTPUT_LAYER:
            fresh.append(layer.name)
        else:
            raise ValueError(
                f"init weights {source_uri}: layer {layer.name!r} has shapes {origin_shapes} there but "
                f"{shapes} in this network; use weights of a model of the same model type"
            )
    if not copied:
        raise ValueError(f"init weights {source_uri}: no layer matches this network")
    return fresh


def load_init_weights(network: keras.Model, init_uri: str) -> None:
    """Start ``network`` from the weights of a trained automl-video model folder (transfer learning).

    Layers are matched by name and shape, so the source may have other labels (its output layer is
    then re-initialised) or another input size; a different architecture is a clear error.
    """
    try:
        source = load_model(init_uri)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"init weights {init_uri}: not a trained automl-video model folder ({e})") from None
    fresh = copy_matching_weights(source.network, network, init_uri)
    log.info("initialised from %s%s", init_uri, " (output layer re-initialised for other labels)" if fresh else "")
