"""Offline data authentication as a kernel step (EMV 4.4 Book 3, 10.3; Book 2).

``perform`` chooses the method and runs SDA or DDA, or for CDA recovers the
ICC key early so a failure is known before terminal action analysis (Book 2,
6.6). ``verify_cda`` checks the signature of a GENERATE AC response. Keys are
recovered again when needed rather than stored: the context holds data the
card sent, and recovery costs well under a millisecond.
"""

from __future__ import annotations

from emv import apdu, dol
from emv.bits import AIP, TSI, TVR, TerminalCapabilities
from emv.callbacks import KernelCallbacks
from emv.context import OdaMethod, TransactionContext
from emv.errors import EmvError
from emv.oda.certificates import find_ca_key, recover_icc_key, recover_issuer_key
from emv.oda.results import KeyResult, OdaFailure
from emv.oda.signatures import transaction_data_hash, verify_cda_signature, verify_dda, verify_sda
from emv.outcome import Outcome, TerminationReason
from emv.tlv import TlvError, decode, flatten
from emv.transport import CardTransport

TAG_UN = 0x9F37
TAG_AIP = 0x82

# EMV 4.4 Book 2, Table 4 (SDA) and Table 12 (DDA/CDA): data the card must hold.
REQUIRED_SDA = (0x8F, 0x90, 0x9F32, 0x93)
REQUIRED_DYNAMIC = (0x8F, 0x90, 0x9F32, 0x9F46, 0x9F47)
# EMV 4.4 Book 2, Table 24: the ICC PIN Encipherment Public Key
REQUIRED_PIN_KEY = (0x8F, 0x90, 0x9F32, 0x9F2D, 0x9F2E)

FAILED_BIT = {
    OdaMethod.SDA: TVR.SDA_FAILED,
    OdaMethod.DDA: TVR.DDA_FAILED,
    OdaMethod.CDA: TVR.CDA_FAILED,
}


# EMV 4.4 Book 3, 10.3: CDA, else DDA, else SDA, when both card and terminal support it
def select_method(aip: AIP, capabilities: TerminalCapabilities) -> OdaMethod:
    table = (
        (AIP.CDA_SUPPORTED, TerminalCapabilities.CDA, OdaMethod.CDA),
        (AIP.DDA_SUPPORTED, TerminalCapabilities.DDA, OdaMethod.DDA),
        (AIP.SDA_SUPPORTED, TerminalCapabilities.SDA, OdaMethod.SDA),
    )
    for card_bit, terminal_bit, method in table:
        if card_bit in aip and terminal_bit in capabilities:
            return method
    return OdaMethod.NONE


def _capabilities(ctx: TransactionContext) -> TerminalCapabilities:
    raw = ctx.terminal.get(0x9F33, ctx.config.terminal.capabilities)
    return TerminalCapabilities(int.from_bytes(raw[:3].rjust(3, b"\x00"), "big"))


def _rid(ctx: TransactionContext) -> bytes:
    aid = ctx.card.get(0x84) or ctx.card.get(0x4F) or (ctx.selected.aid if ctx.selected else b"")
    return aid[:5]


# EMV 4.4 Book 3, 10.3: records flagged in the AFL, then the AIP if '9F4A' lists it
def static_data(ctx: TransactionContext) -> bytes | OdaFailure:
    if ctx.oda_record_invalid:
        return OdaFailure.RECORD_NOT_TEMPLATE_70
    data = bytes(ctx.oda_records)
    tag_list = ctx.card.get(0x9F4A)
    if tag_list is None:
        return data
    tags = _tag_list(tag_list)
    if tags is None or any(tag != TAG_AIP for tag in tags):
        return OdaFailure.SDA_TAG_LIST
    if tags:
        data += ctx.card.get(TAG_AIP, ctx.aip.to_bytes())
    return data


def _tag_list(raw: bytes) -> list[int] | None:
    """Tags of a tag list (no lengths); None when a tag runs off the end."""
    tags: list[int] = []
    position = 0
    while position < len(raw):
        tag = raw[position]
        position += 1
        if tag & 0x1F == 0x1F:
            while True:
                if position >= len(raw):
                    return None
                tag = (tag << 8) | raw[position]
                position += 1
                if not raw[position - 1] & 0x80:
                    break
        tags.append(tag)
    return tags


def _missing(ctx: TransactionContext, tags: tuple[int, ...]) -> bool:
    if any(not ctx.card.get(tag) for tag in tags):
        return True
    return len(ctx.card[0x8F]) != 1


