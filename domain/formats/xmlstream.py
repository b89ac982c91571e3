"""Streaming XML for GPX and TCX: lxml (libxml2) iterparse, safe settings, points flushed in batches.

Security: a document with a DTD or an entity declaration is refused (before parsing, and again from the parsed
document's own DOCTYPE, which also catches encodings the byte check cannot see); libxml2 runs with
`resolve_entities=False, no_network=True, load_dtd=False` and without `huge_tree` (its own limits on depth and
text size stay on). Bounding the size of the input is the caller's job.

Speed and memory: the parser builds only the elements it is handed; the point elements are read in batches of
BATCH with one C-level filtered walk (`Element.iter(*tags)`) and then deleted, so memory stays ~constant whatever
the file's length, and Python touches only the elements that carry a value.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lxml import etree

from .common import FormatError

BATCH = 512  # point elements read (then deleted) at a time
_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_blank_text": True,
    "collect_ids": False,
}


def refuse_dtd(data: bytes, what: str) -> None:
    """FormatError for a document that declares a DTD or entities (the byte check; see also `check_doctype`).

    A DOCTYPE (which alone may declare entities) can only come before the root element, so only the prolog is
    read: the XML declaration, processing instructions and comments up to the first element.
    """
    at = data.find(b"<")
    while at >= 0:
        if data.startswith((b"<!DOCTYPE", b"<!ENTITY"), at):
            raise FormatError(f"{what} with a DTD/entities is refused")
        if not data.startswith((b"<?", b"<!--"), at):
            return  # the root element (or not XML at all: the parser will say so)
        end = data.find(b"?>" if data.startswith(b"<?", at) else b"-->", at + 2)
        if end < 0:
            return
        at = data.find(b"<", end)


def check_doctype(root: etree._Element | None, what: str) -> None:
    """FormatError if the parsed document had a DOCTYPE (e.g. in UTF-16, where the byte check cannot see it)."""
    if root is not None and root.getroottree().docinfo.doctype:
        raise FormatError(f"{what} with a DTD/entities is refused")


def events(data: bytes, tags: Iterable[str]) -> Iterator[etree._Element]:
    """The elements with one of `tags` (e.g. "{*}trkpt"), at their end tag, from a safe streaming parse."""
    ctx = etree.iterparse(io.BytesIO(data), events=("end",), tag=tuple(tags), **_OPTIONS)
    it = iter(ctx)
    for _, el in it:  # the DOCTYPE comes before the root: known at the first event
        check_doctype(el, "XML")
        yield el
        break
    for _, el in it:
        yield el
    check_doctype(ctx.root, "XML")  # a document without any wanted element


def local(tag: str) -> str:
    return tag[tag.rfind("}") + 1 :]


class _Slots(dict[str, int | None]):
    """tag -> row slot (-1: a point element; None: not wanted), resolved once per distinct tag."""

    def __init__(self, point_tag: Callable[[str], bool], slot_of: Callable[[str], int | None]) -> None:
        super().__init__()
        self._point_tag, self._slot_of = point_tag, slot_of

    def __missing__(self, tag: str) -> int | None:
        slot = -1 if self._point_tag(tag) else self._slot_of(tag)
        self[tag] = slot
        return slot


class Rows:
    """The points' texts in one flat list: slot i of point k at width·(k + 1) + i (the first `width` are a scratch
    row for values met before any point). One list instead of a list per point: nothing for the garbage collector
    to track per point, and a column is one slice."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.values: list[Any] = [None] * width

    def __len__(self) -> int:
        return len(self.values) // self.width - 1

    def column(self, i: int) -> list[Any]:
        return self.values[self.width + i :: self.width]


class RowReader:
    """Turns point elements into rows of text, one slot per value, with one C-filtered walk per batch.

    `point_tag(tag)` says whether a tag is a point; `slot_of(tag)` gives the row slot of a value element's text
    (None: not wanted); `attrs` maps none or two point attributes to slots. A later value overwrites an earlier
    one in the same point.
    """

    def __init__(
        self,
        walk_tags: tuple[str, ...],
        width: int,
        point_tag: Callable[[str], bool],
        slot_of: Callable[[str], int | None],
        attrs: dict[str, int] | None = None,
    ) -> None:
        self.walk_tags, self.width = walk_tags, width
        self._slots = _Slots(point_tag, slot_of)
        pairs = list((attrs or {}).items())
        if len(pairs) not in (0, 2):
            raise ValueError("none or two point attributes")
        self._attrs = pairs

    def read(self, container: etree._Element, rows: Rows, extra: object = None, limit: int | None = None) -> None:
        """Append a row per point in container (the last slot gets `extra`), then delete what was read.

        With `limit`, only the first `limit` points are read: iterparse hands events out per chunk of input, so
        the parser may already have built (part of) the points after the one whose end tag we were given.
        """
        slots, values = self._slots, rows.values
        template: list[Any] = [None] * self.width
        template[-1] = extra
        (name0, i0), (name1, i1) = self._attrs or (("", 0), ("", 0))
        with_attrs = bool(self._attrs)
        base, last, seen = 0, None, 0  # base 0: the scratch row
        for el in container.iter(*self.walk_tags):
            slot = slots[el.tag]
            if slot == -1:
                if seen == limit:
                    break
                seen += 1
                last, base = el, len(values)
                values.extend(template)
                if with_attrs:
                    values[base + i0], values[base + i1] = el.get(name0), el.get(name1)
            elif slot is not None:
                text = el.text
                if text:
                    values[base + slot] = text
        if limit is None:
            del container[:]
        elif last is not None:
            del container[: container.index(last) + 1]
