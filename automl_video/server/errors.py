"""API errors: a ``google.rpc`` code, a message a person can act on, and the HTTP status Google's REST
APIs pair with that code; every reply's error body is ``{"error": {"code", "message", "status"}}``.

Library exceptions map to codes here once (:func:`api_error_of`), so every surface answers alike. An
exception that maps to nothing is a bug: it is logged with its stack trace and answered as INTERNAL
with its request id only, never with the trace.
"""

from dataclasses import dataclass

from automl_video.errors import AutoMLVideoError
from automl_video.registry import AlreadyExistsError, FailedPreconditionError, NotFoundError
from automl_video.rpc import Code, Status

# google.rpc.Code -> HTTP status, as googleapis' REST mapping has them; FAILED_PRECONDITION answers 412
# (Precondition Failed): the resource's state, not the request's form, refuses the call.
HTTP_STATUS = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 412,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}


@dataclass
class ApiError(Exception):
    """An error reply. ``http_status`` overrides the code's (413 for a body over the limit)."""

    code: Code
    message: str
    http_status: int | None = None

    def __str__(self) -> str:
        return self.message

    @property
    def status(self) -> int:
        return self.http_status or HTTP_STATUS[self.code]

    def body(self) -> dict:
        return {"error": {"code": self.status, "message": self.message, "status": self.code.name}}


def not_found(message: str) -> ApiError:
    return ApiError(Code.NOT_FOUND, message)


def invalid(message: str) -> ApiError:
    return ApiError(Code.INVALID_ARGUMENT, message)


def api_error_of(error: Exception) -> ApiError | None:
    """The reply for a library exception a user can act on; None for a bug."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, NotFoundError):
        return ApiError(Code.NOT_FOUND, str(error))
    if isinstance(error, AlreadyExistsError):
        return ApiError(Code.ALREADY_EXISTS, str(error))
    if isinstance(error, FailedPreconditionError):
        return ApiError(Code.FAILED_PRECONDITION, str(error))
    if isinstance(error, PermissionError):
        return ApiError(Code.PERMISSION_DENIED, str(error))
    if isinstance(error, FileNotFoundError):
        return ApiError(Code.NOT_FOUND, str(error))
    if isinstance(error, (AutoMLVideoError, ValueError)):
        return ApiError(Code.INVALID_ARGUMENT, str(error))
    return None


def status_of(error: Exception) -> Status:
    """How an operation that raised ``error`` ends (INTERNAL for a bug, its type and message kept)."""
    mapped = api_error_of(error)
    if mapped is not None:
        return Status(mapped.code, mapped.message)
    return Status(Code.INTERNAL, f"internal error ({type(error).__name__}: {error}); see the server log")
