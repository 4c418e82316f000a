"""Application selection (EMV 4.4 Book 1, 12).

Two steps: build the candidate list (PSE directory first, then the terminal's
AID list) and pick one candidate with a final SELECT. The second step runs
again, with the failed application removed, when the final SELECT fails or GET
PROCESSING OPTIONS answers 6985 (Book 3, 10.1).
"""

from __future__ import annotations

from emv import apdu
from emv.callbacks import Candidate, DisplayMessage, KernelCallbacks
from emv.context import TransactionContext
from emv.outcome import Outcome, TerminationReason
from emv.tlv import Tlv, TlvError, decode, flatten
from emv.transport import CardTransport

PSE_NAME = b"1PAY.SYS.DDF01"
SW_BLOCKED = 0x6283  # Book 1, 12.3.2: selected file invalidated
SW_CARD_BLOCKED = 0x6A81  # function not supported: card blocked
SW_RECORD_NOT_FOUND = 0x6A83
MAX_DIRECTORY_RECORDS = 32  # bound on reading a PSE/DDF directory
MAX_DDF_DEPTH = 4  # bound on nested directories
MAX_NEXT_OCCURRENCES = 16  # bound on SELECT next for one terminal AID
# FCI data the kernel keeps as card data (Book 1, Table 45)
FCI_CARD_TAGS = (0x84, 0x50, 0x87, 0x9F38, 0x5F2D, 0x9F11, 0x9F12, 0xBF0C)


