"""The resource registry on a real database: SQLite files, and PostgreSQL when
``AUTOML_VIDEO_TEST_POSTGRES_URL`` names a reachable server (``.ci/start-postgres.sh`` starts one).

Each PostgreSQL test gets a database of its own, created and dropped around it.
"""

import datetime as dt
import multiprocessing
import time

import pytest
import sqlalchemy as sa

from automl_video.registry import (
    AlreadyExistsError,
    FailedPreconditionError,
    JobState,
    NewModelEvaluation,
    NotFoundError,
    PipelineState,
    Registry,
    SchemaVersionError,
    Status,
    filters,
    migrations,
    names,
    tables,
)
from automl_video.registry.labels import validate_labels
from automl_video.registry.resources import METRICS_SCHEMAS

P, L = "proj", "us-central1"
RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


def make_dataset(registry: Registry, display_name: str = "videos", **kwargs):
    return registry.create_dataset(P, L, display_name=display_name, data_uri=f"/data/{display_name}", **kwargs)


def make_model(registry: Registry, display_name: str = "model", **kwargs):
    return registry.upload_model(
        P, L, display_name=display_name, artifact_uri="/models/x", model_type="MOBILE_VERSATILE_1", **kwargs
    )


def make_pipeline(registry: Registry, display_name: str = "training", **kwargs):
    return registry.create_training_pipeline(
        P,
        L,
        display_name=display_name,
        training_task_definition="definition.yaml",
        training_task_inputs={"modelType": "CLOUD"},
        input_data_config={},
        model_to_upload={},
        **kwargs,
    )


# -- names ------------------------------------------------------------------------------------------


def test_names_parse_and_expand_in_automl_and_vertex_forms():
    name = names.resource_name(P, L, names.DATASETS, "42")
    assert name == "projects/proj/locations/us-central1/datasets/42"
    assert names.expand("42", names.DATASETS, P, L) == name
    assert names.expand(name, names.DATASETS, None, None) == name
    evaluation = names.evaluation_name(f"projects/{P}/locations/{L}/models/7", "9")
    assert evaluation == "projects/proj/locations/us-central1/models/7/evaluations/9"
    automl = names.evaluation_name(f"projects/{P}/locations/{L}/models/7", "9", automl=True)
    assert automl.endswith("/models/7/modelEvaluations/9") and names.to_vertex(automl) == evaluation
    assert names.parse(automl).evaluation_id == "9"
    ref = names.parse_model_reference("7@golden", P, L)
    assert (ref.model_name, ref.version, ref.is_version_id) == (f"projects/{P}/locations/{L}/models/7", "golden", False)
    assert names.parse_model_reference(f"projects/{P}/locations/{L}/models/7@3").is_version_id

    with pytest.raises(ValueError, match="not a models resource name"):
        names.expand(name, names.MODELS, None, None)
    with pytest.raises(ValueError, match="give project and location"):
        names.expand("42", names.DATASETS, None, None)
    with pytest.raises(ValueError, match="only models have versions"):
        names.parse(f"{name}@2")
    with pytest.raises(ValueError, match="project 'Bad_Project'"):
        names.resource_name("Bad_Project", L, names.DATASETS, "1")
    with pytest.raises(ValueError, match="first character cannot be a number"):
        names.validate_user_model_id("1abc")


# -- schema ------------------------------------------------------------------------------------------


def test_migrations_build_the_declared_schema_once_and_refuse_a_newer_database(new_database_url):
    Registry(new_database_url).close()
    with Registry(new_database_url) as registry:  # a second open migrates nothing
        inspector = sa.inspect(registry.engine)
        for table in tables.metadata.sorted_tables:
            assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys())
        with registry.engine.begin() as connection:
            versions = connection.execute(sa.select(migrations.schema_migrations.c.version)).scalars().all()
            assert versions == [m.version for m in migrations.MIGRATIONS]
            connection.execute(
                migrations.schema_migrations.insert().values(
                    version=migrations.LATEST_VERSION + 1,
                    description="from the future",
                    applied_time=dt.datetime(2030, 1, 1),
                )
            )
    with pytest.raises(SchemaVersionError, match="newer than this automl-video"):
        Registry(new_database_url)


def test_sqlite_registry_runs_in_wal_mode(tmp_path):
    with Registry(str(tmp_path / "reg.sqlite")) as registry, registry.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


# -- ids, times, labels --------------------------------------------------------------------------------


