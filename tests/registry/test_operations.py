"""The server's long-running operations in the registry, on SQLite and PostgreSQL: claims with leases,
per-project caps and per-dataset locks, heartbeats, cancel, delete, give-back and lost workers."""

import time

import pytest
import sqlalchemy as sa

from automl_video.registry import FailedPreconditionError, NotFoundError, OperationState, Registry
from automl_video.registry.operations import MAX_ATTEMPTS, new_lease_owner
from automl_video.rpc import Code, Status

P, L = "proj", "us-central1"
LEASE = 30.0


@pytest.fixture
def registry(registry_url):
    with Registry(registry_url) as opened:
        yield opened


def queue(registry: Registry, project: str = P, lock_key: str | None = None, kind: str = "import_data"):
    return registry.create_operation(
        project,
        L,
        api="automl_v1beta1",
        kind=kind,
        target=f"projects/{project}/locations/{L}/datasets/1",
        request={"name": "x"},
        work={"folder": "/work/{operation_id}"},
        details={"importDataDetails": {}},
        lock_key=lock_key,
    )


def claim(registry: Registry, owner: str, cap: int = 10, limit: int = 10, lease: float = LEASE):
    return registry.claim_operations(owner, lease_seconds=lease, max_running_per_project=cap, limit=limit)


def test_an_operation_is_queued_claimed_once_and_finished(registry):
    created = queue(registry)
    assert created.name == f"projects/{P}/locations/{L}/operations/1" and created.state is OperationState.QUEUED
    assert created.work == {"folder": "/work/1"} and not created.done
    owner, other = new_lease_owner(), new_lease_owner()
    (claimed,) = claim(registry, owner)
    assert claimed.state is OperationState.RUNNING and claimed.attempts == 1 and claimed.lease_owner == owner
    assert claim(registry, other) == []  # its lease is fresh: nobody else takes it
    beat = registry.heartbeat_operation(created.name, owner, progress_percent=40, details={"more": 1})
    assert beat.progress_percent == 40 and beat.details == {"importDataDetails": {}, "more": 1}
    with pytest.raises(FailedPreconditionError, match="no longer run by"):
        registry.heartbeat_operation(created.name, other)
    failures = [Status(Code.INVALID_ARGUMENT, f"row {i}") for i in range(30)]
    done = registry.finish_operation(
        created.name, owner, OperationState.SUCCEEDED, response={"@type": "x"}, partial_failures=failures
    )
    assert done.done and done.progress_percent == 100 and len(done.partial_failures) == 20
    assert done.end_time >= done.start_time and done.lease_owner is None
    with pytest.raises(FailedPreconditionError):
        registry.finish_operation(created.name, owner, OperationState.FAILED)


def test_a_project_cap_and_a_lock_key_hold_operations_in_the_queue(registry):
    owner = new_lease_owner()
    a1, a2, a3 = (queue(registry, lock_key=None) for _ in range(3))
    b1 = queue(registry, project="other")
    locked1, locked2 = queue(registry, project="third", lock_key="d"), queue(registry, project="third", lock_key="d")
    claimed = {r.name for r in claim(registry, owner, cap=2)}
    assert claimed == {a1.name, a2.name, b1.name, locked1.name}
    assert registry.get_operation(a3.name).state is OperationState.QUEUED
    assert registry.get_operation(locked2.name).state is OperationState.QUEUED
    registry.finish_operation(locked1.name, owner, OperationState.SUCCEEDED, response={})
    assert {r.name for r in claim(registry, owner, cap=2)} == {locked2.name}  # the lock is free again
    assert claim(registry, owner, cap=2, limit=1) == []  # team "proj" is still at its cap


