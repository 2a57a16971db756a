"""Connecting to the registry database: SQLite (default, one file) or PostgreSQL (by URL).

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: writers from several threads or processes queue for the write lock instead of
failing with "database is locked" when a read transaction tries to upgrade. Readers never block.
"""

import contextlib
import os
from collections.abc import Iterator

import sqlalchemy as sa

ENV_URL = "AUTOML_VIDEO_REGISTRY_URL"
ENV_HOME = "AUTOML_VIDEO_HOME"
DEFAULT_FILE = "registry.sqlite"
BUSY_TIMEOUT_SECONDS = 60.0
_WRITE_OPTION = "automl_video_write"


def default_url() -> str:
    """``$AUTOML_VIDEO_REGISTRY_URL``, else ``sqlite:///$AUTOML_VIDEO_HOME/registry.sqlite`` (home ``~/.automl-video``)."""
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    home = os.environ.get(ENV_HOME) or os.path.join(os.path.expanduser("~"), ".automl-video")
    return f"sqlite:///{os.path.abspath(os.path.join(home, DEFAULT_FILE))}"


def normalize_url(url_or_path: str | None) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (taken as a SQLite file)."""
    if not url_or_path:
        return default_url()
    if "://" in url_or_path:
        return url_or_path
    return f"sqlite:///{os.path.abspath(url_or_path)}"


def create_engine(url: str, connections: int | None = None) -> sa.Engine:
    """An engine for ``url``; for SQLite the file's folder is created and WAL + busy timeout set.

    ``connections``: how many PostgreSQL connections to keep open (a server gives its thread count, so
    no request opens a fresh connection, which costs PostgreSQL a process); default SQLAlchemy's 5 + 10.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        pool = {} if connections is None else {"pool_size": connections, "max_overflow": 0}
        return sa.create_engine(parsed, pool_pre_ping=True, **pool)
    if not parsed.database or parsed.database == ":memory:":
        raise ValueError(f"registry URL {url!r}: an in-memory SQLite registry cannot be shared; give a file")
    os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # transactions are begun explicitly below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextlib.contextmanager
def transaction(engine: sa.Engine, write: bool) -> Iterator[sa.Connection]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    with engine.connect() as connection:
        if write:
            connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection
