"""LatencyHistogram: durations counted in fixed log-linear buckets, as HdrHistogram does.

Recording is O(1) (one C-level binary search over the bucket bounds) and
memory does not grow with the number of durations; a percentile is exact to
within 1/16 (6.25 %) of the true value. Every executor's gatherer keeps two
(wait and run time), periodic watchers one (lateness); snapshots copy the
counts, so two snapshots' histograms can be subtracted to get an interval's.
"""

from __future__ import annotations

import bisect
import math

# Buckets cover 2**-24 s (60 ns) .. 2**14 s (4.5 h). Shorter durations count in
# the first bucket, longer ones in an overflow bucket past the last; a
# percentile that falls there is capped at the exact maximum.
_SUB_BUCKETS = 16
_MIN_EXPONENT = -23
_MAX_EXPONENT = 15
NUM_BUCKETS = (_MAX_EXPONENT - _MIN_EXPONENT) * _SUB_BUCKETS


def upper_bound(index: int) -> float:
    """The exclusive upper bound of bucket ``index``: (16 + sub + 1) / 32 * 2**exponent."""
    exponent, sub = divmod(index, _SUB_BUCKETS)
    return math.ldexp((_SUB_BUCKETS + sub + 1) / 32.0, exponent + _MIN_EXPONENT)


#: Ascending upper bounds of the buckets. A duration's bucket is the first
#: whose bound exceeds it, found by one C-level binary search: half the cost
#: of computing it from ``math.frexp`` in Python, and it is paid twice a call.
UPPER_BOUNDS = [upper_bound(index) for index in range(NUM_BUCKETS)]
bucket_of = bisect.bisect_right


class LatencyHistogram:
    """Counts of durations in log-linear buckets; O(1) to record, fixed memory."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        #: One count per bucket of :data:`UPPER_BOUNDS`, and one past the
        #: last for anything longer. The gatherer increments it directly.
        self.counts = [0] * (NUM_BUCKETS + 1)

    @property
    def count(self) -> int:
        """How many durations were recorded."""
        return sum(self.counts)

    def record(self, seconds: float) -> None:
        self.counts[bucket_of(UPPER_BOUNDS, seconds)] += 1

    def copy(self) -> LatencyHistogram:
        clone = LatencyHistogram()
        clone.counts = self.counts[:]
        return clone

    def percentiles(self, quantiles: tuple[float, ...], ceiling: float) -> tuple[float, ...]:
        """Upper bounds of the buckets holding each quantile, capped at ``ceiling``.

        ``quantiles`` must be ascending; with no samples every answer is 0.0.
        """
        count = self.count
        if count == 0:
            return tuple(0.0 for _ in quantiles)
        ranks = [max(1, math.ceil(q * count)) for q in quantiles]
        answers: list[float] = []
        seen = 0
        wanted = 0
        for index, bucket in enumerate(self.counts):
            if not bucket:
                continue
            seen += bucket
            while wanted < len(ranks) and seen >= ranks[wanted]:
                answers.append(min(upper_bound(index), ceiling))
                wanted += 1
            if wanted == len(ranks):
                break
        return tuple(answers)
