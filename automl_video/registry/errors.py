"""Registry errors, mirroring the google.rpc codes a REST API will map them to (404, 409, 400)."""

from automl_video.errors import AutoMLVideoError


class NotFoundError(AutoMLVideoError, LookupError):
    """The named resource does not exist (or was deleted). google.rpc.Code NOT_FOUND."""


class AlreadyExistsError(AutoMLVideoError):
    """A resource with this name exists or existed (names are never reused). ALREADY_EXISTS."""


class FailedPreconditionError(AutoMLVideoError):
    """The resource is in a state that refuses the operation (e.g. a running job). FAILED_PRECONDITION."""


class SchemaVersionError(AutoMLVideoError):
    """The database was migrated by a newer automl-video than this one."""
