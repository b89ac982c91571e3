"""Device laps (re-exported from splits, where laps and splits share their measuring code)."""
from .splits import DeviceLap, lap_metrics

__all__ = ["DeviceLap", "lap_metrics"]
