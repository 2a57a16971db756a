"""The confidence thresholds AutoML Video reports its metrics at (``confidenceMetrics`` entries:
0.05, 0.10 … 0.95, then 0.96 … 0.99), shared by every prediction type's metrics and reports."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

CONFIDENCE_THRESHOLDS: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(1, 20)) + (0.96, 0.97, 0.98, 0.99)


class _AtThreshold(Protocol):
    confidence_threshold: float


Entry = TypeVar("Entry", bound=_AtThreshold)


def entry_at_threshold(entries: Sequence[Entry], threshold: float) -> Entry:
    """The entry of ``threshold``, which must be one of :data:`CONFIDENCE_THRESHOLDS` (ValueError otherwise)."""
    for entry in entries:
        if abs(entry.confidence_threshold - threshold) < 1e-9:
            return entry
    raise ValueError(f"threshold {threshold} is not one of {CONFIDENCE_THRESHOLDS}")


@dataclass
class PrecisionRecallAt:
    """Precision, recall and F1 at one confidence threshold: the ``confidenceMetrics`` entry of the action
    recognition and object tracking messages (classification's entry has many more fields)."""

    confidence_threshold: float
    recall: float
    precision: float
    f1_score: float

    def to_proto_json(self) -> dict[str, Any]:
        return {
            "confidenceThreshold": self.confidence_threshold,
            "recall": self.recall,
            "precision": self.precision,
            "f1Score": self.f1_score,
        }
