import pytest

from domain.strength import StrengthSet, estimated_1rm, strength_summary


def test_epley_estimate_and_single_rep_is_the_weight():
    assert estimated_1rm(100.0, 5) == pytest.approx(100 * (1 + 5 / 30))
    assert estimated_1rm(140.0, 1) == 140.0
    assert estimated_1rm(0.0, 10) == 0.0


def test_summary_totals_volume_sets_and_best_1rm_per_exercise():
    sets = [
        StrengthSet("squat", 5, 100.0),
        StrengthSet("squat", 3, 110.0),
        StrengthSet("bench", 8, 60.0),
        StrengthSet("pull-up", 10, 0.0),
    ]
    s = strength_summary(sets)
    assert s["sets"] == 4
    assert s["total_volume_kg"] == pytest.approx(500 + 330 + 480)
    assert s["best_1rm"]["squat"] == pytest.approx(max(100 * (1 + 5 / 30), 110 * 1.1), abs=0.01)
    assert s["best_1rm"]["bench"] == pytest.approx(60 * (1 + 8 / 30), abs=0.01)
    assert "pull-up" not in s["best_1rm"]
