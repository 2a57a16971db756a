"""What every surface's handlers share: names from the path, list options, allowed-root checks and
queueing an operation (429 past the project's queue limit), so AutoML v1beta1 and Vertex v1 answer a
call the same way."""

import datetime as dt
import re
from collections.abc import Callable

from google.longrunning import operations_pb2

from automl_video.registry import OperationRecord, OperationState, names
from automl_video.rpc import Code
from automl_video.server import wire
from automl_video.server.errors import ApiError
from automl_video.server.surface import Call

# Both surfaces' dataset deletes are operations of this kind; nothing may change a dataset meanwhile.
DELETE_DATASET = "delete_dataset"
Render = Callable[[OperationRecord], operations_pb2.Operation]


def timestamp() -> str:
    """AutoML's and Vertex's output-folder timestamp, ``YYYY-MM-DDThh:mm:ss.sssZ``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def safe(text: str) -> str:
    """``text`` as one path segment."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text) or "x"


def resource_name(call: Call, collection: str, key: str) -> str:
    """The resource the path names, always under the path's own project and location."""
    return names.resource_name(call.project, call.location, collection, call.params[key])


def page_size(call: Call) -> int | None:
    size = call.query.get("pageSize")
    if size is None or size == "":
        return None
    if not size.isdigit():
        raise ApiError(Code.INVALID_ARGUMENT, f"pageSize {size!r} is not a non-negative number")
    return int(size)


def list_options(call: Call, order_by: bool = False) -> dict:
    """The registry's list arguments from ``filter``, ``pageSize``, ``pageToken`` (and ``orderBy``)."""
    options = {
        "filter": call.query.get("filter") or None,
        "page_size": page_size(call),
        "page_token": call.query.get("pageToken") or None,
    }
    if order_by:
        options["order_by"] = call.query.get("orderBy") or None
    return options


def check_sources(call: Call, uris: list[str], what: str, field: str) -> list[str]:
    """Input URIs, which must be given and under an allowed root (403 naming the first that is not)."""
    if not uris:
        raise ApiError(Code.INVALID_ARGUMENT, f"{what}: {field} is required")
    for uri in uris:
        call.server.roots.check(uri)
    return uris


def queue(
    call: Call,
    api: str,
    render: Render,
    kind: str,
    target: str,
    request: object,
    details: dict,
    work: dict | None = None,
    lock_key: str | None = None,
) -> operations_pb2.Operation:
    """Queue an operation of surface ``api`` (429 when the project's queue is full) and wake the dispatcher."""
    registry = call.server.registry
    limit = call.server.config.max_queued_per_project
    queued = registry.list_operations(call.project, call.location, filter="state=QUEUED", page_size=limit + 1)
    if len(queued.items) >= limit:
        raise ApiError(
            Code.RESOURCE_EXHAUSTED,
            f"project {call.project} has {limit} operations waiting to start (the server's limit); "
            "let some finish and try again",
        )
    record = registry.create_operation(
        call.project,
        call.location,
        api=api,
        kind=kind,
        target=target,
        request=wire.to_dict(request),
        work=work,
        details=details,
        lock_key=lock_key,
    )
    call.server.wake()
    return render(record)


def refuse_if_being_deleted(call: Call, dataset_name: str) -> None:
    """409 ABORTED while a delete of the dataset (from either surface) is queued or running."""
    for operation in call.server.registry.running_operations(dataset_name):
        if operation.kind == DELETE_DATASET and operation.state is not OperationState.CANCELLED:
            raise ApiError(Code.ABORTED, f"{dataset_name} is being deleted ({operation.name}); nothing can change it")