def test_ids_are_numeric_and_names_are_never_reused_after_deletion(registry):
    first, second, third = (make_dataset(registry, f"d{i}") for i in range(3))
    assert [d.resource_id for d in (first, second, third)] == ["1", "2", "3"]
    registry.delete_dataset(third.name)
    registry.delete_dataset(second.name)
    assert make_dataset(registry, "d3").resource_id == "4"
    with pytest.raises(NotFoundError, match=f"dataset {third.name} not found"):
        registry.get_dataset(third.name)

    chosen = make_model(registry, model_id="my_model")
    assert chosen.name == f"projects/{P}/locations/{L}/models/my_model"
    with pytest.raises(AlreadyExistsError, match="already exists"):
        make_model(registry, model_id="my_model")
    registry.delete_model(chosen.name)
    with pytest.raises(AlreadyExistsError, match="never reused"):
        make_model(registry, model_id="my_model")
    numbered = make_model(registry)
    assert numbered.resource_id.isdecimal()


def test_create_and_update_times(registry):
    created = make_dataset(registry, labels={"team": "vision"})
    assert created.create_time == created.update_time and created.create_time.tzinfo is dt.UTC
    updated = registry.update_dataset(created.name, display_name="renamed", data_item_count=12)
    assert updated.create_time == created.create_time and updated.update_time > created.update_time
    again = registry.get_dataset(created.name)
    assert (again.display_name, again.data_item_count, again.labels) == ("renamed", 12, {"team": "vision"})
    doc = again.to_dict()
    assert doc["dataItemCount"] == "12" and doc["labels"] == {"team": "vision"}
    assert doc["createTime"].endswith("Z") and doc["name"] == created.name
    # A Vertex video dataset takes its prediction type from its first import's schema.
    typed = registry.update_dataset(created.name, prediction_type="object_tracking")
    assert registry.get_dataset(created.name).prediction_type == typed.prediction_type == "object_tracking"


VALID_LABELS = {"env": "prod", "größe": "groß", "日本": "東京", "k_1-x": "", "a" * 64: "b" * 64}


@pytest.mark.parametrize(
    "labels, message",
    [
        ({"Env": "prod"}, r"label 'Env': the key contains 'E'"),
        ({"env": "Prod"}, r"label 'env': the value contains 'P'"),
        ({"1env": "x"}, r"label '1env': the key must start with a lowercase letter"),
        ({"-env": "x"}, r"label '-env': the key must start with a lowercase letter"),
        ({"": "x"}, r"label '': the key must not be empty"),
        ({"a.b": "x"}, r"label 'a.b': the key contains '\.'"),
        ({"env": "a b"}, r"label 'env': the value contains ' '"),
        ({"a" * 65: "x"}, r"the key is 65 characters long; at most 64"),
        ({"env": "v" * 65}, r"label 'env': the value is 65 characters long"),
        ({"env": 3}, r"label 'env': the value must be a string"),
        ({f"k{i}": "v" for i in range(65)}, r"65 labels given; a resource can have at most 64"),
    ],
)
def test_invalid_labels_are_rejected_naming_the_label(labels, message):
    with pytest.raises(ValueError, match=message):
        validate_labels(labels)


def test_labels_follow_vertex_rules_on_every_resource(registry):
    assert make_dataset(registry, labels=VALID_LABELS).labels == VALID_LABELS
    for create in (
        lambda: make_dataset(registry, labels={"Bad": "x"}),
        lambda: make_model(registry, labels={"Bad": "x"}),
        lambda: make_pipeline(registry, labels={"Bad": "x"}),
    ):
        with pytest.raises(ValueError, match="label 'Bad'"):
            create()
    assert registry.list_datasets(P, L).items[0].labels == VALID_LABELS  # nothing else was created


# -- job states --------------------------------------------------------------------------------------


