"""Test doubles for CVM: a PIN-checking card, a PIN pad of scripted entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from emv.callbacks import DefaultCallbacks, DisplayMessage, PinEntry, PinRequest, PinStatus
from tests.emv import oda_chain as chain

GOOD_BLOCK = bytes.fromhex("241234FFFFFFFFFF")
BAD_BLOCK = bytes.fromhex("249999FFFFFFFFFF")


@dataclass
class Pin:
    block: bytes
    wiped: bool = False

    def offline_pin_block(self) -> bytes:
        assert not self.wiped
        return self.block

    def wipe(self) -> None:
        self.wiped = True


def entered(block: bytes = GOOD_BLOCK) -> PinEntry:
    return PinEntry(PinStatus.ENTERED, offline=Pin(block))


ONLINE = PinEntry(PinStatus.ENTERED, online_block=b"\x11" * 8, ksn=b"\x22" * 10)


@dataclass
class PinPad(DefaultCallbacks):
    entries: list[PinEntry] = field(default_factory=list)
    requests: list[PinRequest] = field(default_factory=list)
    shown: list[DisplayMessage] = field(default_factory=list)
    random_calls: list[int] = field(default_factory=list)

    def enter_pin(self, request: PinRequest) -> PinEntry:
        self.requests.append(request)
        if not self.entries:
            return PinEntry(PinStatus.PINPAD_FAULT)
        return self.entries.pop(0)

    def display(self, message: DisplayMessage) -> None:
        self.shown.append(message)

    def random_bytes(self, length: int) -> bytes:
        self.random_calls.append(length)
        return bytes([0x5A]) * length


class PlainPinPad(PinPad):
    """Without random_bytes: offline enciphered PIN cannot be done."""

    random_bytes = None  # type: ignore[assignment]


@dataclass
class PinCard:
    """Checks VERIFY like a card: try counter, 63Cx, blocked 6983, GET CHALLENGE."""

    tries: int | None = 3
    challenge: bytes = bytes.fromhex("0102030405060708")
    challenge_sw: bytes = b"\x90\x00"
    other_sw: bytes | None = None
    commands: list[bytes] = field(default_factory=list)
    verified: list[int] = field(default_factory=list)

    def transmit(self, apdu: bytes) -> bytes:
        self.commands.append(apdu)
        ins = apdu[1]
        if ins == 0xCA:  # GET DATA
            if self.tries is None:
                return b"\x6a\x88"
            return b"\x9f\x17\x01" + bytes([self.tries]) + b"\x90\x00"
        if ins == 0x84:  # GET CHALLENGE
            return self.challenge + self.challenge_sw
        if ins == 0x20:  # VERIFY
            return self._verify(apdu[3], apdu[5 : 5 + apdu[4]])
        return b"\x6d\x00"

    def _verify(self, p2: int, data: bytes) -> bytes:
        self.verified.append(p2)
        if self.other_sw is not None:
            return self.other_sw
        if self.tries == 0:
            return b"\x69\x83"
        if p2 == 0x88:
            plain = chain.pin_key().decrypt(data)
            ok = plain[0] == 0x7F and plain[9:17] == self.challenge and plain[1:9] == GOOD_BLOCK
        else:
            ok = data == GOOD_BLOCK
        if ok:
            self.tries = 3
            return b"\x90\x00"
        self.tries = (self.tries or 3) - 1
        return bytes([0x63, 0xC0 | self.tries])


def cvm_list(rules: Sequence[str], x: int = 0, y: int = 0) -> bytes:
    return x.to_bytes(4, "big") + y.to_bytes(4, "big") + bytes.fromhex("".join(rules))
