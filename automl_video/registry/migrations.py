"""Versioned schema migrations, applied in order and recorded in ``schema_migrations``.

Each :class:`Migration` declares its changes through a :class:`SchemaChange`. Replaying every
migration on an empty ``MetaData`` gives the current table definitions (:mod:`.tables`), so the schema
is written once; against a database, only the migrations it has not recorded are executed. Add a
change as a new migration at the end of :data:`MIGRATIONS`; never edit an applied one.

Concurrent processes may open a fresh database at once: SQLite serialises them with ``BEGIN
IMMEDIATE``, PostgreSQL with a transaction-scoped advisory lock; DDL is transactional on both.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.schema import SchemaItem

from automl_video.registry.database import transaction
from automl_video.registry.errors import SchemaVersionError

NAME_LENGTH = 512  # a full resource name, e.g. projects/p/locations/l/models/m@alias/evaluations/1
ID_LENGTH = 128
_ADVISORY_LOCK_KEY = 0x6175746F6D6C  # "automl" as an integer: one lock for every automl-video registry

_bootstrap = sa.MetaData()
schema_migrations = sa.Table(
    "schema_migrations",
    _bootstrap,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_time", sa.DateTime, nullable=False),
)


class SchemaChange:
    """A migration's view of the schema: declares tables on ``metadata`` and, given a connection, creates them."""

    def __init__(self, metadata: sa.MetaData, connection: sa.Connection | None = None):
        self.metadata = metadata
        self.connection = connection

    def create_table(self, name: str, *elements: SchemaItem) -> sa.Table:
        table = sa.Table(name, self.metadata, *elements)
        if self.connection is not None:
            table.create(self.connection)
        return table

    def insert_rows(self, table: sa.Table, rows: list[dict]) -> None:
        """Seed data the new schema needs (nothing to declare on the metadata)."""
        if self.connection is not None:
            self.connection.execute(table.insert(), rows)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[SchemaChange], None]


def _json() -> sa.JSON:
    return sa.JSON(none_as_null=True)


