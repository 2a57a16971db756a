"""The registry: the single source of truth for datasets, models (versions and aliases), model
evaluations, training pipelines and batch prediction jobs, on SQLite or PostgreSQL.

Every method is one database transaction, so a crash never leaves half a resource, and any number of
threads and processes can share one registry. Methods take full resource names; the SDK turns bare IDs
into names with its ``init`` project and location.

* IDs are decimal strings from a per-collection counter, never reused after a deletion; a deleted
  resource's name is retired for good (a user-chosen ``model_id`` included).
* Lists take a ``filter`` (:mod:`.filters`), an ``order_by`` and a page size and token (:mod:`.listing`).
* A job goes QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED; ``cancel`` asks for CANCELLING and
  the runner ends it. A job in a final state never changes again.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from automl_video.registry import database, listing, migrations, names, tables, versions
from automl_video.registry.errors import AlreadyExistsError, FailedPreconditionError, NotFoundError
from automl_video.registry.filters import Field, FieldKind, to_sql
from automl_video.registry.filters import parse as parse_filter
from automl_video.registry.labels import validate_labels
from automl_video.registry.listing import Page, SortKey
from automl_video.registry.operations import OperationStore
from automl_video.registry.resources import (
    AUTOML_METADATA_FIELDS,
    BatchPredictionJobRecord,
    DatasetRecord,
    JobRecord,
    ModelEvaluationRecord,
    ModelRecord,
    NewModelEvaluation,
    Record,
    TrainingPipelineRecord,
    utc_now,
)
from automl_video.registry.states import (
    CANCELLING_STATES,
    RUNNING_STATES,
    AnyState,
    JobState,
    PipelineState,
    is_terminal,
    state_like,
)
from automl_video.rpc import MAX_PARTIAL_FAILURES, Status

MAX_DISPLAY_NAME = 128
# Job fields only the registry itself sets (update_job's state/error/run_info arguments aside).
_MANAGED_JOB_FIELDS = {"name", "create_time", "update_time", "start_time", "end_time", "state", "error", "run_info"}


def validate_display_name(display_name: object, what: str) -> str:
    """Vertex display names: 1 to 128 characters of any UTF-8."""
    if not isinstance(display_name, str) or not display_name.strip():
        raise ValueError(f"{what} is required (a non-empty string of at most {MAX_DISPLAY_NAME} characters)")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise ValueError(
            f"{what} {display_name[:40]!r}… is {len(display_name)} characters; at most {MAX_DISPLAY_NAME} are allowed"
        )
    return display_name


def _common_filter_fields(table: sa.Table) -> dict[str, Field]:
    return {
        "display_name": Field(FieldKind.STRING, table.c.display_name),
        "labels": Field(FieldKind.LABELS, table.c.labels),
        "create_time": Field(FieldKind.TIME, table.c.create_time),
        "update_time": Field(FieldKind.TIME, table.c.update_time),
    }


def _time_order(table: sa.Table, create: str = "create_time", update: str = "update_time") -> dict[str, Any]:
    return {"display_name": table.c.display_name, "create_time": table.c[create], "update_time": table.c[update]}


@dataclass(frozen=True)
class _Collection:
    """How one top-level collection is stored, filtered and sorted."""

    collection: str
    noun: str
    table: sa.Table
    record: type[Record]
    filter_fields: dict[str, Field]


def _prediction_type_fields(column: Any, kind: str) -> dict[str, Field]:
    """``prediction_type``, and AutoML's ``<type>_dataset_metadata:*`` / ``<type>_model_metadata:*``
    presence tests (present exactly for that prediction type)."""
    fields = {"prediction_type": Field(FieldKind.STRING, column)}
    for prediction_type, prefix in AUTOML_METADATA_FIELDS.items():
        present = sa.case((column == prediction_type, "present"), else_=None)
        fields[f"{prefix}_{kind}_metadata"] = Field(FieldKind.STRING, present)
    return fields


_DATASETS = _Collection(
    names.DATASETS,
    "dataset",
    tables.datasets,
    DatasetRecord,
    {**_common_filter_fields(tables.datasets), **_prediction_type_fields(tables.datasets.c.prediction_type, "dataset")},
)


def _make_job_collection(
    collection: str, noun: str, table: sa.Table, record: type[JobRecord], state: type, **extra: Field
) -> _Collection:
    fields = _common_filter_fields(table)
    fields["state"] = Field(FieldKind.STRING, table.c.state, allowed=tuple(s.value for s in state))
    fields.update(extra)
    return _Collection(collection, noun, table, record, fields)


_TRAINING_PIPELINES = _make_job_collection(
    names.TRAINING_PIPELINES,
    "training pipeline",
    tables.training_pipelines,
    TrainingPipelineRecord,
    PipelineState,
    dataset_id=Field(FieldKind.STRING, tables.training_pipelines.c.dataset_id),
)
_BATCH_PREDICTION_JOBS = _make_job_collection(
    names.BATCH_PREDICTION_JOBS,
    "batch prediction job",
    tables.batch_prediction_jobs,
    BatchPredictionJobRecord,
    JobState,
    model=Field(FieldKind.STRING, tables.batch_prediction_jobs.c.model),
    model_version_id=Field(FieldKind.STRING, tables.batch_prediction_jobs.c.model_version_id),
)
_JOBS = {c.collection: c for c in (_TRAINING_PIPELINES, _BATCH_PREDICTION_JOBS)}

_mv = tables.model_versions
_MODEL_COLUMNS = (
    tables.models.c.name,
    tables.models.c.create_time,
    tables.models.c.update_time,
    *(c for c in _mv.c if c.name != "model_name"),
)
_MODEL_FILTER_FIELDS = {
    "display_name": Field(FieldKind.STRING, _mv.c.display_name),
    "labels": Field(FieldKind.LABELS, _mv.c.labels),
    "dataset_id": Field(FieldKind.STRING, _mv.c.dataset_id),
    "model_type": Field(FieldKind.STRING, _mv.c.model_type),
    "training_pipeline": Field(FieldKind.STRING, _mv.c.training_pipeline),
    **_prediction_type_fields(_mv.c.prediction_type, "model"),
}
_ev = tables.model_evaluations


class Registry(OperationStore):
    """A registry database. Open one per process (or share one across threads) and :meth:`close` it.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg2://…``) or a file path; default
            ``$AUTOML_VIDEO_REGISTRY_URL`` or ``~/.automl-video/registry.sqlite``. Migrated on open.
        connections: PostgreSQL connections kept open (see :func:`.database.create_engine`).
    """

    def __init__(self, url: str | None = None, connections: int | None = None):
        self.url = database.normalize_url(url)
        self.engine = database.create_engine(self.url, connections)
        migrations.migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- plumbing -----------------------------------------------------------------------------------

    def _write(self):
        return database.transaction(self.engine, write=True)

    def _read(self):
        return database.transaction(self.engine, write=False)

    @staticmethod
    def _allocate_id(connection: sa.Connection, kind: str) -> int:
        counters = tables.id_counters
        return connection.execute(
            sa.update(counters)
            .where(counters.c.kind == kind)
            .values(last_id=counters.c.last_id + 1)
            .returning(counters.c.last_id)
        ).scalar_one()

    @staticmethod
    def _ensure_unused(connection: sa.Connection, table: sa.Table, name: str) -> None:
        if connection.scalar(sa.select(table.c.name).where(table.c.name == name)) is not None:
            raise AlreadyExistsError(f"{name} already exists")
        retired = tables.retired_names
        if connection.scalar(sa.select(retired.c.name).where(retired.c.name == name)) is not None:
            raise AlreadyExistsError(f"{name} belonged to a deleted resource; names are never reused")

    @staticmethod
    def _retire(connection: sa.Connection, name: str) -> None:
        connection.execute(tables.retired_names.insert().values(name=name, delete_time=utc_now().replace(tzinfo=None)))

    @staticmethod
    def _checked_name(name: str, collection: str) -> str:
        full = names.expand(name, collection, None, None)
        if names.parse(full).version is not None:
            raise ValueError(f"{name!r}: a {collection} name takes no '@version'")
        return full

    def _insert(self, connection: sa.Connection, collection: _Collection, record: Record, seq: int) -> None:
        parsed = names.parse(record.name)
        connection.execute(
            collection.table.insert().values(
                seq=seq, project=parsed.project, location=parsed.location, **record.to_row()
            )
        )

    def _row(self, connection: sa.Connection, collection: _Collection, name: str, for_update: bool = False) -> Any:
        table = collection.table
        query = sa.select(table).where(table.c.name == self._checked_name(name, collection.collection))
        row = connection.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFoundError(f"{collection.noun} {name} not found")
        return row

    def _get(self, collection: _Collection, name: str) -> Any:
        with self._read() as connection:
            return collection.record.from_row(self._row(connection, collection, name))

    def _update(self, collection: _Collection, name: str, changes: Mapping[str, Any]) -> Any:
        with self._write() as connection:
            record = collection.record.from_row(self._row(connection, collection, name, for_update=True))
            return self._apply(connection, collection, record, changes)

    @staticmethod
    def _apply(connection: sa.Connection, collection: _Collection, record: Record, changes: Mapping[str, Any]) -> Any:
        for key, value in changes.items():
            if value is not None:
                setattr(record, key, value)
        record.update_time = utc_now()
        row = record.to_row()
        connection.execute(sa.update(collection.table).where(collection.table.c.name == record.name).values(**row))
        return record

    def _list(
        self,
        connection: sa.Connection,
        query: sa.Select,
        scope: str,
        fields: Mapping[str, Field],
        order_fields: Mapping[str, Any],
        tie_breaker: Any,
        filter: str | None,
        order_by: str | None,
        page_size: int | None,
        page_token: str | None,
    ) -> tuple[list[Any], str]:
        condition = to_sql(parse_filter(filter), fields)
        keys = [SortKey(order_fields[n], desc) for n, desc in listing.parse_order_by(order_by, order_fields)]
        keys.append(SortKey(tie_breaker))
        size = listing.page_size_or_default(page_size)
        fingerprint = listing.query_fingerprint(scope, filter, order_by)
        query = query.where(condition).add_columns(*(k.column.label(f"_sort_key_{i}") for i, k in enumerate(keys)))
        if page_token:
            query = query.where(listing.after(keys, listing.decode_token(page_token, fingerprint, keys)))
        query = query.order_by(*(k.column.desc() if k.descending else k.column.asc() for k in keys)).limit(size + 1)
        rows = connection.execute(query).all()
        if len(rows) <= size:
            return rows, ""
        last = rows[size - 1]._mapping
        token = listing.encode_token(fingerprint, [last[f"_sort_key_{i}"] for i in range(len(keys))])
        return rows[:size], token

    def _list_top_level(self, collection: _Collection, project: str, location: str, **options: Any) -> Page:
        table = collection.table
        names.validate_project_and_location(project, location)
        query = sa.select(table).where(table.c.project == project, table.c.location == location)
        with self._read() as connection:
            rows, token = self._list(
                connection,
                query,
                f"{names.location_path(project, location)}/{collection.collection}",
                collection.filter_fields,
                _time_order(table),
                table.c.seq,
                **options,
            )
        return Page([collection.record.from_row(r) for r in rows], token)

    def _delete_top_level(self, collection: _Collection, name: str) -> None:
        with self._write() as connection:
            row = self._row(connection, collection, name, for_update=True)
            connection.execute(sa.delete(collection.table).where(collection.table.c.name == row.name))
            self._retire(connection, row.name)

    # -- datasets -----------------------------------------------------------------------------------

    def create_dataset(
        self,
        project: str,
        location: str,
        *,
        display_name: str,
        data_uri: str,
        labels: Mapping[str, str] | None = None,
        description: str = "",
        prediction_type: str = "classification",
        metadata: Mapping[str, Any] | None = None,
    ) -> DatasetRecord:
        """Register a dataset whose data (``dataset.json``) lives at ``data_uri``."""
        display_name = validate_display_name(display_name, "dataset display_name")
        labels = validate_labels(labels)
        names.validate_project_and_location(project, location)
        now = utc_now()
        with self._write() as connection:
            seq = self._allocate_id(connection, names.DATASETS)
            record = DatasetRecord(
                name=names.resource_name(project, location, names.DATASETS, str(seq)),
                display_name=display_name,
                labels=labels,
                description=description,
                data_uri=data_uri,
                prediction_type=prediction_type,
                metadata=dict(metadata or {}),
                create_time=now,
                update_time=now,
            )
            self._insert(connection, _DATASETS, record, seq)
        return record

    def get_dataset(self, name: str) -> DatasetRecord:
        return self._get(_DATASETS, name)

    def update_dataset(
        self,
        name: str,
        *,
        display_name: str | None = None,
        labels: Mapping[str, str] | None = None,
        description: str | None = None,
        data_item_count: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        prediction_type: str | None = None,
    ) -> DatasetRecord:
        """Change the given fields (None leaves a field as it is); ``prediction_type`` only as an import
        sets it (a Vertex video dataset takes its type from its first import's schema)."""
        changes = {
            "display_name": None
            if display_name is None
            else validate_display_name(display_name, "dataset display_name"),
            "labels": None if labels is None else validate_labels(labels),
            "description": description,
            "data_item_count": data_item_count,
            "metadata": None if metadata is None else dict(metadata),
            "prediction_type": prediction_type,
        }
        return self._update(_DATASETS, name, changes)

    def delete_dataset(self, name: str) -> None:
        self._delete_top_level(_DATASETS, name)

    def list_datasets(
        self,
        project: str,
        location: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Page[DatasetRecord]:
        """Filter fields: display_name, labels.KEY, prediction_type, video_classification_dataset_metadata (AutoML
        presence, ``:*``), create_time, update_time. Order by display_name, create_time, update_time."""
        return self._list_top_level(
            _DATASETS, project, location, filter=filter, order_by=order_by, page_size=page_size, page_token=page_token
        )

    def find_dataset(self, project: str, location: str, data_uri: str) -> DatasetRecord | None:
        """The newest dataset of ``project``/``location`` whose data lives at ``data_uri``, None if none does."""
        table = tables.datasets
        with self._read() as connection:
            row = connection.execute(
                sa.select(table)
                .where(table.c.project == project, table.c.location == location, table.c.data_uri == data_uri)
                .order_by(table.c.seq.desc())
                .limit(1)
            ).first()
        return None if row is None else DatasetRecord.from_row(row)

    # -- models -------------------------------------------------------------------------------------

    def upload_model(
        self,
        project: str,
        location: str,
        *,
        display_name: str,
        artifact_uri: str,
        model_type: str,
        prediction_type: str = "classification",
        model_id: str | None = None,
        parent_model: str | None = None,
        is_default_version: bool = True,
        version_aliases: Sequence[str] | None = None,
        description: str = "",
        version_description: str = "",
        labels: Mapping[str, str] | None = None,
        training_pipeline: str | None = None,
        dataset_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        evaluations: Sequence[NewModelEvaluation] = (),
    ) -> ModelRecord:
        """Register a trained model folder as a new model (version 1) or as the next version of
        ``parent_model``, with its ``evaluations``, in one transaction.

        Raises:
            ValueError: invalid display name, labels, model_id or aliases.
            NotFoundError: ``parent_model`` does not exist.
            AlreadyExistsError: ``model_id`` is taken (or was, by a deleted model).
        """
        display_name = validate_display_name(display_name, "model display_name")
        labels = validate_labels(labels)
        names.validate_project_and_location(project, location)
        if model_id is not None:
            names.validate_user_model_id(model_id)
        parent = None
        if parent_model:
            parent = names.parse_model_reference(parent_model, project, location)
            if parent.version is not None:
                raise ValueError(f"parent_model {parent_model!r} must name a model, not one of its versions")
            if model_id is not None and names.parse(parent.model_name).resource_id != model_id:
                raise ValueError(f"model_id {model_id!r} and parent_model {parent_model!r} name different models")
        versions.aliases_for_new_version(version_aliases, is_default_version, is_first_version=True)  # fail early
        now = utc_now()
        with self._write() as connection:
            if parent is not None:
                model_name = parent.model_name
                version_id = connection.execute(
                    sa.update(tables.models)
                    .where(tables.models.c.name == model_name)
                    .values(last_version_id=tables.models.c.last_version_id + 1, update_time=now.replace(tzinfo=None))
                    .returning(tables.models.c.last_version_id)
                ).scalar_one_or_none()
                if version_id is None:
                    raise NotFoundError(f"parent_model {parent_model}: model {model_name} not found")
            else:
                seq = self._allocate_id(connection, names.MODELS)
                model_name = names.resource_name(project, location, names.MODELS, model_id or str(seq))
                self._ensure_unused(connection, tables.models, model_name)
                connection.execute(
                    tables.models.insert().values(
                        name=model_name,
                        seq=seq,
                        project=project,
                        location=location,
                        create_time=now.replace(tzinfo=None),
                        update_time=now.replace(tzinfo=None),
                        last_version_id=1,
                    )
                )
                version_id = 1
            aliases = versions.aliases_for_new_version(
                version_aliases, is_default_version, is_first_version=version_id == 1
            )
            connection.execute(
                _mv.insert().values(
                    model_name=model_name,
                    version_id=version_id,
                    display_name=display_name,
                    description=description,
                    version_description=version_description,
                    labels=labels,
                    version_create_time=now.replace(tzinfo=None),
                    version_update_time=now.replace(tzinfo=None),
                    artifact_uri=artifact_uri,
                    training_pipeline=training_pipeline,
                    dataset_id=dataset_id,
                    model_type=model_type,
                    prediction_type=prediction_type,
                    metadata=dict(metadata or {}),
                )
            )
            self._move_aliases(connection, model_name, version_id, aliases)
            for evaluation in evaluations:
                self._insert_evaluation(connection, model_name, version_id, evaluation)
            return self._model_record(connection, model_name, version_id)

    @staticmethod
    def _move_aliases(connection: sa.Connection, model_name: str, version_id: int, aliases: Sequence[str]) -> None:
        table = tables.model_aliases
        for alias in aliases:
            connection.execute(sa.delete(table).where(table.c.model_name == model_name, table.c.alias == alias))
            connection.execute(table.insert().values(model_name=model_name, alias=alias, version_id=version_id))

    @staticmethod
    def _aliases(connection: sa.Connection, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], list[str]]:
        table = tables.model_aliases
        found: dict[tuple[str, int], list[str]] = {pair: [] for pair in pairs}
        model_names = sorted({name for name, _ in pairs})
        if model_names:
            rows = connection.execute(
                sa.select(table).where(table.c.model_name.in_(model_names)).order_by(table.c.alias)
            ).all()
            for row in rows:
                if (row.model_name, row.version_id) in found:
                    found[(row.model_name, row.version_id)].append(row.alias)
        return found

    def _model_records(self, connection: sa.Connection, rows: Sequence[Any]) -> list[ModelRecord]:
        aliases = self._aliases(connection, [(r.name, r.version_id) for r in rows])
        return [ModelRecord.from_row({**r._mapping, "version_aliases": aliases[(r.name, r.version_id)]}) for r in rows]

    def _model_record(self, connection: sa.Connection, model_name: str, version_id: int) -> ModelRecord:
        row = connection.execute(
            sa.select(*_MODEL_COLUMNS)
            .select_from(tables.models.join(_mv, _mv.c.model_name == tables.models.c.name))
            .where(tables.models.c.name == model_name, _mv.c.version_id == version_id)
        ).one()
        return self._model_records(connection, [row])[0]

    def _resolve(self, connection: sa.Connection, ref: str) -> tuple[str, int]:
        """``models/1`` (default version), ``models/1@2`` or ``models/1@alias`` → (model name, version ID)."""
        parsed = names.parse_model_reference(ref)
        if connection.scalar(sa.select(tables.models.c.name).where(tables.models.c.name == parsed.model_name)) is None:
            raise NotFoundError(f"model {parsed.model_name} not found")
        if parsed.is_version_id:
            version_id = connection.scalar(
                sa.select(_mv.c.version_id).where(
                    _mv.c.model_name == parsed.model_name, _mv.c.version_id == int(parsed.version)
                )
            )
            if version_id is None:
                raise NotFoundError(f"model {parsed.model_name} has no version {parsed.version}")
            return parsed.model_name, version_id
        alias = parsed.version or versions.DEFAULT_ALIAS
        aliases = tables.model_aliases
        version_id = connection.scalar(
            sa.select(aliases.c.version_id).where(aliases.c.model_name == parsed.model_name, aliases.c.alias == alias)
        )
        if version_id is None:
            raise NotFoundError(f"model {parsed.model_name} has no version with alias {alias!r}")
        return parsed.model_name, version_id

    def get_model(self, ref: str) -> ModelRecord:
        """A model version by ``name`` (its default version), ``name@VERSION_ID`` or ``name@ALIAS``."""
        with self._read() as connection:
            return self._model_record(connection, *self._resolve(connection, ref))

    def find_model_version(self, project: str, location: str, artifact_uri: str) -> ModelRecord | None:
        """The newest model version of ``project``/``location`` whose artifacts are at ``artifact_uri``, None if none."""
        with self._read() as connection:
            row = connection.execute(
                sa.select(*_MODEL_COLUMNS)
                .select_from(tables.models.join(_mv, _mv.c.model_name == tables.models.c.name))
                .where(
                    tables.models.c.project == project,
                    tables.models.c.location == location,
                    _mv.c.artifact_uri == artifact_uri,
                )
                .order_by(_mv.c.version_create_time.desc(), tables.models.c.seq.desc(), _mv.c.version_id.desc())
                .limit(1)
            ).first()
            return None if row is None else self._model_records(connection, [row])[0]

    def list_models(
        self,
        project: str,
        location: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Page[ModelRecord]:
        """Each model's default version. Filter fields: display_name, labels.KEY, dataset_id, model_type,
        training_pipeline, create_time, update_time. Order by display_name, create_time, update_time."""
        names.validate_project_and_location(project, location)
        models, aliases = tables.models, tables.model_aliases
        joined = models.join(
            aliases, sa.and_(aliases.c.model_name == models.c.name, aliases.c.alias == versions.DEFAULT_ALIAS)
        ).join(_mv, sa.and_(_mv.c.model_name == models.c.name, _mv.c.version_id == aliases.c.version_id))
        query = (
            sa.select(*_MODEL_COLUMNS)
            .select_from(joined)
            .where(models.c.project == project, models.c.location == location)
        )
        fields = {
            **_MODEL_FILTER_FIELDS,
            "create_time": Field(FieldKind.TIME, models.c.create_time),
            "update_time": Field(FieldKind.TIME, models.c.update_time),
        }
        order = {
            "display_name": _mv.c.display_name,
            "create_time": models.c.create_time,
            "update_time": models.c.update_time,
        }
        with self._read() as connection:
            rows, token = self._list(
                connection,
                query,
                f"{names.location_path(project, location)}/models",
                fields,
                order,
                models.c.seq,
                filter,
                order_by,
                page_size,
                page_token,
            )
            return Page(self._model_records(connection, rows), token)

    def list_model_versions(
        self,
        model: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Page[ModelRecord]:
        """Every version of ``model``, oldest first by default; fields as :meth:`list_models` (times are the versions')."""
        model_name = self._checked_name(model, names.MODELS)
        query = (
            sa.select(*_MODEL_COLUMNS)
            .select_from(tables.models.join(_mv, _mv.c.model_name == tables.models.c.name))
            .where(tables.models.c.name == model_name)
        )
        fields = {
            **_MODEL_FILTER_FIELDS,
            "create_time": Field(FieldKind.TIME, _mv.c.version_create_time),
            "update_time": Field(FieldKind.TIME, _mv.c.version_update_time),
        }
        with self._read() as connection:
            self._resolve(connection, model_name)
            rows, token = self._list(
                connection,
                query,
                model_name,
                fields,
                _time_order(_mv, "version_create_time", "version_update_time"),
                _mv.c.version_id,
                filter,
                order_by,
                page_size,
                page_token,
            )
            return Page(self._model_records(connection, rows), token)

    def merge_version_aliases(self, ref: str, aliases: Sequence[str]) -> ModelRecord:
        """Add aliases to a version (moving them from any other version) and remove ``-alias`` ones.

        Raises:
            ValueError: invalid aliases, removing ``default``, or removing an alias this version lacks.
        """
        merge = versions.parse_alias_merge(aliases)
        table = tables.model_aliases
        with self._write() as connection:
            model_name, version_id = self._resolve(connection, ref)
            for alias in merge.remove:
                removed = connection.execute(
                    sa.delete(table).where(
                        table.c.model_name == model_name, table.c.alias == alias, table.c.version_id == version_id
                    )
                ).rowcount
                if not removed:
                    raise ValueError(f"version {version_id} of {model_name} has no alias {alias!r} to remove")
            self._move_aliases(connection, model_name, version_id, merge.add)
            self._touch_version(connection, model_name, version_id)
            return self._model_record(connection, model_name, version_id)

    @staticmethod
    def _touch_version(connection: sa.Connection, model_name: str, version_id: int, **values: Any) -> None:
        now = utc_now().replace(tzinfo=None)
        connection.execute(
            sa.update(_mv)
            .where(_mv.c.model_name == model_name, _mv.c.version_id == version_id)
            .values(version_update_time=now, **values)
        )
        connection.execute(sa.update(tables.models).where(tables.models.c.name == model_name).values(update_time=now))

    def update_model(
        self,
        ref: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        version_description: str | None = None,
        labels: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ModelRecord:
        """Change a version's display name, descriptions, labels or metadata (None leaves a field as it is;
        ``metadata`` is merged into the stored one)."""
        changes = {
            "display_name": None if display_name is None else validate_display_name(display_name, "model display_name"),
            "description": description,
            "version_description": version_description,
            "labels": None if labels is None else validate_labels(labels),
        }
        with self._write() as connection:
            model_name, version_id = self._resolve(connection, ref)
            if metadata is not None:
                stored = self._model_record(connection, model_name, version_id).metadata
                changes["metadata"] = {**stored, **metadata}
            self._touch_version(
                connection, model_name, version_id, **{k: v for k, v in changes.items() if v is not None}
            )
            return self._model_record(connection, model_name, version_id)

    def delete_model(self, model: str) -> None:
        """Delete a model with all its versions, aliases and evaluations; its name is never reused."""
        model_name = self._checked_name(model, names.MODELS)
        with self._write() as connection:
            self._resolve(connection, model_name)
            for table in (_ev, tables.model_aliases, _mv):
                connection.execute(sa.delete(table).where(table.c.model_name == model_name))
            connection.execute(sa.delete(tables.models).where(tables.models.c.name == model_name))
            self._retire(connection, model_name)

    def delete_model_version(self, ref: str) -> None:
        """Delete one version (not the default one) with its aliases and evaluations; its ID is never reused.

        Raises:
            FailedPreconditionError: it is the default version (move ``default`` first, or delete the model).
        """
        if names.parse_model_reference(ref).version is None:
            raise ValueError(f"{ref!r}: name the version to delete as MODEL@VERSION_ID or MODEL@ALIAS")
        with self._write() as connection:
            model_name, version_id = self._resolve(connection, ref)
            record = self._model_record(connection, model_name, version_id)
            if record.is_default_version:
                raise FailedPreconditionError(
                    f"version {version_id} is the default version of {model_name}: give another version the "
                    f"'{versions.DEFAULT_ALIAS}' alias first, or delete the whole model"
                )
            for table in (_ev, tables.model_aliases, _mv):
                connection.execute(
                    sa.delete(table).where(table.c.model_name == model_name, table.c.version_id == version_id)
                )
            connection.execute(
                sa.update(tables.models)
                .where(tables.models.c.name == model_name)
                .values(update_time=utc_now().replace(tzinfo=None))
            )

    # -- model evaluations --------------------------------------------------------------------------

    def create_model_evaluation(self, model: str, evaluation: NewModelEvaluation) -> ModelEvaluationRecord:
        """Record one evaluation of a model version (``model`` as in :meth:`get_model`)."""
        with self._write() as connection:
            return self._insert_evaluation(connection, *self._resolve(connection, model), evaluation)

    def _insert_evaluation(
        self, connection: sa.Connection, model_name: str, version_id: int, evaluation: NewModelEvaluation
    ) -> ModelEvaluationRecord:
        if len(evaluation.display_name) > MAX_DISPLAY_NAME:
            raise ValueError(
                f"evaluation display_name {evaluation.display_name[:40]!r}… is longer than {MAX_DISPLAY_NAME} characters"
            )
        seq = self._allocate_id(connection, names.EVALUATIONS)
        now = utc_now()
        record = ModelEvaluationRecord(
            name=names.evaluation_name(model_name, str(seq)),
            model_name=model_name,
            version_id=str(version_id),
            display_name=evaluation.display_name,
            annotation_spec_id=evaluation.annotation_spec_id,
            evaluated_example_count=evaluation.evaluated_example_count,
            metrics_schema_uri=evaluation.metrics_schema_uri,
            metrics=dict(evaluation.metrics),
            create_time=now,
            update_time=now,
        )
        row = {k: v for k, v in record.to_row().items() if k != "update_time"}
        connection.execute(_ev.insert().values(seq=seq, **{**row, "version_id": version_id}))
        return record

    @staticmethod
    def _evaluation_record(row: Any) -> ModelEvaluationRecord:
        return ModelEvaluationRecord.from_row({**row._mapping, "update_time": row.create_time})

    def get_model_evaluation(self, name: str) -> ModelEvaluationRecord:
        """An evaluation by its Vertex (``…/evaluations/ID``) or AutoML (``…/modelEvaluations/ID``) name."""
        parsed = names.parse(names.to_vertex(name))
        if parsed.evaluation_id is None:
            raise ValueError(f"{name!r} is not a model evaluation name (…/models/M/evaluations/E)")
        canonical = names.evaluation_name(parsed.top_level_name, parsed.evaluation_id)
        with self._read() as connection:
            row = connection.execute(sa.select(_ev).where(_ev.c.name == canonical)).first()
        if row is None:
            raise NotFoundError(f"model evaluation {name} not found")
        return self._evaluation_record(row)

    def list_model_evaluations(
        self,
        model: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Page[ModelEvaluationRecord]:
        """Evaluations of a model version (the default one for a plain model name), overall first.
        Filter fields: annotation_spec_id (``NOT annotation_spec_id:*`` = overall), display_name, create_time."""
        fields = {
            "annotation_spec_id": Field(FieldKind.STRING, _ev.c.annotation_spec_id),
            "display_name": Field(FieldKind.STRING, _ev.c.display_name),
            "create_time": Field(FieldKind.TIME, _ev.c.create_time),
        }
        order = {"display_name": _ev.c.display_name, "create_time": _ev.c.create_time}
        with self._read() as connection:
            model_name, version_id = self._resolve(connection, model)
            query = sa.select(_ev).where(_ev.c.model_name == model_name, _ev.c.version_id == version_id)
            rows, token = self._list(
                connection,
                query,
                f"{model_name}@{version_id}",
                fields,
                order,
                _ev.c.seq,
                filter,
                order_by,
                page_size,
                page_token,
            )
        return Page([self._evaluation_record(r) for r in rows], token)

    # -- jobs: training pipelines and batch prediction jobs ------------------------------------------

    def _create_job(
        self, collection: _Collection, project: str, location: str, display_name: str, labels: Any, **fields: Any
    ) -> Any:
        display_name = validate_display_name(display_name, f"{collection.noun} display_name")
        labels = validate_labels(labels)
        names.validate_project_and_location(project, location)
        now = utc_now()
        with self._write() as connection:
            seq = self._allocate_id(connection, collection.collection)
            record = collection.record(
                name=names.resource_name(project, location, collection.collection, str(seq)),
                display_name=display_name,
                labels=labels,
                create_time=now,
                update_time=now,
                **fields,
            )
            self._insert(connection, collection, record, seq)
        return record

    @staticmethod
    def _job_collection(name: str) -> _Collection:
        collection = names.parse(name).collection
        if collection not in _JOBS:
            raise ValueError(f"{name!r} is not a training pipeline or batch prediction job name")
        return _JOBS[collection]

    def update_job(
        self,
        name: str,
        *,
        state: AnyState | str | None = None,
        error: Status | None = None,
        run_info: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Any:
        """Move a job to ``state`` and/or set fields; ``run_info`` is merged into the stored one.

        Entering RUNNING the first time sets ``start_time``; entering a final state sets ``end_time``.
        At most the first 20 ``partial_failures`` are kept.

        Raises:
            FailedPreconditionError: the job already ended, or is being cancelled and ``state`` is not final.
        """
        collection = self._job_collection(name)
        settable = {f.name for f in dataclasses.fields(collection.record)} - _MANAGED_JOB_FIELDS
        unknown = sorted(set(fields) - settable)
        if unknown:
            raise ValueError(f"update_job: {', '.join(unknown)} cannot be set on a {collection.noun}")
        if "partial_failures" in fields:
            fields["partial_failures"] = list(fields["partial_failures"])[:MAX_PARTIAL_FAILURES]
        with self._write() as connection:
            record: JobRecord = collection.record.from_row(self._row(connection, collection, name, for_update=True))
            changes = dict(fields, error=error)
            if state is not None:
                new_state = type(record.state)(state)
                self._check_transition(record, new_state)
                changes["state"] = new_state
                now = utc_now()
                if new_state in RUNNING_STATES and record.start_time is None:
                    changes["start_time"] = now
                if is_terminal(new_state) and not is_terminal(record.state):
                    changes["end_time"] = now
            if run_info:
                changes["run_info"] = {**record.run_info, **run_info}
            return self._apply(connection, collection, record, changes)

    @staticmethod
    def _check_transition(record: JobRecord, new_state: AnyState) -> None:
        if new_state == record.state:
            return
        if is_terminal(record.state):
            raise FailedPreconditionError(
                f"{record.name} already ended ({record.state.value}); it cannot become {new_state.value}"
            )
        if record.state in CANCELLING_STATES and not is_terminal(new_state):
            raise FailedPreconditionError(
                f"{record.name} is being cancelled; it can only end, not become {new_state.value}"
            )

    def cancel_job(self, name: str) -> Any:
        """Ask a job to stop: it becomes CANCELLING and its runner ends it as CANCELLED.

        Raises:
            FailedPreconditionError: the job already ended.
        """
        collection = self._job_collection(name)
        with self._write() as connection:
            record: JobRecord = collection.record.from_row(self._row(connection, collection, name, for_update=True))
            if is_terminal(record.state):
                raise FailedPreconditionError(
                    f"{record.name} already ended ({record.state.value}); there is nothing to cancel"
                )
            if record.state in CANCELLING_STATES:
                return record
            return self._apply(connection, collection, record, {"state": state_like(record.state, "CANCELLING")})

    def delete_job(self, name: str) -> None:
        """Delete a job that has ended.

        Raises:
            FailedPreconditionError: it is still queued or running (cancel it and wait first).
        """
        collection = self._job_collection(name)
        with self._write() as connection:
            record: JobRecord = collection.record.from_row(self._row(connection, collection, name, for_update=True))
            if not is_terminal(record.state):
                raise FailedPreconditionError(
                    f"{record.name} is {record.state.value}; cancel it and let it end before deleting it"
                )
            connection.execute(sa.delete(collection.table).where(collection.table.c.name == record.name))
            self._retire(connection, record.name)

    def create_training_pipeline(
        self,
        project: str,
        location: str,
        *,
        display_name: str,
        training_task_definition: str,
        training_task_inputs: Mapping[str, Any],
        input_data_config: Mapping[str, Any],
        model_to_upload: Mapping[str, Any],
        labels: Mapping[str, str] | None = None,
        model_id: str | None = None,
        parent_model: str | None = None,
        dataset_id: str | None = None,
        run_info: Mapping[str, Any] | None = None,
    ) -> TrainingPipelineRecord:
        """Register a training pipeline in PIPELINE_STATE_QUEUED (the runner moves it on)."""
        return self._create_job(
            _TRAINING_PIPELINES,
            project,
            location,
            display_name,
            labels,
            training_task_definition=training_task_definition,
            training_task_inputs=dict(training_task_inputs),
            input_data_config=dict(input_data_config),
            model_to_upload=dict(model_to_upload),
            model_id=model_id,
            parent_model=parent_model,
            dataset_id=dataset_id,
            run_info=dict(run_info or {}),
        )

    def get_job(self, name: str) -> JobRecord:
        """A training pipeline or a batch prediction job, by name."""
        return self._get(self._job_collection(name), name)

    def get_training_pipeline(self, name: str) -> TrainingPipelineRecord:
        return self._get(_TRAINING_PIPELINES, name)

    def list_training_pipelines(
        self,
        project: str,
        location: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Page[TrainingPipelineRecord]:
        """Filter fields: display_name, labels.KEY, state, dataset_id, create_time, update_time."""
        return self._list_top_level(
            _TRAINING_PIPELINES,
            project,
            location,
            filter=filter,
            order_by=order_by,
            page_size=page_size,
            page_token=page_token,
        )

    def create_batch_prediction_job(
        self,
        project: str,
        location: str,
        *,
        display_name: str,
        model: str,
        input_config: Mapping[str, Any],
        output_config: Mapping[str, Any],
        model_parameters: Mapping[str, Any] | None = None,
        dedicated_resources: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        run_info: Mapping[str, Any] | None = None,
    ) -> BatchPredictionJobRecord:
        """Register a batch prediction job (JOB_STATE_QUEUED) for ``model`` (``@version``/``@alias`` allowed),
        pinned to the version the reference resolves to now."""
        with self._read() as connection:
            model_name, version_id = self._resolve(connection, model)
        return self._create_job(
            _BATCH_PREDICTION_JOBS,
            project,
            location,
            display_name,
            labels,
            model=model_name,
            model_version_id=str(version_id),
            input_config=dict(input_config),
            output_config=dict(output_config),
            model_parameters=dict(model_parameters or {}),
            dedicated_resources=dict(dedicated_resources or {}),
            run_info=dict(run_info or {}),
        )

    def get_batch_prediction_job(self, name: str) -> BatchPredictionJobRecord:
        return self._get(_BATCH_PREDICTION_JOBS, name)

    def list_batch_prediction_jobs(
        self,
        project: str,
        location: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Page[BatchPredictionJobRecord]:
        """Filter fields: display_name, labels.KEY, state, model, model_version_id, create_time, update_time."""
        return self._list_top_level(
            _BATCH_PREDICTION_JOBS,
            project,
            location,
            filter=filter,
            order_by=order_by,
            page_size=page_size,
            page_token=page_token,
        )
