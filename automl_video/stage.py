"""A library stage run as one pipeline task: its result, and when the stage's own work ran.

Every component runs its stage function through :func:`run_stage` and puts :attr:`StageRun.metadata`
on its output artifact: the KFP UI shows the result beside the artifact, and ``started_at`` /
``finished_at`` (epoch seconds) let a local run tell the stages' work from the orchestration around
it (process start, imports, artifact bookkeeping).

Also here: the encoding of the one stage argument a KFP parameter cannot carry, fractions left None.
"""

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from automl_video.progress import setup_task_logging

log = logging.getLogger(__name__)

Result = TypeVar("Result")


@dataclass(frozen=True)
class StageRun(Generic[Result]):
    """What a stage function returned, and when it started and finished."""

    result: Result
    started_at: float
    finished_at: float

    @property
    def seconds(self) -> float:
        return round(self.finished_at - self.started_at, 3)

    @property
    def metadata(self) -> dict[str, Any]:
        """The result as a JSON document (its ``to_json()``, else its dataclass fields) plus the work times."""
        result = self.result
        document = result.to_json() if hasattr(result, "to_json") else dataclasses.asdict(result)
        document = json.loads(json.dumps(document, default=str))
        return {**document, "started_at": self.started_at, "finished_at": self.finished_at, "seconds": self.seconds}


def run_stage(function: Callable[..., Result], *args: Any, **kwargs: Any) -> StageRun[Result]:
    """Call ``function(*args, **kwargs)`` (a stage returning a dataclass result) and time it; our log
    lines go to stderr in the CLI's format meanwhile (:func:`automl_video.progress.setup_task_logging`)."""
    setup_task_logging()
    started_at = time.time()
    result = function(*args, **kwargs)
    run = StageRun(result, started_at, time.time())
    log.info("%s: finished in %.1fs", function.__name__, run.seconds)
    return run


# -- fractions as task parameters --------------------------------------------------------------------


def fraction_parameters(training: float | None, test: float | None) -> tuple[float, float]:
    """Split fractions as KFP parameters, which cannot be None: 0/0 stands for "AutoML's default split"."""
    return training or 0.0, test or 0.0


def fractions_from_parameters(training: float, test: float) -> tuple[float | None, float | None]:
    """Undo :func:`fraction_parameters`: 0/0 becomes None/None (the split's 80/20 default)."""
    if training == 0.0 and test == 0.0:
        return None, None
    return training, test
