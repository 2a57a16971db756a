"""The ``google.longrunning.Operations`` methods every surface serves under its prefix (get, list,
cancel, delete, wait), on the registry's shared operations; each surface renders an operation its way
(its metadata message) through ``render``.

A key sees only its projects' operations, and a surface only its own (the ``api`` column).
"""

import time
from collections.abc import Callable

from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from automl_video.registry import OperationRecord, names
from automl_video.rpc import Code
from automl_video.server import wire
from automl_video.server.errors import ApiError
from automl_video.server.surface import Call, Route

Render = Callable[[OperationRecord], operations_pb2.Operation]
MAX_WAIT_SECONDS = 60.0
WAIT_POLL_SECONDS = 0.25


def _name(call: Call) -> str:
    return names.resource_name(call.project, call.location, names.OPERATIONS, call.params["operation"])


def operation_routes(prefix: str, api: str, render: Render) -> list[Route]:
    """Routes ``{prefix}projects/{project}/locations/{location}/operations…`` of one surface."""

    def own(call: Call) -> OperationRecord:
        record = call.server.registry.get_operation(_name(call))
        if record.api != api:
            raise ApiError(Code.NOT_FOUND, f"operation {record.name} not found")
        return record

    def get(call: Call) -> operations_pb2.Operation:
        return render(own(call))

    def list_(call: Call) -> operations_pb2.ListOperationsResponse:
        size = call.query.get("pageSize")
        if size is not None and not size.isdigit():
            raise ApiError(Code.INVALID_ARGUMENT, f"pageSize {size!r} is not a number")
        page = call.server.registry.list_operations(
            call.project,
            call.location,
            api=api,
            filter=call.query.get("filter") or None,
            page_size=int(size) if size else None,
            page_token=call.query.get("pageToken") or None,
        )
        return operations_pb2.ListOperationsResponse(
            operations=[render(r) for r in page.items], next_page_token=page.next_page_token
        )

    def cancel(call: Call) -> empty_pb2.Empty:
        own(call)
        call.server.registry.cancel_operation(_name(call))
        return empty_pb2.Empty()

    def delete(call: Call) -> empty_pb2.Empty:
        own(call)
        call.server.registry.delete_operation(_name(call))
        return empty_pb2.Empty()

    def wait(call: Call) -> operations_pb2.Operation:
        request = wire.parse_body(call.body, operations_pb2.WaitOperationRequest)
        timeout = request.timeout.ToTimedelta().total_seconds() if request.HasField("timeout") else MAX_WAIT_SECONDS
        deadline = time.monotonic() + min(max(timeout, 0.0), MAX_WAIT_SECONDS)
        record = own(call)
        while not record.done and time.monotonic() < deadline:
            time.sleep(WAIT_POLL_SECONDS)
            record = own(call)
        return render(record)

    base = f"{prefix}projects/{{project}}/locations/{{location}}/operations"
    return [
        Route("GET", base, list_),
        Route("GET", base + "/{operation}", get),
        Route("DELETE", base + "/{operation}", delete),
        Route("POST", base + "/{operation}:cancel", cancel),
        Route("POST", base + "/{operation}:wait", wait),
    ]
