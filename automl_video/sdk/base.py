"""What every SDK resource shares: a registry record behind Vertex-style properties, and, for jobs,
state, ``done``/``wait``/``cancel`` and the background work of ``sync=False``."""

import concurrent.futures
import datetime as dt
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from automl_video.registry import Page, names
from automl_video.registry.listing import every_item
from automl_video.registry.resources import Record
from automl_video.registry.states import AnyState, is_terminal
from automl_video.rpc import Status
from automl_video.sdk import config

# Background work of ``sync=False`` calls. Python waits for it at exit, as Vertex waits for its futures.
_background = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="automl-video-sdk")
POLL_SECONDS = 1.0

R = TypeVar("R", bound="Resource")


class Resource:
    """A registry resource seen through the SDK; ``gca_resource`` is the registry record.

    A resource still being made by ``sync=False`` work holds a Future instead: reading any property
    waits for it (and raises what it raised).
    """

    _collection: ClassVar[str]

    def __init__(self, resource_name: str, project: str | None = None, location: str | None = None):
        """Retrieve an existing resource by full name or ID (project and location default to init's)."""
        self._setup(type(self)._fetch(type(self)._expand(resource_name, project, location)))

    def _setup(self, record: Record | None, future: concurrent.futures.Future | None = None) -> None:
        self._record = record
        self._future = future
        self._pending: list[concurrent.futures.Future] = []  # this object's sync=False work

    def _start(self, work: Callable[[], Any], sync: bool) -> concurrent.futures.Future:
        """Run ``work`` now (its exception propagates) or in the background; :meth:`wait` waits for
        the background ones."""
        if sync:
            done: concurrent.futures.Future = concurrent.futures.Future()
            done.set_result(work())
            return done
        future = _background.submit(work)
        self._pending.append(future)
        return future

    def wait(self) -> None:
        """Block until this object's ``sync=False`` work has finished; raises the first error it raised."""
        for future in list(self._pending):
            future.result()

    @classmethod
    def _wrap(cls: type[R], record: Record | None = None, future: concurrent.futures.Future | None = None) -> R:
        """An instance around a record, or around the Future of work that will produce it."""
        resource = cls.__new__(cls)
        resource._setup(record, future)
        return resource

    @classmethod
    def get(cls: type[R], resource_name: str, project: str | None = None, location: str | None = None) -> R:
        """The resource named ``resource_name`` (a full name or an ID)."""
        return cls._wrap(cls._fetch(cls._expand(resource_name, project, location)))

    @classmethod
    def _fetch(cls, name: str) -> Record:
        raise NotImplementedError

    @classmethod
    def _list_page(cls, project: str, location: str, **options: Any) -> Page:
        raise NotImplementedError

    @classmethod
    def _expand(cls, name_or_id: str, project: str | None, location: str | None) -> str:
        return names.expand(name_or_id, cls._collection, *config.project_and_location(project, location))

    @property
    def gca_resource(self) -> Any:
        if self._record is None:
            if self._future is None:
                raise RuntimeError(f"{type(self).__name__} resource has not been created")
            self._record = self._future.result()
        return self._record

    def wait_for_resource_creation(self) -> None:
        """Block until the resource exists (a ``sync=False`` call has created it)."""
        _ = self.gca_resource

    @property
    def resource_name(self) -> str:
        return self.gca_resource.name

    @property
    def name(self) -> str:
        """The resource ID (last part of :attr:`resource_name`)."""
        return names.parse(self.resource_name).resource_id

    @property
    def project(self) -> str:
        return self.gca_resource.project

    @property
    def location(self) -> str:
        return self.gca_resource.location

    @property
    def display_name(self) -> str:
        return self.gca_resource.display_name

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.gca_resource.labels)

    @property
    def create_time(self) -> dt.datetime:
        return self.gca_resource.create_time

    @property
    def update_time(self) -> dt.datetime:
        self._sync()
        return self.gca_resource.update_time

    def _reference(self) -> str:
        """The name :meth:`_fetch` re-reads this resource by."""
        return self.gca_resource.name

    def _sync(self) -> None:
        """Re-read the record from the registry (another thread or process may have changed it)."""
        self._record = type(self)._fetch(self._reference())

    def to_dict(self) -> dict[str, Any]:
        """The resource in its Vertex AI v1 JSON shape."""
        self._sync()
        return self.gca_resource.to_dict()

    @classmethod
    def list(
        cls: type[R],
        filter: str | None = None,
        order_by: str | None = None,
        project: str | None = None,
        location: str | None = None,
    ) -> list[R]:
        """Every resource of this kind matching ``filter`` (see :mod:`automl_video.registry.filters`),
        sorted by ``order_by`` (``display_name``, ``create_time``, ``update_time``, ``desc`` after a field)."""
        project, location = config.project_and_location(project, location)
        records = every_item(
            lambda token: cls._list_page(project, location, filter=filter, order_by=order_by, page_token=token)
        )
        return [cls._wrap(r) for r in records]

    def __repr__(self) -> str:
        if self._record is None:
            return f"<{type(self).__module__}.{type(self).__name__} object at {hex(id(self))}> (being created)"
        return f"<{type(self).__module__}.{type(self).__name__} object at {hex(id(self))}> \nresource name: {self._record.name}"


class Job(Resource):
    """A training pipeline or batch prediction job."""

    @property
    def state(self) -> AnyState:
        """The current state, read from the registry."""
        self._sync()
        return self.gca_resource.state

    @property
    def error(self) -> Status | None:
        self._sync()
        return self.gca_resource.error

    @property
    def start_time(self) -> dt.datetime | None:
        self._sync()
        return self.gca_resource.start_time

    @property
    def end_time(self) -> dt.datetime | None:
        self._sync()
        return self.gca_resource.end_time

    @property
    def has_failed(self) -> bool:
        return self.state.value.endswith("_FAILED")

    def done(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled); False before it exists."""
        if self._record is None and self._future is None:
            return False
        return is_terminal(self.state)

    def wait(self) -> None:
        """Block until the job has ended (a job run by another process included)."""
        concurrent.futures.wait(self._pending)
        while not is_terminal(self.state):
            time.sleep(POLL_SECONDS)

    def cancel(self) -> None:
        """Ask the job to stop; it becomes CANCELLING, then CANCELLED when its runner notices.

        Raises:
            RuntimeError: the job has not started, or has already ended.
        """
        if self._record is None and self._future is None:
            raise RuntimeError(
                f"{type(self).__name__} has not been launched; cancel() can only be called on a running job"
            )
        if is_terminal(self.state):
            raise RuntimeError(
                f"{self.resource_name} is not running ({self.state.value}); only a running job can be cancelled"
            )
        self._record = config.registry().cancel_job(self.resource_name)

    def delete(self, sync: bool = True) -> None:
        """Delete the job's record (its outputs stay). Only a job that has ended can be deleted."""
        name = self.resource_name
        self._start(lambda: config.registry().delete_job(name), sync)
