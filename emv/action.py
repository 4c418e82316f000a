"""Terminal and card action analysis, online processing and completion.

EMV 4.4 Book 3, 10.7 (terminal action analysis), 10.8 (card action analysis),
10.9 (online processing), 10.10 (issuer-to-card script processing) and 10.11
(completion), with the GENERATE AC command of 6.5.5 and 9.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from emv import apdu, dol
from emv.bits import AIP, TSI, TVR
from emv.callbacks import KernelCallbacks, OnlineRequest, OnlineResponse
from emv.context import TransactionContext
from emv.errors import EmvError
from emv.hooks import resolve
from emv.outcome import Decision, Outcome, TerminationReason
from emv.tlv import TlvError, decode, walk
from emv.transport import CardTransport

ALL_ONES = b"\xff" * 5


class CryptogramType(enum.IntEnum):
    """GENERATE AC P1 b8-b7 and CID b8-b7 (Book 3, Tables 12 and 15)."""

    AAC = 0x00
    TC = 0x40
    ARQC = 0x80


CDA_SIGNATURE_REQUESTED = 0x10  # Book 3, Table 12: P1 b5
CID_ADVICE_REQUIRED = 0x08  # Book 3, Table 15: b4
CID_REASON_MASK = 0x07
CID_REASON_SERVICE_NOT_ALLOWED = 0x01
RESPONSE_CODE_OFFLINE_APPROVED = b"Y1"  # Book 4, A6: offline approved
RESPONSE_CODE_OFFLINE_DECLINED = b"Z1"  # Book 4, A6: offline declined
RESPONSE_CODE_UNABLE_ONLINE_APPROVE = b"Y3"  # Book 4, A6: offline approved, unable to go online
RESPONSE_CODE_UNABLE_ONLINE_DECLINE = b"Z3"  # Book 4, A6: offline declined, unable to go online

# Hooks into offline data authentication (emv.oda, owned by another module).
CdaWanted = Callable[[TransactionContext], bool]
CdaVerify = Callable[[TransactionContext, bytes, bytes, bool], bool]


@dataclass(frozen=True, slots=True)
class GenAcResponse:
    cid: int
    atc: bytes
    cryptogram: bytes  # empty when CDA put it inside 9F4B
    iad: bytes
    data: dict[int, bytes]

    @property
    def kind(self) -> int:
        return self.cid & 0xC0


class CardResponseInvalid(EmvError):
    """GENERATE AC answered with something Book 3, 6.5.5.4 does not allow."""


# --- terminal action analysis ---------------------------------------------------


def _action_codes(ctx: TransactionContext) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
    entry = ctx.aid_entry
    tac_denial = (entry.tac_denial if entry else None) or bytes(5)
    tac_online = (entry.tac_online if entry else None) or bytes(5)
    tac_default = (entry.tac_default if entry else None) or bytes(5)
    # Book 3, 10.7: an absent IAC-Denial counts as all zeros, absent IAC-Online and
    # IAC-Default as all ones.
    iac_denial = ctx.card.get(0x9F0E) or bytes(5)
    iac_online = ctx.card.get(0x9F0F) or ALL_ONES
    iac_default = ctx.card.get(0x9F0D) or ALL_ONES
    return tac_denial, iac_denial, tac_online, iac_online, tac_default, iac_default


def _hits(tvr: int, *codes: bytes) -> bool:
    mask = 0
    for code in codes:
        mask |= int.from_bytes(code[:5].ljust(5, b"\x00"), "big")
    return bool(tvr & mask)


def online_capable(ctx: TransactionContext) -> bool:
    """Book 4, Annex A1: terminal type second digit 1/2 = online capable, 3 = offline only."""
    return ctx.config.terminal.terminal_type & 0x0F in (1, 2, 4, 5)


def online_only(ctx: TransactionContext) -> bool:
    return ctx.config.terminal.terminal_type & 0x0F in (1, 4)


def terminal_action_analysis(ctx: TransactionContext) -> CryptogramType:
    """# EMV 4.4 Book 3, 10.7 Terminal Action Analysis: the cryptogram to ask for.

    ``txn.request_aac`` (refund) asks for an AAC whatever the TVR: the card's decline
    is the data the refund request carries online, never an approval."""
    if ctx.txn.request_aac:
        return CryptogramType.AAC
    tac_denial, iac_denial, tac_online, iac_online, tac_default, iac_default = _action_codes(ctx)
    tvr = int(ctx.tvr)
    if _hits(tvr, tac_denial, iac_denial):
        return CryptogramType.AAC
    if online_capable(ctx):
        if online_only(ctx) or _hits(tvr, tac_online, iac_online):
            return CryptogramType.ARQC
        return CryptogramType.TC
    if _hits(tvr, tac_default, iac_default):
        return CryptogramType.AAC
    return CryptogramType.TC


def default_action_analysis(ctx: TransactionContext) -> CryptogramType:
    """# EMV 4.4 Book 3, 10.7: unable to go online - IAC/TAC-Default decide TC or AAC."""
    _, _, _, _, tac_default, iac_default = _action_codes(ctx)
    if _hits(int(ctx.tvr), tac_default, iac_default):
        return CryptogramType.AAC
    return CryptogramType.TC


