"""One transaction's mutable state, handed from step to step.

Each kernel step is ``step(ctx, transport, callbacks) -> Outcome | None``: it
reads what earlier steps left in the context, talks to the card through
:func:`emv.apdu.exchange` (which records the masked trace), sets TVR/TSI bits
and returns ``None`` to continue or an :class:`~emv.outcome.Outcome` to stop.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from emv.bits import AIP, TSI, TVR
from emv.callbacks import Candidate, PinEntry
from emv.config import AidEntry, KernelConfig
from emv.errors import EmvError
from emv.outcome import Outcome, TraceEntry


class TransactionType(enum.IntEnum):
    """9C, first two digits of the ISO 8583 processing code (Book 3 Annex A)."""

    PURCHASE = 0x00
    CASH = 0x01
    PURCHASE_WITH_CASHBACK = 0x09
    REFUND = 0x20
    BALANCE_INQUIRY = 0x31


class OdaMethod(enum.Enum):
    NONE = "none"
    SDA = "sda"
    DDA = "dda"
    CDA = "cda"


@dataclass(frozen=True, slots=True)
class TransactionInput:
    """What the caller knows before the card is touched. The kernel has no clock
    and no random source: date, time, unpredictable number and the random
    selection draw all come from here."""

    amount: int  # 9F02, minor units
    date: dt.date  # 9A
    time: dt.time  # 9F21
    unpredictable_number: bytes  # 9F37, 4 bytes
    random_selection: int = 99  # 1..99 draw for Book 3, 10.6.2 random selection
    amount_other: int = 0  # 9F03 (cashback)
    transaction_type: int = TransactionType.PURCHASE  # 9C
    sequence_counter: int = 1  # 9F41
    force_online: bool = False  # merchant forced online (TVR byte 4 b4)
    cash: bool = False  # cash disbursement (for AUC and CVM conditions)
    pos_entry_mode: int = 0x05  # 9F39: 05 chip
    # Ask for an AAC at the first GENERATE AC whatever the TVR says: refunds, which
    # Book 4 leaves to the payment systems, whose rules have the card decline offline
    # and the acquirer take the refund online with that AAC's data.
    request_aac: bool = False

    def __post_init__(self) -> None:
        # Caller errors, caught before any card is touched (n 12 amounts, 9F37 b4).
        if not 0 <= self.amount <= MAX_AMOUNT or not 0 <= self.amount_other <= MAX_AMOUNT:
            raise TransactionInputError("amount must be 0..999999999999 minor units")
        if len(self.unpredictable_number) != 4:
            raise TransactionInputError("unpredictable number must be 4 bytes")
        if not 1 <= self.random_selection <= 99:
            raise TransactionInputError("random selection draw must be 1..99")
        if not 0 <= self.transaction_type <= 0x99 or not 0 <= self.sequence_counter <= 99999999:
            raise TransactionInputError("transaction type or sequence counter out of range")


MAX_AMOUNT = 999_999_999_999


class TransactionInputError(EmvError):
    """The caller's transaction input breaks a format rule (which one is named)."""


