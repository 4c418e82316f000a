"""Magnetic stripe reading and chip fallback rules (EMV 4.4 Book 4, 6.3.1 / 11.x).

A swiped card whose service code starts with 2 or 6 has a chip: the terminal
must ask for it to be inserted, unless the chip already failed and the
configuration allows fallback, which goes out with POS entry mode 80.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from emv.context import mask_pan
from emv.errors import EmvError

ENTRY_MODE_MAGSTRIPE = "90"  # ISO 8583 DE 22 positions 1-2: full track read
ENTRY_MODE_FALLBACK = "80"  # chip card read by magstripe after chip failure
ENTRY_MODE_CHIP = "05"


class Track2Error(EmvError):
    """Track 2 data that is not PAN '=' YYMM service-code discretionary (never echoes data)."""


@dataclass(frozen=True, slots=True, repr=False)
class Track2:
    pan: str
    expiry: str  # YYMM
    service_code: str  # 3 digits
    discretionary: str

    def __repr__(self) -> str:  # never print the PAN or discretionary data
        return f"Track2(pan={mask_pan(self.pan)}, service_code={self.service_code})"

    @property
    def chip_capable(self) -> bool:
        """ISO/IEC 7813 service code first digit 2 or 6: integrated circuit card."""
        return self.service_code[:1] in ("2", "6")


def parse_track2(data: str | bytes) -> Track2:
    """ASCII track 2 (';PAN=YYMMSSS...?') or EMV tag 57 (BCD, 'D' separator, 'F' pad).

    Raises
    ------
    Track2Error
        No separator, a PAN not 12-19 digits, or a short expiry/service code.
    """
    text = data.hex().upper().rstrip("F") if isinstance(data, bytes) else data.strip()
    text = text.removeprefix(";").removesuffix("?").replace("D", "=")
    pan, sep, rest = text.partition("=")
    if not sep:
        raise Track2Error("track 2 has no field separator")
    if not pan.isdigit() or not 12 <= len(pan) <= 19:
        raise Track2Error(f"track 2 PAN of {len(pan)} characters")
    if len(rest) < 7 or not rest[:7].isdigit():
        raise Track2Error("track 2 expiry or service code missing")
    return Track2(pan, rest[:4], rest[4:7], rest[7:])


class SwipeAction(enum.Enum):
    PROCEED = "proceed"  # a magstripe-only card: go on with entry mode 90
    INSERT_CARD = "insert_card"  # chip card swiped first: "use chip reader"
    FALLBACK = "fallback"  # chip failed, fallback allowed: entry mode 80
    REFUSE = "refuse"  # chip failed, fallback not allowed


@dataclass(frozen=True, slots=True)
class SwipeDecision:
    action: SwipeAction
    entry_mode: str = ""


def swipe_decision(track: Track2, *, chip_failed: bool, fallback_allowed: bool) -> SwipeDecision:
    """Book 4, 6.3.1: what to do with a swipe given the chip history of this transaction."""
    if not track.chip_capable:
        return SwipeDecision(SwipeAction.PROCEED, ENTRY_MODE_MAGSTRIPE)
    if not chip_failed:
        return SwipeDecision(SwipeAction.INSERT_CARD)
    if fallback_allowed:
        return SwipeDecision(SwipeAction.FALLBACK, ENTRY_MODE_FALLBACK)
    return SwipeDecision(SwipeAction.REFUSE)
