"""Job states (Vertex ``PipelineState`` for training pipelines, ``JobState`` for batch prediction jobs)
(a failed or cancelled job carries an :class:`automl_video.rpc.Status`)."""

import enum


class PipelineState(enum.StrEnum):
    PIPELINE_STATE_UNSPECIFIED = "PIPELINE_STATE_UNSPECIFIED"
    PIPELINE_STATE_QUEUED = "PIPELINE_STATE_QUEUED"
    PIPELINE_STATE_PENDING = "PIPELINE_STATE_PENDING"
    PIPELINE_STATE_RUNNING = "PIPELINE_STATE_RUNNING"
    PIPELINE_STATE_SUCCEEDED = "PIPELINE_STATE_SUCCEEDED"
    PIPELINE_STATE_FAILED = "PIPELINE_STATE_FAILED"
    PIPELINE_STATE_CANCELLING = "PIPELINE_STATE_CANCELLING"
    PIPELINE_STATE_CANCELLED = "PIPELINE_STATE_CANCELLED"
    PIPELINE_STATE_PAUSED = "PIPELINE_STATE_PAUSED"


class JobState(enum.StrEnum):
    JOB_STATE_UNSPECIFIED = "JOB_STATE_UNSPECIFIED"
    JOB_STATE_QUEUED = "JOB_STATE_QUEUED"
    JOB_STATE_PENDING = "JOB_STATE_PENDING"
    JOB_STATE_RUNNING = "JOB_STATE_RUNNING"
    JOB_STATE_SUCCEEDED = "JOB_STATE_SUCCEEDED"
    JOB_STATE_FAILED = "JOB_STATE_FAILED"
    JOB_STATE_CANCELLING = "JOB_STATE_CANCELLING"
    JOB_STATE_CANCELLED = "JOB_STATE_CANCELLED"
    JOB_STATE_PAUSED = "JOB_STATE_PAUSED"
    JOB_STATE_EXPIRED = "JOB_STATE_EXPIRED"
    JOB_STATE_UPDATING = "JOB_STATE_UPDATING"
    JOB_STATE_PARTIALLY_SUCCEEDED = "JOB_STATE_PARTIALLY_SUCCEEDED"


AnyState = PipelineState | JobState

TERMINAL_STATES: frozenset[AnyState] = frozenset(
    {
        PipelineState.PIPELINE_STATE_SUCCEEDED,
        PipelineState.PIPELINE_STATE_FAILED,
        PipelineState.PIPELINE_STATE_CANCELLED,
        JobState.JOB_STATE_SUCCEEDED,
        JobState.JOB_STATE_FAILED,
        JobState.JOB_STATE_CANCELLED,
        JobState.JOB_STATE_EXPIRED,
        JobState.JOB_STATE_PARTIALLY_SUCCEEDED,
    }
)
RUNNING_STATES: frozenset[AnyState] = frozenset({PipelineState.PIPELINE_STATE_RUNNING, JobState.JOB_STATE_RUNNING})
CANCELLING_STATES: frozenset[AnyState] = frozenset(
    {
        PipelineState.PIPELINE_STATE_CANCELLING,
        JobState.JOB_STATE_CANCELLING,
    }
)
CANCELLED_STATES: frozenset[AnyState] = frozenset(
    {
        PipelineState.PIPELINE_STATE_CANCELLED,
        JobState.JOB_STATE_CANCELLED,
    }
)
SUCCEEDED_STATES: frozenset[AnyState] = frozenset(
    {
        PipelineState.PIPELINE_STATE_SUCCEEDED,
        JobState.JOB_STATE_SUCCEEDED,
    }
)


def is_terminal(state: AnyState) -> bool:
    return state in TERMINAL_STATES


def state_like(state: AnyState, suffix: str) -> AnyState:
    """The state named ``suffix`` (``RUNNING``, ``CANCELLED``…) in the same enum as ``state``."""
    prefix = "PIPELINE_STATE_" if isinstance(state, PipelineState) else "JOB_STATE_"
    return type(state)(prefix + suffix)