# --- GENERATE AC ------------------------------------------------------------------


def _tc_hash(ctx: TransactionContext, cdol: bytes) -> None:
    # EMV 4.4 Book 3, 9.2.2: TC Hash Value (98) = SHA-1 over the TDOL data.
    if all(entry.tag != 0x98 for entry in dol.parse(cdol)):
        return
    tdol = ctx.card.get(0x97)
    if tdol is None:
        tdol = ctx.aid_entry.default_tdol if ctx.aid_entry else b""
        if tdol:
            ctx.tvr |= TVR.DEFAULT_TDOL_USED
    data = dol.build(tdol, ctx.data()) if tdol else b""
    ctx.terminal[0x98] = hashlib.sha1(data, usedforsecurity=False).digest()


def parse_generate_ac(data: bytes) -> GenAcResponse:
    """# EMV 4.4 Book 3, 6.5.5.4: format 1 ('80') or format 2 ('77').

    Raises CardResponseInvalid when the template or a mandatory object is wrong.
    """
    try:
        items = decode(data)
    except TlvError as error:
        raise CardResponseInvalid(f"GENERATE AC response: {error}") from error
    if len(items) != 1:
        raise CardResponseInvalid("GENERATE AC response is not one template")
    template = items[0]
    if template.tag == 0x80:
        value = template.value
        if len(value) < 11:
            raise CardResponseInvalid("GENERATE AC format 1 shorter than 11 bytes")
        fields = {0x9F27: value[:1], 0x9F36: value[1:3], 0x9F26: value[3:11]}
        if len(value) > 11:
            fields[0x9F10] = value[11:]
    elif template.tag == 0x77:
        fields = {}
        for item in walk(template.children):
            if item.children:
                continue
            if item.tag in fields:
                raise CardResponseInvalid(f"GENERATE AC: tag {item.tag:X} twice")
            fields[item.tag] = item.value
        if 0x9F27 not in fields or 0x9F36 not in fields:
            raise CardResponseInvalid("GENERATE AC: 9F27 or 9F36 missing")
        if 0x9F26 not in fields and 0x9F4B not in fields:
            raise CardResponseInvalid("GENERATE AC: neither 9F26 nor 9F4B")
    else:
        raise CardResponseInvalid(f"GENERATE AC template {template.tag:X}")
    if len(fields[0x9F27]) != 1 or len(fields[0x9F36]) != 2:
        raise CardResponseInvalid("GENERATE AC: CID or ATC length")
    return GenAcResponse(
        cid=fields[0x9F27][0],
        atc=fields[0x9F36],
        cryptogram=fields.get(0x9F26, b""),
        iad=fields.get(0x9F10, b""),
        data=fields,
    )


def generate_ac(
    ctx: TransactionContext,
    transport: CardTransport,
    requested: CryptogramType,
    *,
    second: bool,
    cda: bool,
) -> tuple[GenAcResponse, bytes] | Outcome:
    """Send GENERATE AC with CDOL1/CDOL2 data; return the parsed answer and raw data."""
    cdol = ctx.card.get(0x8D if second else 0x8C, b"")
    try:
        _tc_hash(ctx, cdol)
        data = dol.build(cdol, ctx.data())
    except EmvError as error:
        return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, f"CDOL: {error}")
    if second:
        ctx.cdol2_data = data
    else:
        ctx.cdol1_data = data
    p1 = int(requested) | (CDA_SIGNATURE_REQUESTED if cda else 0)
    response = apdu.exchange(ctx, transport, apdu.generate_ac(p1, data))
    if not response.ok:
        return Outcome.terminate(
            TerminationReason.NOT_ACCEPTED, f"GENERATE AC SW {response.sw:04X}"
        )
    try:
        parsed = parse_generate_ac(response.data)
    except CardResponseInvalid as error:
        return Outcome.terminate(TerminationReason.NOT_ACCEPTED, str(error))
    # Book 3, 9.3 / Table 14: the card may answer lower (AAC < ARQC < TC), never higher.
    kind = parsed.kind
    if kind == 0xC0 or _rank(kind) > _rank(int(requested)):
        return Outcome.terminate(TerminationReason.NOT_ACCEPTED, f"CID {parsed.cid:02X}")
    if second and kind == CryptogramType.ARQC:
        return Outcome.terminate(TerminationReason.NOT_ACCEPTED, "ARQC in second GENERATE AC")
    if cda and kind != CryptogramType.AAC and 0x9F4B not in parsed.data:
        # Book 2, 6.6.2: CDA asked and a TC/ARQC came back without a signature.
        ctx.tvr |= TVR.CDA_FAILED
    target = ctx.genac2 if second else ctx.genac1
    target.clear()
    target.update(parsed.data)
    ctx.card.update({tag: value for tag, value in parsed.data.items() if tag != 0x9F4B})
    return parsed, response.data


