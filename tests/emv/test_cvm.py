"""EMV 4.4 Book 3, 10.5 / Annex C3 and Book 4, 6.3.4 (Table 2): cardholder verification."""

from __future__ import annotations

import pytest

from emv import cvm
from emv.bits import TSI, TVR, CvmList, CvRule
from emv.bits import TerminalCapabilities as Caps
from emv.callbacks import DisplayMessage, PinEntry, PinKind, PinStatus
from emv.context import TransactionType
from emv.cvm.rules import CvmFacts
from emv.outcome import TerminationReason
from tests.emv.cvm_support import (
    BAD_BLOCK,
    ONLINE,
    PinCard,
    PinPad,
    PlainPinPad,
    cvm_list,
    entered,
)
from tests.emv.oda_card import context

ALL_CAPS = "E0F8C8"  # plaintext, online, signature, enciphered offline, no CVM
CVM_BITS = (
    TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL
    | TVR.UNRECOGNISED_CVM
    | TVR.PIN_TRY_LIMIT_EXCEEDED
    | TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING
    | TVR.PIN_NOT_ENTERED
    | TVR.ONLINE_CVM_CAPTURED
)


def facts(**kw: object) -> CvmFacts:
    values: dict[str, object] = dict(
        amount=1000,
        transaction_currency=b"\x08\x26",
        application_currency=b"\x08\x26",
        attended=True,
        cash=False,
        cashback=False,
        capabilities=Caps.from_bytes(bytes.fromhex(ALL_CAPS)),
    )
    values.update(kw)
    return CvmFacts(**values)  # type: ignore[arg-type]


LIST = CvmList(amount_x=1000, amount_y=5000, rules=())


@pytest.mark.parametrize(
    ("condition", "kw", "expected"),
    [
        (0x00, {}, True),
        (0x01, {"cash": True, "attended": False}, True),
        (0x01, {"cash": True, "attended": True}, False),
        (0x01, {}, False),
        (0x02, {}, True),
        (0x02, {"cash": True}, False),
        (0x02, {"cashback": True}, False),
        (0x03, {}, True),
        (0x03, {"capabilities": Caps(0)}, False),
        (0x04, {"cash": True, "attended": True}, True),
        (0x04, {"cash": True, "attended": False}, False),
        (0x05, {"cashback": True}, True),
        (0x05, {}, False),
        (0x06, {"amount": 999}, True),
        (0x06, {"amount": 1000}, False),
        (0x06, {"amount": 999, "application_currency": b"\x09\x78"}, False),
        (0x06, {"amount": 999, "application_currency": None}, False),
        (0x07, {"amount": 1001}, True),
        (0x07, {"amount": 1000}, False),
        (0x08, {"amount": 4999}, True),
        (0x08, {"amount": 5000}, False),
        (0x09, {"amount": 5001}, True),
        (0x09, {"amount": 5001, "application_currency": None}, False),
        (0x0A, {}, False),  # RFU: bypass the rule
        (0x80, {}, False),  # proprietary, not understood
    ],
)
def test_every_condition_code(condition: int, kw: dict[str, object], expected: bool) -> None:
    """Book 3, Annex C3 Table 44."""
    rule = CvRule(0x01, condition, False)
    assert cvm.evaluate_condition(rule, LIST, facts(**kw)) is expected


@pytest.mark.parametrize(
    ("code", "capability", "supported"),
    [
        (0x00, "000000", True),
        (0x01, "008000", True),
        (0x01, "007800", False),
        (0x02, "004000", True),
        (0x03, "008000", False),
        (0x03, "00A000", True),
        (0x04, "001000", True),
        (0x04, "00E800", False),
        (0x05, "003000", True),
        (0x05, "001000", False),
        (0x1E, "002000", True),
        (0x1F, "000800", True),
        (0x1F, "00F000", False),
        (0x08, "00FF00", False),  # biometric: recognised, never supported here
    ],
)
def test_method_support_per_terminal_capabilities(
    code: int, capability: str, supported: bool
) -> None:
    """Book 4, A2 (9F33 byte 2) and 6.3.4: combinations need both parts."""
    method = cvm.method_of(code)
    assert method is not None
    assert method.supported(Caps.from_bytes(bytes.fromhex(capability))) is supported


@pytest.mark.parametrize("code", [0x10, 0x1D, 0x20, 0x2F, 0x30, 0x3E, 0x3F])
def test_unrecognised_codes(code: int) -> None:
    assert cvm.method_of(code) is None


def run(rules, card=None, pad=None, caps=ALL_CAPS, **txn):  # type: ignore[no-untyped-def]
    ctx = context(caps, **txn)
    ctx.card[0x8E] = rules if isinstance(rules, bytes) else cvm_list(rules, 1000, 5000)
    ctx.card[0x9F42] = b"\x08\x26"
    card = card or PinCard()
    pad = pad if pad is not None else PinPad()
    outcome = cvm.perform(ctx, card, pad)
    return ctx, outcome, card, pad


