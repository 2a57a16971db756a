"""TensorBoard logs of a training: written locally, mirrored to ``<model>/logs`` after every epoch."""

import os
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
