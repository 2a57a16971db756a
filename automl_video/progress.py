"""Progress of long work as periodic log lines on stderr: done/total, rate and ETA.

Every line of the ``automl_video`` loggers has the form ``<date> <time> LEVEL automl_video.<module>:
message`` (:data:`LOG_FORMAT`), in the CLI and in a pipeline task alike (:func:`setup_task_logging`),
so a local pipeline run can tell our lines in a task's output from everything else there and show
them while the task runs (``automl_video_pipelines.local``).
"""

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator

log = logging.getLogger("automl_video")


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    """Logs and progress go to stderr so stdout stays machine-readable (``--json``); TensorFlow's
    start-up lines do not (:func:`quiet_tensorflow_startup`)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    quiet_tensorflow_startup()


def setup_task_logging() -> None:
    """Our loggers' lines in :data:`LOG_FORMAT` on stderr inside a pipeline task, whatever the
    executor set up (KFP's executor configures the root logger with its own format, on stdout).
    Idempotent."""
    if any(getattr(handler, "automl_video_task", False) for handler in log.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.automl_video_task = True
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    quiet_tensorflow_startup()


# What TensorFlow's C++ side prints to fd 2 while it loads, before any line of ours: absl's notice, the
# oneDNN and CPU-feature notices (I/W lines such as "I0000 00:00:1796179942.253129 15480 port.cc:153]").
_TENSORFLOW_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\]|"
    r"To enable the following instructions|.*rebuild TensorFlow with the appropriate compiler flags)"
)


def quiet_tensorflow_startup() -> None:
    """Hide the lines TensorFlow's C++ runtime prints while it starts (they come before our first line
    and say nothing a user can act on), keeping any other output of the import.

    ``TF_CPP_MIN_LOG_LEVEL=2`` (unless set) silences its later INFO/WARNING logging; the lines printed
    before absl's logging is initialised ignore it, so the first ``import tensorflow`` runs with fd 2
    sent to a temporary file, whose lines other than that noise are then written to stderr (a failing
    import keeps them all). Idempotent; a no-op once TensorFlow is imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowFinder())


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders, then loads it with fd 2 captured (once)."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _stderr_filtered(_TENSORFLOW_NOISE):
            self._loader.exec_module(module)

    def __getattr__(self, name):  # is_package, get_resource_reader ... of the real loader
        return getattr(self._loader, name)


@contextlib.contextmanager
def _stderr_filtered(noise: re.Pattern) -> Iterator[None]:
    """Run the block with fd 2 in a temporary file; then write its lines that are not ``noise`` to stderr
    (every line if the block raised)."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = [line for line in lines if failed or not noise.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class Progress:
    """Logs ``what: done/total (pct) rate unit/s, ETA`` at most every ``interval`` seconds."""

    def __init__(self, what: str, total: float | None, unit: str = "items", interval: float = 5.0):
        self.what = what
        self.total = total
        self.unit = unit
        self.interval = interval
        self.done = 0.0
        self.started = time.monotonic()
        self._last_log = self.started

    def update(self, amount: float = 1.0) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self._last_log >= self.interval:
            self._last_log = now
            log.info("%s", self.line())

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate
        if self.total:
            remaining = max(self.total - self.done, 0.0)
            eta = f"{remaining / rate:.0f}s" if rate > 0 else "?"
            return (
                f"{self.what}: {self.done:g}/{self.total:g} ({100 * self.done / self.total:.0f}%) "
                f"{rate:.2f} {self.unit}/s, ETA {eta}"
            )
        return f"{self.what}: {self.done:g} {self.unit}, {rate:.2f} {self.unit}/s"

    def finish(self) -> None:
        log.info("%s, finished in %.1fs", self.line(), time.monotonic() - self.started)
