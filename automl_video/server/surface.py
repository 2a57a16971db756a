"""What an API surface plugs into the server: its routes, its operation kinds and how it renders an
operation. The AutoML v1beta1 surface (:mod:`automl_video.server.automl`) is one; the Vertex v1 surface
(:mod:`automl_video.server.vertex`) plugs in beside it under its own version prefix, sharing the operations, keys, roots, limits and
registry of :class:`ServerContext`.
"""

import importlib
import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from automl_video.registry import OperationRecord, Registry
from automl_video.rpc import Status
from automl_video.server.config import ApiKeys, ServerConfig
from automl_video.server.roots import AllowedRoots

if TYPE_CHECKING:
    from google.protobuf.message import Message

# api (the operations table's ``api`` column) -> module whose ``SURFACE`` serves it; loaded on first use.
# Vertex v1 needs google-cloud-aiplatform's protos (the ``vertex`` extra): served when they are installed.
SURFACE_MODULES = {"automl_v1beta1": "automl_video.server.automl"}
if importlib.util.find_spec("google.cloud.aiplatform_v1") is not None:
    SURFACE_MODULES["aiplatform_v1"] = "automl_video.server.vertex"


@dataclass
class ServerContext:
    """What every handler shares: settings, keys, roots and the registry; ``wake`` tells the
    dispatcher an operation was queued (so it claims it at once, not at its next poll)."""

    config: ServerConfig
    keys: ApiKeys
    roots: AllowedRoots
    registry: Registry
    wake: Callable[[], None] = lambda: None


@dataclass
class Call:
    """One request as a handler sees it: the route's path parameters, query, body and reply settings."""

    server: ServerContext
    params: dict[str, str]
    query: Mapping[str, str]
    body: bytes
    integer_enums: bool

    @property
    def project(self) -> str:
        return self.params["project"]

    @property
    def location(self) -> str:
        return self.params["location"]


# A handler returns a proto message (the 200 reply) built from the registry's records.
Handler = Callable[[Call], "Message | Any"]


@dataclass(frozen=True)
class Route:
    """``pattern`` uses ``{name}`` for one path segment (no ``/``; ``:verb`` suffixes are literal)."""

    method: str
    pattern: str
    handler: Handler
    regex: re.Pattern = field(init=False, compare=False)

    def __post_init__(self) -> None:
        parts = re.split(r"(\{\w+\})", self.pattern)
        source = "".join(f"(?P<{p[1:-1]}>[^/:]+)" if p.startswith("{") else re.escape(p) for p in parts)
        object.__setattr__(self, "regex", re.compile(source + "$"))


@dataclass
class OperationRun:
    """What an operation kind gets in its worker: the operation, the server's settings, the registry,
    and the roots it may read and write."""

    record: OperationRecord
    config: ServerConfig
    registry: Registry
    roots: AllowedRoots
    owner: str


@dataclass(frozen=True)
class OperationOutcome:
    """How an operation succeeded: its response (a packed ``Any`` in proto3 JSON), the rows that failed,
    and final per-RPC details."""

    response: dict[str, Any]
    partial_failures: list[Status] = field(default_factory=list)
    details: dict[str, Any] | None = None


class OperationFailed(Exception):
    """An operation fails with this status and these failed rows (e.g. an import refused as a whole)."""

    def __init__(self, status: Status, partial_failures: list[Status] | None = None):
        super().__init__(status.message)
        self.status = status
        self.partial_failures = partial_failures or []


@dataclass(frozen=True)
class OperationKind:
    """``run`` does the work in a worker process; ``cleanup`` removes what a cancelled run half-wrote;
    ``progress`` estimates how far a running one is (0-100), read by the worker's watchdog."""

    run: Callable[[OperationRun], OperationOutcome]
    cleanup: Callable[[OperationRecord, Registry], None] = lambda record, registry: None
    progress: Callable[[OperationRecord, Registry, ServerConfig], int | None] = lambda record, registry, config: None


class Surface(Protocol):
    api: str  # the operations' ``api`` column, e.g. ``automl_v1beta1``
    prefix: str  # the version path, e.g. ``/v1beta1/``
    routes: list[Route]
    operation_kinds: dict[str, OperationKind]


def load_surface(api: str) -> Surface:
    if api not in SURFACE_MODULES:
        raise ValueError(f"unknown API surface {api!r}; known: {', '.join(SURFACE_MODULES)}")
    return importlib.import_module(SURFACE_MODULES[api]).SURFACE
