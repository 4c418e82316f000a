"""The one event queue: FIFO, selective wait, bounded, thread-safe."""

from __future__ import annotations

import threading

from hal.events import (
    CardInserted,
    EventQueue,
    Key,
    KeyPressed,
    MagstripeSwiped,
    QrScanned,
)


def test_fifo_and_timeout() -> None:
    queue = EventQueue()
    queue.put(KeyPressed(key=Key.D1))
    queue.put(KeyPressed(key=Key.D2))
    assert queue.get(0) == KeyPressed(key=Key.D1)
    assert queue.get(0) == KeyPressed(key=Key.D2)
    assert queue.get(0.01) is None


def test_wait_for_leaves_other_events_queued() -> None:
    queue = EventQueue()
    queue.put(KeyPressed(key=Key.D1))
    queue.put(CardInserted(reader="r"))
    assert queue.wait_for(CardInserted, 0) == CardInserted(reader="r")
    assert queue.drain() == [KeyPressed(key=Key.D1)]


def test_wait_for_wakes_on_put_from_another_thread() -> None:
    queue = EventQueue()
    timer = threading.Timer(0.02, queue.put, args=(KeyPressed(key=Key.ENTER),))
    timer.start()
    event = queue.wait_for(KeyPressed, 2, predicate=lambda e: e.key is Key.ENTER)
    timer.join()
    assert event == KeyPressed(key=Key.ENTER)


def test_bounded_drops_oldest() -> None:
    queue = EventQueue(maxsize=2)
    for key in (Key.D1, Key.D2, Key.D3):
        queue.put(KeyPressed(key=key))
    assert queue.dropped == 1
    assert [e.key for e in queue.drain()] == [Key.D2, Key.D3]  # type: ignore[attr-defined]


def test_many_producers_lose_nothing() -> None:
    queue = EventQueue(maxsize=10_000)
    threads = [
        threading.Thread(target=lambda: [queue.put(KeyPressed(key=Key.D0)) for _ in range(500)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(queue) == 4000


def test_secrets_stay_out_of_repr() -> None:
    swipe = MagstripeSwiped(track2="4761739001010010=22122011143804400000")
    assert "4761" not in repr(swipe)
    assert "SECRETQR" not in repr(QrScanned(payload="SECRETQR"))


def test_key_parse() -> None:
    assert Key.parse("7") is Key.D7
    assert Key.parse("enter") is Key.ENTER
    assert Key.D7.is_digit and not Key.DOUBLE_ZERO.is_digit and not Key.ENTER.is_digit


def test_wait_for_accepts_a_plain_predicate() -> None:
    queue = EventQueue()
    queue.put(KeyPressed(key=Key.D1))
    queue.put(QrScanned(payload="X"))
    event = queue.wait_for(lambda e: isinstance(e, QrScanned | CardInserted), 0)
    assert event == QrScanned(payload="X")
    assert queue.wait_for(lambda e: False, 0.01) is None
    assert len(queue) == 1
