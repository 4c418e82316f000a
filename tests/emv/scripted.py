"""Hand-built card responses for kernel tests: a tiny scripted transport and a
configurable test card built from plain TLV (no simulator involved)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from emv.callbacks import (
    Candidate,
    DefaultCallbacks,
    OnlineRequest,
    OnlineResponse,
    PinEntry,
    PinRequest,
    PinStatus,
)
from emv.config import AidEntry, KernelConfig, TerminalData
from emv.context import TransactionContext, TransactionInput
from emv.tlv import encode_primitive
from emv.transport import CardTransportError

OK = b"\x90\x00"
VISA = bytes.fromhex("A0000000031010")
VISA_ELECTRON = bytes.fromhex("A0000000032010")
MASTERCARD = bytes.fromhex("A0000000041010")
PAN = "4761739001010119"
PAN_BCD = bytes.fromhex(PAN)


def t(tag: int, *parts: bytes) -> bytes:
    """One TLV object; constructed values are the concatenated parts."""
    return encode_primitive(tag, b"".join(parts))


Handler = Callable[[bytes], bytes]


class ScriptedTransport:
    """Answers each command from a table: exact APDU first, then the 4-byte header.

    A value may be bytes or a callable (for answers that depend on the data).
    Unknown commands answer 6D00. ``sent`` records every command in order.
    """

    def __init__(self, table: dict[bytes, bytes | Handler], *, fail_after: int | None = None):
        self.table = table
        self.sent: list[bytes] = []
        self.fail_after = fail_after

    def transmit(self, apdu: bytes) -> bytes:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise CardTransportError("card removed")
        self.sent.append(apdu)
        answer = self.table.get(apdu)
        if answer is None:
            answer = self.table.get(apdu[:4])
        if answer is None:
            return b"\x6d\x00"
        return answer(apdu) if callable(answer) else answer


def select_cmd(name: bytes, next_occurrence: bool = False) -> bytes:
    return bytes((0, 0xA4, 4, 2 if next_occurrence else 0, len(name))) + name + b"\x00"


def read_cmd(sfi: int, record: int) -> bytes:
    return bytes((0, 0xB2, record, (sfi << 3) | 4, 0))


def fci(name: bytes, *proprietary: bytes) -> bytes:
    return t(0x6F, t(0x84, name), t(0xA5, *proprietary))


@dataclass
class FakeCard:
    """A configurable contact card; ``table()`` gives the scripted transport's table."""

    aid: bytes = VISA
    label: bytes = b"VISA CREDIT"
    use_pse: bool = True
    priority: int = 1
    pdol: bytes = bytes.fromhex("9F02069F1A02")
    aip: bytes = b"\x18\x00"  # CVM supported, terminal risk management to be performed
    expiry: bytes = bytes.fromhex("301231")
    effective: bytes = bytes.fromhex("200101")
    issuer_country: bytes = b"\x08\x26"
    auc: bytes = b"\xff\x00"
    cvm_list: bytes = bytes(8) + b"\x1f\x00"  # no CVM required, always
    iac_denial: bytes = bytes(5)
    iac_online: bytes = bytes.fromhex("F870049800")
    iac_default: bytes = bytes.fromhex("F870049800")
    atc: int = 5
    last_online_atc: int = 3
    lcol: int = 5
    ucol: int = 10
    first_cid: int = 0x80  # ARQC
    second_cid: int = 0x40  # TC
    extra_record: bytes = b""
    pan_bcd: bytes = PAN_BCD
    records_override: dict[tuple[int, int], bytes] = field(default_factory=dict)
    gpo_sw: bytes = OK
    afl: bytes = bytes.fromhex("08010201")  # SFI 1, records 1-2, record 1 for ODA
    final_select_sw: bytes = OK
    scripts_sw: bytes = OK
    external_auth_sw: bytes = OK
    missing_get_data: tuple[int, ...] = ()
    fail_after: int | None = None
    sent: list[bytes] = field(default_factory=list)
    selected: bytes = b""
    genacs: int = 0

    def cdol1(self) -> bytes:
        return bytes.fromhex("9F02069F03069F1A0295055F2A029A039C019F3704")

    def cdol2(self) -> bytes:
        return bytes.fromhex("8A029F02069505")

    def records(self) -> dict[tuple[int, int], bytes]:
        rec1 = t(
            0x70,
            t(0x5A, self.pan_bcd),
            t(0x5F24, self.expiry),
            t(0x5F25, self.effective),
            t(0x5F28, self.issuer_country),
            t(0x9F07, self.auc),
            t(0x8C, self.cdol1()),
            t(0x8D, self.cdol2()),
            t(0x5F34, b"\x01"),
        )
        rec2 = t(
            0x70,
            t(0x8E, self.cvm_list),
            t(0x9F0E, self.iac_denial),
            t(0x9F0F, self.iac_online),
            t(0x9F0D, self.iac_default),
            t(0x9F08, b"\x00\x8c"),
            t(0x9F14, bytes((self.lcol,))),
            t(0x9F23, bytes((self.ucol,))),
            self.extra_record,
        )
        out = {(1, 1): rec1 + OK, (1, 2): rec2 + OK}
        out.update(self.records_override)
        return out

    def genac_response(self, apdu: bytes) -> bytes:
        second = self.genacs > 0
        self.genacs += 1
        cid = self.second_cid if second else self.first_cid
        requested = apdu[2] & 0xC0
        rank = {0x00: 0, 0x80: 1, 0x40: 2}
        if rank.get(cid & 0xC0, 0) > rank.get(requested, 0):
            cid = requested
        body = t(
            0x77,
            t(0x9F27, bytes((cid,))),
            t(0x9F36, self.atc.to_bytes(2, "big")),
            t(0x9F26, bytes.fromhex("1122334455667788")),
            t(0x9F10, bytes.fromhex("06010A03A00000")),
        )
        return body + OK

    def pse_record(self, number: int) -> bytes:
        if number != 1:
            return b"\x6a\x83"
        entry = t(0x61, t(0x4F, self.aid), t(0x50, self.label), t(0x87, bytes((self.priority,))))
        return t(0x70, entry) + OK

    # --- the card as a CardTransport -------------------------------------------
    def transmit(self, apdu: bytes) -> bytes:
        """Answer like a card: the selected file decides what READ RECORD reads."""
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise CardTransportError("card removed")
        self.sent.append(apdu)
        ins = apdu[1]
        if ins == 0xA4:
            name = apdu[5 : 5 + apdu[4]]
            self.selected = name
            if name == b"1PAY.SYS.DDF01":
                if not self.use_pse:
                    return b"\x6a\x82"
                return fci(b"1PAY.SYS.DDF01", t(0x88, b"\x01")) + OK
            if name == self.aid or (self.aid.startswith(name) and apdu[3] == 0):
                body = fci(self.aid, t(0x50, self.label), t(0x87, b"\x01"), t(0x9F38, self.pdol))
                return body + self.final_select_sw
            return b"\x6a\x82"
        if ins == 0xB2:
            if self.selected == b"1PAY.SYS.DDF01":
                return self.pse_record(apdu[2])
            return self.records().get((apdu[3] >> 3, apdu[2]), b"\x6a\x83")
        if ins == 0xA8:
            if self.gpo_sw != OK:
                return self.gpo_sw
            return t(0x80, self.aip, self.afl) + OK
        if ins == 0xCA:
            tag = (apdu[2] << 8) | apdu[3]
            values = {0x9F36: self.atc, 0x9F13: self.last_online_atc}
            if tag not in values or tag in self.missing_get_data:
                return b"\x6a\x88"
            return t(tag, values[tag].to_bytes(2, "big")) + OK
        if ins == 0xAE:
            return self.genac_response(apdu)
        if ins == 0x82:
            return self.external_auth_sw
        if apdu[0] == 0x84:
            return self.scripts_sw
        return b"\x6d\x00"


