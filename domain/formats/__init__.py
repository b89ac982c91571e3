"""Workout file parsers (FIT, GPX, TCX): bytes -> ParsedActivity; the only part of domain using parsing libraries."""

from __future__ import annotations

from .common import FormatError, ParsedActivity, map_sport


def parse_activity_file(data: bytes, fmt: str) -> ParsedActivity:
    """Parse bytes in the given format ("fit", "gpx", "tcx"); raises FormatError on unreadable input."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "fit":
        from .fit import parse_fit

        return parse_fit(data)
    if fmt == "gpx":
        from .gpx import parse_gpx

        return parse_gpx(data)
    if fmt == "tcx":
        from .tcx import parse_tcx

        return parse_tcx(data)
    raise FormatError(f"unsupported format {fmt!r}")


def sniff_format(data: bytes) -> str | None:
    """Guess "fit" / "gpx" / "tcx" from the first bytes, or None."""
    if len(data) >= 12 and data[8:12] == b".FIT":
        return "fit"
    head = data[:2048].lower()
    if b"<gpx" in head:
        return "gpx"
    if b"<trainingcenterdatabase" in head:
        return "tcx"
    return None


__all__ = ["FormatError", "ParsedActivity", "map_sport", "parse_activity_file", "sniff_format"]
