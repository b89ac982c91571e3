"""A read answered as ready JSON bytes with its entity tag: serialised once, cached as is, and `not modified` when
the client already holds the tag (the HTTP layer maps `matches` to 304)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass(frozen=True)
class Document:
    """A read as ready JSON bytes with its entity tag (a quoted content hash)."""

    body: bytes
    etag: str

    def pack(self) -> bytes:
        """The cached form: tag, newline, body."""
        return self.etag.encode() + b"\n" + self.body

    @classmethod
    def unpack(cls, raw: bytes) -> Document:
        """Inverse of pack."""
        cut = raw.index(b"\n")
        return cls(body=raw[cut + 1 :], etag=raw[:cut].decode())

    @classmethod
    def of(cls, value: Any) -> Document:
        """Serialise once (orjson) and tag with a content hash."""
        body = orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        return cls(body=body, etag='"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')

    @classmethod
    def hashed(cls, value: Any) -> Document:
        """Serialise once in the API models' formats (as `versioned`), tagged with a content hash: for reads that
        have no version of their own, like a page of a list."""
        body = orjson.dumps(
            value, default=_number, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        )
        return cls(body=body, etag='"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')

    @classmethod
    def versioned(cls, value: Any, version: int) -> Document:
        """Serialise once, tagged with the entity's version (the tag `If-Match` compares on writes). Datetimes in
        UTC as `...Z` and decimals as numbers, exactly as the API's pydantic models write them."""
        body = orjson.dumps(
            value, default=_number, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        )
        return cls(body=body, etag=f'"{version}"')

    def matches(self, if_none_match: str | None) -> bool:
        """Whether an If-None-Match header names this document (`*`, or a list of tags, weak ones too)."""
        if not if_none_match:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or self.etag in tags