def test_a_lost_worker_is_claimed_again_and_given_up_after_max_attempts(registry):
    created = queue(registry)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        (claimed,) = claim(registry, new_lease_owner(), lease=0.05)
        assert claimed.attempts == attempt
        time.sleep(0.1)  # the worker dies: no heartbeat, the lease expires
    assert claim(registry, new_lease_owner(), lease=0.05) == []
    ended = registry.get_operation(created.name)
    assert ended.state is OperationState.FAILED and ended.error.code == Code.ABORTED
    assert f"lost {MAX_ATTEMPTS} times" in ended.error.message


def test_an_owner_renews_its_leases_and_never_claims_its_own_operation_again(registry):
    created = queue(registry)
    owner = new_lease_owner()
    claim(registry, owner, lease=0.05)
    time.sleep(0.1)
    assert claim(registry, owner, lease=0.05) == []  # its own worker: alive, or about to be reaped
    registry.renew_leases(owner, [created.name])
    assert claim(registry, new_lease_owner(), lease=1.0) == []  # the renewed lease is fresh
    time.sleep(1.1)
    (taken,) = claim(registry, new_lease_owner(), lease=1.0)
    assert taken.attempts == 2


def test_a_released_operation_is_claimed_again_at_once(registry):
    created = queue(registry)
    first = new_lease_owner()
    claim(registry, first)
    registry.release_operation(created.name, first)
    (again,) = claim(registry, new_lease_owner())
    assert again.name == created.name and again.attempts == 2


def test_cancel_ends_a_queued_operation_and_flags_a_running_one(registry):
    queued, running = queue(registry, lock_key="a"), queue(registry, lock_key="b")
    owner = new_lease_owner()
    registry.cancel_operation(queued.name)
    assert registry.get_operation(queued.name).state is OperationState.CANCELLED
    (claimed,) = claim(registry, owner)
    assert claimed.name == running.name
    flagged = registry.cancel_operation(running.name)
    assert flagged.state is OperationState.RUNNING and flagged.cancel_requested
    assert registry.heartbeat_operation(running.name, owner).cancel_requested
    with pytest.raises(FailedPreconditionError, match="cancel it and let it end first"):
        registry.delete_operation(running.name)
    registry.finish_operation(running.name, owner, OperationState.CANCELLED, error=Status(Code.CANCELLED, "x"))
    with pytest.raises(FailedPreconditionError, match="already ended"):
        registry.cancel_operation(running.name)
    registry.delete_operation(running.name)
    with pytest.raises(NotFoundError):
        registry.get_operation(running.name)
    assert queue(registry).name.endswith("/operations/3")  # IDs are never reused


def test_lists_are_newest_first_filtered_and_paged(registry):
    made = [queue(registry) for _ in range(5)]
    owner = new_lease_owner()
    claim(registry, owner, limit=2)
    for record in made[:2]:
        registry.finish_operation(record.name, owner, OperationState.SUCCEEDED, response={})
    first = registry.list_operations(P, L, page_size=2)
    second = registry.list_operations(P, L, page_size=2, page_token=first.next_page_token)
    third = registry.list_operations(P, L, page_size=2, page_token=second.next_page_token)
    listed = [r.name for page in (first, second, third) for r in page.items]
    assert listed == [r.name for r in reversed(made)] and third.next_page_token == ""
    assert {r.name for r in registry.list_operations(P, L, filter="done=true").items} == {m.name for m in made[:2]}
    assert len(registry.list_operations(P, L, filter="done=false AND state=QUEUED").items) == 3
    assert registry.list_operations(P, L, api="vertex_v1").items == []
    with pytest.raises(ValueError, match="not one of"):
        registry.list_operations(P, L, filter="done=maybe")


def test_a_version_1_registry_is_migrated_to_have_operations(tmp_path):
    from automl_video.registry import migrations

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    old = migrations.MIGRATIONS
    try:
        migrations.MIGRATIONS = old[:1]
        migrations.migrate(engine)
    finally:
        migrations.MIGRATIONS = old
    with engine.connect() as connection:
        assert not sa.inspect(connection).has_table("operations")
    with Registry(url) as registry:
        assert queue(registry).name.endswith("/operations/1")
    engine.dispose()