def test_no_cvm_support_in_aip() -> None:
    ctx = context(aip=bytes.fromhex("6000"))
    ctx.card[0x8E] = cvm_list(["1F00"])
    assert cvm.perform(ctx, PinCard(), PinPad()) is None
    assert ctx.cvm_results == bytes.fromhex("3F0000")
    assert TSI.CARDHOLDER_VERIFICATION_PERFORMED not in ctx.tsi and ctx.tvr & CVM_BITS == TVR(0)


@pytest.mark.parametrize("raw", [None, bytes(8)])
def test_cvm_list_absent_or_empty(raw: bytes | None) -> None:
    ctx = context()
    if raw is not None:
        ctx.card[0x8E] = raw
    assert cvm.perform(ctx, PinCard(), PinPad()) is None
    assert ctx.cvm_results == bytes.fromhex("3F0000")
    assert TVR.ICC_DATA_MISSING in ctx.tvr
    assert TSI.CARDHOLDER_VERIFICATION_PERFORMED not in ctx.tsi


@pytest.mark.parametrize("raw", ["00", "0000000000000000 1F", "00000000000000"])
def test_malformed_cvm_list_terminates(raw: str) -> None:
    _, outcome, _, _ = run(bytes.fromhex(raw.replace(" ", "")))
    assert outcome is not None and outcome.reason is TerminationReason.DATA_FORMAT_ERROR


# (rules, pad entries, caps, expected 9F34, expected TVR byte 3 bits, signature)
CASES = [
    # Book 4 Table 2 rows
    (["1F03"], [], ALL_CAPS, "1F0302", TVR(0), False),
    (["1E03"], [], ALL_CAPS, "1E0300", TVR(0), True),
    (["0000"], [], ALL_CAPS, "000001", TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL, False),
    (["4000"], [], ALL_CAPS, "400001", TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL, False),
    (["1F05"], [], ALL_CAPS, "3F0001", TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL, False),
    (["1E00"], [], "E0D8C8", "3F0001", TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL, False),
    (
        ["3500"],
        [],
        ALL_CAPS,
        "3F0001",
        TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL | TVR.UNRECOGNISED_CVM,
        False,
    ),
    (["7500", "1F00"], [], ALL_CAPS, "1F0002", TVR.UNRECOGNISED_CVM, False),
    (["0200"], [ONLINE], ALL_CAPS, "020000", TVR.ONLINE_CVM_CAPTURED, False),
    (["0100"], [entered()], ALL_CAPS, "010002", TVR(0), False),
    (["0300"], [entered()], ALL_CAPS, "030000", TVR(0), True),
    (
        ["4100", "1E00"],
        [entered(BAD_BLOCK), entered(BAD_BLOCK), PinEntry(PinStatus.BYPASSED)],
        ALL_CAPS,
        "1E0000",
        TVR.PIN_NOT_ENTERED,
        True,
    ),
    # unsupported PIN: 'PIN pad not present', next rule (b7 set) or fail (b7 clear)
    (["4100", "1F00"], [], "E068C8", "1F0002", TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING, False),
    # plaintext PIN unsupported but enciphered offline PIN supported: no PIN pad bit
    (["4100", "1F00"], [], "E078C8", "1F0002", TVR(0), False),
    (["4200", "1F00"], [], "E0B8C8", "1F0002", TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING, False),
    # PIN + signature without signature support: no PIN pad bit
    (["4300", "1F00"], [], "E0D8C8", "1F0002", TVR(0), False),
    (
        ["0100", "1F00"],
        [],
        "E068C8",
        "3F0001",
        TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING | TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL,
        False,
    ),
    # a failed CVM with 'apply next' whose successors are all skipped: it stays in 9F34
    (
        ["4100", "1E05"],
        [PinEntry(PinStatus.PINPAD_FAULT)],
        ALL_CAPS,
        "410001",
        TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING | TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL,
        False,
    ),
    # bypass once, later PIN CVMs count as bypassed (Book 4, 6.3.4.3)
    (
        ["4100", "4200", "1E00"],
        [PinEntry(PinStatus.BYPASSED)],
        ALL_CAPS,
        "1E0000",
        TVR.PIN_NOT_ENTERED,
        True,
    ),
    # amount conditions choose the rule
    (["0106", "1F08"], [], ALL_CAPS, "1F0802", TVR(0), False),
    (["0106", "1F07"], [], ALL_CAPS, "3F0001", TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL, False),
]


@pytest.mark.parametrize(("rules", "entries", "caps", "results", "tvr", "signature"), CASES)
def test_cvm_list_processing(  # type: ignore[no-untyped-def]
    rules, entries, caps, results, tvr, signature
) -> None:
    ctx, outcome, _, _pad = run(rules, pad=PinPad(list(entries)), caps=caps, amount=1000)
    assert outcome is None
    assert ctx.cvm_results.hex().upper() == results
    assert ctx.tvr & CVM_BITS == tvr
    assert ctx.signature_required is signature
    assert TSI.CARDHOLDER_VERIFICATION_PERFORMED in ctx.tsi


