"""The fixture set-up itself: every pinned file is there and verified; a tampered or unlisted file fails loudly."""

import shutil

import pytest

from tests import fixtures


def test_every_pinned_file_is_present_and_matches_its_hash(fixtures_dir):
    for archive in fixtures.ARCHIVES:
        for name, sha256 in archive.members.values():
            assert fixtures._sha256((fixtures_dir / name).read_bytes()) == sha256
    for rel in fixtures.SYNTHETIC:
        assert (fixtures_dir / rel).is_file()


def test_a_tampered_cached_file_fails_instead_of_being_used(fixtures_dir, tmp_path, monkeypatch):
    shutil.copytree(fixtures_dir, tmp_path / "cache", ignore=shutil.ignore_patterns(".lock"))
    monkeypatch.setattr(fixtures, "CACHE_DIR", tmp_path / "cache")
    assert fixtures.ensure_fixtures() == tmp_path / "cache"  # archives cached: no download
    victim = tmp_path / "cache" / "4078723797.fit"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    with pytest.raises(fixtures.FixtureError, match="sha256"):
        fixtures.ensure_fixtures()


def test_a_tampered_archive_is_refused(fixtures_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(fixtures, "CACHE_DIR", tmp_path / "cache")
    archive = next(a for a in fixtures.ARCHIVES if a.project == "gpxpy")
    (tmp_path / "cache" / "_archives").mkdir(parents=True)
    (tmp_path / "cache" / "_archives" / archive.filename).write_bytes(b"not the pinned archive")
    monkeypatch.setattr(fixtures, "_get", lambda url, accept=None: (b"still not it", "application/octet-stream"))
    monkeypatch.setattr(fixtures, "_archive_url", lambda a: "https://index.invalid/" + a.filename)
    with pytest.raises(fixtures.FixtureError, match="pinned"):
        fixtures._archive_bytes(archive)
