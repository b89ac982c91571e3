"""One live workout inside a WorkoutShard: a plain object (a virtual actor), rebuilt from storage when needed.

Pause and resume events carry the offset `t` of the latest sample when they were recorded, and every batch is
applied with the pause state its points' times fall in (`services.live.paused_at`). Live ingestion and a rebuild
from storage (batches + stored events, after a shard restart) therefore run the same computation and give the
same metrics.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from domain.live import LiveMetrics
from domain.sequencing import BatchSequencer
from domain.track import Track
from services.live import paused_at


@dataclass
class WorkoutSession:
    """Bounded state: running metrics, the batch sequencer, batches waiting behind a gap, pause events, the sample
    partitions recorded in Postgres, and how many points are stored."""

    activity_id: uuid.UUID
    user_id: uuid.UUID
    sport: str
    start_time: dt.datetime
    sequencer: BatchSequencer = field(default_factory=BatchSequencer)
    metrics: LiveMetrics = field(default_factory=LiveMetrics)
    waiting: dict[int, Track] = field(default_factory=dict)
    pauses: list[dict[str, Any]] = field(default_factory=list)
    buckets: set[int] = field(default_factory=set)
    points: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    def __post_init__(self) -> None:
        self.metrics.sport = self.sport
        self.metrics.paused = self.paused

    @classmethod
    def rebuild(
        cls,
        activity_id: uuid.UUID,
        user_id: uuid.UUID,
        sport: str,
        start_time: dt.datetime,
        pauses: Sequence[Mapping[str, Any]],
        batches: Mapping[int, Track],
        buckets: Sequence[int] = (),
    ) -> WorkoutSession:
        """The session as it was before a restart: the stored pause events, then every stored batch in order."""
        session = cls(activity_id, user_id, sport, start_time, pauses=[dict(p) for p in pauses], buckets=set(buckets))
        for seq in sorted(batches):
            session.accept(seq, batches[seq])
        return session

    @property
    def paused(self) -> bool:
        """Manually paused now (the last event is a pause)."""
        return bool(self.pauses) and self.pauses[-1]["type"] == "pause"

    def accept(self, seq: int, track: Track) -> None:
        """A batch is durably stored: apply it (and any batches it unblocks) to the running metrics in order."""
        self.waiting[seq] = track
        self.points += len(track)
        for ready in self.sequencer.record(seq):
            self._apply(self.waiting.pop(ready))
        self.last_seen = time.monotonic()

    def _apply(self, track: Track) -> None:
        """Fold a batch in, each run of points with the pause state of its time."""
        if self.pauses and len(track):
            state = paused_at(track.t, self.pauses)
            cuts = np.flatnonzero(np.diff(state.astype(np.int8))) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(track)], strict=True):
                self.metrics.paused = bool(state[lo])
                self.metrics.add(track.take(np.arange(lo, hi)))
        else:
            self.metrics.add(track)
        self.metrics.paused = self.paused

    def pause_event(self, paused: bool) -> dict[str, Any] | None:
        """The event a manual pause (True) or resume (False) would record now; None if it changes nothing."""
        if paused == self.paused:
            return None
        return {"type": "pause" if paused else "resume", "t": float(self.metrics.last_t or 0.0)}

    def record_pause(self, event: dict[str, Any]) -> None:
        """Apply a pause/resume event once it is stored."""
        self.pauses.append(event)
        self.metrics.paused = self.paused
        self.last_seen = time.monotonic()

    def ack(self) -> dict[str, Any]:
        """The acknowledgement body."""
        return {
            "acked_seq": self.sequencer.acked,
            "missing": self.sequencer.missing(),
            "highest_seq": self.sequencer.highest,
        }

    def view(self) -> dict[str, Any]:
        """The live metrics body."""
        return {
            "activity_id": str(self.activity_id),
            "status": "live",
            "sport": self.sport,
            **self.metrics.view(),
            "acked_seq": self.sequencer.acked,
        }
