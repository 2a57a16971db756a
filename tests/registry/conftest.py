"""Registry databases of both kinds: SQLite files and PostgreSQL databases on the server that
``AUTOML_VIDEO_TEST_POSTGRES_URL`` names (``.ci/start-postgres.sh`` starts one)."""

import os
import uuid

import pytest
import sqlalchemy as sa

from automl_video.registry import Registry, tables

POSTGRES_ENV = "AUTOML_VIDEO_TEST_POSTGRES_URL"


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (run .ci/start-postgres.sh)")
    return url


@pytest.fixture(scope="module")
def postgres_server():
    server = sa.make_url(_postgres_url())
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    yield server, admin
    admin.dispose()


@pytest.fixture
def fresh_postgres_url(postgres_server):
    """A new, empty PostgreSQL database, dropped after the test."""
    server, admin = postgres_server
    database = f"automl_video_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    yield server.set(database=database).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def shared_postgres_url(postgres_server):
    """One migrated PostgreSQL database for the module (creating one per test is slow)."""
    server, admin = postgres_server
    database = f"automl_video_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    url = server.set(database=database).render_as_string(hide_password=False)
    Registry(url).close()
    yield url
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{database}" WITH (FORCE)')


def _empty(url: str) -> None:
    """Delete every resource and restart the ID counters: the database is as freshly migrated."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for table in reversed(tables.metadata.sorted_tables):
            if table is not tables.id_counters:
                connection.execute(table.delete())
        connection.execute(tables.id_counters.update().values(last_id=0))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path):
    """An empty registry database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    url = request.getfixturevalue("shared_postgres_url")
    _empty(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database_url(request, tmp_path):
    """A database no registry has touched yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def registry(registry_url):
    with Registry(registry_url) as opened:
        yield opened