def test_training_pipeline_states_times_and_errors(registry):
    job = make_pipeline(registry)
    assert job.state is PipelineState.PIPELINE_STATE_QUEUED and job.start_time is None
    running = registry.update_job(job.name, state="PIPELINE_STATE_RUNNING", run_info={"backend": "local"})
    assert running.start_time is not None and running.end_time is None
    with pytest.raises(FailedPreconditionError, match="cancel it and let it end"):
        registry.delete_job(job.name)
    cancelling = registry.cancel_job(job.name)
    assert cancelling.state is PipelineState.PIPELINE_STATE_CANCELLING
    with pytest.raises(FailedPreconditionError, match="is being cancelled"):
        registry.update_job(job.name, state=PipelineState.PIPELINE_STATE_RUNNING)
    ended = registry.update_job(
        job.name, state=PipelineState.PIPELINE_STATE_CANCELLED, error=Status(1, "cancelled"), run_info={"step": "train"}
    )
    assert ended.end_time >= ended.start_time and ended.run_info == {"backend": "local", "step": "train"}
    doc = registry.get_training_pipeline(job.name).to_dict()
    assert doc["state"] == "PIPELINE_STATE_CANCELLED" and doc["error"] == {"code": 1, "message": "cancelled"}
    with pytest.raises(FailedPreconditionError, match="already ended"):
        registry.update_job(job.name, state="PIPELINE_STATE_SUCCEEDED")
    with pytest.raises(FailedPreconditionError, match="nothing to cancel"):
        registry.cancel_job(job.name)
    with pytest.raises(ValueError, match="not a valid PipelineState"):
        registry.update_job(make_pipeline(registry).name, state="JOB_STATE_RUNNING")
    registry.delete_job(job.name)
    with pytest.raises(NotFoundError):
        registry.get_training_pipeline(job.name)


def test_batch_prediction_job_keeps_twenty_partial_failures(registry):
    model = make_model(registry)
    job = registry.create_batch_prediction_job(
        P,
        L,
        display_name="predict",
        model=model.name,
        input_config={"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://b/in.jsonl"]}},
        output_config={"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "gs://b/out"}},
    )
    assert (job.state, job.model_version_id) == (JobState.JOB_STATE_QUEUED, "1")
    done = registry.update_job(
        job.name,
        state=JobState.JOB_STATE_SUCCEEDED,
        partial_failures=[Status(3, f"row {i}") for i in range(30)],
        completion_stats={"successfulCount": "5", "failedCount": "30", "incompleteCount": "0"},
        output_info={"gcsOutputDirectory": "gs://b/out/prediction-x"},
    )
    assert len(done.partial_failures) == 20 and done.partial_failures[0] == Status(3, "row 0")
    doc = registry.get_batch_prediction_job(job.name).to_dict()
    assert doc["model"] == model.name and doc["modelVersionId"] == "1"
    assert doc["outputInfo"]["gcsOutputDirectory"] == "gs://b/out/prediction-x" and len(doc["partialFailures"]) == 20
    with pytest.raises(ValueError, match="model_to_upload cannot be set on a batch prediction job"):
        registry.update_job(job.name, model_to_upload={})


# -- versions and aliases ----------------------------------------------------------------------------


