"""Read application data (EMV 4.4 Book 3, 10.2) and keep the records ODA signs (10.3)."""

from __future__ import annotations

from dataclasses import dataclass

from emv import apdu
from emv.callbacks import KernelCallbacks
from emv.context import TransactionContext
from emv.outcome import Outcome, TerminationReason
from emv.tlv import TlvError, decode, walk
from emv.transport import CardTransport

# EMV 4.4 Book 3, 10.2: data objects every card must return in its records.
MANDATORY_TAGS = (0x5A, 0x5F24, 0x8C, 0x8D)


@dataclass(frozen=True, slots=True)
class AflEntry:
    """One 4-byte AFL entry (Book 3, 10.2)."""

    sfi: int
    first: int
    last: int
    oda_count: int


class AflError(ValueError):
    """Raised internally for an AFL entry that breaks Book 3, 10.2."""


def parse_afl(afl: bytes) -> list[AflEntry]:
    """# EMV 4.4 Book 3, 10.2: SFI in b8-b4 of byte 1, then first, last, ODA count.

    Raises AflError for a length not a multiple of 4, SFI 0 or 31, first record 0,
    last before first, or more ODA records than the entry names.
    """
    if len(afl) % 4:
        raise AflError("AFL length not a multiple of 4")
    entries = []
    for index in range(0, len(afl), 4):
        chunk = afl[index : index + 4]
        sfi = chunk[0] >> 3
        entry = AflEntry(sfi, chunk[1], chunk[2], chunk[3])
        if not 1 <= sfi <= 30 or entry.first == 0 or entry.last < entry.first:
            raise AflError(f"AFL entry {index // 4 + 1} invalid")
        if entry.oda_count > entry.last - entry.first + 1:
            raise AflError(f"AFL entry {index // 4 + 1}: ODA count too large")
        entries.append(entry)
    return entries


def read_application_data(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    *,
    mandatory: tuple[int, ...] = MANDATORY_TAGS,
) -> Outcome | None:
    """# EMV 4.4 Book 3, 10.2 Read Application Data.

    ``mandatory`` lets a contactless kernel name its own mandatory objects
    (Book C-2 / C-3 cards carry no CDOL2, qVSDC cards no CDOL1).
    """
    ctx.step = "read_data"
    try:
        entries = parse_afl(ctx.afl)
    except AflError as error:
        return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, str(error))
    if not entries:
        return Outcome.terminate(TerminationReason.MISSING_MANDATORY_DATA, "empty AFL")
    seen: set[int] = set(tag for tag in ctx.card if tag not in (0x82, 0x94))
    seen -= {0x84, 0x4F, 0x50, 0x87, 0x9F38, 0x5F2D, 0x9F11, 0x9F12, 0xBF0C}  # FCI data
    for entry in entries:
        for number in range(entry.first, entry.last + 1):
            response = apdu.exchange(ctx, transport, apdu.read_record(entry.sfi, number))
            if not response.ok:
                return Outcome.terminate(
                    TerminationReason.CARD_ERROR,
                    f"READ RECORD SFI {entry.sfi} record {number}: SW {response.sw:04X}",
                )
            for_oda = number - entry.first < entry.oda_count
            outcome = _take_record(ctx, entry.sfi, response.data, for_oda, seen)
            if outcome is not None:
                return outcome
    missing = [f"{tag:X}" for tag in mandatory if tag not in ctx.card]
    if missing:
        return Outcome.terminate(TerminationReason.MISSING_MANDATORY_DATA, ",".join(missing))
    return None


def _take_record(
    ctx: TransactionContext, sfi: int, data: bytes, for_oda: bool, seen: set[int]
) -> Outcome | None:
    is_template = False
    items = []
    try:
        items = decode(data)
        is_template = len(items) == 1 and items[0].tag == 0x70
    except TlvError:
        is_template = False
    if sfi <= 10 and not is_template:
        # Book 3, 10.2: records of SFI 1-10 are '70' templates, else terminate.
        return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, f"SFI {sfi} record not 70")
    if for_oda:
        # Book 3, 10.3: SFI 1-10 sign the value of '70'; SFI 11-30 the whole record,
        # and a non-'70' record there makes ODA fail.
        if not is_template:
            ctx.oda_record_invalid = True
        elif sfi <= 10:
            ctx.oda_records += items[0].value
        else:
            ctx.oda_records += data
    if not is_template:
        return None
    for item in walk(items[0].children):
        if item.children:
            continue
        if item.tag in seen:
            # Book 3, 10.2: a primitive object returned twice ends the transaction.
            return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, f"tag {item.tag:X} twice")
        seen.add(item.tag)
        ctx.card[item.tag] = item.value
    return None
