"""Entry Point combination selection (EMV Contactless Book B, 3.3): SELECT PPSE, match
its directory against the terminal's AID + kernel table, choose by priority and
SELECT the application."""

from __future__ import annotations

from dataclasses import dataclass

from emv import apdu
from emv.contactless.activation import Activation, Preprocessed
from emv.contactless.config import DEFAULT_KERNEL_BY_RID
from emv.context import TransactionContext
from emv.selection import FCI_CARD_TAGS
from emv.tlv import Tlv, TlvError, decode, flatten
from emv.transport import CardTransport

PPSE_NAME = b"2PAY.SYS.DDF01"
MAX_DIRECTORY_ENTRIES = 32  # bound on what one PPSE may list


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """Book B, 3.3.2.4: one '61' Directory Entry of the PPSE."""

    adf_name: bytes  # 4F
    kernel_id: int  # first byte of 9F2A, or the RID default (3.3.2.5)
    priority: int  # 87 b4-b1; 0 when absent
    label: str  # 50
    order: int  # position in the PPSE, the tie-break (3.3.3.3)


@dataclass(frozen=True, slots=True)
class CandidateCombination:
    entry: DirectoryEntry
    preprocessed: Preprocessed


# Book B, 3.3.2.2-3.3.2.4: SELECT PPSE and its FCI (6F > A5 > BF0C > 61...)
def read_ppse(ctx: TransactionContext, transport: CardTransport) -> list[DirectoryEntry] | None:
    """The PPSE's directory entries; None when the PPSE is absent or malformed."""
    fci = _select_fci(ctx, transport, PPSE_NAME)
    if fci is None:
        return None
    entries: list[DirectoryEntry] = []
    for proprietary in (c for c in fci.children if c.tag == 0xA5):
        for template in (c for c in proprietary.children if c.tag == 0xBF0C):
            for item in template.children:
                if item.tag != 0x61 or len(entries) >= MAX_DIRECTORY_ENTRIES:
                    continue
                entry = _entry(item, len(entries))
                if entry is not None:
                    entries.append(entry)
    return entries


def _select_fci(ctx: TransactionContext, transport: CardTransport, name: bytes) -> Tlv | None:
    """SELECT by name; the '6F' FCI template, or None for an error or a malformed FCI."""
    response = apdu.exchange(ctx, transport, apdu.select(name))
    if not response.ok:
        return None
    try:
        items = decode(response.data)
    except TlvError:
        return None
    if len(items) != 1 or items[0].tag != 0x6F:
        return None
    return items[0]


def _entry(item: Tlv, order: int) -> DirectoryEntry | None:
    fields = flatten(item.children)
    adf = fields.get(0x4F, b"")
    if not 5 <= len(adf) <= 16:
        return None  # Book B, 3.3.2.5: an entry without a valid ADF name is skipped
    raw_kernel = fields.get(0x9F2A)
    if raw_kernel:
        # Book B, 3.3.2.5: b8-b7 '00'/'01' - an international kernel, its ID is byte 1
        kernel = raw_kernel[0] & 0x3F if raw_kernel[0] & 0xC0 in (0x00, 0x40) else -1
    else:
        kernel = DEFAULT_KERNEL_BY_RID.get(adf[:5], -1)
    priority_raw = fields.get(0x87, b"")
    priority = priority_raw[0] & 0x0F if len(priority_raw) == 1 else 0
    label = fields.get(0x50, b"").decode("ascii", "replace")
    return DirectoryEntry(adf, kernel, priority, label, order)


# Book B, 3.3.2.5-3.3.2.6: the Candidate List - each entry against each combination
def candidate_list(
    entries: list[DirectoryEntry], preprocessed: list[Preprocessed]
) -> list[CandidateCombination]:
    out: list[CandidateCombination] = []
    for entry in entries:
        for item in preprocessed:
            combination = item.combination
            if item.not_allowed or combination.kernel_id != entry.kernel_id:
                continue
            if combination.matches(entry.adf_name):
                out.append(CandidateCombination(entry, item))
                break
    return out


# Book B, 3.3.3.2-3.3.3.3: highest priority first (1 highest; none = lowest), then PPSE order
def ordered(candidates: list[CandidateCombination]) -> list[CandidateCombination]:
    return sorted(candidates, key=lambda c: (c.entry.priority or 16, c.entry.order))


# Book B, 3.3.3.4-3.3.3.6: final SELECT of the chosen ADF; its FCI joins the card data
def final_select(
    ctx: TransactionContext, transport: CardTransport, candidate: CandidateCombination
) -> Activation | None:
    entry = candidate.entry
    fci = _select_fci(ctx, transport, entry.adf_name)
    if fci is None:
        return None
    fields = flatten(fci.children)
    if fields.get(0x84) and fields[0x84] != entry.adf_name:
        return None  # Book B, 3.3.3.5: the DF name must be the one selected
    ctx.fci = dict(fields)
    for tag in FCI_CARD_TAGS:
        if tag in fields:
            ctx.card[tag] = fields[tag]
    ctx.card.setdefault(0x84, entry.adf_name)
    combination = candidate.preprocessed.combination
    ctx.terminal[0x9F06] = combination.aid  # AID - terminal
    # the AID row's data, as the contact kernel's selection sets it (9F09 goes in DE 55)
    ctx.aid_entry = combination.aid_entry or ctx.config.aid_entry(entry.adf_name)
    if ctx.aid_entry is not None:
        ctx.terminal[0x9F09] = ctx.aid_entry.application_version
    return Activation(entry.adf_name, entry.kernel_id, candidate.preprocessed, entry.label)