def test_version_ids_aliases_and_the_default_alias(registry):
    first = make_model(registry, is_default_version=False, version_aliases=["golden"])
    assert (first.version_id, sorted(first.version_aliases)) == ("1", ["default", "golden"])
    second = make_model(registry, parent_model=first.resource_id, is_default_version=False, version_aliases=["canary"])
    assert (second.name, second.version_id, second.version_aliases) == (first.name, "2", ["canary"])
    assert registry.get_model(first.name).version_id == "1"
    third = make_model(registry, parent_model=first.name, version_aliases=["golden"])
    assert sorted(third.version_aliases) == ["default", "golden"]  # both moved to the new version
    assert registry.get_model(first.name).version_id == "3"
    assert registry.get_model(f"{first.name}@golden").version_id == "3"
    assert registry.get_model(f"{first.name}@canary").version_id == "2"
    assert registry.get_model(f"{first.name}@1").version_aliases == []

    moved = registry.merge_version_aliases(f"{first.name}@1", ["default"])
    assert moved.is_default_version and registry.get_model(first.name).version_id == "1"
    with pytest.raises(ValueError, match="cannot be removed, only moved"):
        registry.merge_version_aliases(f"{first.name}@1", ["-default"])
    with pytest.raises(ValueError, match="has no alias 'canary' to remove"):
        registry.merge_version_aliases(f"{first.name}@1", ["-canary"])
    assert registry.merge_version_aliases(f"{first.name}@canary", ["-canary"]).version_aliases == []

    with pytest.raises(FailedPreconditionError, match="is the default version"):
        registry.delete_model_version(f"{first.name}@default")
    registry.delete_model_version(f"{first.name}@3")
    with pytest.raises(NotFoundError, match="has no version 3"):
        registry.get_model(f"{first.name}@3")
    with pytest.raises(NotFoundError, match="no version with alias 'golden'"):
        registry.get_model(f"{first.name}@golden")  # deleted with its version
    assert make_model(registry, parent_model=first.name).version_id == "4"  # version IDs are not reused
    assert [v.version_id for v in registry.list_model_versions(first.name).items] == ["1", "2", "4"]
    assert len(registry.list_models(P, L).items) == 1


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"version_aliases": ["2"]}, ValueError, "looks like a version ID"),
        ({"version_aliases": ["Golden"]}, ValueError, "must match"),
        ({"version_aliases": ["a"]}, ValueError, "must match"),
        ({"version_aliases": ["golden-"]}, ValueError, "must match"),
        ({"version_aliases": ["x" * 129]}, ValueError, "must match"),
        ({"version_aliases": ["golden", "golden"]}, ValueError, "given more than once"),
        ({"version_aliases": "golden"}, ValueError, "list of strings"),
        (
            {"version_aliases": ["default"], "is_default_version": False, "parent_model": "PARENT"},
            ValueError,
            "contradicts",
        ),
        ({"parent_model": "PARENT@1"}, ValueError, "not one of its versions"),
        ({"parent_model": "999"}, NotFoundError, "models/999 not found"),
        ({"model_id": "Bad"}, ValueError, "model_id 'Bad' is not valid"),
        ({"display_name": ""}, ValueError, "display_name is required"),
        ({"display_name": "x" * 129}, ValueError, "at most 128"),
    ],
)
def test_invalid_model_uploads_are_rejected(registry, kwargs, error, message):
    parent = make_model(registry)
    kwargs = {k: v.replace("PARENT", parent.resource_id) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(error, match=message):
        registry.upload_model(P, L, **{"display_name": "m", "artifact_uri": "/m", "model_type": "CLOUD", **kwargs})
    assert [v.version_id for v in registry.list_model_versions(parent.name).items] == ["1"]


def test_evaluations_belong_to_a_version_and_answer_to_both_name_forms(registry):
    overall = {
        "annotationSpecId": "",
        "evaluatedExampleCount": 6,
        "classificationEvaluationMetrics": {"auPrc": 0.9, "confidenceMetricsEntry": []},
    }
    per_label = {
        "annotationSpecId": "2",
        "displayName": "left",
        "evaluatedExampleCount": 3,
        "classificationEvaluationMetrics": {"auPrc": 0.8},
    }
    model = make_model(registry, evaluations=[NewModelEvaluation.from_automl_json(d) for d in (overall, per_label)])
    newer = make_model(registry, parent_model=model.name)
    assert registry.list_model_evaluations(newer.versioned_name).items == []
    evaluations = registry.list_model_evaluations(f"{model.name}@1").items
    assert [(e.annotation_spec_id, e.display_name) for e in evaluations] == [(None, ""), ("2", "left")]
    only_overall = registry.list_model_evaluations(f"{model.name}@1", filter="NOT annotation_spec_id:*").items
    assert [e.name for e in only_overall] == [evaluations[0].name]
    automl = evaluations[1].to_automl_dict()
    assert "/modelEvaluations/" in automl["name"] and automl["classificationEvaluationMetrics"] == {"auPrc": 0.8}
    assert registry.get_model_evaluation(automl["name"]).name == evaluations[1].name
    vertex = evaluations[0].to_dict()
    assert vertex["metrics"] == {"auPrc": 0.9, "confidenceMetrics": []} and vertex["modelVersionId"] == "1"
    registry.delete_model(model.name)
    with pytest.raises(NotFoundError):
        registry.get_model_evaluation(evaluations[0].name)


def test_an_evaluation_reads_back_under_the_metrics_field_of_its_schema(registry):
    """Prediction types without an AutoML metrics message write theirs the same way; they come back so."""
    document = {
        "annotationSpecId": "",
        "evaluatedExampleCount": 4,
        "videoActionRecognitionMetrics": {"evaluatedActionCount": 4, "videoActionMetrics": []},
    }
    model = make_model(registry, evaluations=[NewModelEvaluation.from_automl_json(document)])
    [evaluation] = registry.list_model_evaluations(model.name).items
    assert evaluation.metrics_schema_uri == METRICS_SCHEMAS["videoActionRecognitionMetrics"]
    automl = evaluation.to_automl_dict()
    assert automl["videoActionRecognitionMetrics"] == document["videoActionRecognitionMetrics"]
    assert "classificationEvaluationMetrics" not in automl


# -- filters, order, pages ---------------------------------------------------------------------------


@pytest.fixture
def catalogue(registry):
    """Datasets with known names and labels, created in this order."""
    specs = [
        ("alpha", {"env": "prod", "team": "vision"}),
        ("beta", {"env": "dev"}),
        ("gamma", {"env": "prod"}),
        ("alphabet", {}),
        ("delta", {"team": "audio"}),
    ]
    return [make_dataset(registry, name, labels=labels) for name, labels in specs]


@pytest.mark.parametrize(
    "expression, expected",
    [
        ('display_name="alpha"', ["alpha"]),
        ("displayName=beta", ["beta"]),
        ('display_name!="alpha"', ["beta", "gamma", "alphabet", "delta"]),
        ('regex(display_name, "^alpha")', ["alpha", "alphabet"]),
        ('regex(display_name, "ta$")', ["beta", "delta"]),
        ('display_name:"*ph*"', ["alpha", "alphabet"]),
        ("labels.env=prod", ["alpha", "gamma"]),
        ("labels.env!=prod", ["beta", "alphabet", "delta"]),
        ("labels:team", ["alpha", "delta"]),
        ("labels.team:*", ["alpha", "delta"]),
        ("NOT labels:env", ["alphabet", "delta"]),
        ("labels.env=prod AND labels.team=vision", ["alpha"]),
        ("labels.env=prod labels.team=vision", ["alpha"]),
        # OR binds tighter than AND (AIP-160): prod AND (vision OR audio)
        ("labels.env=prod AND labels.team=vision OR labels.team=audio", ["alpha"]),
        ("(labels.env=prod AND labels.team=vision) OR labels.team=audio", ["alpha", "delta"]),
        ('create_time>"2000-01-01T00:00:00Z"', ["alpha", "beta", "gamma", "alphabet", "delta"]),
        ('create_time<"2000-01-01T00:00:00Z"', []),
    ],
)
def test_list_filters(registry, catalogue, expression, expected):
    page = registry.list_datasets(P, L, filter=expression)
    assert [d.display_name for d in page.items] == expected


@pytest.mark.parametrize(
    "expression, message",
    [
        (
            "colour=red",
            "unknown field 'colour'; filterable fields: create_time, display_name, labels, prediction_type, update_time, video_classification_dataset_metadata, video_object_tracking_dataset_metadata",
        ),
        ('display_name="open', "unterminated string at position 13"),
        ("display_name=", "expected a value after '=' at the end"),
        ("(display_name=a", r"expected '\)' at the end"),
        ("display_name=a)", r"unexpected '\)' at position 14"),
        ('regex(display_name, "(")', "invalid regular expression"),
        ("display_name>a", "compares timestamps only"),
        ('create_time>"yesterday"', "not an RFC 3339 timestamp"),
        ("labels=prod", "use labels.KEY=VALUE or labels:KEY"),
        ("a.b=c", "only labels.KEY has a dotted form"),
    ],
)
def test_invalid_filters_are_rejected_with_the_reason(registry, expression, message):
    with pytest.raises(ValueError, match=message):
        registry.list_datasets(P, L, filter=expression)


def test_filters_on_states_models_and_jobs(registry):
    dataset = make_dataset(registry)
    done = make_pipeline(registry, "done", dataset_id=dataset.resource_id)
    registry.update_job(done.name, state="PIPELINE_STATE_SUCCEEDED")
    make_pipeline(registry, "waiting")
    assert [
        j.display_name for j in registry.list_training_pipelines(P, L, filter="state=PIPELINE_STATE_SUCCEEDED").items
    ] == ["done"]
    assert [
        j.display_name for j in registry.list_training_pipelines(P, L, filter=f"dataset_id={dataset.resource_id}").items
    ] == ["done"]
    with pytest.raises(ValueError, match="state 'SUCCEEDED' is not one of PIPELINE_STATE_UNSPECIFIED"):
        registry.list_training_pipelines(P, L, filter="state=SUCCEEDED")
    make_model(registry, "from-data", dataset_id=dataset.resource_id)
    make_model(registry, "other")
    assert [m.display_name for m in registry.list_models(P, L, filter=f"dataset_id={dataset.resource_id}").items] == [
        "from-data"
    ]
    assert [m.display_name for m in registry.list_models(P, L, filter='regex(display_name, "^oth")').items] == ["other"]


def test_order_by_and_pagination(registry, catalogue):
    by_name = [d.display_name for d in registry.list_datasets(P, L, order_by="display_name").items]
    assert by_name == ["alpha", "alphabet", "beta", "delta", "gamma"]
    newest_first = [d.display_name for d in registry.list_datasets(P, L, order_by="createTime desc").items]
    assert newest_first == ["delta", "alphabet", "gamma", "beta", "alpha"]

    seen, token, pages = [], None, 0
    while True:
        page = registry.list_datasets(P, L, order_by="display_name desc", page_size=2, page_token=token)
        seen += [d.display_name for d in page.items]
        pages += 1
        if pages == 1:  # deleting an already listed and a not yet listed dataset between pages
            registry.delete_dataset(catalogue[2].name)  # gamma (listed)
            registry.delete_dataset(catalogue[1].name)  # beta (not yet)
        token = page.next_page_token
        if not token:
            break
    assert seen == ["gamma", "delta", "alphabet", "alpha"] and pages == 2

    first = registry.list_datasets(P, L, page_size=1)
    with pytest.raises(ValueError, match="different parent, filter or order_by"):
        registry.list_datasets(P, L, page_size=1, page_token=first.next_page_token, order_by="display_name")
    with pytest.raises(ValueError, match="not a token this registry issued"):
        registry.list_datasets(P, L, page_token="garbage")
    with pytest.raises(ValueError, match="unknown field 'size'"):
        registry.list_datasets(P, L, order_by="size")
    with pytest.raises(ValueError, match="is not 'FIELD' or 'FIELD desc'"):
        registry.list_datasets(P, L, order_by="display_name sideways")
    with pytest.raises(ValueError, match="page_size must be a positive integer"):
        registry.list_datasets(P, L, page_size=-1)
    assert registry.list_datasets("other-project", L).items == []


def test_python_filters_over_data_items():
    item = {"ml_use": "TRAIN", "label": ["car", "bus"], "uri": ["gs://b/v/a.avi"], "labels": {"k": "v"}}
    fields = {name: filters.Field(filters.FieldKind.STRING) for name in ("ml_use", "label", "uri")}
    fields["labels"] = filters.Field(filters.FieldKind.LABELS)
    for expression, expected in [
        ("ml_use=TRAIN", True),
        ("label=car", True),
        ("label=truck", False),
        ("label!=truck", True),
        ('uri:"*.avi"', True),
        ('uri:"*.mp4"', False),
        ("labels.k=v AND NOT label=bus", False),
        ("labels.k=v AND (label=bus OR label=truck)", True),
    ]:
        node = filters.parse(expression)
        filters.check_fields(node, fields)
        assert filters.matches(node, item) is expected, expression


# -- concurrency -------------------------------------------------------------------------------------


def _write_many(url: str, worker: int, count: int, model_name: str, start_at: float) -> list[tuple[str, str]]:
    """One process's writes: datasets and versions of one shared model, interleaved, all processes
    starting together."""
    created = []
    with Registry(url) as registry:
        time.sleep(max(0.0, start_at - time.time()))
        for i in range(count):
            dataset = make_dataset(registry, f"w{worker}-{i}")
            registry.update_dataset(dataset.name, data_item_count=i)  # reads, then writes
            version = make_model(
                registry, f"w{worker}-{i}", parent_model=model_name, version_aliases=[f"w{worker}-{i}"]
            )
            created.append((dataset.resource_id, version.version_id))
    return created


def test_concurrent_writers_from_several_processes(registry):
    model = make_model(registry)
    workers, count = 4, 25
    start_at = time.time() + 5.0  # after every process has started and opened the registry
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.starmap(_write_many, [(registry.url, w, count, model.name, start_at) for w in range(workers)])
    dataset_ids = sorted(int(d) for result in results for d, _ in result)
    version_ids = sorted(int(v) for result in results for _, v in result)
    assert dataset_ids == list(range(1, workers * count + 1))
    counts = sorted(d.data_item_count for d in registry.list_datasets(P, L, page_size=1000).items)
    assert counts == sorted(list(range(count)) * workers)
    assert version_ids == list(range(2, workers * count + 2))
    versions = registry.list_model_versions(model.name, page_size=1000).items
    assert len(versions) == workers * count + 1
    assert [v.version_id for v in versions if v.is_default_version] == [str(workers * count + 1)]
