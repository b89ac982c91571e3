from domain.progress import ActivityFact, UserStats

from .progress_synth import at, create, delete, of_type, run, update


def _five_k(aid: str, day: int, secs: float, **kw) -> ActivityFact:
    return run(aid, at(2026, 10, day), 5.2, best_efforts=(("5k", secs),), **kw)


def _history(s: UserStats, sport: str = "running", name: str = "5k") -> list[tuple[str, float]]:
    return [(h["activity_id"], h["value"]) for h in s.records()["best_efforts"][sport][name]["history"]]


def test_history_lists_each_improvement_in_start_order():
    s = UserStats("u")
    for aid, day, secs in [("a", 1, 1600.0), ("b", 5, 1650.0), ("c", 9, 1550.0), ("d", 12, 1550.0)]:
        create(s, _five_k(aid, day, secs))
    rec = s.records()["best_efforts"]["running"]["5k"]
    assert (rec["activity_id"], rec["value"], rec["unit"]) == ("c", 1550.0, "s")
    assert _history(s) == [("a", 1600.0), ("c", 1550.0)]  # an equal later time is not an improvement
    assert rec["history"][1]["achieved_at"] == "2026-10-09T12:00:00+00:00"


def test_late_upload_of_an_older_faster_effort_rewrites_history():
    s = UserStats("u")
    create(s, _five_k("a", 10, 1600.0))
    create(s, _five_k("b", 20, 1500.0))
    events = of_type(create(s, _five_k("old", 3, 1550.0)), "personal_record")
    assert _history(s) == [("old", 1550.0), ("b", 1500.0)]  # "a" was never a record
    assert [e for e in events if e["category"] == "best_effort"] == []  # "old" does not hold the 5k record now
    assert s.records()["longest"]["running"]["activity_id"] == "old"  # equal distances: the earliest holds it
    ev = of_type(create(s, _five_k("older", 1, 1400.0)), "personal_record")
    assert _history(s) == [("older", 1400.0)]
    assert [(e["name"], e["value"], e["previous"]["activity_id"]) for e in ev if e["category"] == "best_effort"] == [
        ("5k", 1400.0, "b")
    ]


def test_deleted_record_gives_way_to_the_next_best():
    s = UserStats("u")
    for aid, day, secs in [("a", 1, 1600.0), ("b", 5, 1500.0), ("c", 9, 1550.0)]:
        create(s, _five_k(aid, day, secs))
    delete(s, "b")
    rec = s.records()["best_efforts"]["running"]["5k"]
    assert (rec["activity_id"], rec["value"]) == ("c", 1550.0)
    assert _history(s) == [("a", 1600.0), ("c", 1550.0)]
    delete(s, "a")
    delete(s, "c")
    assert "running" not in s.records()["best_efforts"]


def test_edit_that_slows_a_record_hands_it_over():
    s = UserStats("u")
    create(s, _five_k("a", 1, 1600.0))
    create(s, _five_k("b", 5, 1500.0))
    update(s, _five_k("b", 5, 1700.0))
    assert _history(s) == [("a", 1600.0)]


def test_power_is_higher_is_better():
    s = UserStats("u")
    for aid, day, w in [("a", 1, 250.0), ("b", 2, 240.0), ("c", 3, 262.5)]:
        create(s, ActivityFact(aid, "cycling", at(2026, 10, day), best_efforts=(("20min_power", w),)))
    rec = s.records()["best_efforts"]["cycling"]["20min_power"]
    assert (rec["activity_id"], rec["value"], rec["unit"]) == ("c", 262.5, "W")
    assert [h["activity_id"] for h in rec["history"]] == ["a", "c"]


def test_longest_run_and_ride_and_biggest_climb_per_sport():
    s = UserStats("u")
    create(s, run("r1", at(2026, 10, 1), 21.1, elevation_gain_m=150))
    create(s, run("r2", at(2026, 10, 2), 10.0, elevation_gain_m=400))
    create(s, ActivityFact("c1", "cycling", at(2026, 10, 3), distance_m=90000, elevation_gain_m=1200))
    r = s.records()
    assert (r["longest"]["running"]["activity_id"], r["longest"]["running"]["value"]) == ("r1", 21100.0)
    assert r["longest"]["cycling"]["value"] == 90000.0
    assert (r["biggest_climb"]["running"]["activity_id"], r["biggest_climb"]["running"]["value"]) == ("r2", 400.0)
    assert r["biggest_climb"]["cycling"]["unit"] == "m"


def test_best_1rm_per_exercise_across_sessions():
    s = UserStats("u")
    create(s, ActivityFact("w1", "weightlifting", at(2026, 10, 1), one_rm=(("squat", 120.0), ("bench", 80.0))))
    create(s, ActivityFact("w2", "weightlifting", at(2026, 10, 8), one_rm=(("squat", 125.0), ("bench", 77.5))))
    r = s.records()["one_rm"]
    assert (r["squat"]["activity_id"], r["squat"]["value"], r["squat"]["unit"]) == ("w2", 125.0, "kg")
    assert [h["value"] for h in r["squat"]["history"]] == [120.0, 125.0]
    assert r["bench"]["activity_id"] == "w1"


def test_pr_events_name_the_record_and_its_predecessor():
    s = UserStats("u")
    first = of_type(create(s, _five_k("a", 1, 1600.0)), "personal_record")
    assert {(e["category"], e["name"]) for e in first} == {("best_effort", "5k"), ("longest", "distance")}
    assert all(e["previous"] is None and e["user_id"] == "u" for e in first)
    ev = of_type(create(s, _five_k("b", 2, 1590.0)), "personal_record")
    assert [(e["name"], e["value"], e["previous"]) for e in ev] == [
        ("5k", 1590.0, {"value": 1600.0, "activity_id": "a", "achieved_at": "2026-10-01T12:00:00+00:00"})
    ]


def test_zero_and_missing_values_hold_no_record():
    s = UserStats("u")
    create(s, ActivityFact("w", "weightlifting", at(2026, 10, 1), one_rm=(("pull-up", 0.0),)))
    r = s.records()
    assert r["one_rm"] == {} and r["longest"] == {} and r["biggest_climb"] == {}


def test_snapshot_personal_records_carry_no_history():
    s = UserStats("u")
    create(s, _five_k("a", 1, 1600.0))
    pr = s.snapshot()["personal_records"]["best_efforts"]["running"]["5k"]
    assert pr == {"value": 1600.0, "activity_id": "a", "achieved_at": "2026-10-01T12:00:00+00:00", "unit": "s"}
