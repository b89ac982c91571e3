"""Property: after any sequence of creates, edits, deletes (with replayed event ids, timezone changes and
checkpoint round trips), the incremental stats equal stats recomputed from scratch from the stored facts."""

import json
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.progress import ActivityFact, Goal, UserStats, recompute

TZS = ["UTC", "America/Los_Angeles", "Europe/Paris", "Asia/Kolkata", "Pacific/Auckland"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)
PROFILE = {"max_hr": 188, "resting_hr": 52, "sex": "female"}
GOALS = [
    Goal("wd", "weekly_distance", 8000, date(2026, 1, 7)),
    Goal("mc", "monthly_count", 3, date(2026, 1, 1), date(2026, 4, 20)),
    Goal("we", "weekly_elevation", 150, date(2026, 2, 1), sport="running"),
    Goal("yd", "yearly_distance", 60000, date(2026, 1, 1)),
    Goal("wdur", "weekly_duration", 5400, date(2026, 1, 14), date(2026, 3, 31), "cycling"),
]
TODAYS = [date(2026, 3, 15), date(2026, 7, 1)]


@st.composite
def facts(draw, aid: str) -> ActivityFact:
    sport = draw(st.sampled_from(["running", "cycling", "weightlifting"]))
    efforts = []
    if sport != "weightlifting" and draw(st.booleans()):
        efforts.append(("5k", draw(st.sampled_from([1400.0, 1500.0, 1500.0, 1620.5]))))
    if sport == "cycling" and draw(st.booleans()):
        efforts.append(("20min_power", draw(st.sampled_from([200.0, 230.0, 230.0]))))
    one_rm = (("squat", draw(st.sampled_from([90.0, 100.0, 100.0, 110.0]))),) if sport == "weightlifting" else ()
    return ActivityFact(
        aid,
        sport,
        BASE + timedelta(minutes=draw(st.integers(0, 150 * 24 * 60))),
        distance_m=draw(st.sampled_from([0.0, 3000.0, 5000.5, 12345.6, 21097.5])),
        moving_s=draw(st.floats(0, 10000)),
        elevation_gain_m=draw(st.sampled_from([0.0, 40.0, 120.5, 300.0])),
        calories=draw(st.floats(0, 1500)),
        volume_kg=draw(st.floats(0, 9000)) if sport == "weightlifting" else 0.0,
        hr_avg=draw(st.one_of(st.none(), st.floats(100, 185))),
        best_efforts=tuple(efforts),
        one_rm=one_rm,
        revision=draw(st.integers(0, 3)),
    )


AIDS = [f"a{i}" for i in range(6)]
op = st.one_of(
    st.tuples(st.just("upsert"), st.sampled_from(["created", "updated"]), st.sampled_from(AIDS)).flatmap(
        lambda t: st.tuples(st.just(t[0]), st.just(t[1]), st.just(t[2]), facts(t[2]))
    ),
    st.tuples(st.just("delete"), st.just("deleted"), st.sampled_from(AIDS), st.none()),
    st.tuples(st.just("replay"), st.none(), st.none(), st.integers(0, 10_000)),
    st.tuples(st.just("checkpoint"), st.none(), st.none(), st.none()),
    st.tuples(st.just("timezone"), st.none(), st.none(), st.sampled_from(TZS)),
)


def _model_apply(model: dict[str, ActivityFact], kind: str, aid: str, fact: ActivityFact | None) -> None:
    """The specification of apply on the stored facts."""
    if kind == "deleted":
        model.pop(aid, None)
    elif aid not in model or fact.revision >= model[aid].revision:
        model[aid] = fact


def _views(s: UserStats) -> dict:
    out = {"records": s.records(), "facts": s.facts()}
    for today in TODAYS:
        out[f"snapshot {today}"] = s.snapshot(today)
        out[f"goals {today}"] = s.goals_view(today)
    for metric in ("distance", "duration", "count", "elevation", "load"):
        for period in ("weekly", "monthly"):
            out[f"{metric} {period}"] = s.progress(metric, period, None, date(2025, 12, 1), date(2026, 7, 1))
    out["running weekly"] = s.progress("distance", "weekly", "running", date(2025, 12, 1), date(2026, 7, 1))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TZS), st.lists(op, max_size=40))
def test_incremental_stats_equal_stats_recomputed_from_scratch(tz, ops):
    s = UserStats("u", tz, PROFILE)
    s.set_goals(GOALS)
    model: dict[str, ActivityFact] = {}
    sent: list[tuple] = []
    announced: list[tuple[str, str]] = []
    for name, kind, aid, arg in ops:
        if name in ("upsert", "delete"):
            event = (f"e{len(sent)}", kind, arg, aid)
            sent.append(event)
            announced += [(e["goal_id"], e["period_start"]) for e in s.apply(*event) if e["type"] == "goal_achieved"]
            _model_apply(model, kind, aid, arg)
        elif name == "replay" and sent:
            before = s.to_state()
            assert s.apply(*sent[arg % len(sent)]) == []
            assert s.to_state() == before
        elif name == "checkpoint":
            s = UserStats.from_state(json.loads(json.dumps(s.to_state())))
        elif name == "timezone":
            s.set_timezone(arg)
    assert len(announced) == len(set(announced)), "a goal period was announced twice"
    fresh = recompute("u", s.tz, model.values(), GOALS, PROFILE)
    assert _views(s) == _views(fresh)
    json.dumps(_views(s)["snapshot 2026-07-01"], allow_nan=False)
