"""Scoring clips with LiteRT (XNNPACK) instead of Keras, when the model converts and agrees.

LiteRT scores clips faster than Keras ``predict_on_batch`` (``benchmarks/inference_backends.py``, 2 shared
cores, batch 16, briefly trained models): MOBILE_VERSATILE_1 188 clips/s in Keras, 582 in LiteRT float
(3.1x, scores within 5e-7), 516 dynamic-range (2.7x); CLOUD 9.8, 18.9 float (1.9x), 24.5 dynamic (2.5x,
but its top-1 agreed with Keras on only 97.7 % of the TEST clips, which is why ``auto`` checks). So batch
prediction uses the model's TFLite conversion where it gives the same answers. Backends (:data:`automl_video.modeling.metadata.INFERENCE_BACKENDS`):

* ``keras``: the Keras network, as training evaluated it;
* ``litert-float``: the float32 TFLite conversion (scores equal Keras' within float rounding);
* ``litert-dynamic``: the dynamic-range conversion (int8 weights, float activations);
* ``auto``: the faster LiteRT variant whose top-1 label agrees with Keras on at least
  :data:`MIN_AGREEMENT` of the clips of the dataset's TEST split (without a dataset at hand: the float
  model, if its scores on random clips are within :data:`FLOAT_TOLERANCE` of Keras'); Keras for a
  model type that does not export, when a GPU is visible (Keras runs there), or when conversion fails.

The conversion is :func:`automl_video.modeling.export.save_serving_model` and
:func:`~automl_video.modeling.export.convert_to_tflite`, as ``automl-video export`` does. Each
``.tflite`` and ``auto``'s decision (:class:`InferenceChoice`) are cached under ``<model>/litert/``,
named by a digest of the weights and ``model.json``, so they are made once per model (seconds to a
minute on two cores, plus Keras scoring the TEST clips once) and a retrained model never reuses a stale file; every write is atomic (:mod:`automl_video.storage`).
A cache that cannot be written is a failed conversion: ``auto`` scores with Keras and says why.
"""

import dataclasses
import hashlib
import logging
import tempfile
import threading
import time
from dataclasses import dataclass

import numpy as np

from automl_video import storage
from automl_video.data.dataset import Split
from automl_video.modeling import export, loading
from automl_video.modeling.metadata import INFERENCE_BACKENDS, METADATA_FILE
from automl_video.tasks import get_task

log = logging.getLogger(__name__)

AUTO, KERAS, LITERT_FLOAT, LITERT_DYNAMIC = INFERENCE_BACKENDS
# LiteRT backend -> the export quantization it runs.
QUANTIZE = {LITERT_FLOAT: "none", LITERT_DYNAMIC: "dynamic"}
CACHE_FOLDER = "litert"
# auto's bar for a LiteRT variant: its top-1 label is Keras' on 99 % of the TEST clips.
MIN_AGREEMENT = 0.99
# Float32 LiteRT vs Keras: the largest score difference float rounding explains (measured ~1e-6).
FLOAT_TOLERANCE = 1e-4
# TEST clips auto checks on: a 1 % disagreement is 2.5 clips, cheap to decode once per model.
CHECK_CLIPS = 256
# Without a dataset: random clips, enough for a few full batches.
RANDOM_CHECK_CLIPS = 32
# auto times each variant on at least this many clips (the check clips repeated): one batch of a small
# TEST split timed alone made a 2 % difference decide (MOBILE_VERSATILE_1, 24 clips, dynamic 373 vs
# float 365 clips/s, while 128 clips gave float 582 vs dynamic 516).
TIMING_CLIPS = 96
# Clips per LiteRT invocation in batch prediction: small batches keep XNNPACK's working set in cache.
# MOBILE_VERSATILE_1 (8x64x64), one thread, clips per CPU-second: batch 1 556, 4 540, 8 528, 16 475,
# 32 439, 64 410; and a row's last batch pads fewer black clips.
LITERT_BATCH_SIZE = 4
# A quantized variant must be this much faster than float to be taken: float's scores are Keras' to
# ~1e-6, dynamic's differ by up to ~0.04 (benchmarks/inference_backends.py), not worth a few percent.
QUANTIZED_SPEEDUP = 1.1


@dataclass
class InferenceChoice:
    """What ``auto`` decided for one model's weights, and on what evidence (recorded beside the model).

    ``agreement`` (top-1 label equal to Keras'), ``max_abs_diff`` (largest score difference) and
    ``clips_per_second`` are per LiteRT backend tried, on ``clips`` clips of ``source``.
    """

    backend: str
    reason: str
    source: str
    clips: int
    agreement: dict[str, float]
    max_abs_diff: dict[str, float]
    clips_per_second: dict[str, float]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> "InferenceChoice":
        return cls(**doc)