def _rank(kind: int) -> int:
    return {0x00: 0, 0x80: 1, 0x40: 2}.get(kind, 3)


# --- issuer authentication and scripts ------------------------------------------


def issuer_authentication(
    ctx: TransactionContext, transport: CardTransport, response: OnlineResponse
) -> None:
    """# EMV 4.4 Book 3, 10.9: EXTERNAL AUTHENTICATE when AIP says the card supports it."""
    data = response.issuer_authentication_data
    if not data or AIP.ISSUER_AUTHENTICATION_SUPPORTED not in ctx.aip:
        return  # combined with the second GENERATE AC through CDOL2 (tag 91)
    result = apdu.exchange(ctx, transport, apdu.external_authenticate(data))
    ctx.tsi |= TSI.ISSUER_AUTHENTICATION_PERFORMED
    if not result.ok:
        ctx.tvr |= TVR.ISSUER_AUTHENTICATION_FAILED


def process_scripts(
    ctx: TransactionContext, transport: CardTransport, scripts: tuple[bytes, ...], tag: int
) -> None:
    """# EMV 4.4 Book 3, 10.10 Issuer-to-Card Script Processing (71 before, 72 after)."""
    failed_bit = (
        TVR.SCRIPT_FAILED_BEFORE_FINAL_GENERATE_AC
        if tag == 0x71
        else TVR.SCRIPT_FAILED_AFTER_FINAL_GENERATE_AC
    )
    for script in scripts:
        if not script or script[0] != tag:
            continue
        ctx.step = f"script_{tag:02X}"
        # Book 3, 10.10 (Application Note 13): attempted processing counts as performed,
        # even when the script turns out to be malformed.
        ctx.tsi |= TSI.SCRIPT_PROCESSING_PERFORMED
        script_id = b"\x00" * 4
        try:
            items = decode(script)
        except TlvError:
            # Book 3, 10.10: a script that cannot be parsed is not performed: failed.
            ctx.tvr |= failed_bit
            ctx.issuer_script_results += b"\x00" + script_id
            continue
        commands: list[bytes] = []
        for template in items:
            for child in template.children:
                if child.tag == 0x9F18 and len(child.value) == 4:
                    script_id = child.value
                elif child.tag == 0x86:
                    commands.append(child.value)
        result = 0x20  # Book 3, Annex A (9F5B byte 1): '2x' = script processing successful
        for number, command in enumerate(commands, start=1):
            answer = apdu.exchange(ctx, transport, command)
            if answer.sw1 not in (0x90, 0x62, 0x63):
                result = 0x10 | min(number, 0x0F)  # '1x' failed at command x
                ctx.tvr |= failed_bit
                break
        ctx.issuer_script_results += bytes((result,)) + script_id


# --- the whole of action analysis through completion ------------------------------


def _cda_wanted(ctx: TransactionContext) -> bool:
    hook = resolve("emv.oda", "cda_request_wanted")
    return bool(hook(ctx)) if hook is not None else False


def _cda_verify(ctx: TransactionContext, raw: bytes, cdol_data: bytes, second: bool) -> bool:
    hook = resolve("emv.oda", "verify_cda")
    if hook is None:
        ctx.tvr |= TVR.CDA_FAILED
        return False
    return bool(hook(ctx, raw, cdol_data, second))


