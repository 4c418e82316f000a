"""Secure PIN entry: digits reach only the consumer, buffers are wiped, outcomes returned."""

from __future__ import annotations

import gc
import threading

import pytest

from emv.callbacks import PinKind, PinStatus
from emv.callbacks import PinRequest as KernelPinRequest
from hal.events import EventQueue, Key, KeyPressed, PinDigitsChanged, Timeout
from hal.pinentry import (
    SecurePinEntry,
    kernel_pin_entry,
    offline_pin_consumer,
    online_pin_consumer,
    zeroize,
)
from hal.ports import PinEntryStatus, PinRequest
from sim.devices import SimDisplay, SimKeypad


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0  # every look at the clock costs a second: time-outs come fast
        return self.now


def make(pin: str | None = None) -> tuple[SimKeypad, SecurePinEntry, EventQueue, SimDisplay]:
    queue = EventQueue()
    keypad = SimKeypad(pin=pin)
    keypad.attach(queue)
    display = SimDisplay(16, 4)
    return keypad, SecurePinEntry(keypad, queue, display), queue, display


def test_scripted_pin_goes_to_consumer_only_and_is_wiped() -> None:
    _, entry, queue, display = make(pin="1234")
    seen: list[bytearray] = []

    def consume(pin: bytearray) -> str:
        seen.append(pin)
        return f"block-for-{bytes(pin).decode()}"

    result = entry.enter_pin(PinRequest(), consume)
    assert result.status is PinEntryStatus.ENTERED
    assert result.value == "block-for-1234"
    assert seen[0] == bytearray(4)  # zeroized after consume returned
    events = queue.drain()
    assert not any(isinstance(e, KeyPressed) for e in events)  # no digit left the pad
    assert [e.count for e in events if isinstance(e, PinDigitsChanged)] == [0, 1, 2, 3, 4]
    assert any("****" in row for screen in display.screens for row in screen)
    assert not any("1234" in row for screen in display.screens for row in screen)


def press_later(keypad: SimKeypad, keys: str) -> threading.Thread:
    thread = threading.Thread(target=lambda: (threading.Event().wait(0.02), keypad.press(keys)))
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("keys", "request_", "status", "pin"),
    [
        ("12X5678E", PinRequest(), PinEntryStatus.ENTERED, "5678"),  # clear restarts
        ("12345B6E", PinRequest(), PinEntryStatus.ENTERED, "12346"),  # backspace
        ("12E34E", PinRequest(), PinEntryStatus.ENTERED, "1234"),  # too short: ENTER ignored
        ("12C", PinRequest(), PinEntryStatus.CANCELLED, None),
        ("E", PinRequest(allow_bypass=True), PinEntryStatus.BYPASSED, None),
        ("E1234E", PinRequest(allow_bypass=False), PinEntryStatus.ENTERED, "1234"),
        ("1234567E", PinRequest(max_digits=6), PinEntryStatus.ENTERED, "123456"),
    ],
)
def test_editing_keys(
    keys: str, request_: PinRequest, status: PinEntryStatus, pin: str | None
) -> None:
    keypad, entry, _, _ = make()
    thread = press_later(keypad, keys)
    result = entry.enter_pin(request_, lambda p: bytes(p).decode())
    thread.join()
    assert result.status is status
    assert result.value == pin


def test_timeout_posts_event_and_leaves_pin_mode() -> None:
    queue = EventQueue()
    keypad = SimKeypad()
    keypad.attach(queue)
    entry = SecurePinEntry(keypad, queue, clock=FakeClock())
    result = entry.enter_pin(PinRequest(first_key_timeout=5), lambda p: b"")
    assert result.status is PinEntryStatus.TIMEOUT
    assert any(isinstance(e, Timeout) for e in queue.drain())
    keypad.press("5")  # back in normal mode: the key is an ordinary event again
    assert queue.get(0) == KeyPressed(source="sim-keypad", key=Key.D5)


def test_consumer_error_propagates_after_wipe() -> None:
    _, entry, _, _ = make(pin="9999")
    held: list[bytearray] = []

    def consume(pin: bytearray) -> None:
        held.append(pin)
        raise RuntimeError("HSM gone")

    with pytest.raises(RuntimeError):
        entry.enter_pin(PinRequest(), consume)
    assert held[0] == bytearray(4)
    gc.collect()


def test_zeroize() -> None:
    buffer = bytearray(b"1234")
    zeroize(buffer)
    assert buffer == bytearray(4)


# --- consumers and the kernel adapter --------------------------------------------------


def test_offline_block_format_2() -> None:
    """EMV 4.4 Book 3, 6.5.12: plaintext PIN block '2N P..P F..F' for VERIFY."""
    block = offline_pin_consumer(bytearray(b"1234"))
    assert block.offline_pin_block() == bytes.fromhex("241234FFFFFFFFFF")
    assert offline_pin_consumer(bytearray(b"123456789012")).offline_pin_block() == bytes.fromhex(
        "2C123456789012FF"
    )
    assert "1234" not in repr(block)
    block.wipe()
    assert block.offline_pin_block() == bytes(8)


class Session:
    """The X9.24-1:2009 Annex A.4 example: BDK 0123456789ABCDEFFEDCBA9876543210,
    KSN FFFF9876543210E00001."""

    ksn = bytes.fromhex("FFFF9876543210E00001")

    def pin_key(self) -> bytes:
        from keys import dukpt

        bdk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
        key = dukpt.derive_transaction_key(dukpt.derive_ipek(bdk, self.ksn), self.ksn)
        return dukpt.pin_variant(key)


def test_online_pin_block_matches_x9_24_annex_a() -> None:
    """ANSI X9.24-1:2009 Annex A.4: PIN 1234, PAN 4012345678909, first KSN →
    encrypted PIN block 1B9C1845EB993A7A."""
    result = online_pin_consumer("4012345678909", Session())(bytearray(b"1234"))
    assert result.block == bytes.fromhex("1B9C1845EB993A7A")
    assert result.ksn == Session.ksn


def _kernel_request(kind: PinKind) -> KernelPinRequest:
    return KernelPinRequest(
        kind=kind, pan_masked="401234******9909", amount=1234, currency_code=b"\x08\x26"
    )


def test_kernel_adapter_online_and_offline() -> None:
    _, entry, queue, _ = make(pin="1234")
    online = kernel_pin_entry(
        entry, _kernel_request(PinKind.ONLINE), pan="4012345678909", session=Session()
    )
    assert online.status is PinStatus.ENTERED and online.online_block == bytes.fromhex(
        "1B9C1845EB993A7A"
    )
    offline = kernel_pin_entry(entry, _kernel_request(PinKind.OFFLINE_PLAINTEXT))
    assert offline.status is PinStatus.ENTERED and offline.offline is not None
    assert offline.offline.offline_pin_block() == bytes.fromhex("241234FFFFFFFFFF")
    assert not any(isinstance(e, KeyPressed) for e in queue.drain())
    fault = kernel_pin_entry(entry, _kernel_request(PinKind.ONLINE))  # no key session
    assert fault.status is PinStatus.PINPAD_FAULT


def test_kernel_adapter_cancel() -> None:
    keypad, entry, _, _ = make()
    thread = press_later(keypad, "1C")
    result = kernel_pin_entry(entry, _kernel_request(PinKind.OFFLINE_PLAINTEXT))
    thread.join()
    assert result.status is PinStatus.CANCELLED and result.offline is None
