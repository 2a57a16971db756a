"""One operation in its own process: ``python -m automl_video.server.worker OPERATION OWNER``.

A watchdog thread reports every second (its progress; the server renews the lease while the process
lives) and ends the process at once when the
operation is cancelled (the dispatcher then removes what it half-wrote), when another server took the
lease, or when the server that started it is gone (the operation goes back to the queue first, so a
restarted server resumes it). The main thread runs the operation's kind and records how it ended.
"""

import logging
import os
import sys
import threading
import time

from automl_video.progress import setup_logging
from automl_video.registry import OperationState, Registry
from automl_video.registry.errors import FailedPreconditionError
from automl_video.server.config import ServerConfig
from automl_video.server.dispatcher import EXIT_CANCELLED, EXIT_LEASE_LOST, EXIT_SERVER_GONE
from automl_video.server.errors import api_error_of, status_of
from automl_video.server.roots import AllowedRoots
from automl_video.server.surface import OperationFailed, OperationKind, OperationRun, load_surface

log = logging.getLogger("automl_video.server.worker")

HEARTBEAT_SECONDS = 1.0
# Workers run below the server's CPU priority: on a small machine a training must not slow the API's
# answers (benchmarks/server_load.py measures them while one trains); idle cores still go to training.
WORKER_NICENESS = 10


def _watch(run: OperationRun, kind: OperationKind, server_pid: int, interval: float) -> None:
    registry, name, owner = run.registry, run.record.name, run.owner
    while True:
        time.sleep(interval)
        if os.getppid() != server_pid:
            log.warning("%s: the server is gone; giving the operation back to the queue", name)
            registry.release_operation(name, owner)
            os._exit(EXIT_SERVER_GONE)
        try:
            percent = kind.progress(run.record, registry, run.config)
            record = registry.heartbeat_operation(name, owner, progress_percent=percent)
        except FailedPreconditionError as e:
            log.warning("%s", e)
            os._exit(EXIT_LEASE_LOST)
        except Exception:  # the registry may be briefly unreachable; the lease allows a few misses
            log.exception("%s: heartbeat failed", name)
            continue
        if record.cancel_requested:
            log.info("%s: cancel requested; stopping", name)
            os._exit(EXIT_CANCELLED)


def main(argv: list[str]) -> int:
    name, owner = argv
    os.nice(WORKER_NICENESS)
    setup_logging()
    config = ServerConfig.from_env()
    registry = Registry(config.registry_url)
    record = registry.get_operation(name)
    kind = load_surface(record.api).operation_kinds[record.kind]
    interval = min(HEARTBEAT_SECONDS, config.lease_seconds / 4)
    run = OperationRun(record, config, registry, AllowedRoots.of(list(config.allowed_roots)), owner)
    threading.Thread(target=_watch, args=(run, kind, os.getppid(), interval), daemon=True).start()
    try:
        outcome = kind.run(run)
    except OperationFailed as e:
        log.error("%s failed: %s", name, e.status.message)
        registry.finish_operation(
            name, owner, OperationState.FAILED, error=e.status, partial_failures=e.partial_failures
        )
        return 0
    except Exception as e:  # the operation records every failure; the trace goes to the log only
        if api_error_of(e) is None:
            log.exception("%s failed", name)
        else:
            log.error("%s failed: %s", name, e)
        registry.finish_operation(name, owner, OperationState.FAILED, error=status_of(e))
        return 0
    registry.finish_operation(
        name,
        owner,
        OperationState.SUCCEEDED,
        response=outcome.response,
        partial_failures=outcome.partial_failures,
        details=outcome.details,
    )
    log.info("%s: done", name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