def test_offline_plaintext_pin_retries_then_succeeds() -> None:
    pad = PinPad([entered(BAD_BLOCK), entered()])
    ctx, _, card, _ = run(["0100"], pad=pad)
    assert ctx.cvm_results == bytes.fromhex("010002")
    assert [r.try_counter for r in pad.requests] == [3, 2]
    assert card.verified == [0x80, 0x80]
    assert pad.requests[0].kind is PinKind.OFFLINE_PLAINTEXT
    assert DisplayMessage.INCORRECT_PIN in pad.shown


def test_pin_is_wiped_after_use() -> None:
    entry = entered()
    run(["0100"], pad=PinPad([entry]))
    assert entry.offline is not None and entry.offline.wiped  # type: ignore[attr-defined]


def test_pin_try_limit_exceeded_paths() -> None:
    # counter already 0: no prompt (Book 4, 6.3.4.1)
    ctx, _, _, pad = run(["0100"], card=PinCard(tries=0), pad=PinPad([entered()]))
    assert TVR.PIN_TRY_LIMIT_EXCEEDED in ctx.tvr and not pad.requests
    assert ctx.cvm_results == bytes.fromhex("010001")
    # exhausted by wrong PINs: 63C0
    ctx, _, _card, pad = run(
        ["0100"], card=PinCard(tries=2), pad=PinPad([entered(BAD_BLOCK) for _ in range(3)])
    )
    assert TVR.PIN_TRY_LIMIT_EXCEEDED in ctx.tvr and len(pad.requests) == 2
    assert pad.requests[-1].last_try
    # blocked: 6983
    ctx, _, _, _ = run(["0100"], card=PinCard(other_sw=b"\x69\x83"), pad=PinPad([entered()]))
    assert TVR.PIN_TRY_LIMIT_EXCEEDED in ctx.tvr
    # counter unreadable: still prompts, counter unknown
    ctx, _, _, pad = run(["0100"], card=PinCard(tries=None), pad=PinPad([entered()]))
    assert ctx.cvm_results == bytes.fromhex("010002") and pad.requests[0].try_counter is None


def test_online_pin_allowed_after_offline_pin_blocked() -> None:
    ctx, _, _, _ = run(["4100", "0200"], card=PinCard(tries=0), pad=PinPad([ONLINE]))
    assert ctx.cvm_results == bytes.fromhex("020000")
    assert ctx.online_pin is ONLINE
    assert TVR.PIN_TRY_LIMIT_EXCEEDED | TVR.ONLINE_CVM_CAPTURED in ctx.tvr


def test_offline_enciphered_pin_with_pin_key() -> None:
    pad = PinPad([entered()])
    ctx, _, card, _ = run(["0400"], pad=pad)
    assert ctx.cvm_results == bytes.fromhex("040002"), ctx.tvr
    assert card.verified == [0x88]
    assert pad.random_calls == [128 - 17]


def test_offline_enciphered_pin_failures() -> None:
    ctx, _, _, _ = run(["0400"], card=PinCard(challenge=b"\x01\x02"), pad=PinPad([entered()]))
    assert ctx.cvm_results == bytes.fromhex("040001")
    ctx, _, card, _ = run(["0400"], pad=PlainPinPad([entered()]))
    assert ctx.cvm_results == bytes.fromhex("040001") and not card.verified
    ctx = context()
    ctx.card[0x8E] = cvm_list(["0400"])
    del ctx.card[0x9F2D]
    ctx.card[0x9F46] = ctx.card[0x9F46][::-1]  # neither PIN key nor ICC key recoverable
    cvm.perform(ctx, PinCard(), PinPad([entered()]))
    assert ctx.cvm_results == bytes.fromhex("040001")


@pytest.mark.parametrize("status", [PinStatus.CANCELLED, PinStatus.TIMEOUT])
def test_cancelled_pin_entry_terminates(status: PinStatus) -> None:
    _, outcome, _, _ = run(["0100"], pad=PinPad([PinEntry(status)]))
    assert outcome is not None and outcome.reason is TerminationReason.CANCELLED


@pytest.mark.parametrize(
    ("txn", "results"),
    [
        ({"transaction_type": TransactionType.CASH}, "1F040 2"),
        (
            {"transaction_type": TransactionType.PURCHASE_WITH_CASHBACK, "amount_other": 100},
            "1F0502",
        ),
        ({}, "1F0202"),
    ],
)
def test_cash_and_cashback_conditions(txn: dict[str, object], results: str) -> None:
    ctx, _, _, _ = run(["1F01", "1F04", "1F05", "1F02"], **txn)
    assert ctx.cvm_results.hex().upper() == results.replace(" ", "")
