from hypothesis import given
from hypothesis import strategies as st

from inferstream.runtime.offsets import OffsetTracker
from inferstream.transports.base import TopicPartition

TP = TopicPartition("t", 0)


def test_only_the_contiguous_done_prefix_is_committable() -> None:
    tracker = OffsetTracker()
    first, second, third = (tracker.track(TP, end) for end in (10, 20, 30))
    tracker.done(third)
    tracker.done(second)
    assert tracker.committable() == {}
    tracker.done(first)
    assert tracker.committable() == {TP: 30}
    assert tracker.in_flight == 0


@given(st.permutations(list(range(12))))
def test_any_completion_order_never_commits_past_an_unfinished_batch(order: list[int]) -> None:
    tracker = OffsetTracker()
    tickets = [tracker.track(TP, (i + 1) * 10) for i in range(12)]
    finished: set[int] = set()
    committed = 0
    for index in order:
        tracker.done(tickets[index])
        finished.add(index)
        committed = tracker.committable().get(TP, committed)
        prefix = next((i for i in range(12) if i not in finished), 12)
        assert committed == prefix * 10
    assert committed == 120
