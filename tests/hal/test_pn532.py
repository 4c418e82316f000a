"""PN532 over a real socat pty (pyserial both sides) against a chip simulator:
frames, ACK/NACK, wake-up, InListPassiveTarget with one and two cards,
InDataExchange with chaining and 61xx, removal, corrupt and half frames."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.apdu import CardRemovedError, CardTimeoutError
from hal.events import ContactlessCardPresented, ContactlessCardRemoved, EventQueue
from hal.pn532 import (
    ACK,
    NACK,
    Ack,
    BadFrame,
    ErrorFrame,
    FrameParser,
    InfoFrame,
    Nack,
    Pn532Error,
    Pn532FrameError,
    Pn532Reader,
    encode_frame,
    parse_targets,
)
from hal.ports import PollStatus
from hal.registry import open_device
from tests.hal.pn532_sim import Pn532DeviceSim, SimTarget

PPSE_FCI = bytes.fromhex(
    "6F2A840E325041592E5359532E4444463031A518BF0C1561134F07A0000000031010500A564953412044454249549000"
)


def test_frame_vectors_from_the_user_manual() -> None:
    """UM0701-02 §7.2.2 GetFirmwareVersion: command and the PN532 v1.6 answer."""
    assert encode_frame(b"\x02") == bytes.fromhex("0000FF02FED4022A00")
    assert FrameParser().feed(bytes.fromhex("0000FF06FAD50332010607E800")) == [
        InfoFrame(0xD5, bytes.fromhex("0332010607"))
    ]
    assert FrameParser().feed(ACK + NACK + bytes.fromhex("0000FF01FF7F8100")) == [
        Ack(),
        Nack(),
        ErrorFrame(),
    ]


@given(st.binary(min_size=0, max_size=600), st.integers(1, 40))
def test_codec_round_trip_any_chunking(data: bytes, chunk: int) -> None:
    stream = b"\x55\x00\x13" + encode_frame(data, 0xD5) + ACK
    parser = FrameParser()
    out = []
    for start in range(0, len(stream), chunk):
        out += parser.feed(stream[start : start + chunk])
    assert out == [InfoFrame(0xD5, data), Ack()]


@given(st.binary(min_size=1, max_size=100), st.data())
def test_any_corruption_is_detected_and_next_frame_survives(
    data: bytes, draw: st.DataObject
) -> None:
    good = encode_frame(data, 0xD5)
    index = draw.draw(st.integers(3, len(good) - 2))  # LEN..DCS
    bad = bytearray(good)
    bad[index] ^= draw.draw(st.integers(1, 255))
    frames = FrameParser().feed(bytes(bad) + encode_frame(b"\x4b\x00", 0xD5))
    assert InfoFrame(0xD5, data) not in frames
    assert frames[-1] == InfoFrame(0xD5, b"\x4b\x00")


@given(st.binary(max_size=300))
def test_parser_never_raises_on_garbage(noise: bytes) -> None:
    FrameParser().feed(noise)


def test_parse_targets_truncated() -> None:
    with pytest.raises(Pn532FrameError, match="truncated"):
        parse_targets(bytes.fromhex("01010004200412"))


class Card:
    def __init__(self, uid: bytes) -> None:
        self.uid = uid
        self.apdus: list[bytes] = []

    def __call__(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        if apdu[1] == 0xA4:
            return PPSE_FCI
        if apdu[1] == 0xB2:  # long record: chained by the PN532 with MI
            return bytes(range(200)) + b"\x90\x00"
        if apdu[1] == 0xCA:
            return b"\x61\x05"
        if apdu[1] == 0xC0:
            return b"ABCDE\x90\x00"
        return b"\x6d\x00"


@pytest.fixture
def rig(ptys: tuple[str, str]) -> Iterator[tuple[Pn532Reader, Pn532DeviceSim]]:
    device_side, driver_side = ptys
    chip = Pn532DeviceSim(device_side)
    reader = open_device("contactless_reader", f"pn532://{driver_side}", timeout=0.5)
    try:
        yield reader, chip
    finally:
        reader.close()
        chip.close()


SELECT_PPSE = bytes.fromhex("00A404000E325041592E5359532E444446303100")


@pytest.mark.pty
def test_wake_poll_activate_exchange(rig: tuple[Pn532Reader, Pn532DeviceSim]) -> None:
    reader, chip = rig
    assert chip.commands[0] == bytes.fromhex("14011401")  # SAMConfiguration normal mode
    assert reader.poll(0.2).status is PollStatus.NO_CARD
    card = Card(b"\x04\x11\x22\x33")
    chip.targets = [SimTarget(card.uid, card)]
    result = reader.poll(1)
    assert result.status is PollStatus.ONE_CARD and result.uid == card.uid
    session = reader.activate()
    assert session.atr == bytes.fromhex("0578807002")
    assert session.transmit(SELECT_PPSE) == PPSE_FCI
    assert session.transmit(bytes.fromhex("00B2010C00")) == bytes(range(200)) + b"\x90\x00"
    assert session.transmit(bytes.fromhex("80CA9F1700")) == b"ABCDE\x90\x00"  # 61xx inside
    assert card.apdus[-1] == bytes.fromhex("00C0000005")
    assert reader.card_present()


@pytest.mark.pty
def test_two_cards_is_a_collision(rig: tuple[Pn532Reader, Pn532DeviceSim]) -> None:
    reader, chip = rig
    chip.targets = [
        SimTarget(b"\x01\x02\x03\x04", Card(b"1")),
        SimTarget(b"\x05\x06\x07\x08", Card(b"2")),
    ]
    result = reader.poll(0.5)
    assert (result.status, result.cards) == (PollStatus.COLLISION, 2)
    with pytest.raises(Pn532Error, match="exactly one"):
        reader.activate()
    chip.targets.pop()
    assert reader.poll(0.5).status is PollStatus.ONE_CARD


@pytest.mark.pty
def test_card_removed_mid_session(rig: tuple[Pn532Reader, Pn532DeviceSim]) -> None:
    reader, chip = rig
    chip.targets = [SimTarget(b"\x04\x11\x22\x33", Card(b"1"))]
    reader.poll(1)
    session = reader.activate()
    chip.targets = []  # pulled out of the field
    with pytest.raises(CardRemovedError, match="status 0x01"):
        session.transmit(SELECT_PPSE)
    with pytest.raises(CardRemovedError):
        session.transmit(SELECT_PPSE)
    assert not reader.card_present()
    assert reader.wait_for_removal(0.5)


@pytest.mark.pty
def test_corrupt_response_is_nacked_and_resent(rig: tuple[Pn532Reader, Pn532DeviceSim]) -> None:
    reader, chip = rig
    chip.targets = [SimTarget(b"\x04\x11\x22\x33", Card(b"1"))]
    reader.poll(1)
    session = reader.activate()
    chip.corrupt_responses = 1
    chip.noise_before_ack = b"\xaa\x00\x13"
    assert session.transmit(SELECT_PPSE) == PPSE_FCI
    assert chip.nacks == 1


@pytest.mark.pty
def test_lost_ack_is_retried_and_half_frame_times_out(
    rig: tuple[Pn532Reader, Pn532DeviceSim],
) -> None:
    reader, chip = rig
    chip.drop_acks = 1
    assert reader.poll(0.2).status is PollStatus.NO_CARD  # resent after the missing ACK
    chip.targets = [SimTarget(b"\x04\x11\x22\x33", Card(b"1"))]
    reader.poll(1)
    session = reader.activate()
    chip.half_frame_next = True
    with pytest.raises(CardTimeoutError):
        session.transmit(SELECT_PPSE)
    reader.release()
    assert reader.poll(1).status is PollStatus.ONE_CARD  # the driver recovered
    assert reader.activate().transmit(SELECT_PPSE) == PPSE_FCI


@pytest.mark.pty
def test_presence_events(rig: tuple[Pn532Reader, Pn532DeviceSim]) -> None:
    reader, chip = rig
    reader.poll_interval = 0.02
    queue = EventQueue()
    reader.attach(queue)
    chip.targets = [SimTarget(b"\x04\x11\x22\x33", Card(b"1"))]
    assert queue.wait_for(ContactlessCardPresented, 2) is not None
    chip.targets = []
    assert queue.wait_for(ContactlessCardRemoved, 2) is not None


def test_bad_frame_reason() -> None:
    assert FrameParser().feed(bytes.fromhex("0000FF0300D40200")) == [
        BadFrame("length checksum (LCS) mismatch")
    ]


@pytest.mark.pty
def test_no_chip_on_the_line(ptys: tuple[str, str]) -> None:
    """Nothing answers on the far side: opening fails with a clear error, port closed."""
    _, driver_side = ptys
    with pytest.raises(Pn532Error, match="acknowledge command 0x14"):
        Pn532Reader(driver_side)
