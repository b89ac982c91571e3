"""The upload schema's list caps (issue 9 #5): refused while decoding, before any of the list is used."""

from __future__ import annotations

import json

import pytest

from domain.errors import Invalid
from serve_app.schemas.samples import decode_upload

START = "2026-11-01T07:30:00Z"


def _body(**extra: object) -> bytes:
    return json.dumps({"type": "running", "start_time": START, "duration": 600, **extra}).encode()


def test_a_thousand_laps_decode_and_one_more_is_refused_naming_the_field() -> None:
    lap = {"start": 0, "end": 1}
    assert len(decode_upload(_body(laps=[lap] * 1000)).laps) == 1000
    with pytest.raises(Invalid) as refused:
        decode_upload(_body(laps=[lap] * 1001))
    assert "laps" in str(refused.value.details)


def test_a_thousand_sets_decode_and_one_more_is_refused_naming_the_field() -> None:
    one = {"exercise": "squat", "reps": 5, "weight_kg": 100}
    assert len(decode_upload(_body(type="weightlifting", sets=[one] * 1000)).sets) == 1000
    with pytest.raises(Invalid) as refused:
        decode_upload(_body(type="weightlifting", sets=[one] * 1001))
    assert "sets" in str(refused.value.details)
