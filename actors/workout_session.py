"""One live workout inside a WorkoutShard: a plain object (a virtual actor), rebuilt from storage when needed."""
from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from domain.live import LiveMetrics
from domain.sequencing import BatchSequencer
from domain.track import CHANNELS, Track

MAX_AHEAD = 64  # batches a session buffers beyond a gap before asking the client to fill it


@dataclass
class WorkoutSession:
    """Bounded state: running metrics, the batch sequencer, batches waiting behind a gap, pause events."""

    activity_id: uuid.UUID
    user_id: uuid.UUID
    sport: str
    start_time: dt.datetime
    sequencer: BatchSequencer = field(default_factory=BatchSequencer)
    metrics: LiveMetrics = field(default_factory=LiveMetrics)
    waiting: dict[int, Track] = field(default_factory=dict)
    pauses: list[dict] = field(default_factory=list)
    last_seen: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    def __post_init__(self) -> None:
        self.metrics.sport = self.sport

    def accept(self, seq: int, track: Track) -> None:
        """A batch is durably stored: apply it (and any batches it unblocks) to the running metrics in order."""
        self.waiting[seq] = track
        for ready in self.sequencer.record(seq):
            self.metrics.add(self.waiting.pop(ready))
        self.last_seen = time.monotonic()

    def set_paused(self, paused: bool, t: float) -> bool:
        """Record a manual pause or resume at offset t; False if it changes nothing."""
        if paused == self.metrics.paused:
            return False
        self.metrics.paused = paused
        self.pauses.append({"type": "pause" if paused else "resume", "t": t})
        self.last_seen = time.monotonic()
        return True

    def ack(self) -> dict:
        """The acknowledgement body."""
        return {"acked_seq": self.sequencer.acked, "missing": self.sequencer.missing(),
                "highest_seq": self.sequencer.highest}


def pause_windows(pauses: list[dict]) -> list[tuple[float, float]]:
    """(start, end) offsets of manual pauses; an open pause runs to infinity."""
    windows, start = [], None
    for event in sorted(pauses, key=lambda e: e["t"]):
        if event["type"] == "pause" and start is None:
            start = event["t"]
        elif event["type"] == "resume" and start is not None:
            windows.append((start, event["t"]))
            start = None
    if start is not None:
        windows.append((start, float("inf")))
    return windows


def join_batches(batches: dict[int, Track], pauses: list[dict]) -> Track:
    """Every stored batch as one track, without the points recorded during manual pauses."""
    if not batches:
        return Track.empty()
    ordered = [batches[s] for s in sorted(batches)]
    track = Track(**{c: np.concatenate([getattr(b, c) for b in ordered]) for c in CHANNELS})
    keep = np.ones(len(track), dtype=bool)
    for start, end in pause_windows(pauses):
        keep &= ~((track.t > start) & (track.t < end))
    return track.take(np.flatnonzero(keep))
