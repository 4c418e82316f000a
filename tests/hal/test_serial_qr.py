"""QR/barcode framing by suffix (property-tested) and the serial scanner over a real pty."""

from __future__ import annotations

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from hal.events import DeviceError, DeviceRecovered, EventQueue, InputRejected, QrScanned
from hal.serial_qr import QrFrameError, SerialQrScanner, check_payload
from hal.serialport import FrameRejected, SuffixFramer

PAYLOAD = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A"  # noqa: E501 - EMVCo MPM spec example shape

printable = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn")),
    min_size=1,
    max_size=60,
).filter(str.isprintable)


@given(st.lists(printable, max_size=8), st.integers(1, 7))
def test_framer_splits_any_chunking(payloads: list[str], chunk: int) -> None:
    stream = b"".join(p.encode() + b"\r\n" for p in payloads)
    framer = SuffixFramer(b"\r\n", max_length=512)
    out: list[bytes | FrameRejected] = []
    for start in range(0, len(stream), chunk):
        out += framer.feed(stream[start : start + chunk])
    assert out == [p.encode() for p in payloads]
    assert [check_payload(f) for f in out if isinstance(f, bytes)] == payloads


@given(st.binary(max_size=300), st.binary(min_size=1, max_size=3))
def test_framer_never_yields_overlong_or_suffix_bearing_frames(data: bytes, suffix: bytes) -> None:
    framer = SuffixFramer(suffix, max_length=32)
    for item in framer.feed(data):
        if isinstance(item, bytes):
            assert len(item) <= 32 and suffix not in item


def test_overlong_is_rejected_once_then_resyncs() -> None:
    framer = SuffixFramer(b"\r", max_length=8)
    out = framer.feed(b"A" * 20) + framer.feed(b"B" * 20 + b"\rOK\r")
    assert out == [FrameRejected("frame longer than 8 bytes"), b"OK"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"A\x00B", "non-printable character at offset 1"),
        (b"\xff", "not UTF-8"),
        (b"X" * 513, "longer"),
    ],
)
def test_check_payload_rejects(raw: bytes, reason: str) -> None:
    with pytest.raises(QrFrameError, match=reason):
        check_payload(raw)


@pytest.mark.pty
def test_scanner_over_pty_rejects_then_recovers(ptys: tuple[str, str]) -> None:
    device_side, scanner_side = ptys
    queue = EventQueue()
    scanner = SerialQrScanner(scanner_side, suffix=b"\r", max_length=600, idle_timeout=0.1)
    scanner.attach(queue)
    try:
        with serial.Serial(device_side, 9600) as device:
            device.write(b"\x01\x02garbage\r")
            event = queue.get(2)
            assert isinstance(event, InputRejected) and "non-printable" in event.reason
            device.write(b"Z" * 700 + b"\r")
            event = queue.get(2)
            assert isinstance(event, InputRejected) and "longer" in event.reason
            device.write(PAYLOAD.encode() + b"\r")
            event = queue.get(2)
            assert isinstance(event, QrScanned) and event.payload == PAYLOAD
    finally:
        scanner.close()


@pytest.mark.pty
def test_scanner_unplugged_and_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.services import pty_pair

    queue = EventQueue()
    with pty_pair(tmp_path) as (device_side, scanner_side):
        scanner = SerialQrScanner(scanner_side, idle_timeout=0.1)
        scanner.reader.retry_interval = 0.05
        scanner.attach(queue)
    try:
        # socat is gone: the port breaks, the driver says so and keeps retrying
        event = queue.wait_for(DeviceError, 3)
        assert event is not None and scanner_side in event.reason
        with pty_pair(tmp_path) as (device_side, _):
            recovered = queue.wait_for(DeviceRecovered, 3)
            assert recovered is not None
            with serial.Serial(device_side, 9600) as device:
                device.write(b"HELLO\r")
                event = queue.wait_for(QrScanned, 3)
                assert event is not None and event.payload == "HELLO"
    finally:
        scanner.close()
