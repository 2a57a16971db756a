"""Times as AutoML writes them: proto3 JSON Durations and CSV seconds."""

import math

import pytest

from automl_video.times import format_duration, parse_duration


def test_durations_parse_and_format_as_proto_json():
    assert parse_duration("10s") == 10.0 and parse_duration("1.5s") == 1.5 and math.isinf(parse_duration("Infinity"))
    assert format_duration(1.5) == "1.500s" and format_duration(10) == "10s" and format_duration(0) == "0s"
    with pytest.raises(ValueError):
        parse_duration("10 seconds")