def issuer_key(ctx: TransactionContext) -> KeyResult:
    """Book 2, 5.2-5.3 / 6.2-6.3: CA key lookup, then the Issuer Public Key."""
    index = ctx.card[0x8F][0]
    rid = _rid(ctx)
    ctx.terminal[0x9F22] = bytes((index,))  # CA Public Key Index (terminal), Book 3 Annex A
    ca_key, failure = find_ca_key(ctx.config.ca_keys, rid, index, ctx.txn.date)
    if ca_key is None:
        return KeyResult.failed(failure or OdaFailure.CA_KEY_MISSING)
    return recover_issuer_key(
        ctx.card[0x90],
        ca_key,
        exponent=ctx.card[0x9F32],
        remainder=ctx.card.get(0x92),
        pan=ctx.card.get(0x5A, b""),
        today=ctx.txn.date,
        rid=rid,
        ca_index=index,
        revoked=ctx.config.is_revoked,
    )


def _card_key(
    ctx: TransactionContext, tags: tuple[int, int, int], signed: bytes | None
) -> KeyResult:
    """Issuer key, then the certificate ``tags`` = (certificate, exponent, remainder)."""
    issuer = issuer_key(ctx)
    if issuer.key is None:
        return issuer
    certificate, exponent, remainder = tags
    return recover_icc_key(
        ctx.card[certificate],
        issuer.key,
        exponent=ctx.card[exponent],
        remainder=ctx.card.get(remainder),
        pan=ctx.card.get(0x5A, b""),
        today=ctx.txn.date,
        static_data=signed,
    )


def icc_key(ctx: TransactionContext) -> KeyResult:
    """Book 2, 6.2-6.4: the ICC Public Key (for DDA, CDA and PIN encipherment)."""
    if _missing(ctx, REQUIRED_DYNAMIC):
        return KeyResult.failed(OdaFailure.ICC_DATA_MISSING)
    signed = static_data(ctx)
    if isinstance(signed, OdaFailure):
        return KeyResult.failed(signed)
    return _card_key(ctx, (0x9F46, 0x9F47, 0x9F48), signed)


# EMV 4.4 Book 2, 7.1: the key offline enciphered PIN uses
def pin_encipherment_key(ctx: TransactionContext) -> KeyResult:
    """The ICC PIN Encipherment Public Key when the card has one, else the ICC key.

    Its certificate hash omits the static data (Book 2, 7.1 footnote 31).
    """
    if _missing(ctx, REQUIRED_PIN_KEY):
        return icc_key(ctx)
    return _card_key(ctx, (0x9F2D, 0x9F2E, 0x9F2F), None)


# EMV 4.4 Book 2, 5 Static Data Authentication
def _sda(ctx: TransactionContext) -> OdaFailure | None:
    if _missing(ctx, REQUIRED_SDA):
        return OdaFailure.ICC_DATA_MISSING
    signed = static_data(ctx)
    if isinstance(signed, OdaFailure):
        return signed
    issuer = issuer_key(ctx)
    if issuer.key is None:
        return issuer.failure
    result = verify_sda(ctx.card[0x93], issuer.key, signed)
    if result.ok:
        ctx.card[0x9F45] = result.data_authentication_code  # Book 2, 5.4
    return result.failure


# EMV 4.4 Book 2, 6.5 Dynamic Data Authentication
def _dda(ctx: TransactionContext, transport: CardTransport) -> OdaFailure | Outcome | None:
    key = icc_key(ctx)
    if key.key is None:
        return key.failure
    ddol = ctx.card.get(0x9F49)
    if ddol is None:
        ddol = ctx.aid_entry.default_ddol if ctx.aid_entry is not None else b""
    if not ddol:
        return OdaFailure.NO_DDOL
    try:
        entries = dol.parse(ddol)
        ddol_data = dol.build(entries, ctx.data())
    except EmvError:
        return OdaFailure.NO_DDOL
    if not any(entry.tag == TAG_UN for entry in entries):
        return OdaFailure.DDOL_WITHOUT_UN
    response = apdu.exchange(ctx, transport, apdu.internal_authenticate(ddol_data))
    if not response.ok:
        return OdaFailure.INTERNAL_AUTHENTICATE_FAILED
    sdad = _internal_authenticate_signature(response.data)
    if sdad is None:
        # Book 3, 6.5.9.4: a response in neither format is a card data format error
        return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, "INTERNAL AUTHENTICATE")
    result = verify_dda(sdad, key.key, ddol_data)
    if result.ok:
        ctx.card[0x9F4B] = sdad
        ctx.card[0x9F4C] = result.icc_dynamic_number  # Book 2, 6.5.2
    return result.failure


