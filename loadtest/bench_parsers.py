"""Benchmark: parse + process of the real GPX, TCX and FIT fixture files by Stride, next to FitTrackee 1.3.6's own
path on the same files in the same run; plus `process_activity` CPU on 3,600 points.

Targets (issue 11): Stride >= 10x faster than FitTrackee on each file; `process_activity` <= 5 ms CPU on 3,600 points.

- Stride: `domain.formats.parse_activity_file(bytes, fmt)` then `domain.process.process_activity(...)` on the
  in-memory file, CPU time (`time.process_time`) per call, median of the repetitions.
- FitTrackee 1.3.6 (installed from PyPI into a throwaway venv, `.state/bench/fittrackee-1.3.6`, only for this
  comparison; not a project dependency), timed in a subprocess with that venv's python running this same file in
  `--fittrackee-harness` mode: its `WorkoutGpxService` / `WorkoutTcxService` / `WorkoutFitService` constructor, which
  parses the file (gpxpy; xmltodict then gpxpy objects; fitdecode then gpxpy objects), then `_process_file()`, which
  computes the workout and its segments (gpxpy moving data, uphill/downhill, HR/cadence/power stats, geometry,
  bounds): `process_workout()` without the database, the map image and the weather. Its SQLAlchemy session is a no-op
  that fills the uuid a flush would; the user has FitTrackee's default preferences (elevation from the file, computed
  speed) and the sport FitTrackee's default stopped-speed threshold.
- Both sides alternate in rounds on the same file, so a busy machine slows both; the load average is recorded.

The fixture files come from their pinned PyPI packages (tests/fixtures.py). `--url` is accepted (and ignored) so that
`make bench` can run this with the others. This file's top level imports only the standard library: the FitTrackee
venv runs it too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FITTRACKEE_VERSION = "1.3.6"
FITTRACKEE_VENV = ROOT / ".state" / "bench" / f"fittrackee-{FITTRACKEE_VERSION}"
TARGET_SPEEDUP, TARGET_PROCESS_MS = 10.0, 5.0
# file, format, FitTrackee sport label, its default stopped-speed threshold (km/h), FitTrackee repetitions per round.
# The target is one file per format (the ride GPX being the main fair test); the small ski TCX is reported too, to
# show where fixed per-call costs start to matter (486 points in 343 KB).
FILES: tuple[tuple[str, str, str, float, int], ...] = (
    ("activity_4078723797.gpx", "gpx", "Cycling (Sport)", 1.0, 3),
    ("3173437224.tcx", "tcx", "Running", 0.1, 5),
    ("4078723797.fit", "fit", "Cycling (Sport)", 1.0, 2),
    ("cross-country-skiing_activity_1.tcx", "tcx", "Skiing (Cross Country)", 0.1, 10),
)
TARGET_FILES = ("activity_4078723797.gpx", "3173437224.tcx", "4078723797.fit")


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


# ---------------------------------------------------------------------------------------------- FitTrackee side


def fittrackee_harness(path: str, fmt: str, sport_label: str, threshold: float, reps: int) -> dict[str, Any]:
    """(Runs in the FitTrackee venv.) CPU seconds of FitTrackee's parse + process of one in-memory file."""
    import io
    import types
    import uuid

    from fittrackee.constants import ElevationDataSource
    from fittrackee.workouts.services.workout_from_file import workout_gpx_service
    from fittrackee.workouts.services.workout_from_file.workout_fit_service import WorkoutFitService
    from fittrackee.workouts.services.workout_from_file.workout_gpx_service import WorkoutGpxService
    from fittrackee.workouts.services.workout_from_file.workout_tcx_service import WorkoutTcxService

    class Session:
        """Stands in for the database session: what a flush would fill in (the workout's uuid), nothing else."""

        def add(self, obj: Any) -> None:
            if getattr(obj, "uuid", 1) is None:
                obj.uuid = uuid.uuid4()

        def flush(self) -> None:
            pass

    workout_gpx_service.db = types.SimpleNamespace(session=Session())  # type: ignore[attr-defined]
    user = types.SimpleNamespace(
        id=1,
        segments_creation_event="only_manual",
        use_raw_gpx_speed=False,
        missing_elevations_processing=ElevationDataSource.FILE,
    )
    sport = types.SimpleNamespace(id=1, label=sport_label)
    service = {"gpx": WorkoutGpxService, "tcx": WorkoutTcxService, "fit": WorkoutFitService}[fmt]
    data = Path(path).read_bytes()

    def once() -> Any:
        return service(user, io.BytesIO(data), sport, threshold, get_weather=False)._process_file()

    workout = once()  # warm-up (imports, caches)
    samples = []
    for _ in range(reps):
        start = time.process_time()
        once()
        samples.append(time.process_time() - start)
    return {
        "samples_s": samples,
        "distance_km": float(workout.distance),
        "moving": str(workout.moving),
        "duration": str(workout.duration),
        "max_hr": workout.max_hr,
    }


def ensure_fittrackee(venv: Path) -> Path:
    """The FitTrackee venv's python, installing FitTrackee from PyPI on first use."""
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.is_file() and marker.read_text().strip() == FITTRACKEE_VERSION and python.exists():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"fittrackee=={FITTRACKEE_VERSION}"],
        check=True,
    )
    marker.write_text(FITTRACKEE_VERSION + "\n")
    return python