def _resource_columns() -> list[SchemaItem]:
    """Columns every top-level resource has (datasets, training pipelines, batch prediction jobs)."""
    return [
        sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("location", sa.String(63), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("labels", _json(), nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
    ]


def _job_columns() -> list[SchemaItem]:
    return [
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("error", _json()),
        sa.Column("start_time", sa.DateTime),
        sa.Column("end_time", sa.DateTime),
        sa.Column("run_info", _json(), nullable=False),
    ]


def _initial_schema(change: SchemaChange) -> None:
    counters = change.create_table(
        "id_counters",
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
    )
    change.insert_rows(
        counters,
        [
            {"kind": kind, "last_id": 0}
            for kind in ("datasets", "models", "evaluations", "trainingPipelines", "batchPredictionJobs")
        ],
    )
    change.create_table(
        "retired_names",
        sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
        sa.Column("delete_time", sa.DateTime, nullable=False),
    )
    change.create_table(
        "datasets",
        *_resource_columns(),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("data_uri", sa.Text, nullable=False),
        sa.Column("prediction_type", sa.String(32), nullable=False),
        sa.Column("data_item_count", sa.Integer, nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.Index("ix_datasets_parent", "project", "location"),
    )
    change.create_table(
        "models",
        sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("location", sa.String(63), nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        sa.Column("last_version_id", sa.Integer, nullable=False),
        sa.Index("ix_models_parent", "project", "location"),
    )
    change.create_table(
        "model_versions",
        sa.Column("model_name", sa.String(NAME_LENGTH), sa.ForeignKey("models.name"), primary_key=True),
        sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("version_description", sa.Text, nullable=False),
        sa.Column("labels", _json(), nullable=False),
        sa.Column("version_create_time", sa.DateTime, nullable=False),
        sa.Column("version_update_time", sa.DateTime, nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("training_pipeline", sa.String(NAME_LENGTH)),
        sa.Column("dataset_id", sa.String(ID_LENGTH)),
        sa.Column("model_type", sa.String(64), nullable=False),
        sa.Column("prediction_type", sa.String(32), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
    )
    change.create_table(
        "model_aliases",
        sa.Column("model_name", sa.String(NAME_LENGTH), primary_key=True),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name", "version_id"], ["model_versions.model_name", "model_versions.version_id"]
        ),
    )
    change.create_table(
        "model_evaluations",
        sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("model_name", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("annotation_spec_id", sa.String(ID_LENGTH)),
        sa.Column("evaluated_example_count", sa.Integer, nullable=False),
        sa.Column("metrics_schema_uri", sa.Text, nullable=False),
        sa.Column("metrics", _json(), nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name", "version_id"], ["model_versions.model_name", "model_versions.version_id"]
        ),
        sa.Index("ix_model_evaluations_model", "model_name", "version_id"),
    )
    change.create_table(
        "training_pipelines",
        *_resource_columns(),
        *_job_columns(),
        sa.Column("training_task_definition", sa.Text, nullable=False),
        sa.Column("training_task_inputs", _json(), nullable=False),
        sa.Column("input_data_config", _json(), nullable=False),
        sa.Column("model_to_upload", _json(), nullable=False),
        sa.Column("model_id", sa.String(ID_LENGTH)),
        sa.Column("parent_model", sa.String(NAME_LENGTH)),
        sa.Column("dataset_id", sa.String(ID_LENGTH)),
        sa.Index("ix_training_pipelines_parent", "project", "location"),
    )
    change.create_table(
        "batch_prediction_jobs",
        *_resource_columns(),
        *_job_columns(),
        sa.Column("model", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("model_version_id", sa.String(20), nullable=False),
        sa.Column("input_config", _json(), nullable=False),
        sa.Column("output_config", _json(), nullable=False),
        sa.Column("model_parameters", _json(), nullable=False),
        sa.Column("dedicated_resources", _json(), nullable=False),
        sa.Column("output_info", _json()),
        sa.Column("completion_stats", _json()),
        sa.Column("partial_failures", _json(), nullable=False),
        sa.Index("ix_batch_prediction_jobs_parent", "project", "location"),
    )


def _operations(change: SchemaChange) -> None:
    """Long-running operations of the REST server (AutoML v1beta1 ``google.longrunning.Operation``).

    ``lease_owner`` / ``heartbeat_time``: the server instance whose worker runs it and when that worker
    last reported; an operation RUNNING with an old heartbeat lost its worker and is claimed again.
    ``lock_key``: the resource it changes (a dataset); two operations with one key never run at once.
    """
    counters = change.metadata.tables["id_counters"]
    change.insert_rows(counters, [{"kind": "operations", "last_id": 0}])
    change.create_table(
        "operations",
        sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("location", sa.String(63), nullable=False),
        sa.Column("api", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("target", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("lock_key", sa.String(NAME_LENGTH)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("request", _json(), nullable=False),
        sa.Column("work", _json(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.Column("progress_percent", sa.Integer, nullable=False),
        sa.Column("partial_failures", _json(), nullable=False),
        sa.Column("response", _json()),
        sa.Column("error", _json()),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("heartbeat_time", sa.DateTime),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        sa.Column("start_time", sa.DateTime),
        sa.Column("end_time", sa.DateTime),
        sa.Index("ix_operations_parent", "project", "location"),
        sa.Index("ix_operations_state", "state"),
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "datasets, models with versions and aliases, evaluations, training pipelines, batch prediction jobs",
        _initial_schema,
    ),
    Migration(2, "long-running operations of the REST server", _operations),
)
LATEST_VERSION = MIGRATIONS[-1].version


def build_metadata() -> sa.MetaData:
    """The current schema: every migration replayed on an empty ``MetaData`` without a database."""
    metadata = sa.MetaData()
    for migration in MIGRATIONS:
        migration.apply(SchemaChange(metadata))
    return metadata


def current_version(connection: sa.Connection) -> int:
    if not sa.inspect(connection).has_table(schema_migrations.name):
        return 0
    return connection.scalar(sa.select(sa.func.max(schema_migrations.c.version))) or 0


def migrate(engine: sa.Engine) -> int:
    """Bring the database to :data:`LATEST_VERSION`; returns the version it was at before.

    Raises:
        SchemaVersionError: the database was migrated by a newer automl-video.
    """
    with transaction(engine, write=True) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        schema_migrations.create(connection, checkfirst=True)
        before = current_version(connection)
        if before > LATEST_VERSION:
            raise SchemaVersionError(
                f"registry {engine.url.render_as_string(hide_password=True)} has schema version {before}, newer than "
                f"this automl-video knows ({LATEST_VERSION}); upgrade automl-video"
            )
        metadata = sa.MetaData()
        for migration in MIGRATIONS:
            pending = migration.version > before
            migration.apply(SchemaChange(metadata, connection if pending else None))
            if pending:
                connection.execute(
                    schema_migrations.insert().values(
                        version=migration.version,
                        description=migration.description,
                        applied_time=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    )
                )
        return before