APPROVED = OnlineResponse(True, b"00")


class RecordingCallbacks(DefaultCallbacks):
    """Records what the kernel asked; answers from fields."""

    def __init__(
        self,
        online: OnlineResponse | None = APPROVED,
        choice: int | None = 0,
        confirm: bool = True,
    ) -> None:
        self.online = online
        self.choice = choice
        self.confirm = confirm
        self.requests: list[OnlineRequest] = []
        self.choices: list[Sequence[Candidate]] = []
        self.pins: list[PinRequest] = []

    def choose_application(self, candidates: Sequence[Candidate]) -> int | None:
        self.choices.append(list(candidates))
        return self.choice

    def confirm_application(self, candidate: Candidate) -> bool:
        return self.confirm

    def enter_pin(self, request: PinRequest) -> PinEntry:
        self.pins.append(request)
        return PinEntry(PinStatus.PINPAD_FAULT)

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        self.requests.append(request)
        return self.online


def config(**aid_overrides: object) -> KernelConfig:
    entries = []
    for aid in (VISA, VISA_ELECTRON, MASTERCARD):
        params: dict[str, object] = {
            "aid": aid,
            "tac_denial": bytes.fromhex("0010000000"),
            "tac_online": bytes.fromhex("DC4004F800"),
            "tac_default": bytes.fromhex("DC4000A800"),
            "floor_limit": 10000,
            "random_threshold": 1000,
            "random_target_percent": 20,
            "random_max_target_percent": 50,
        }
        params.update(aid_overrides)
        entries.append(AidEntry(**params))  # type: ignore[arg-type]
    return KernelConfig(terminal=TerminalData(), aids=tuple(entries))


def txn(amount: int = 1500, **kwargs: object) -> TransactionInput:
    params: dict[str, object] = {
        "amount": amount,
        "date": dt.date(2026, 11, 25),
        "time": dt.time(9, 30, 0),
        "unpredictable_number": bytes.fromhex("A1B2C3D4"),
        "random_selection": 99,
    }
    params.update(kwargs)
    return TransactionInput(**params)  # type: ignore[arg-type]


def context(cfg: KernelConfig | None = None, **kwargs: object) -> TransactionContext:
    return TransactionContext.new(cfg or config(), txn(**kwargs))