def run_fittrackee(python: Path, path: Path, fmt: str, label: str, threshold: float, reps: int) -> dict[str, Any]:
    out = subprocess.run(
        [str(python), __file__, "--fittrackee-harness", str(path), fmt, label, str(threshold), str(reps)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------- Stride side


def run_stride(data: bytes, fmt: str, reps: int) -> dict[str, Any]:
    """CPU seconds of parse, process and both, per call."""
    from domain.formats import parse_activity_file
    from domain.process import process_activity

    parse_s, process_s, total_s = [], [], []
    processed = None
    for _ in range(reps + 1):
        a = time.process_time()
        parsed = parse_activity_file(data, fmt)
        b = time.process_time()
        processed = process_activity(parsed.sport, parsed.track, device_laps=parsed.laps)
        c = time.process_time()
        parse_s.append(b - a)
        process_s.append(c - b)
        total_s.append(c - a)
    assert processed is not None
    return {
        "parse_s": parse_s[1:],
        "process_s": process_s[1:],
        "total_s": total_s[1:],  # the first is a warm-up
        "points": processed.points_count,
        "distance_m": round(processed.distance_m, 1),
    }


def bench_file(
    fixtures: Path, spec: tuple[str, str, str, float, int], rounds: int, stride_reps: int, ft_python: Path | None
) -> dict[str, Any]:
    name, fmt, label, threshold, ft_reps = spec
    path = fixtures / name
    data = path.read_bytes()
    stride: dict[str, list[float]] = {"parse_s": [], "process_s": [], "total_s": []}
    ft_samples: list[float] = []
    ft_last: dict[str, Any] = {}
    info: dict[str, Any] = {}
    for _ in range(rounds):  # alternate, so that other load on the machine slows both sides alike
        if ft_python is not None and "error" not in ft_last:
            ft_last = run_fittrackee(ft_python, path, fmt, label, threshold, ft_reps)
            ft_samples += ft_last.get("samples_s", [])
        s = run_stride(data, fmt, stride_reps)
        for k in stride:
            stride[k] += s[k]
        info = {"points": s["points"], "distance_m": s["distance_m"]}
    out: dict[str, Any] = {
        "file": name,
        "format": fmt,
        "bytes": len(data),
        **info,
        "stride": {
            "parse_ms": _median_ms(stride["parse_s"]),
            "process_ms": _median_ms(stride["process_s"]),
            "total_ms": _median_ms(stride["total_s"]),
            "repetitions": len(stride["total_s"]),
        },
    }
    if ft_python is None:
        return out
    if "error" in ft_last:
        out["fittrackee"] = {"refused": ft_last["error"]}
        return out
    ft_ms = _median_ms(ft_samples)
    out["fittrackee"] = {
        "total_ms": ft_ms,
        "repetitions": len(ft_samples),
        "sport": label,
        "stopped_speed_threshold_kmh": threshold,
        **{k: ft_last[k] for k in ("distance_km", "moving", "duration", "max_hr")},
    }
    out["stride_over_fittrackee_time"] = round(out["stride"]["total_ms"] / ft_ms, 4)
    out["speedup_vs_fittrackee"] = round(ft_ms / out["stride"]["total_ms"], 1)
    out["target_file"] = name in TARGET_FILES
    out["meets_target"] = out["speedup_vs_fittrackee"] >= TARGET_SPEEDUP
    return out


def run(rounds: int, stride_reps: int, process_reps: int, with_fittrackee: bool) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from domain.bench import time_process
    from tests.fixtures import ensure_fixtures

    fixtures = ensure_fixtures()
    ft_python = ensure_fittrackee(FITTRACKEE_VENV) if with_fittrackee else None
    load_before = os.getloadavg()[0]
    files = [bench_file(fixtures, spec, rounds, stride_reps, ft_python) for spec in FILES]
    processing = time_process(n=3600, repeat=process_reps)
    compared = [f for f in files if "speedup_vs_fittrackee" in f and f["target_file"]]
    return {
        "load_avg_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "reference": {
            "name": "FitTrackee",
            "version": FITTRACKEE_VERSION,
            "path": "Workout{Gpx,Tcx,Fit}Service(...) constructor (parse) + _process_file(); "
            "no database, map image or weather",
        }
        if with_fittrackee
        else None,
        "files": files,
        "process_activity_3600_points": {
            **processing,
            "meets_target": processing["cpu_ms_median"] <= TARGET_PROCESS_MS,
        },
        "targets": {"speedup_vs_fittrackee": TARGET_SPEEDUP, "process_activity_cpu_ms": TARGET_PROCESS_MS},
        "all_targets_met": (  # None without the comparison
            all(f["meets_target"] for f in compared) and processing["cpu_ms_median"] <= TARGET_PROCESS_MS
            if compared
            else None
        ),
    }


def main() -> None:
    """CLI."""
    if len(sys.argv) > 1 and sys.argv[1] == "--fittrackee-harness":
        if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
            sys.path.pop(0)  # loadtest/'s modules must not shadow anything FitTrackee imports
        path, fmt, label, threshold, reps = sys.argv[2:7]
        print(json.dumps(fittrackee_harness(path, fmt, label, float(threshold), int(reps))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="ignored (make bench passes it to every benchmark)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating Stride/FitTrackee rounds per file")
    parser.add_argument("--stride-reps", type=int, default=10, help="Stride repetitions per round")
    parser.add_argument("--process-reps", type=int, default=200, help="process_activity repetitions (3,600 points)")
    parser.add_argument("--no-fittrackee", action="store_true", help="Stride only (no comparison)")
    args, _ = parser.parse_known_args()
    result = run(args.rounds, args.stride_reps, args.process_reps, not args.no_fittrackee)
    sys.path.insert(0, str(ROOT))
    from loadtest.harness import write_result

    print(json.dumps(result, indent=2))
    print(write_result("parsers", result))


if __name__ == "__main__":
    main()
