"""Long-running operations (``google.longrunning.Operation``) of the REST server, in the registry.

An operation is QUEUED until a server's dispatcher claims it (:meth:`OperationStore.claim_operations`),
RUNNING while a worker process of that server holds its lease (the worker's heartbeat renews it), then
SUCCEEDED, FAILED or CANCELLED for good. Everything a worker needs is stored with the operation (the
request, the work folders), so any server sharing the registry can run it, and a server that restarts
finds every operation where it was:

* the server that claimed an operation renews its lease while its worker process lives (and the worker
  reports progress); a server that dies stops renewing it, and once it is older than the lease, the
  next claim takes the operation again (``attempts`` + 1) and the new worker resumes its stage (training
  from its checkpoint, prediction from its finished rows), up to :data:`MAX_ATTEMPTS` times;
* operations with one ``lock_key`` (the dataset they change) never run at once: the second stays
  QUEUED until the first ends, then runs on its result, so neither change is lost;
* at most ``max_running_per_project`` operations of a project run at once; the others stay QUEUED.

A cancel of a QUEUED operation ends it at once; of a RUNNING one it sets ``cancel_requested``, which the
worker sees at its next heartbeat and ends the operation CANCELLED.
"""

import datetime as dt
import enum
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from automl_video.registry import listing, names, tables
from automl_video.registry.errors import FailedPreconditionError, NotFoundError
from automl_video.registry.filters import Field, FieldKind, to_sql
from automl_video.registry.filters import parse as parse_filter
from automl_video.registry.listing import Page, SortKey
from automl_video.registry.resources import Record, utc_now
from automl_video.rpc import MAX_PARTIAL_FAILURES, Code, Status

# A worker lost this many times (its server killed each time) fails the operation instead of retrying.
MAX_ATTEMPTS = 3
_ADVISORY_LOCK_KEY = 0x6F7065726174  # "operat": serialises claims between PostgreSQL replicas


