"""Times as AutoML writes them: RFC 3339 timestamps, seconds in CSVs and proto3 JSON Durations."""

import datetime as dt
import math
from typing import Any

from google.protobuf import duration_pb2

_INFINITY_WORDS = {"inf", "infinity", "+inf", "+infinity"}


def rfc3339_now() -> str:
    """The current UTC time with milliseconds (``2026-12-01T23:07:00.123Z``), as AutoML writes it."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def format_seconds(value: float) -> str:
    """Seconds as AutoML writes them in CSVs and proto Durations (``inf`` stays ``inf``)."""
    if math.isinf(value):
        return "inf"
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def parse_seconds(text: str) -> float:
    """A CSV time: seconds as a decimal number, or ``inf`` / ``Infinity`` for the end of the video."""
    cleaned = text.strip()
    if cleaned.lower() in _INFINITY_WORDS:
        return math.inf
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds or 'inf'") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a number of seconds or 'inf'")
    return value


def parse_duration(value: Any) -> float:
    """A Vertex time offset: a proto Duration string (``"10s"``, ``"1.5s"``), ``"Infinity"`` or a number."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like '10s' or 'Infinity'")
    if isinstance(value, (int, float)):
        if math.isnan(value):
            raise ValueError(f"{value!r} is not a duration like '10s' or 'Infinity'")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration like '10s' or 'Infinity'")
    if value.strip().lower() in _INFINITY_WORDS:
        return math.inf
    duration = duration_pb2.Duration()
    try:
        duration.FromJsonString(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a duration like '10s', '1.5s' or 'Infinity'") from None
    return duration.ToNanoseconds() / 1e9


def format_duration(seconds: float) -> str:
    """Seconds as a proto3 JSON Duration (``"1.500s"``, ``"10s"``), rounded to the microsecond."""
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(seconds * 1e6) * 1000)
    return duration.ToJsonString()
