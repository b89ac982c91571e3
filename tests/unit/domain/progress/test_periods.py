from datetime import date
from zoneinfo import ZoneInfo

import pytest

from domain.progress.periods import (
    next_period_start,
    normalise_period,
    period_end,
    period_start,
    period_starts,
    shift_periods,
)

from .progress_synth import at, run


def test_iso_week_starts_on_monday():
    # 2026-11-08 is a Sunday, 2026-11-09 a Monday.
    assert period_start(date(2026, 11, 8), "week") == date(2026, 11, 2)
    assert period_start(date(2026, 11, 9), "weekly") == date(2026, 11, 9)
    assert period_end(date(2026, 11, 4), "week") == date(2026, 11, 8)


def test_sunday_2330_local_is_sunday_even_when_utc_is_monday():
    f = run("a", at(2026, 11, 8, 23, 30, "America/New_York"))
    assert f.utc_start().date() == date(2026, 11, 9)
    assert f.local_date(ZoneInfo("America/New_York")) == date(2026, 11, 8)


def test_month_and_year_bounds_roll_over_december():
    assert next_period_start(date(2026, 12, 1), "month") == date(2027, 1, 1)
    assert period_end(date(2028, 2, 10), "month") == date(2028, 2, 29)
    assert period_end(date(2026, 6, 1), "year") == date(2026, 12, 31)


def test_shift_periods_moves_whole_periods_back_and_forth():
    assert shift_periods(date(2026, 3, 15), "month", -3) == date(2025, 12, 1)
    assert shift_periods(date(2026, 3, 15), "week", -1) == date(2026, 3, 2)
    assert shift_periods(date(2026, 3, 15), "year", 2) == date(2028, 1, 1)


def test_period_starts_lists_every_period_inclusive():
    assert period_starts(date(2026, 1, 31), date(2026, 3, 1), "month") == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert period_starts(date(2026, 3, 1), date(2026, 1, 1), "month") == []


def test_unknown_period_is_rejected():
    with pytest.raises(ValueError):
        normalise_period("fortnightly")
