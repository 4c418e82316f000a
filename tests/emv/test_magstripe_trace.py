"""Magstripe rules (Book 4, 6.3.1) and the masked APDU trace."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emv.magstripe import (
    SwipeAction,
    Track2Error,
    parse_track2,
    swipe_decision,
)
from emv.trace import command_name, mask_command, mask_response
from tests.emv.scripted import PAN, PAN_BCD, t


def test_track2_ascii_and_chip_detection() -> None:
    track = parse_track2(f";{PAN}=30122011234567890?")
    assert track.pan == PAN and track.expiry == "3012" and track.service_code == "201"
    assert track.chip_capable
    assert PAN not in repr(track)


def test_track2_from_tag_57() -> None:
    track = parse_track2(bytes.fromhex(f"{PAN}D301210112345F"))
    assert track.service_code == "101" and not track.chip_capable


@pytest.mark.parametrize("bad", ["4761739001010119", "47617=3012201", f"{PAN}=30", "abc=3012201"])
def test_track2_rejects(bad: str) -> None:
    with pytest.raises(Track2Error) as error:
        parse_track2(bad)
    assert PAN not in str(error.value)


@given(st.text(max_size=60))
def test_track2_never_raises_anything_else(text: str) -> None:
    try:
        track = parse_track2(text)
    except Track2Error:
        return
    assert track.pan.isdigit() and 12 <= len(track.pan) <= 19
    assert len(track.expiry) == 4 and len(track.service_code) == 3


@pytest.mark.parametrize(
    "service, chip_failed, fallback, action, mode",
    [
        ("101", False, True, SwipeAction.PROCEED, "90"),
        ("201", False, True, SwipeAction.INSERT_CARD, ""),
        ("601", False, True, SwipeAction.INSERT_CARD, ""),
        ("201", True, True, SwipeAction.FALLBACK, "80"),
        ("201", True, False, SwipeAction.REFUSE, ""),
    ],
)
def test_swipe_decision(
    service: str, chip_failed: bool, fallback: bool, action: SwipeAction, mode: str
) -> None:
    track = parse_track2(f"{PAN}=3012{service}0000")
    decision = swipe_decision(track, chip_failed=chip_failed, fallback_allowed=fallback)
    assert decision.action is action and decision.entry_mode == mode


def test_trace_masks_pan_track_and_name_but_keeps_cryptograms() -> None:
    data = t(
        0x70,
        t(0x5A, PAN_BCD),
        t(0x57, bytes.fromhex(f"{PAN}D3012201")),
        t(0x5F20, b"DOE/JOHN"),
        t(0x9F26, bytes.fromhex("1122334455667788")),
    )
    masked, text = mask_response(data)
    assert PAN not in masked.hex().upper() and b"DOE" not in masked
    assert "476173******0119" in text and "1122334455667788" in text
    assert PAN not in text and "DOE" not in text


def test_trace_masks_verify_data() -> None:
    command = bytes.fromhex("0020008008241234FFFFFFFFFF")
    assert mask_command(command) == bytes.fromhex("0020008008") + bytes(8)
    assert command_name(command) == "VERIFY"


def test_non_tlv_response_is_masked_whole() -> None:
    masked, text = mask_response(b"\x5a\x08\x47\x61")
    assert masked == bytes(4) and "masked" in text
