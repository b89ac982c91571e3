"""Sequence-numbered sample batches: which are stored, the highest contiguous one, and the gaps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BatchSequencer:
    """Tracks stored batch numbers (1, 2, 3, ...): `acked` is the highest n with every batch 1..n stored."""

    acked: int = 0
    ahead: set[int] = field(default_factory=set)  # stored batches above acked + 1

    def seen(self, seq: int) -> bool:
        """Whether batch `seq` is already stored."""
        return seq <= self.acked or seq in self.ahead

    def record(self, seq: int) -> list[int]:
        """Mark `seq` stored; returns the batches that became contiguous (in order) and can now be applied."""
        if self.seen(seq):
            return []
        self.ahead.add(seq)
        ready = []
        while self.acked + 1 in self.ahead:
            self.acked += 1
            self.ahead.remove(self.acked)
            ready.append(self.acked)
        return ready

    def missing(self, limit: int = 100) -> list[int]:
        """Batch numbers below the highest stored one that have not arrived (at most `limit`)."""
        if not self.ahead:
            return []
        top = max(self.ahead)
        return [s for s in range(self.acked + 1, top) if s not in self.ahead][:limit]

    @property
    def highest(self) -> int:
        """The highest batch number stored."""
        return max(self.ahead, default=self.acked)
