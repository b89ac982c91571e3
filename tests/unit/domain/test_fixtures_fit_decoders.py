"""FIT: the fast decoder (fitfast) and the fallback (fitdecode) give the same ParsedActivity on every file."""

import numpy as np
import pytest

import domain.formats.fit as fit
from domain.formats import parse_activity_file
from domain.track import CHANNELS

FIT_FILES = ["4078723797.fit", "6449921903_ACTIVITY.fit", "6471559601_ACTIVITY.fit", "enhanced_fields_run.fit"]


def _via_fitdecode(data: bytes, monkeypatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(fit, "fitfast", None)
        return parse_activity_file(data, "fit")


def _same(a, b) -> None:
    for ch in CHANNELS:
        assert np.array_equal(getattr(a.track, ch), getattr(b.track, ch), equal_nan=True), ch
    for key in ("sport", "start_time", "laps", "session_totals", "sessions", "timed", "name"):
        assert getattr(a, key) == getattr(b, key), key


@pytest.mark.parametrize("name", FIT_FILES)
def test_fitfast_and_fitdecode_decode_every_file_identically(fixtures_dir, name, monkeypatch):
    assert fit.fitfast is not None, "fitfast is a dependency (pyproject.toml): the fast path must be tested"
    data = (fixtures_dir / name).read_bytes()
    fast = parse_activity_file(data, "fit")
    _same(fast, _via_fitdecode(data, monkeypatch))
    assert len(fast.track) > 0


def test_enhanced_only_records_are_read(fixtures_dir):
    p = parse_activity_file((fixtures_dir / "enhanced_fields_run.fit").read_bytes(), "fit")
    assert p.sport == "running" and len(p.track) == 120 and len(p.laps) == 1
    assert p.track.alt[:3] == pytest.approx([200.0, 200.4, 200.8])  # 0.37 m steps on the 0.2 m FIT grid
    assert p.track.speed[:2] == pytest.approx([3.0, 3.013])


def test_a_file_fitfast_refuses_is_read_by_fitdecode(fixtures_dir, monkeypatch):
    """A bad CRC: fitfast refuses the file, fitdecode only warns, so the upload still works as before."""
    good = (fixtures_dir / "6449921903_ACTIVITY.fit").read_bytes()
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    with pytest.raises(ValueError):
        fit.fitfast.records(bad)
    with pytest.warns(UserWarning, match="CRC"):
        parsed = parse_activity_file(bad, "fit")
    with pytest.warns(UserWarning, match="CRC"):
        _same(parsed, _via_fitdecode(bad, monkeypatch))
    _same(parsed, parse_activity_file(good, "fit"))
