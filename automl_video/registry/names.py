"""Resource names as Vertex AI and AutoML write them, and ``model@version`` / ``model@alias`` references.

Names look like ``projects/{project}/locations/{location}/{collection}/{id}``. Model evaluations live
under their model: Vertex calls the collection ``evaluations``, AutoML v1beta1 ``modelEvaluations``;
both parse, the registry stores the Vertex form. Anywhere a name is expected, a bare ID also works
when the project and location are known (the SDK's ``init``).
"""

import re
from dataclasses import dataclass

DATASETS = "datasets"
MODELS = "models"
TRAINING_PIPELINES = "trainingPipelines"
BATCH_PREDICTION_JOBS = "batchPredictionJobs"
OPERATIONS = "operations"
EVALUATIONS = "evaluations"
AUTOML_EVALUATIONS = "modelEvaluations"
TOP_LEVEL_COLLECTIONS = (DATASETS, MODELS, TRAINING_PIPELINES, BATCH_PREDICTION_JOBS, OPERATIONS)

_PROJECT_OR_LOCATION = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Vertex: "up to 63 characters, valid characters are [a-z0-9_-]. The first character cannot be a number
# or hyphen." Registry-made IDs are decimal numbers, so a user-chosen ID never collides with one.
USER_ID_PATTERN = re.compile(r"[a-z_][a-z0-9_-]{0,62}")
_NUMERIC_ID = re.compile(r"[0-9]{1,19}")
_NAME = re.compile(
    r"projects/(?P<project>[^/@]+)/locations/(?P<location>[^/@]+)/(?P<collection>[A-Za-z]+)/(?P<id>[^/@]+)"
    r"(?:@(?P<version>[^/@]+))?"
    r"(?:/(?P<child_collection>evaluations|modelEvaluations)/(?P<child_id>[^/@]+))?"
)


@dataclass(frozen=True)
class ParsedName:
    """The parts of a resource name; ``version`` is the ``@…`` suffix of a model, if any."""

    project: str
    location: str
    collection: str
    resource_id: str
    version: str | None = None
    evaluation_id: str | None = None

    @property
    def parent(self) -> str:
        return location_path(self.project, self.location)

    @property
    def top_level_name(self) -> str:
        """The name without any ``@version`` or child (the model of an evaluation)."""
        return resource_name(self.project, self.location, self.collection, self.resource_id)


def validate_project_and_location(project: str, location: str) -> None:
    for what, value in (("project", project), ("location", location)):
        if not isinstance(value, str) or not _PROJECT_OR_LOCATION.fullmatch(value):
            raise ValueError(
                f"{what} {value!r} is not valid: use lowercase letters, digits and '-', starting with a "
                "letter or digit, at most 63 characters"
            )


def location_path(project: str, location: str) -> str:
    validate_project_and_location(project, location)
    return f"projects/{project}/locations/{location}"


def resource_name(project: str, location: str, collection: str, resource_id: str) -> str:
    if collection not in TOP_LEVEL_COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}; expected one of {', '.join(TOP_LEVEL_COLLECTIONS)}")
    return f"{location_path(project, location)}/{collection}/{resource_id}"


def evaluation_name(model_name: str, evaluation_id: str, automl: bool = False) -> str:
    """The name of an evaluation of ``model_name``: Vertex ``evaluations`` or AutoML ``modelEvaluations``."""
    model = parse(model_name).top_level_name
    return f"{model}/{AUTOML_EVALUATIONS if automl else EVALUATIONS}/{evaluation_id}"


def to_vertex(name: str) -> str:
    """An AutoML v1beta1 name in its Vertex form (only evaluation names differ)."""
    return name.replace(f"/{AUTOML_EVALUATIONS}/", f"/{EVALUATIONS}/")


def to_automl(name: str) -> str:
    """A name in its AutoML v1beta1 form (evaluations are ``modelEvaluations``)."""
    return name.replace(f"/{EVALUATIONS}/", f"/{AUTOML_EVALUATIONS}/")


def parse(name: str) -> ParsedName:
    """Split a full resource name into its parts; ValueError names what is malformed."""
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if not match:
        raise ValueError(
            f"{name!r} is not a resource name like projects/P/locations/L/{{{', '.join(TOP_LEVEL_COLLECTIONS)}}}/ID"
        )
    parts = match.groupdict()
    validate_project_and_location(parts["project"], parts["location"])
    if parts["collection"] not in TOP_LEVEL_COLLECTIONS:
        raise ValueError(f"{name!r}: unknown collection {parts['collection']!r}")
    if (parts["version"] or parts["child_collection"]) and parts["collection"] != MODELS:
        raise ValueError(f"{name!r}: only models have versions and evaluations")
    return ParsedName(
        project=parts["project"],
        location=parts["location"],
        collection=parts["collection"],
        resource_id=parts["id"],
        version=parts["version"],
        evaluation_id=parts["child_id"],
    )


def expand(name_or_id: str, collection: str, project: str | None, location: str | None) -> str:
    """A full name from a full name or a bare ID (``"123"``, ``"123@2"`` for models).

    Raises:
        ValueError: the name is of another collection, or an ID is given without project and location.
    """
    if not isinstance(name_or_id, str) or not name_or_id:
        raise ValueError(f"a {collection} resource name or ID is required, got {name_or_id!r}")
    if name_or_id.startswith("projects/"):
        parsed = parse(name_or_id)
        if parsed.collection != collection:
            raise ValueError(f"{name_or_id!r} is not a {collection} resource name")
        return name_or_id
    if "/" in name_or_id:
        raise ValueError(f"{name_or_id!r} is neither a full {collection} resource name nor an ID")
    if not project or not location:
        raise ValueError(f"{name_or_id!r} is an ID: give project and location (or call init) to resolve it")
    return f"{resource_name(project, location, collection, name_or_id)}"


def validate_user_model_id(model_id: str) -> None:
    if not isinstance(model_id, str) or not USER_ID_PATTERN.fullmatch(model_id):
        raise ValueError(
            f"model_id {model_id!r} is not valid: up to 63 characters of [a-z0-9_-], "
            "and the first character cannot be a number or hyphen"
        )


def is_numeric_id(value: str) -> bool:
    return bool(_NUMERIC_ID.fullmatch(value))


@dataclass(frozen=True)
class ModelReference:
    """A model and, optionally, which version: a version ID (``"2"``) or an alias (``"golden"``)."""

    model_name: str
    version: str | None = None

    @property
    def is_version_id(self) -> bool:
        return self.version is not None and is_numeric_id(self.version)

    def __str__(self) -> str:
        return f"{self.model_name}@{self.version}" if self.version else self.model_name


def parse_model_reference(ref: str, project: str | None = None, location: str | None = None) -> ModelReference:
    """``models/1``, ``models/1@2``, ``models/1@golden`` (full names or IDs) as a :class:`ModelReference`."""
    full = expand(ref, MODELS, project, location)
    parsed = parse(full)
    if parsed.evaluation_id is not None:
        raise ValueError(f"{ref!r} names a model evaluation, not a model")
    if parsed.version is not None and not parsed.version:
        raise ValueError(f"{ref!r}: empty version after '@'")
    return ModelReference(parsed.top_level_name, parsed.version)
