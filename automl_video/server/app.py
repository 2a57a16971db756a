"""The ASGI application: every API surface's routes behind one front door.

Each request: the body is read up to ``--max-body-bytes`` (413 past it), the API key is checked (401
without a known key when keys are required, 403 for a project the key may not use), the path is matched
against the surfaces' routes (404), and the handler runs in the thread pool, never in the event loop.
A handler's error is answered as ``{"error": {"code", "message", "status"}}``; an unexpected exception
is logged with its trace and answered as INTERNAL without it. One access-log line per request goes to
stderr: method, path, status, milliseconds — never a key or a query string.

``GET /healthz`` (no key) answers 200 once the registry answers: the readiness and liveness probe.
"""

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator

import anyio.to_thread
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from automl_video.registry import names
from automl_video.rpc import Code
from automl_video.server import wire
from automl_video.server.dispatcher import Dispatcher
from automl_video.server.errors import ApiError, api_error_of
from automl_video.server.surface import Call, Route, ServerContext, Surface

log = logging.getLogger("automl_video.server")
access_log = logging.getLogger("automl_video.server.access")

HEALTH_PATH = "/healthz"
# Threads that run handlers, and the registry connections the server keeps open for them.
REQUEST_THREADS = 32
API_KEY_HEADER = "x-goog-api-key"


def _json_reply(status: int, body: dict) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


class Front:
    """Matches, authorises and runs one request (see the module docstring)."""

    def __init__(self, server: ServerContext, surfaces: list[Surface]):
        self.server = server
        self.routes: dict[str, list[Route]] = {}
        for surface in surfaces:
            for route in surface.routes:
                self.routes.setdefault(route.method, []).append(route)

    async def read_body(self, request: Request) -> bytes:
        limit = self.server.config.max_body_bytes
        too_large = ApiError(
            Code.INVALID_ARGUMENT, f"request body larger than the server's limit of {limit} bytes", http_status=413
        )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self.routes.get(method, []):
            found = route.regex.match(path)
            if found:
                return route, found.groupdict()
        known = any(r.regex.match(path) for rs in self.routes.values() for r in rs)
        if known:
            raise ApiError(Code.UNIMPLEMENTED, f"{method} is not a method of {path}", http_status=405)
        raise ApiError(Code.NOT_FOUND, f"no API method at {method} {path}")

    def authorise(self, key: str | None, params: dict[str, str]) -> None:
        keys = self.server.keys
        project = params.get("project")
        if keys.required:
            if not key:
                raise ApiError(Code.UNAUTHENTICATED, f"an API key is required: send it in the {API_KEY_HEADER} header")
            if key not in keys.projects_by_key:
                raise ApiError(Code.UNAUTHENTICATED, "the API key is not valid")
            if project is not None and project not in keys.projects_by_key[key]:
                raise ApiError(Code.PERMISSION_DENIED, f"the API key may not use project {project!r}")
        if project is not None:
            try:
                names.validate_project_and_location(project, params.get("location", "us-central1"))
            except ValueError as e:
                raise ApiError(Code.INVALID_ARGUMENT, str(e)) from None
        location = params.get("location")
        if location is not None and location not in self.server.config.locations:
            raise ApiError(
                Code.INVALID_ARGUMENT,
                f"location {location!r} is not served here; use one of {', '.join(self.server.config.locations)}",
            )

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            body = await self.read_body(request)
            key = request.headers.get(API_KEY_HEADER) or request.query_params.get("key")
            route, params = self.match(request.method, request.url.path)
            self.authorise(key, params)
            call = Call(
                self.server, params, request.query_params, body, wire.int_enums(request.query_params.get("$alt"))
            )
            reply = await run_in_threadpool(route.handler, call)
            status = 200
            return Response(wire.to_json(reply, call.integer_enums), media_type="application/json")
        except Exception as error:
            api_error = api_error_of(error)
            if api_error is None:
                request_id = uuid.uuid4().hex[:12]
                log.exception("request %s: %s %s failed", request_id, request.method, request.url.path)
                api_error = ApiError(Code.INTERNAL, f"internal error (request {request_id}); see the server log")
            status = api_error.status
            return _json_reply(status, api_error.body())
        finally:
            access_log.info(
                "%s %s %d %.1fms", request.method, request.url.path, status, 1000 * (time.perf_counter() - started)
            )


def create_app(server: ServerContext, surfaces: list[Surface], owner: str) -> Starlette:
    """The server's application; its lifespan runs the operations dispatcher."""
    front = Front(server, surfaces)
    dispatcher = Dispatcher(server, owner)
    server.wake = dispatcher.wake

    async def health(_request: Request) -> Response:
        def ping() -> None:
            with server.registry.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception as e:
            log.error("health: the registry does not answer: %s", e)
            return _json_reply(503, {"status": "registry unavailable"})
        return _json_reply(200, {"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Handlers run in this many threads, each with a registry connection of its own (REQUEST_THREADS).
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        task = asyncio.create_task(dispatcher.run())
        try:
            yield
        finally:
            await asyncio.to_thread(dispatcher.stop)
            await task

    methods = ["GET", "POST", "DELETE", "PATCH", "PUT"]
    return Starlette(
        routes=[
            StarletteRoute(HEALTH_PATH, health, methods=["GET"]),
            StarletteRoute("/{path:path}", front.handle, methods=methods),
        ],
        lifespan=lifespan,
    )
