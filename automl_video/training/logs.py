"""TensorBoard logs of a training: written locally, mirrored to ``<model>/logs`` after every epoch.

What a run writes (:class:`automl_video.training.engine` calls these): per optimizer step ``step/loss``
(Keras' running mean over the epoch so far) and ``step/learning_rate``; per epoch ``epoch/loss``,
``epoch/val_<metric>``, ``epoch/val_loss``, ``epoch/learning_rate``, ``epoch/clips_per_second``; and the
run's hyperparameters for the HParams dashboard. ``tensorboard --logdir <model>/logs`` shows them
(``pip install 'automl-video[tensorboard]'``; it reads ``gs://`` logs through TensorFlow).
"""

import os
import struct
import tempfile

from automl_video import storage

LOGS_DIR = "logs"


class LogDir:
    """The local folder TensorBoard writes to, and its mirror in the model folder (any URL)."""

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

    def __enter__(self) -> "LogDir":
        return self

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def write_scalar(name: str, value: float) -> None:
    """A TensorBoard scalar through TF's core summary op (the ``tensorboard`` package is not needed)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tf.summary.write(name, tf.constant(value, tf.float32), metadata=metadata)


# -- HParams -------------------------------------------------------------------------------------------
# TensorBoard's HParams dashboard reads two records per run: the hyperparameters when it starts and its
# status when it ends (tags below, plugin "hparams", an empty float tensor). Their content is
# ``tensorboard.hparams.HParamsPluginData`` (tensorboard/plugins/hparams/plugin_data.proto), encoded here
# field by field so that training needs no ``tensorboard`` package (the viewer's extra); the tests parse
# it with tensorboard's own message.
SESSION_START_TAG = "_hparams_/session_start_info"
SESSION_END_TAG = "_hparams_/session_end_info"
STATUS_SUCCESS = 1  # tensorboard.hparams.Status


def write_hparams(hparams: dict[str, str | float | bool], start_time: float, group_name: str) -> None:
    """The run's hyperparameters for the HParams dashboard (the metrics are the run's scalars)."""
    from google.protobuf import struct_pb2

    fields = b""
    for name, value in hparams.items():
        proto_value = struct_pb2.Value()
        if isinstance(value, bool):
            proto_value.bool_value = value
        elif isinstance(value, int | float):
            proto_value.number_value = float(value)
        else:
            proto_value.string_value = str(value)
        entry = _field(1, name.encode()) + _field(2, proto_value.SerializeToString())
        fields += _field(1, entry)  # map<string, Value> hparams = 1
    fields += _field(4, group_name.encode()) + _double(5, start_time)
    _write_hparams_record(SESSION_START_TAG, _field(3, fields))  # session_start_info = 3


def write_hparams_end(end_time: float, status: int = STATUS_SUCCESS) -> None:
    """The run's end for the HParams dashboard."""
    _write_hparams_record(SESSION_END_TAG, _field(4, _varint_field(1, status) + _double(2, end_time)))


def _write_hparams_record(tag: str, plugin_data: bytes) -> None:
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="hparams", content=plugin_data)
    )
    empty = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[{"size": 0}])
    )
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=empty)])
    tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=0)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (strings, bytes, messages)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", value)
