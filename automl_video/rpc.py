"""``google.rpc`` codes and ``Status``: how a failed row, job or request says what went wrong.

One module for every layer (prediction rows, registry jobs, the SDK and the REST server), so a code
means the same everywhere and maps to one HTTP status.
"""

import enum
from dataclasses import dataclass
from typing import Any

# AutoML and Vertex report at most this many failed rows or instances (``partial_failures``); the full
# list goes to a report file.
MAX_PARTIAL_FAILURES = 20


class Code(enum.IntEnum):
    """``google.rpc.Code`` (the values are the wire's)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


@dataclass(frozen=True)
class Status:
    """``google.rpc.Status``: why a job failed or was cancelled, or one partial failure."""

    code: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": int(self.code), "message": self.message}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Status":
        return cls(code=int(doc.get("code", 0)), message=str(doc.get("message", "")))
