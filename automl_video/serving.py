"""The serving gate: a newly trained model serves only when its AU-PRC is at least the serving one's.

A serving root (any URL) holds ``versions/<id>/`` (every promoted model, kept for rollback),
``current/`` (a copy of the serving one, a stable URI for batch prediction) and ``serving.json``
(:class:`ServingPointer`), rewritten last so that the gate of a later run compares against a model
that is fully in place. Operators roll back by copying a version to ``current/`` and editing
``serving.json``, so the pointer is read as leniently as it always was: only ``au_prc`` is required.
"""

import dataclasses
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.times import rfc3339_now

log = logging.getLogger(__name__)

SERVING_POINTER = "serving.json"
SERVING_CURRENT = "current"
SERVING_VERSIONS = "versions"


@dataclass(frozen=True)
class PreviousServing:
    """The model a promotion replaced, as recorded in the new pointer."""

    version_uri: str
    au_prc: float
    promoted_at: str


@dataclass(frozen=True)
class ServingPointer:
    """``<serving_root>/serving.json``: which model serves, from where, how good, since when.

    ``model_uri`` is ``<serving_root>/current``; ``version_uri`` the kept copy under ``versions/``;
    ``source_model_uri`` the model folder it was promoted from (the training run's artifact);
    ``evaluations_uri`` the ``evaluations.json`` its AU-PRC came from (a cached evaluation of an earlier
    run included, which is how the SDK finds the evaluations of a run whose tasks were cache hits).
    """

    model_uri: str
    version_uri: str
    source_model_uri: str
    model_display_name: str
    au_prc: float
    promoted_at: str
    previous: PreviousServing | None
    evaluations_uri: str = ""

    def to_json(self) -> dict[str, Any]:
        """The document as the gate has always written it (same keys, same order), ``evaluations_uri``
        last when there is one (a pointer written before it existed reads and writes back unchanged)."""
        doc = dataclasses.asdict(self)
        if not self.evaluations_uri:
            del doc["evaluations_uri"]
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "ServingPointer":
        """Raises KeyError, TypeError or ValueError on a document without a numeric ``au_prc``."""
        previous = doc.get("previous")
        return cls(
            model_uri=str(doc.get("model_uri", "")),
            version_uri=str(doc.get("version_uri", "")),
            source_model_uri=str(doc.get("source_model_uri", "")),
            model_display_name=str(doc.get("model_display_name", "")),
            au_prc=float(doc["au_prc"]),
            promoted_at=str(doc.get("promoted_at", "")),
            previous=PreviousServing(
                version_uri=str(previous.get("version_uri", "")),
                au_prc=float(previous["au_prc"]),
                promoted_at=str(previous.get("promoted_at", "")),
            )
            if previous
            else None,
            evaluations_uri=str(doc.get("evaluations_uri", "")),
        )


@dataclass
class PromotionResult:
    """The gate's decision: ``serving_model_uri`` is the model serving after it (maybe unchanged)."""

    promoted: bool
    au_prc: float
    previous_au_prc: float | None
    serving_model_uri: str
    version_uri: str
    pointer_uri: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_serving_pointer(serving_root: str) -> ServingPointer | None:
    """The pointer of a serving root, None before the first promotion.

    Raises:
        AutoMLVideoError: ``serving.json`` is not JSON or has no numeric ``au_prc``; names the file.
    """
    pointer_uri = storage.join(serving_root, SERVING_POINTER)
    if not storage.exists(pointer_uri):
        return None
    try:
        return ServingPointer.from_json(storage.read_json(pointer_uri))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise AutoMLVideoError(f"{pointer_uri}: not a valid serving pointer ({e}); fix or remove it") from e


def write_serving_pointer(serving_root: str, pointer: ServingPointer) -> str:
    """Write ``<serving_root>/serving.json`` (atomically); returns its URI."""
    pointer_uri = storage.join(serving_root, SERVING_POINTER)
    storage.write_json(pointer_uri, pointer.to_json())
    return pointer_uri


def promote_if_better(
    model_uri: str,
    au_prc: float,
    serving_root: str,
    model_display_name: str = "",
    source_uri: str = "",
    evaluations_uri: str = "",
) -> PromotionResult:
    """Make ``model_uri`` the serving model when its overall AU-PRC is at least the current one's.

    A promoted model is copied to ``<serving_root>/versions/<id>`` and to ``<serving_root>/current``;
    the pointer is rewritten last. Without a serving root the gate is off: nothing is promoted and the
    result's ``pointer_uri`` is empty (the training pipeline runs its gate task either way, so the
    step recording the run can follow it).

    Args:
        model_uri: the newly trained model folder.
        au_prc: its overall AU-PRC on the TEST split.
        serving_root: folder (any URL) of the serving model; "" for no gate.
        model_display_name: recorded in the pointer.
        source_uri: where the model is kept for the record (its artifact URI), default ``model_uri``.
        evaluations_uri: the ``evaluations.json`` of ``au_prc``, recorded in the pointer.

    Returns:
        Whether it was promoted and which model serves now.
    """
    if not serving_root:
        return PromotionResult(False, au_prc, None, "", "", "", "no serving root given: the gate is off")
    pointer_uri = storage.join(serving_root, SERVING_POINTER)
    current_uri = storage.join(serving_root, SERVING_CURRENT)
    current = read_serving_pointer(serving_root)
    previous = current.au_prc if current else None
    if current is not None and au_prc < current.au_prc:
        reason = f"AU-PRC {au_prc:.4f} is below the serving model's {current.au_prc:.4f}; the serving model stays"
        log.info("gate: %s", reason)
        return PromotionResult(False, au_prc, previous, current_uri, current.version_uri, pointer_uri, reason)
    version = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    version_uri = storage.join(serving_root, SERVING_VERSIONS, version)
    with storage.local_dir(model_uri) as local_model:
        storage.publish_dir(local_model, version_uri)
        storage.publish_dir(local_model, current_uri)
    pointer = ServingPointer(
        model_uri=current_uri,
        version_uri=version_uri,
        source_model_uri=source_uri or model_uri,
        model_display_name=model_display_name,
        au_prc=au_prc,
        promoted_at=rfc3339_now(),
        previous=PreviousServing(current.version_uri, current.au_prc, current.promoted_at) if current else None,
        evaluations_uri=evaluations_uri,
    )
    write_serving_pointer(serving_root, pointer)
    reason = (
        "first model of this serving root"
        if current is None
        else f"AU-PRC {au_prc:.4f} is at least the serving model's {current.au_prc:.4f}"
    )
    log.info("gate: promoted %s -> %s (%s)", model_uri, current_uri, reason)
    return PromotionResult(True, au_prc, previous, current_uri, version_uri, pointer_uri, reason)