def _internal_authenticate_signature(data: bytes) -> bytes | None:
    # EMV 4.4 Book 3, 6.5.9.4: format 1 '80' (the signature) or format 2 '77' with '9F4B'
    try:
        items = decode(data)
    except TlvError:
        return None
    if len(items) != 1:
        return None
    if items[0].tag == 0x80:
        return items[0].value or None
    if items[0].tag == 0x77:
        return flatten(items[0].children).get(0x9F4B) or None
    return None


def perform(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    """# EMV 4.4 Book 3, 10.3 Offline Data Authentication."""
    ctx.step = "oda"
    method = select_method(ctx.aip, _capabilities(ctx))
    ctx.oda_method = method
    if method is OdaMethod.NONE:
        ctx.tvr |= TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED
        return None
    failure: OdaFailure | Outcome | None
    if method is OdaMethod.SDA:
        ctx.tvr |= TVR.SDA_SELECTED
        failure = _sda(ctx)
    elif method is OdaMethod.DDA:
        failure = _dda(ctx, transport)
    else:
        # Book 2, 6.6: recover keys before terminal action analysis; no CDA request if it fails
        failure = icc_key(ctx).failure
        if failure is None:
            return None  # TSI is set when the signature is checked at GENERATE AC
    if isinstance(failure, Outcome):
        return failure
    ctx.tsi |= TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED
    if failure is not None:
        ctx.tvr |= FAILED_BIT[method]
        if failure is OdaFailure.ICC_DATA_MISSING:
            ctx.tvr |= TVR.ICC_DATA_MISSING
    return None


def cda_request_wanted(ctx: TransactionContext) -> bool:
    """Whether a GENERATE AC for a TC or ARQC should ask for a CDA signature (Book 2, 6.6)."""
    return ctx.oda_method is OdaMethod.CDA and TVR.CDA_FAILED not in ctx.tvr


# EMV 4.4 Book 2, 6.6.2 Dynamic Signature Verification
def check_cda(
    ctx: TransactionContext, response_data: bytes, cdol_data: bytes, second: bool
) -> OdaFailure | None:
    """The precise CDA verdict for a GENERATE AC response (``None`` = verified)."""
    try:
        items = decode(response_data)
    except TlvError:
        return OdaFailure.NOT_FORMAT_2
    if len(items) != 1 or items[0].tag != 0x77:
        return OdaFailure.NOT_FORMAT_2
    template = items[0]
    fields = flatten(template.children)
    sdad = fields.get(0x9F4B)
    cid = fields.get(0x9F27, b"")
    if not sdad or len(cid) != 1:
        return OdaFailure.SDAD_MISSING
    key = icc_key(ctx)
    if key.key is None:
        return OdaFailure.KEY_NOT_RECOVERED
    cdol1 = ctx.cdol1_data if second else cdol_data
    try:
        hash_code = transaction_data_hash(
            ctx.pdol_data, cdol1, cdol_data if second else None, template.value
        )
    except TlvError:
        return OdaFailure.NOT_FORMAT_2
    result = verify_cda_signature(
        sdad,
        key.key,
        unpredictable_number=ctx.get(TAG_UN) or b"",
        response_cid=cid[0],
        transaction_hash=hash_code,
    )
    if result.ok:
        # Book 2, 6.6.2: store the ICC Dynamic Number and the TC or ARQC
        ctx.card[0x9F4C] = result.icc_dynamic_number
        ctx.card[0x9F26] = result.cryptogram
        (ctx.genac2 if second else ctx.genac1)[0x9F26] = result.cryptogram
    return result.failure


def verify_cda(
    ctx: TransactionContext, response_data: bytes, cdol_data: bytes, second: bool = False
) -> bool:
    """Verify CDA on a GENERATE AC response; sets TSI and, on failure, TVR 'CDA failed'.

    What follows a failure is Book 4, 6.3.2.1: first GENERATE AC with a TC -
    decline without a second GENERATE AC; with an ARQC - an immediate second
    GENERATE AC for an AAC; second GENERATE AC - decline.
    """
    ctx.tsi |= TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED
    failure = check_cda(ctx, response_data, cdol_data, second)
    if failure is not None:
        ctx.tvr |= TVR.CDA_FAILED
        return False
    return True
