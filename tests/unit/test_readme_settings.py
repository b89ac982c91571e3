"""The README's configuration table names every setting (so a new one cannot ship undocumented)."""

from __future__ import annotations

import re
from pathlib import Path

from config.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> set[str]:
    names: set[str] = set()
    for cell in re.findall(r"^\| `(STRIDE_[A-Z0-9_]+)`((?: / `_[A-Z0-9_]+`)*)", README.read_text(), re.M):
        base, suffixes = cell
        names.add(base)
        parts = base.split("_")
        # "`STRIDE_X_USERNAME` / `_PASSWORD`": a suffix replaces some trailing words of the first name
        for suffix in re.findall(r"`(_[A-Z0-9_]+)`", suffixes):
            names.update("_".join(parts[:i]) + suffix for i in range(2, len(parts)))
    return names


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    expected = {f"STRIDE_{name.upper()}" for name in Settings.model_fields}
    missing = sorted(expected - _documented())
    assert missing == [], f"settings missing from README.md's Configuration table: {missing}"