class OperationState(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def done(self) -> bool:
        return self in (OperationState.SUCCEEDED, OperationState.FAILED, OperationState.CANCELLED)


_DONE_STATES = [s.value for s in OperationState if s.done]
CANCELLED_STATUS = Status(Code.CANCELLED, "cancelled by the user")


def new_lease_owner() -> str:
    """A name for one server process: host, pid and a random part (pids repeat across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(kw_only=True)
class OperationRecord(Record):
    """One operation. ``request`` is the API request as its surface parsed it (JSON); ``work`` holds
    the folders its stages write, fixed at creation so a rerun resumes in the same place; ``details``
    the surface's per-RPC metadata; ``response`` the result (JSON) once it succeeded."""

    api: str
    kind: str
    target: str
    lock_key: str | None = None
    state: OperationState = OperationState.QUEUED
    cancel_requested: bool = False
    request: dict[str, Any] = field(default_factory=dict)
    work: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    progress_percent: int = 0
    partial_failures: list[Status] = field(default_factory=list)
    response: dict[str, Any] | None = None
    error: Status | None = None
    attempts: int = 0
    lease_owner: str | None = None
    heartbeat_time: dt.datetime | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.state = OperationState(self.state)
        if isinstance(self.error, dict):
            self.error = Status.from_dict(self.error)
        self.partial_failures = [
            s if isinstance(s, Status) else Status.from_dict(s) for s in self.partial_failures or []
        ]

    @property
    def done(self) -> bool:
        return self.state.done


_op = tables.operations
_FILTER_FIELDS = {
    "done": Field(
        FieldKind.STRING,
        sa.case((_op.c.state.in_(_DONE_STATES), "true"), else_="false"),
        allowed=("true", "false"),
    ),
    "kind": Field(FieldKind.STRING, _op.c.kind),
    "target": Field(FieldKind.STRING, _op.c.target),
    "state": Field(FieldKind.STRING, _op.c.state, allowed=tuple(s.value for s in OperationState)),
    "create_time": Field(FieldKind.TIME, _op.c.create_time),
    "update_time": Field(FieldKind.TIME, _op.c.update_time),
}


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class OperationStore:
    """The operation methods of :class:`automl_video.registry.Registry` (mixed into it)."""

    def create_operation(
        self,
        project: str,
        location: str,
        *,
        api: str,
        kind: str,
        target: str,
        request: Mapping[str, Any],
        work: Mapping[str, Any] | None = None,
        details: Mapping[str, Any] | None = None,
        lock_key: str | None = None,
    ) -> OperationRecord:
        """Queue an operation; ``work`` may use ``{operation_id}``, filled in with the new ID."""
        names.validate_project_and_location(project, location)
        now = utc_now()
        with self._write() as connection:
            seq = self._allocate_id(connection, names.OPERATIONS)
            filled = {k: v.format(operation_id=seq) if isinstance(v, str) else v for k, v in (work or {}).items()}
            record = OperationRecord(
                name=names.resource_name(project, location, names.OPERATIONS, str(seq)),
                api=api,
                kind=kind,
                target=target,
                lock_key=lock_key,
                request=dict(request),
                work=filled,
                details=dict(details or {}),
                create_time=now,
                update_time=now,
            )
            row = {k: v for k, v in record.to_row().items() if k != "display_name"}
            connection.execute(_op.insert().values(seq=seq, project=project, location=location, **row))
        return record

    def _operation_row(self, connection: sa.Connection, name: str, for_update: bool = False) -> OperationRecord:
        query = sa.select(_op).where(_op.c.name == name)
        row = connection.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFoundError(f"operation {name} not found")
        return OperationRecord.from_row(row)

    def get_operation(self, name: str) -> OperationRecord:
        with self._read() as connection:
            return self._operation_row(connection, name)

    def list_operations(
        self,
        project: str,
        location: str,
        *,
        api: str | None = None,
        filter: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Page[OperationRecord]:
        """Newest first. Filter fields: done (``true``/``false``), kind, target, state, create_time, update_time."""
        names.validate_project_and_location(project, location)
        query = sa.select(_op).where(_op.c.project == project, _op.c.location == location)
        if api is not None:
            query = query.where(_op.c.api == api)
        condition = to_sql(parse_filter(filter), _FILTER_FIELDS)
        keys = [SortKey(_op.c.seq, descending=True)]
        size = listing.page_size_or_default(page_size)
        fingerprint = listing.query_fingerprint(f"{names.location_path(project, location)}/operations", api, filter)
        query = query.where(condition)
        if page_token:
            query = query.where(listing.after(keys, listing.decode_token(page_token, fingerprint, keys)))
        with self._read() as connection:
            rows = connection.execute(query.order_by(_op.c.seq.desc()).limit(size + 1)).all()
        token = listing.encode_token(fingerprint, [rows[size - 1].seq]) if len(rows) > size else ""
        return Page([OperationRecord.from_row(r) for r in rows[:size]], token)

    def claim_operations(
        self, owner: str, *, lease_seconds: float, max_running_per_project: int, limit: int
    ) -> list[OperationRecord]:
        """Take up to ``limit`` operations to run: QUEUED ones and RUNNING ones whose lease expired, oldest
        first, skipping a project at its cap and a lock key another running operation holds. Operations
        lost :data:`MAX_ATTEMPTS` times end FAILED instead."""
        now = utc_now()
        stale_before = _naive(now) - dt.timedelta(seconds=lease_seconds)
        claimed: list[OperationRecord] = []
        with self._write() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            active = sa.and_(_op.c.state == OperationState.RUNNING.value, _op.c.heartbeat_time >= stale_before)
            held = connection.execute(sa.select(_op.c.project, _op.c.lock_key).where(active)).all()
            running: dict[str, int] = {}
            locks = {r.lock_key for r in held if r.lock_key}
            for r in held:
                running[r.project] = running.get(r.project, 0) + 1
            stale = sa.and_(_op.c.state == OperationState.RUNNING.value, _op.c.heartbeat_time < stale_before)
            candidates = connection.execute(
                sa.select(_op)
                .where(sa.or_(_op.c.state == OperationState.QUEUED.value, stale))
                .order_by(_op.c.seq)
                .limit(max(limit * 20, 100))
            ).all()
            for row in candidates:
                if len(claimed) >= limit:
                    break
                record = OperationRecord.from_row(row)
                if record.lease_owner == owner:
                    continue  # this owner's own worker, alive (it renews its leases) or being reaped
                if record.attempts >= MAX_ATTEMPTS:
                    self._end(
                        connection,
                        record,
                        OperationState.FAILED,
                        error=Status(
                            Code.ABORTED,
                            f"the operation's worker was lost {record.attempts} times (its server stopped "
                            "while it ran); giving up",
                        ),
                    )
                    continue
                if running.get(record.project, 0) >= max_running_per_project:
                    continue
                if record.lock_key and record.lock_key in locks:
                    continue
                values = {
                    "state": OperationState.RUNNING.value,
                    "lease_owner": owner,
                    "heartbeat_time": _naive(now),
                    "attempts": record.attempts + 1,
                    "update_time": _naive(now),
                    "start_time": _naive(record.start_time or now),
                }
                connection.execute(sa.update(_op).where(_op.c.name == record.name).values(**values))
                running[record.project] = running.get(record.project, 0) + 1
                if record.lock_key:
                    locks.add(record.lock_key)
                claimed.append(self._operation_row(connection, record.name))
        return claimed

    def renew_leases(self, owner: str, names_: Sequence[str]) -> None:
        """Renew the leases ``owner`` holds on ``names_`` (its workers are alive: it just looked)."""
        if not names_:
            return
        with self._write() as connection:
            connection.execute(
                sa.update(_op)
                .where(
                    _op.c.name.in_(list(names_)),
                    _op.c.lease_owner == owner,
                    _op.c.state == OperationState.RUNNING.value,
                )
                .values(heartbeat_time=_naive(utc_now()))
            )

    def _owned(self, connection: sa.Connection, name: str, owner: str) -> OperationRecord:
        record = self._operation_row(connection, name, for_update=True)
        if record.state is not OperationState.RUNNING or record.lease_owner != owner:
            raise FailedPreconditionError(
                f"{name} is no longer run by {owner} ({record.state.value}, owner {record.lease_owner})"
            )
        return record

    def heartbeat_operation(
        self,
        name: str,
        owner: str,
        *,
        progress_percent: int | None = None,
        partial_failures: Sequence[Status] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> OperationRecord:
        """Renew the lease and record progress; the returned record says whether a cancel was asked.

        Raises:
            FailedPreconditionError: another owner took the operation, or it already ended.
        """
        now = _naive(utc_now())
        with self._write() as connection:
            record = self._owned(connection, name, owner)
            values: dict[str, Any] = {"heartbeat_time": now}
            if progress_percent is not None and progress_percent != record.progress_percent:
                values.update(progress_percent=max(0, min(100, int(progress_percent))), update_time=now)
            if partial_failures is not None:
                values.update(
                    partial_failures=[s.to_dict() for s in partial_failures][:MAX_PARTIAL_FAILURES], update_time=now
                )
            if details is not None:
                values.update(details={**record.details, **details}, update_time=now)
            connection.execute(sa.update(_op).where(_op.c.name == name).values(**values))
            return self._operation_row(connection, name)

    def finish_operation(
        self,
        name: str,
        owner: str,
        state: OperationState,
        *,
        response: Mapping[str, Any] | None = None,
        error: Status | None = None,
        partial_failures: Sequence[Status] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> OperationRecord:
        """End an operation this owner runs (SUCCEEDED with its response, FAILED / CANCELLED with an error)."""
        if not state.done:
            raise ValueError(f"finish_operation: {state.value} is not a final state")
        with self._write() as connection:
            record = self._owned(connection, name, owner)
            return self._end(connection, record, state, response, error, partial_failures, details)

    def _end(
        self,
        connection: sa.Connection,
        record: OperationRecord,
        state: OperationState,
        response: Mapping[str, Any] | None = None,
        error: Status | None = None,
        partial_failures: Sequence[Status] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> OperationRecord:
        now = _naive(utc_now())
        values: dict[str, Any] = {
            "state": state.value,
            "response": dict(response) if response is not None else None,
            "error": error.to_dict() if error else None,
            "update_time": now,
            "end_time": now,
            "lease_owner": None,
        }
        if state is OperationState.SUCCEEDED:
            values["progress_percent"] = 100
        if partial_failures is not None:
            values["partial_failures"] = [s.to_dict() for s in partial_failures][:MAX_PARTIAL_FAILURES]
        if details is not None:
            values["details"] = {**record.details, **details}
        connection.execute(sa.update(_op).where(_op.c.name == record.name).values(**values))
        return self._operation_row(connection, record.name)

    def release_operation(self, name: str, owner: str) -> None:
        """Give a running operation back to the queue (its server is stopping); another claim resumes it."""
        with self._write() as connection:
            try:
                record = self._owned(connection, name, owner)
            except FailedPreconditionError:
                return
            connection.execute(
                sa.update(_op)
                .where(_op.c.name == record.name)
                .values(state=OperationState.QUEUED.value, lease_owner=None, heartbeat_time=None)
            )

    def cancel_operation(self, name: str) -> OperationRecord:
        """Cancel: a QUEUED operation ends CANCELLED now, a RUNNING one when its worker sees the request.

        Raises:
            FailedPreconditionError: it already ended.
        """
        with self._write() as connection:
            record = self._operation_row(connection, name, for_update=True)
            if record.done:
                raise FailedPreconditionError(
                    f"{name} already ended ({record.state.value}); there is nothing to cancel"
                )
            if record.state is OperationState.QUEUED:
                return self._end(connection, record, OperationState.CANCELLED, error=CANCELLED_STATUS)
            connection.execute(
                sa.update(_op).where(_op.c.name == name).values(cancel_requested=True, update_time=_naive(utc_now()))
            )
            return self._operation_row(connection, name)

    def delete_operation(self, name: str) -> None:
        """Forget an operation that ended; its name is never reused.

        Raises:
            FailedPreconditionError: it has not ended (cancel it first).
        """
        with self._write() as connection:
            record = self._operation_row(connection, name, for_update=True)
            if not record.done:
                raise FailedPreconditionError(f"{name} is {record.state.value}; cancel it and let it end first")
            connection.execute(sa.delete(_op).where(_op.c.name == name))
            self._retire(connection, name)

    def running_operations(self, target_prefix: str) -> list[OperationRecord]:
        """Operations not yet ended whose target is ``target_prefix`` or under it."""
        with self._read() as connection:
            rows = connection.execute(
                sa.select(_op).where(
                    _op.c.state.not_in(_DONE_STATES),
                    sa.or_(_op.c.target == target_prefix, _op.c.target.startswith(target_prefix + "/")),
                )
            ).all()
        return [OperationRecord.from_row(r) for r in rows]
