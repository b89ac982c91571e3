from domain.progress import UserStats

from .progress_synth import at, create, delete, run


def _kinds(s: UserStats, aid: str) -> list[str]:
    return [i["kind"] for i in s.insights_for(aid)]


def _five_k(aid: str, day: int, secs: float, km: float = 5.0):
    return run(aid, at(2026, 11, day), km, best_efforts=(("5k", secs),))


def test_new_pr_insight_with_message_and_since_beaten_flag():
    s = UserStats("u")
    create(s, _five_k("a", 2, 1501.2, km=5.0))
    pr = next(i for i in s.insights_for("a") if i["kind"] == "new_pr" and i["name"] == "5k")
    assert pr["message"] == "New PR: 5k running 25:01" and pr["current"] is True
    create(s, _five_k("b", 4, 1490.0, km=4.0))
    pr = next(i for i in s.insights_for("a") if i["kind"] == "new_pr" and i["name"] == "5k")
    assert pr["current"] is False and pr["message"].endswith("(since beaten)")


def test_second_best_effort_insight():
    s = UserStats("u")
    create(s, _five_k("a", 2, 1500.0, km=6))
    create(s, _five_k("b", 3, 1560.0, km=5))
    create(s, _five_k("c", 4, 1530.0, km=5))
    second = [i for i in s.insights_for("c") if i["kind"] == "second_best"]
    assert [(i["name"], i["message"]) for i in second] == [("5k", "2nd best 5k running: 25:30")]


def test_longest_this_month_needs_a_peer_and_the_top_distance():
    s = UserStats("u")
    create(s, run("a", at(2026, 11, 2), 8))
    create(s, run("prev", at(2026, 10, 30), 30))  # other month
    assert "longest_this_month" not in _kinds(s, "a")
    create(s, run("b", at(2026, 11, 5), 6))
    lm = [i for i in s.insights_for("a") if i["kind"] == "longest_this_month"]
    assert lm[0]["message"] == "Longest running this month: 8.0 km"
    assert "longest_this_month" not in _kinds(s, "b")


def test_week_over_week_distance_percentage():
    s = UserStats("u")
    create(s, run("last", at(2026, 11, 3), 10))
    create(s, run("this1", at(2026, 11, 9), 6))
    create(s, run("this2", at(2026, 11, 11), 5.8))
    wow = next(i for i in s.insights_for("this2") if i["kind"] == "week_over_week")
    assert (wow["percent"], wow["message"]) == (18, "18 % more distance than last week")
    delete(s, "this2")
    wow = next(i for i in s.insights_for("this1") if i["kind"] == "week_over_week")
    assert wow["message"] == "40 % less distance than last week"


def test_streak_extended_only_for_the_first_activity_of_the_day():
    s = UserStats("u")
    create(s, run("d1", at(2026, 11, 9, 7)))
    create(s, run("d2", at(2026, 11, 10, 7)))
    create(s, run("d2b", at(2026, 11, 10, 19)))
    ext = [i for i in s.insights_for("d2") if i["kind"] == "streak_extended"]
    assert [(i["period"], i["length"], i["message"]) for i in ext] == [("daily", 2, "Streak extended to 2 days")]
    assert "streak_extended" not in _kinds(s, "d2b")


def test_late_upload_on_the_previous_day_extends_the_later_activitys_streak():
    s = UserStats("u")
    create(s, run("wed", at(2026, 11, 11)))
    assert "streak_extended" not in _kinds(s, "wed")
    create(s, run("tue", at(2026, 11, 10)))
    assert [i["length"] for i in s.insights_for("wed") if i["kind"] == "streak_extended"] == [2]


def test_unknown_activity_has_no_insights_and_stats_carry_the_latest():
    s = UserStats("u")
    assert s.insights_for("nope") == []
    create(s, run("a", at(2026, 11, 1)))
    create(s, run("b", at(2026, 11, 2)))
    ins = s.snapshot()["insights"]
    assert ins["activity_id"] == "b" and ins["items"] == s.insights_for("b")