class LiteRTBackend:
    """A TFLite model in the LiteRT interpreter (XNNPACK, ``threads`` threads) at a fixed batch size.

    The input is resized once to ``[batch_size, T, H, W, 3]``, so the interpreter plans its memory once;
    a shorter batch is padded with black clips (each clip's scores depend on it alone). One interpreter
    is not reentrant: a lock lets several threads share it (batch prediction scores from one thread).
    """

    def __init__(self, name: str, tflite: bytes, spec_shape: tuple[int, ...], batch_size: int, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.name = name
        self.batch_size = batch_size
        self.threads = threads
        self._interpreter = Interpreter(model_content=tflite, num_threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._interpreter.resize_tensor_input(self._input, [batch_size, *spec_shape], strict=True)
        self._interpreter.allocate_tensors()
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._lock = threading.Lock()

    def predict(self, clips: np.ndarray) -> np.ndarray:
        if not len(clips):
            return np.zeros((0, *self._interpreter.get_output_details()[0]["shape"][1:]), np.float32)
        outputs = []
        with self._lock:
            for start in range(0, len(clips), self.batch_size):
                batch = clips[start : start + self.batch_size]
                count = len(batch)
                if count < self.batch_size:
                    batch = np.concatenate([batch, np.zeros((self.batch_size - count, *batch.shape[1:]), np.uint8)])
                self._interpreter.set_tensor(self._input, batch)
                self._interpreter.invoke()
                outputs.append(self._interpreter.get_tensor(self._output)[:count])
        return np.concatenate(outputs).astype(np.float32, copy=False)


def use_inference(
    model: loading.TrainedModel, model_uri: str, inference: str, batch_size: int, threads: int
) -> loading.TrainedModel:
    """``model`` scoring clips with the backend ``inference`` names.

    Args:
        model: the loaded Keras model.
        model_uri: its folder (the conversions are cached under ``litert/`` there).
        inference: one of :data:`INFERENCE_BACKENDS`.
        batch_size: clips per LiteRT invocation (the caller's batch, so nothing is padded twice).
        threads: LiteRT threads (the cores the caller's other threads leave free).

    Raises:
        ValueError: an unknown backend, or a LiteRT backend the model type does not export to.
        Exception: an explicitly asked LiteRT backend fails to convert (``auto`` falls back instead).
    """
    if inference not in INFERENCE_BACKENDS:
        raise ValueError(f"inference {inference!r} is not one of {', '.join(INFERENCE_BACKENDS)}")
    if inference == KERAS:
        return model
    cache = _Cache(model, model_uri, batch_size, threads)
    if inference != AUTO:
        if (refusal := cache.refusal(inference)) is not None:
            raise ValueError(f"{model_uri}: --inference {inference}: {refusal}; use --inference keras or auto")
        return dataclasses.replace(model, backend=cache.backend(inference))
    if (refusal := cache.refusal(LITERT_FLOAT)) is not None or (refusal := _gpu_visible()) is not None:
        log.info("inference: Keras for %s (%s)", model_uri, refusal)
        return model
    try:
        choice = cache.choice()
        backend = None if choice.backend == KERAS else cache.backend(choice.backend)
    except Exception as e:  # noqa: BLE001 - a cache that cannot be written or read leaves Keras, which always works
        log.warning(
            "inference: Keras for %s: LiteRT conversion failed (%s: %s); make %s writable or pass --inference "
            "keras to skip the attempt",
            model_uri,
            type(e).__name__,
            e,
            storage.join(model_uri, CACHE_FOLDER),
        )
        return model
    if backend is None:
        log.warning("inference: Keras for %s (%s)", model_uri, choice.reason)
        return model
    log.info("inference: %s for %s (%s)", choice.backend, model_uri, choice.reason)
    return dataclasses.replace(model, backend=backend)


def cache_key(model: loading.TrainedModel, model_uri: str) -> str:
    """What the cached files of a model are named by: a digest of its weights (as loaded, so a remote
    file is not downloaded again) and ``model.json``."""
    digest = hashlib.sha256(model.weights_digest.encode())
    digest.update(storage.read_bytes(storage.join(model_uri, METADATA_FILE)))
    return digest.hexdigest()[:16]


def _gpu_visible() -> str | None:
    import tensorflow as tf

    return "a GPU is visible: Keras runs on it" if tf.config.list_physical_devices("GPU") else None


class _Cache:
    """The conversions of one model's weights under ``<model>/litert/``: made on first use, then read."""

    def __init__(self, model: loading.TrainedModel, model_uri: str, batch_size: int, threads: int):
        self.model = model
        self.model_uri = model_uri
        self.batch_size = batch_size
        self.threads = threads
        self.key = cache_key(model, model_uri)

    def url(self, suffix: str) -> str:
        return storage.join(self.model_uri, CACHE_FOLDER, f"{self.key}-{suffix}")

    def refusal(self, backend: str) -> str | None:
        """Why the model type has no such LiteRT model (None when it has)."""
        metadata = self.model.metadata
        if not metadata.type.exportable:
            return f"model type {metadata.model_type} does not export to TFLite"
        allowed = get_task(metadata.prediction_type).export_options(metadata.type).get("tflite", ())
        if QUANTIZE[backend] not in allowed:
            return f"a {metadata.model_type} {metadata.prediction_type} model has no {QUANTIZE[backend]} TFLite export"
        return None

    def tflite(self, backends: list[str]) -> dict[str, bytes]:
        """The ``.tflite`` of each backend, converting (from one SavedModel) those not cached yet."""
        found = {b: self.url(f"{QUANTIZE[b]}.tflite") for b in backends}
        missing = [b for b, url in found.items() if not storage.exists(url)]
        if missing:
            with tempfile.TemporaryDirectory(prefix="automl-video-litert-") as saved_model_dir:
                log.info("inference: converting %s to TFLite (%s), once for these weights", self.model_uri, missing)
                export.save_serving_model(self.model.network, self.model.input_spec, saved_model_dir)
                for backend in missing:
                    storage.write_bytes(
                        found[backend], export.convert_to_tflite(saved_model_dir, QUANTIZE[backend], [])
                    )
        return {b: storage.read_bytes(url) for b, url in found.items()}

    def backend(self, name: str) -> LiteRTBackend:
        (tflite,) = self.tflite([name]).values()
        return self._interpreted(name, tflite)

    def _interpreted(self, name: str, tflite: bytes) -> LiteRTBackend:
        return LiteRTBackend(name, tflite, self.model.input_spec.shape, self.batch_size, self.threads)

    def choice(self) -> InferenceChoice:
        """``auto``'s recorded decision for these weights, made now if there is none."""
        url = self.url("auto.json")
        if storage.exists(url):
            return InferenceChoice.from_json(storage.read_json(url))
        try:
            choice = self._decide()
        except Exception as e:  # noqa: BLE001 - recorded, so later runs do not spend minutes failing again
            reason = f"LiteRT conversion failed ({type(e).__name__}: {e}); delete {url} to try again"
            choice = InferenceChoice(KERAS, reason, "", 0, {}, {}, {})
        storage.write_json(url, choice.to_json())
        return choice

    def _decide(self) -> InferenceChoice:
        clips, source, with_dataset = self._check_clips()
        candidates = [LITERT_FLOAT] + (
            [LITERT_DYNAMIC] if with_dataset and self.refusal(LITERT_DYNAMIC) is None else []
        )
        expected = self.model.predict_clips(clips)
        timing_clips = np.resize(clips, (max(len(clips), TIMING_CLIPS), *clips.shape[1:]))
        agreement, max_abs_diff, speed = {}, {}, {}
        for name, tflite in self.tflite(candidates).items():
            backend = self._interpreted(name, tflite)
            scores = backend.predict(clips)  # also the warm-up: XNNPACK packs its kernels on the first call
            agreement[name] = round(top1_agreement(scores, expected), 4)
            max_abs_diff[name] = float(np.abs(scores - expected).max())
            started = time.perf_counter()
            backend.predict(timing_clips)
            speed[name] = round(len(timing_clips) / (time.perf_counter() - started), 2)
        if with_dataset:
            passing = [b for b in candidates if agreement[b] >= MIN_AGREEMENT]
            bar = f"top-1 agreement with Keras >= {MIN_AGREEMENT:g} on {len(clips)} {source}"
        else:
            passing = [b for b in candidates if max_abs_diff[b] <= FLOAT_TOLERANCE]
            bar = f"scores within {FLOAT_TOLERANCE:g} of Keras on {len(clips)} {source}"
        if passing:
            weight = {LITERT_FLOAT: QUANTIZED_SPEEDUP, LITERT_DYNAMIC: 1.0}
            backend = max(passing, key=lambda b: speed[b] * weight[b])
            rule = f" (a quantized one must be {QUANTIZED_SPEEDUP:g}x float's speed)" if len(candidates) > 1 else ""
            reason = f"fastest LiteRT variant{rule} with {bar}: {speed[backend]:g} clips/s"
        else:
            backend, reason = KERAS, f"no LiteRT variant has {bar} (agreement {agreement}, max |diff| {max_abs_diff})"
        return InferenceChoice(backend, reason, source, len(clips), agreement, max_abs_diff, speed)

    def _check_clips(self) -> tuple[np.ndarray, str, bool]:
        """TEST clips of the model's dataset, else random clips; what they are; whether from the dataset."""
        dataset_uri = self.model.metadata.dataset_uri
        if dataset_uri:
            try:
                clips = export.split_clips(dataset_uri, self.model.input_spec, (Split.TEST,), CHECK_CLIPS)
            except (OSError, ValueError) as e:
                log.warning(
                    "inference: cannot read the TEST clips of %s (%s); checking on random clips", dataset_uri, e
                )
                clips = []
            if clips:
                return np.stack(clips), f"{Split.TEST} clips of {dataset_uri}", True
        rng = np.random.default_rng(0)
        shape = (RANDOM_CHECK_CLIPS, *self.model.input_spec.shape)
        return rng.integers(0, 256, shape, dtype=np.uint8), "random clips (no dataset at hand)", False


def top1_agreement(scores: np.ndarray, expected: np.ndarray) -> float:
    """Share of outputs whose largest score (last axis) is at the same label as in ``expected``."""
    return float(np.mean(scores.argmax(axis=-1) == expected.argmax(axis=-1)))