def select_application(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    """# EMV 4.4 Book 1, 12 Application Selection."""
    ctx.step = "selection"
    outcome = build_candidate_list(ctx, transport)
    if outcome is not None:
        return outcome
    return final_selection(ctx, transport, callbacks)


def build_candidate_list(ctx: TransactionContext, transport: CardTransport) -> Outcome | None:
    """# EMV 4.4 Book 1, 12.3 Building the Candidate List."""
    ctx.candidates = []
    if ctx.config.pse_enabled:
        outcome = _from_pse(ctx, transport)
        if outcome is not None:
            return outcome
    if not ctx.candidates:
        outcome = _from_aid_list(ctx, transport)
        if outcome is not None:
            return outcome
    if not ctx.candidates:
        return Outcome.terminate(TerminationReason.NO_COMMON_APPLICATION)
    return None


def _parse_fci(data: bytes) -> tuple[bytes, dict[int, bytes]] | None:
    """DF name and flattened FCI, or None when the FCI breaks Book 1, 11.3.4."""
    try:
        items = decode(data)
    except TlvError:
        return None
    if len(items) != 1 or items[0].tag != 0x6F:
        return None
    fci = items[0]
    name = next((c.value for c in fci.children if c.tag == 0x84), None)
    prop = next((c for c in fci.children if c.tag == 0xA5), None)
    if name is None or prop is None:
        return None
    return name, flatten([fci])


# EMV 4.4 Book 1, 12.3.2 Using the PSE
def _from_pse(ctx: TransactionContext, transport: CardTransport) -> Outcome | None:
    response = apdu.exchange(ctx, transport, apdu.select(PSE_NAME))
    if response.sw == SW_CARD_BLOCKED:
        return Outcome.terminate(TerminationReason.CARD_BLOCKED, "SELECT PSE 6A81")
    if not response.ok:
        return None  # 6A82, 6283 (PSE blocked), anything else: use the AID list
    candidates = _read_directory(ctx, transport, response.data, 0)
    if candidates is None:
        ctx.candidates = []
        return None
    ctx.candidates = candidates
    return None


def _read_directory(
    ctx: TransactionContext, transport: CardTransport, fci_data: bytes, depth: int
) -> list[Candidate] | None:
    """Candidates from one directory; None when the directory is unusable."""
    parsed = _parse_fci(fci_data)
    if parsed is None:
        return None
    sfi_raw = parsed[1].get(0x88)
    if sfi_raw is None or len(sfi_raw) != 1 or not 1 <= sfi_raw[0] <= 30:
        return None
    sfi = sfi_raw[0]
    found: list[Candidate] = []
    for number in range(1, MAX_DIRECTORY_RECORDS + 1):
        response = apdu.exchange(ctx, transport, apdu.read_record(sfi, number))
        if response.sw == SW_RECORD_NOT_FOUND:
            break
        if not response.ok:
            return None
        try:
            items = decode(response.data)
        except TlvError:
            return None
        if len(items) != 1 or items[0].tag != 0x70:
            return None
        for entry in items[0].children:
            if entry.tag != 0x61:
                continue
            nested = _directory_entry(ctx, transport, entry, depth)
            if nested is None:
                return None
            found.extend(nested)
    return found


def _directory_entry(
    ctx: TransactionContext, transport: CardTransport, entry: Tlv, depth: int
) -> list[Candidate] | None:
    fields = {child.tag: child for child in entry.children}
    ddf = fields.get(0x9D)
    if ddf is not None and 0x4F not in fields:
        # Book 1, 12.3.2 step 3: a DDF entry: select it and read its directory too.
        if depth >= MAX_DDF_DEPTH:
            return []
        response = apdu.exchange(ctx, transport, apdu.select(ddf.value))
        if not response.ok:
            return []
        return _read_directory(ctx, transport, response.data, depth + 1) or []
    adf = fields.get(0x4F)
    if adf is None or not 5 <= len(adf.value) <= 16:
        return []
    if ctx.config.aid_entry(adf.value) is None:
        return []
    return [_candidate(adf.value, {c.tag: c.value for c in entry.children})]


def _candidate(aid: bytes, data: dict[int, bytes]) -> Candidate:
    priority = data.get(0x87, b"\x00")
    first = priority[0] if priority else 0
    extra = {tag: value for tag, value in data.items() if tag == 0x73}
    return Candidate(
        aid=aid,
        label=_text(data.get(0x50, b"")),
        preferred_name=_text(data.get(0x9F12, b"")),
        priority=first & 0x0F,
        confirmation_required=bool(first & 0x80),
        extra=extra,
    )


def _text(raw: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "?" for b in raw)


# EMV 4.4 Book 1, 12.3.3 Using a List of AIDs
def _from_aid_list(ctx: TransactionContext, transport: CardTransport) -> Outcome | None:
    for entry in ctx.config.aids:
        next_occurrence = False
        for _ in range(MAX_NEXT_OCCURRENCES):
            response = apdu.exchange(ctx, transport, apdu.select(entry.aid, next_occurrence))
            if response.sw == SW_CARD_BLOCKED and not next_occurrence:
                return Outcome.terminate(TerminationReason.CARD_BLOCKED, "SELECT 6A81")
            if response.sw not in (0x9000, SW_BLOCKED):
                break
            parsed = _parse_fci(response.data)
            if parsed is None:
                break
            name, fci = parsed
            blocked = response.sw == SW_BLOCKED
            if name == entry.aid:
                if not blocked:
                    _add(ctx, _candidate(name, fci))
                break
            if name.startswith(entry.aid) and len(name) > len(entry.aid):
                if entry.partial_selection and not blocked:
                    _add(ctx, _candidate(name, fci))
                next_occurrence = True
                continue
            break
    return None


def _add(ctx: TransactionContext, candidate: Candidate) -> None:
    if all(existing.aid != candidate.aid for existing in ctx.candidates):
        ctx.candidates.append(candidate)


def ordered_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Book 1, 12.4: by priority (1 highest, 0 = none comes last), stable otherwise."""
    return sorted(candidates, key=lambda c: c.priority if c.priority else 16)


def final_selection(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    """# EMV 4.4 Book 1, 12.4 Final Selection (retried while candidates remain)."""
    ctx.step = "selection"
    last_sw = 0
    while ctx.candidates:
        chosen = _choose(ctx, callbacks)
        if chosen is None:
            return Outcome.terminate(TerminationReason.CANCELLED, "no application chosen")
        response = apdu.exchange(ctx, transport, apdu.select(chosen.aid))
        last_sw = response.sw
        parsed = _parse_fci(response.data) if response.ok else None
        if parsed is None or parsed[0] != chosen.aid:
            # Book 1, 12.4 step 5: remove it and choose again (message 'Try Again').
            ctx.candidates = [c for c in ctx.candidates if c.aid != chosen.aid]
            callbacks.display(DisplayMessage.TRY_AGAIN)
            continue
        name, fci = parsed
        ctx.selected = chosen
        ctx.aid_entry = ctx.config.aid_entry(name)
        ctx.fci = fci
        ctx.card = {tag: fci[tag] for tag in FCI_CARD_TAGS if tag in fci}
        ctx.card[0x84] = name
        ctx.card[0x4F] = name
        if ctx.aid_entry is not None:
            ctx.terminal[0x9F06] = ctx.aid_entry.aid  # AID - terminal
            ctx.terminal[0x9F1B] = min(ctx.aid_entry.floor_limit, 0xFFFFFFFF).to_bytes(4, "big")
            ctx.terminal[0x9F09] = ctx.aid_entry.application_version
            ctx.terminal.update(ctx.aid_entry.extra_terminal_data)
        return None
    if last_sw == SW_BLOCKED:
        return Outcome.terminate(TerminationReason.APPLICATION_BLOCKED, "final SELECT 6283")
    return Outcome.terminate(TerminationReason.NO_COMMON_APPLICATION, "candidates exhausted")


def _choose(ctx: TransactionContext, callbacks: KernelCallbacks) -> Candidate | None:
    ordered = ordered_candidates(ctx.candidates)
    confirm = ctx.config.support_cardholder_confirmation
    if not confirm:
        # Book 1, 12.4 step 2/4: without confirmation, apps that require it are out.
        ordered = [c for c in ordered if not c.confirmation_required]
        ctx.candidates = ordered
        return ordered[0] if ordered else None
    if len(ordered) == 1:
        only = ordered[0]
        if only.confirmation_required and not callbacks.confirm_application(only):
            ctx.candidates = []
            return None
        return only
    index = callbacks.choose_application(ordered)
    if index is None or not 0 <= index < len(ordered):
        return None
    return ordered[index]


def remove_selected(ctx: TransactionContext) -> None:
    """Book 3, 10.1: GPO 6985 removes the application from the candidate list."""
    if ctx.selected is not None:
        ctx.candidates = [c for c in ctx.candidates if c.aid != ctx.selected.aid]
    ctx.selected = None
