"""The dispatcher: claims queued operations from the registry and runs each in a worker process of its
own (``python -m automl_video.server.worker``), so the event loop and its threads never train, import or
predict and the server keeps answering while a model trains.

It runs as a background task of the server (its registry calls in a thread), at most ``max_workers``
workers at once, and renews the lease of each operation whose worker is alive (a worker busy importing
TensorFlow may not report for seconds, but its server knows it lives). When a worker exits it checks that the operation ended; if not, the worker was
cancelled (the half-written output is removed, the operation ends CANCELLED) or it died (the operation
ends FAILED saying how). When the server stops, its workers are stopped and their operations go back to
the queue, so the next server resumes them at once; a server that dies without stopping them leaves
them to its workers, which notice it is gone and give them back the same way (or, failing that, to the
lease, which expires).
"""

import asyncio
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from automl_video.registry import OperationState
from automl_video.registry.operations import CANCELLED_STATUS
from automl_video.rpc import Code, Status
from automl_video.server.config import CONFIG_ENV
from automl_video.server.surface import ServerContext, load_surface

log = logging.getLogger(__name__)

# How a worker tells the dispatcher why it stopped early.
EXIT_CANCELLED = 75
EXIT_LEASE_LOST = 76
EXIT_SERVER_GONE = 77


@dataclass
class Dispatcher:
    server: ServerContext
    owner: str
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    _event: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: bool = False

    def wake(self) -> None:
        """Claim at once (thread-safe: handlers run in the thread pool)."""
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def run(self) -> None:
        self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
        while not self._stopping:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # a registry hiccup must not end dispatching; the next tick retries
                log.exception("dispatcher tick failed")
            try:
                await asyncio.wait_for(self._event.wait(), self.server.config.poll_seconds)
            except TimeoutError:
                pass
            self._event.clear()

    def tick(self) -> None:
        """Reap finished workers, then claim and start as many operations as there are free workers."""
        for name, process in list(self.workers.items()):
            if process.poll() is not None:
                del self.workers[name]
                self._after_exit(name, process.returncode)
        self.server.registry.renew_leases(self.owner, list(self.workers))
        free = self.server.config.max_workers - len(self.workers)
        if free <= 0 or self._stopping:
            return
        config = self.server.config
        for record in self.server.registry.claim_operations(
            self.owner,
            lease_seconds=config.lease_seconds,
            max_running_per_project=config.max_running_per_project,
            limit=free,
        ):
            log.info("%s (%s): starting a worker (attempt %d)", record.name, record.kind, record.attempts)
            self.workers[record.name] = subprocess.Popen(
                [sys.executable, "-m", "automl_video.server.worker", record.name, self.owner],
                env={**os.environ, CONFIG_ENV: config.to_env()},
                stdin=subprocess.DEVNULL,
            )

    def _after_exit(self, name: str, returncode: int) -> None:
        registry = self.server.registry
        record = registry.get_operation(name)
        if record.state is not OperationState.RUNNING or record.lease_owner != self.owner:
            return  # it ended (or was given back) itself
        if returncode == EXIT_CANCELLED:
            load_surface(record.api).operation_kinds[record.kind].cleanup(record, registry)
            registry.finish_operation(name, self.owner, OperationState.CANCELLED, error=CANCELLED_STATUS)
            log.info("%s: cancelled", name)
            return
        how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
        message = f"the operation's worker process {how} before it finished; see the server log"
        registry.finish_operation(name, self.owner, OperationState.FAILED, error=Status(Code.INTERNAL, message))
        log.error("%s: %s", name, message)

    def stop(self) -> None:
        """Stop every worker and give its operation back to the queue (the next server resumes it)."""
        self._stopping = True
        self.wake()
        for name, process in self.workers.items():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)  # TF ignores a polite stop for minutes; stages resume
            process.wait()
            self.server.registry.release_operation(name, self.owner)
            log.info("%s: given back to the queue (server stopping)", name)
        self.workers.clear()