def action_analysis(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    build_de55: Callable[[TransactionContext], dict[int, bytes]],
) -> Outcome:
    """# EMV 4.4 Book 3, 10.7-10.11: from terminal action analysis to the final decision."""
    ctx.step = "action"
    requested = terminal_action_analysis(ctx)
    cda = requested != CryptogramType.AAC and _cda_wanted(ctx)
    ctx.cda_requested = cda
    first = generate_ac(ctx, transport, requested, second=False, cda=cda)
    if isinstance(first, Outcome):
        return first
    answer, raw = first
    ctx.tsi |= TSI.CARD_RISK_MANAGEMENT_PERFORMED
    # EMV 4.4 Book 3, 10.8 Card Action Analysis
    if (
        cda
        and answer.kind != CryptogramType.AAC
        and not _cda_verify(ctx, raw, ctx.cdol1_data, False)
    ):
        # Book 2, 6.6.2 / Book 3, 10.8: a failed CDA on TC or ARQC means decline.
        if answer.kind == CryptogramType.ARQC:
            ctx.terminal[0x8A] = RESPONSE_CODE_UNABLE_ONLINE_DECLINE
            second = generate_ac(ctx, transport, CryptogramType.AAC, second=True, cda=False)
            if isinstance(second, Outcome):
                return second
        return Outcome(Decision.DECLINED_OFFLINE, TerminationReason.CDA_FAILED, "CDA failed")
    if answer.kind != CryptogramType.ARQC:
        # Book 4, Annex A6: authorisation response code for an offline decision.
        ctx.terminal[0x8A] = (
            RESPONSE_CODE_OFFLINE_APPROVED
            if answer.kind == CryptogramType.TC
            else RESPONSE_CODE_OFFLINE_DECLINED
        )
    if answer.kind == CryptogramType.AAC:
        if answer.cid & CID_REASON_MASK == CID_REASON_SERVICE_NOT_ALLOWED:
            return Outcome.terminate(
                TerminationReason.SERVICE_NOT_ALLOWED, "card: service not allowed"
            )
        return Outcome(Decision.DECLINED_OFFLINE, None, "card returned AAC")
    if answer.kind == CryptogramType.TC:
        return Outcome(Decision.APPROVED_OFFLINE, None, "card returned TC")
    return online_processing(ctx, transport, callbacks, build_de55)


def online_request(ctx: TransactionContext, de55: dict[int, bytes]) -> OnlineRequest:
    """The authorisation request data (also the contactless kernels' Online Request)."""
    return OnlineRequest(
        de55=de55,
        amount=ctx.txn.amount,
        amount_other=ctx.txn.amount_other,
        transaction_type=ctx.txn.transaction_type,
        pan_masked=ctx.pan_masked,
        online_pin=ctx.online_pin,
    )


def online_processing(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    build_de55: Callable[[TransactionContext], dict[int, bytes]],
) -> Outcome:
    """# EMV 4.4 Book 3, 10.9 Online Processing and 10.11 Completion."""
    ctx.step = "online"
    # Book 3, 10.9 / Book 4, Annex A1: an offline-only terminal (9F35 digit 2 = 3 or 6)
    # has no way online, so an ARQC takes the unable-to-go-online path below.
    response = (
        callbacks.go_online(online_request(ctx, build_de55(ctx))) if online_capable(ctx) else None
    )
    ctx.online_response = response
    cda = ctx.cda_requested
    if response is None:
        # Book 3, 10.7 / Book 4, 6.3.7: unable to go online - default action analysis.
        ctx.unable_to_go_online = True
        wanted = default_action_analysis(ctx)
        ctx.terminal[0x8A] = (
            RESPONSE_CODE_UNABLE_ONLINE_DECLINE
            if wanted == CryptogramType.AAC
            else RESPONSE_CODE_UNABLE_ONLINE_APPROVE
        )
        return _complete(ctx, transport, wanted, cda, online=False)
    ctx.terminal[0x8A] = response.response_code[:2].ljust(2, b"0")
    if response.authorisation_code:
        ctx.terminal[0x89] = response.authorisation_code
    if response.issuer_authentication_data:
        ctx.terminal[0x91] = response.issuer_authentication_data
    issuer_authentication(ctx, transport, response)
    process_scripts(ctx, transport, response.scripts, 0x71)
    ctx.step = "completion"
    wanted = CryptogramType.TC if response.approved else CryptogramType.AAC
    outcome = _complete(ctx, transport, wanted, cda, online=True)
    process_scripts(ctx, transport, response.scripts, 0x72)
    if ctx.issuer_script_results:
        ctx.terminal[0x9F5B] = bytes(ctx.issuer_script_results)
    return outcome


def _complete(
    ctx: TransactionContext,
    transport: CardTransport,
    wanted: CryptogramType,
    cda: bool,
    *,
    online: bool,
) -> Outcome:
    """# EMV 4.4 Book 3, 10.11 Completion: the second GENERATE AC."""
    cda_second = cda and wanted == CryptogramType.TC
    result = generate_ac(ctx, transport, wanted, second=True, cda=cda_second)
    if isinstance(result, Outcome):
        return result
    answer, raw = result
    approved = answer.kind == CryptogramType.TC
    if approved and cda_second and not _cda_verify(ctx, raw, ctx.cdol2_data, True):
        approved = False
    if online:
        decision = Decision.APPROVED_ONLINE if approved else Decision.DECLINED_ONLINE
    else:
        decision = Decision.APPROVED_OFFLINE if approved else Decision.DECLINED_OFFLINE
    detail = "card returned TC" if approved else "card returned AAC"
    return Outcome(decision, None, detail)