@dataclass(slots=True)
class TransactionContext:
    """Mutable state of one transaction. Create with :meth:`new`.

    Card data (PAN, track 2, names) is kept out of ``repr`` so a stray log line
    cannot leak it."""

    config: KernelConfig
    txn: TransactionInput
    # --- application selection (Book 1, 12)
    candidates: list[Candidate] = field(default_factory=list)
    selected: Candidate | None = None
    aid_entry: AidEntry | None = None
    fci: dict[int, bytes] = field(
        default_factory=dict, repr=False
    )  # FCI of the final SELECT, flattened
    # --- data
    card: dict[int, bytes] = field(
        default_factory=dict, repr=False
    )  # from FCI, GPO, records, GET DATA
    terminal: dict[int, bytes] = field(default_factory=dict)  # terminal & transaction data
    aip: AIP = field(default_factory=lambda: AIP(0))  # 82
    afl: bytes = b""  # 94
    pdol_data: bytes = b""  # the PDOL-built data sent in GPO (CDA hash input, Book 2 6.6)
    cdol1_data: bytes = b""  # data sent in the first GENERATE AC
    cdol2_data: bytes = b""  # data sent in the second GENERATE AC
    # Book 3, 10.3: the bytes offline data authentication signs (records flagged in AFL).
    oda_records: bytearray = field(default_factory=bytearray, repr=False)
    oda_record_invalid: bool = False  # a record for ODA was not a 70 template (SFI 1-10)
    oda_method: OdaMethod = OdaMethod.NONE
    cda_requested: bool = False  # set when the first GENERATE AC asked for CDA
    # --- verification results
    tvr: TVR = field(default_factory=lambda: TVR(0))  # 95
    tsi: TSI = field(default_factory=lambda: TSI(0))  # 9B
    cvm_results: bytes = b"\x3f\x00\x00"  # 9F34: '3F' = no CVM performed (Book 4, A4)
    signature_required: bool = False
    online_pin: PinEntry | None = field(default=None, repr=False)  # enciphered online PIN
    pin_entered_offline: bool = False
    # --- risk management and action analysis
    go_online_requested: bool = False
    genac1: dict[int, bytes] = field(default_factory=dict)
    genac2: dict[int, bytes] = field(default_factory=dict)
    issuer_script_results: bytearray = field(default_factory=bytearray)  # 9F5B
    online_response: object | None = None  # emv.callbacks.OnlineResponse when online
    unable_to_go_online: bool = False
    # --- bookkeeping
    trace: list[TraceEntry] = field(default_factory=list)
    outcome: Outcome | None = None
    step: str = ""  # name of the running step, for the trace

    @classmethod
    def new(cls, config: KernelConfig, txn: TransactionInput) -> TransactionContext:
        ctx = cls(config=config, txn=txn)
        ctx.terminal = ctx._transaction_tags()
        return ctx

    def _transaction_tags(self) -> dict[int, bytes]:
        txn = self.txn
        tags = dict(self.config.terminal.as_tags())
        tags.update(
            {
                0x9F02: bcd(txn.amount, 6),
                0x9F03: bcd(txn.amount_other, 6),
                0x81: txn.amount.to_bytes(4, "big") if txn.amount < 1 << 32 else b"\xff" * 4,
                0x9F04: txn.amount_other.to_bytes(4, "big")
                if txn.amount_other < 1 << 32
                else b"\xff" * 4,
                0x9A: bcd_date(txn.date),
                0x9F21: bytes.fromhex(
                    f"{txn.time.hour:02d}{txn.time.minute:02d}{txn.time.second:02d}"
                ),
                0x9C: bytes((txn.transaction_type,)),
                0x9F37: txn.unpredictable_number,
                0x9F41: bcd(txn.sequence_counter, 4),
                0x9F39: bytes((txn.pos_entry_mode,)),
            }
        )
        return tags

    # --- data access -----------------------------------------------------
    def get(self, tag: int) -> bytes | None:
        """A data object by tag: live TVR/TSI/CVM results, terminal data, then card data."""
        live = self._live()
        if tag in live:
            return live[tag]
        if tag in self.terminal:
            return self.terminal[tag]
        return self.card.get(tag)

    def _live(self) -> dict[int, bytes]:
        return {
            0x95: self.tvr.to_bytes(),
            0x9B: self.tsi.to_bytes(),
            0x9F34: self.cvm_results,
        }

    def data(self) -> Mapping[int, bytes]:
        """A merged view for DOL building: card data under terminal under live values."""
        merged = dict(self.card)
        merged.update(self.terminal)
        merged.update(self._live())
        return merged

    @property
    def pan(self) -> str:
        """The PAN digits (5A, 'F' padding removed) or '' - never log this."""
        raw = self.card.get(0x5A, b"")
        return raw.hex().upper().rstrip("F")

    @property
    def pan_masked(self) -> str:
        return mask_pan(self.pan)

    @property
    def amount_authorised(self) -> int:
        return self.txn.amount


def bcd(value: int, length: int) -> bytes:
    """n-format BCD, right-justified and zero-filled (Book 3, 4.3)."""
    digits = f"{value:0{length * 2}d}"
    if len(digits) > length * 2:
        raise ValueError(f"{value} does not fit {length} BCD bytes")
    return bytes.fromhex(digits)


def bcd_date(day: dt.date) -> bytes:
    return bytes.fromhex(f"{day.year % 100:02d}{day.month:02d}{day.day:02d}")


def mask_pan(pan: str) -> str:
    """First 6 and last 4 digits only (PCI DSS 3.4)."""
    if len(pan) <= 10:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
