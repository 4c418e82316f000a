"""Magstripe track parsing (ISO/IEC 7811-2 sentinels, character sets, LRC) and the
serial reader behind a real socat pty with pyserial on both sides."""

from __future__ import annotations

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from hal.events import EventQueue, InputRejected, MagstripeSwiped
from hal.magstripe import (
    TRACK1,
    TRACK2,
    LrcError,
    MagstripeError,
    ParityError,
    SentinelError,
    SerialMagstripeReader,
    TrackCharacterError,
    TrackReadError,
    decode_raw_track,
    encode_track1,
    encode_track2,
    lrc,
    parity_bit,
    parse_swipe,
    raw_character,
)

# A well-known test track 2 (EMVCo-style test PAN 4761 7390 0101 0010).
T2 = "4761739001010010=22122011143804400000"
T1 = "B4761739001010010^CARDHOLDER/TEST^2212201114380440000000"

track1_data = st.text(
    alphabet=[chr(c) for c in range(0x20, 0x60) if chr(c) not in "%?"], max_size=40
)
track2_data = st.text(
    alphabet=[chr(c) for c in range(0x30, 0x40) if chr(c) not in ";?"], max_size=30
)


def test_lrc_hand_computed() -> None:
    """Track 2 ";1?": codes 0x0B ^ 0x01 ^ 0x0F = 0x05 → character '5'."""
    assert lrc(TRACK2, ";1?") == 0x05
    assert encode_track2("1") == b";1?5"
    assert parity_bit(0x01, 4) == 0 and parity_bit(0x03, 4) == 1  # odd parity


def test_round_trip_known_tracks() -> None:
    swipe = parse_swipe(encode_track1(T1) + encode_track2(T2))
    assert (swipe.track1, swipe.track2) == (T1, T2)
    assert T2 not in repr(swipe)


@given(track1_data, track2_data)
def test_round_trip_property(t1: str, t2: str) -> None:
    assert parse_swipe(encode_track1(t1) + encode_track2(t2)) == parse_swipe(
        encode_track1(t1) + encode_track2(t2)
    )
    swipe = parse_swipe(encode_track1(t1) + encode_track2(t2))
    assert (swipe.track1, swipe.track2) == (t1, t2)


@given(track2_data.filter(bool), st.data())
def test_any_single_character_change_is_caught(t2: str, data: st.DataObject) -> None:
    raw = bytearray(encode_track2(t2))
    index = data.draw(st.integers(1, len(raw) - 3))  # a data character
    replacement = data.draw(st.sampled_from([c for c in range(0x30, 0x3B) if c != raw[index]]))
    raw[index] = replacement
    with pytest.raises(LrcError):
        parse_swipe(bytes(raw))


@given(st.binary(max_size=120))
def test_garbage_never_crashes_and_never_leaks(raw: bytes) -> None:
    try:
        parse_swipe(raw)
    except MagstripeError as error:
        text = raw.decode("latin-1")
        assert len(text) < 8 or text not in str(error)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", SentinelError),
        (b"4761?", SentinelError),
        (b";4761", SentinelError),
        (b";4761?", LrcError),
        (b";4761?9", LrcError),
        (b";47A1?0", TrackCharacterError),
        (b"%E?", TrackReadError),
        (encode_track2("1") + encode_track2("2"), SentinelError),
        (b"\xff", TrackCharacterError),
    ],
)
def test_bad_swipes(raw: bytes, error: type[MagstripeError]) -> None:
    with pytest.raises(error):
        parse_swipe(raw)


@pytest.mark.pty
def test_serial_reader_over_pty(ptys: tuple[str, str]) -> None:
    device_side, reader_side = ptys
    queue = EventQueue()
    reader = SerialMagstripeReader(reader_side, idle_timeout=0.1)
    reader.attach(queue)
    try:
        with serial.Serial(device_side, 9600) as device:
            device.write(b";4761?9\r")  # bad LRC
            rejected = queue.get(2)
            assert isinstance(rejected, InputRejected) and "LRC" in rejected.reason
            assert "4761" not in rejected.reason
            device.write(b";47")  # half frame, then silence
            rejected = queue.get(2)
            assert isinstance(rejected, InputRejected) and "incomplete" in rejected.reason
            device.write(encode_track1(T1) + encode_track2(T2) + b"\r")
            swipe = queue.get(2)
            assert isinstance(swipe, MagstripeSwiped)
            assert (swipe.track1, swipe.track2) == (T1, T2)
    finally:
        reader.close()


def _raw(fmt, data: str) -> bytes:  # type: ignore[no-untyped-def]
    ascii_form = (encode_track1(data) if fmt is TRACK1 else encode_track2(data)).decode()
    return bytes(raw_character(fmt, c) for c in ascii_form)


def test_raw_characters_carry_odd_parity() -> None:
    """ISO/IEC 7811-2 track 2: ';' is code 0x0B (1011, three ones → parity 0); '0' is
    code 0 (no ones → parity 1, raw 0x10)."""
    assert raw_character(TRACK2, ";") == 0x0B
    assert raw_character(TRACK2, "0") == 0x10
    assert raw_character(TRACK1, "%") == 0x05 | 0x40  # 000101: two ones → parity 1


@given(track1_data, track2_data)
def test_raw_round_trip(t1: str, t2: str) -> None:
    assert decode_raw_track(TRACK1, _raw(TRACK1, t1)) == t1
    assert decode_raw_track(TRACK2, _raw(TRACK2, t2)) == t2


@given(track2_data, st.data())
def test_any_single_bit_flip_is_caught(t2: str, data: st.DataObject) -> None:
    raw = bytearray(_raw(TRACK2, t2))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= 1 << data.draw(st.integers(0, 4))
    with pytest.raises(ParityError):
        decode_raw_track(TRACK2, bytes(raw))
