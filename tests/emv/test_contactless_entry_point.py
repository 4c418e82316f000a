"""Contactless Entry Point (EMV Contactless Book B) against hand-built card answers:
pre-processing rules (3.1.1), combination selection and its ordering (3.3), outcome
processing (3.5), and a hand-built qVSDC card through Kernel 3 (Book C-3)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emv.bits import CTQ, TTQ
from emv.contactless import (
    AlternateInterface,
    Combination,
    ContactlessConfigError,
    OutcomeKind,
    UiMessage,
    run_contactless,
)
from emv.contactless.kernel3 import choose_cvm
from emv.contactless.outcome import Cvm
from emv.contactless.preprocessing import pre_process
from emv.outcome import Decision, TerminationReason
from tests.emv.contactless_support import MASTERCARD, VISA, ClCallbacks, cl_config, txn
from tests.emv.scripted import OK, ScriptedTransport, read_cmd, select_cmd, t

PPSE = b"2PAY.SYS.DDF01"
BASE_TTQ = bytes.fromhex("26004080")


# --- 3.1.1 pre-processing ------------------------------------------------------------


def one(amount: int, **params: object) -> object:
    combination = Combination(VISA, 3, **params)  # type: ignore[arg-type]
    return pre_process([combination], BASE_TTQ, amount, 2)[0]


def flags(item: object) -> TTQ:
    return TTQ.from_bytes(item.ttq)  # type: ignore[attr-defined]


def test_ttq_copy_clears_online_and_cvm_bits_of_the_base() -> None:
    combination = Combination(VISA, 3, ttq=bytes.fromhex("26C04080"))
    item = pre_process([combination], BASE_TTQ, 100_00, 2)[0]
    assert TTQ.ONLINE_CRYPTOGRAM_REQUIRED not in flags(item) and TTQ.CVM_REQUIRED not in flags(item)
    assert item.ttq[0] == 0x26  # the combination's own TTQ wins over the base


@pytest.mark.parametrize(
    ("amount", "params", "expect"),
    [
        # status check: exactly one unit of the currency
        (100, {"status_check": True}, {"status_check_requested": True, "online": True}),
        (101, {"status_check": True}, {"status_check_requested": False, "online": False}),
        (100, {"status_check": False}, {"status_check_requested": False, "online": False}),
        # zero amount
        (
            0,
            {"zero_amount_allowed": True},
            {"zero_amount": True, "online": True, "not_allowed": False},
        ),
        (0, {"zero_amount_allowed": False}, {"zero_amount": True, "not_allowed": True}),
        # transaction limit: at or over is not allowed
        (5000, {"transaction_limit": 5000}, {"not_allowed": True}),
        (4999, {"transaction_limit": 5000}, {"not_allowed": False}),
        # floor limit: over means online cryptogram required
        (2001, {"floor_limit": 2000}, {"floor_limit_exceeded": True, "online": True}),
        (2000, {"floor_limit": 2000}, {"floor_limit_exceeded": False, "online": False}),
        # CVM required limit: at or over
        (3000, {"cvm_required_limit": 3000}, {"cvm_required_limit_exceeded": True, "cvm": True}),
        (2999, {"cvm_required_limit": 3000}, {"cvm_required_limit_exceeded": False, "cvm": False}),
        # nothing configured: nothing set
        (999_999, {}, {"not_allowed": False, "online": False, "cvm": False}),
    ],
)
def test_pre_processing_rules(
    amount: int, params: dict[str, object], expect: dict[str, bool]
) -> None:
    item = one(amount, **params)
    ttq = flags(item)
    for key, value in expect.items():
        if key == "online":
            assert (TTQ.ONLINE_CRYPTOGRAM_REQUIRED in ttq) is value
        elif key == "cvm":
            assert (TTQ.CVM_REQUIRED in ttq) is value
        else:
            assert getattr(item, key) is value, key


def test_zero_amount_on_an_offline_only_reader_is_not_allowed() -> None:
    combination = Combination(VISA, 3, ttq=bytes.fromhex("2E004080"))  # offline-only reader
    assert pre_process([combination], BASE_TTQ, 0, 2)[0].not_allowed


def test_combination_rejects_bad_configuration() -> None:
    with pytest.raises(ContactlessConfigError):
        Combination(VISA, 9)
    with pytest.raises(ContactlessConfigError):
        Combination(VISA, 3, ttq=b"\x00")
    with pytest.raises(ContactlessConfigError):
        Combination(VISA, 3, floor_limit=-1)


def test_all_combinations_not_allowed_is_try_another_interface_without_touching_the_card() -> None:
    transport = ScriptedTransport({})
    result = run_contactless(transport, cl_config(), ClCallbacks(), txn(10000))
    assert result.outcome.outcome is OutcomeKind.TRY_ANOTHER_INTERFACE
    assert result.outcome.alternate_interface is AlternateInterface.CONTACT_CHIP
    assert result.decision is Decision.TERMINATED
    assert result.reason is TerminationReason.TRY_ANOTHER_INTERFACE
    assert transport.sent == []


# --- 3.3 combination selection ---------------------------------------------------------


def entry(
    aid: bytes, priority: int | None = None, kernel: bytes | None = None, label: bytes = b"APP"
) -> bytes:
    parts = [t(0x4F, aid), t(0x50, label)]
    if priority is not None:
        parts.append(t(0x87, bytes((priority,))))
    if kernel is not None:
        parts.append(t(0x9F2A, kernel))
    return t(0x61, *parts)


def ppse(*entries: bytes) -> bytes:
    return t(0x6F, t(0x84, PPSE), t(0xA5, t(0xBF0C, *entries))) + OK


def app_fci(aid: bytes) -> bytes:
    return t(0x6F, t(0x84, aid), t(0xA5, t(0x50, b"APP"))) + OK


def selected_aids(transport: ScriptedTransport) -> list[bytes]:
    return [cmd[5 : 5 + cmd[4]] for cmd in transport.sent if cmd[:2] == b"\x00\xa4"][1:]


def table(ppse_answer: bytes, *apps: bytes, fail: tuple[bytes, ...] = ()) -> dict[bytes, bytes]:
    out = {select_cmd(PPSE): ppse_answer}
    for aid in apps:
        out[select_cmd(aid)] = b"\x6a\x82" if aid in fail else app_fci(aid)
    return out


VISA_2 = VISA + b"\x02"


def test_priority_order_then_directory_order_then_no_priority_last() -> None:
    answer = ppse(entry(VISA_2), entry(MASTERCARD, 2), entry(VISA, 1))
    transport = ScriptedTransport(
        table(answer, VISA, VISA_2, MASTERCARD, fail=(VISA, VISA_2, MASTERCARD))
    )
    result = run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert selected_aids(transport) == [VISA, MASTERCARD, VISA_2]
    assert result.outcome.outcome is OutcomeKind.END_APPLICATION
    assert result.reason is TerminationReason.NO_COMMON_APPLICATION
    assert result.outcome.ui_on_outcome is not None
    assert result.outcome.ui_on_outcome.message is UiMessage.INSERT_SWIPE_OR_TRY_ANOTHER_CARD


def test_equal_priority_keeps_ppse_order() -> None:
    answer = ppse(entry(MASTERCARD, 1), entry(VISA, 1))
    transport = ScriptedTransport(table(answer, VISA, MASTERCARD, fail=(VISA, MASTERCARD)))
    run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert selected_aids(transport) == [MASTERCARD, VISA]


def test_kernel_identifier_must_match_the_combination() -> None:
    # Visa AID announced for kernel 2: no combination (Visa is configured with kernel 3)
    answer = ppse(entry(VISA, 1, kernel=b"\x02"), entry(MASTERCARD, 2, kernel=b"\x02"))
    transport = ScriptedTransport(table(answer, VISA, MASTERCARD, fail=(MASTERCARD,)))
    run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert selected_aids(transport) == [MASTERCARD]


def test_combination_over_its_limit_is_left_out_of_the_candidate_list() -> None:
    cfg = cl_config()
    combos = (
        dataclasses.replace(cfg.combinations[0], transaction_limit=500),
        cfg.combinations[1],
    )
    cfg = dataclasses.replace(cfg, combinations=combos)
    answer = ppse(entry(VISA, 1), entry(MASTERCARD, 2))
    transport = ScriptedTransport(table(answer, VISA, MASTERCARD, fail=(MASTERCARD,)))
    run_contactless(transport, cfg, ClCallbacks(), txn(1000))
    assert selected_aids(transport) == [MASTERCARD]


def test_partial_adf_name_match_and_exact_only() -> None:
    answer = ppse(entry(VISA_2, 1))
    transport = ScriptedTransport(table(answer, VISA_2, fail=(VISA_2,)))
    run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert selected_aids(transport) == [VISA_2]
    cfg = cl_config()
    exact = tuple(dataclasses.replace(c, partial_selection=False) for c in cfg.combinations)
    transport = ScriptedTransport(table(answer, VISA_2))
    result = run_contactless(
        transport, dataclasses.replace(cfg, combinations=exact), ClCallbacks(), txn(1000)
    )
    assert selected_aids(transport) == []
    assert result.reason is TerminationReason.NO_COMMON_APPLICATION


@pytest.mark.parametrize(
    "answer",
    [b"\x6a\x82", b"\x6f\x05\x84\x03" + OK, b"\x70\x00" + OK, ppse()],
    ids=["not-found", "malformed", "not-6F", "empty"],
)
def test_no_usable_ppse_ends_the_application(answer: bytes) -> None:
    transport = ScriptedTransport({select_cmd(PPSE): answer})
    result = run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert result.outcome.outcome is OutcomeKind.END_APPLICATION
    assert result.reason is TerminationReason.NO_COMMON_APPLICATION
    assert result.decision is Decision.TERMINATED


def test_final_select_with_another_df_name_is_skipped() -> None:
    answer = ppse(entry(VISA, 1))
    transport = ScriptedTransport({select_cmd(PPSE): answer, select_cmd(VISA): app_fci(MASTERCARD)})
    result = run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert result.reason is TerminationReason.NO_COMMON_APPLICATION and result.restarts == 1


# --- a hand-built qVSDC card ------------------------------------------------------------

PDOL = bytes.fromhex("9F66049F02069F37045F2A029A03")
PAN = bytes.fromhex("4761739001010119")


def qvsdc_card(
    gpo: bytes, *, gpo_sw: bytes = OK, expiry: bytes = bytes.fromhex("301231")
) -> ScriptedTransport:
    fci = t(0x6F, t(0x84, VISA), t(0xA5, t(0x50, b"VISA"), t(0x9F38, PDOL))) + OK
    record = t(
        0x70, t(0x57, PAN + bytes.fromhex("D30122010000000000")), t(0x5A, PAN), t(0x5F24, expiry)
    )
    return ScriptedTransport(
        {
            select_cmd(PPSE): ppse(entry(VISA, 1)),
            select_cmd(VISA): fci,
            b"\x80\xa8\x00\x00": gpo + gpo_sw,
            read_cmd(1, 1): record + OK,
        }
    )


def gpo(
    cid: int | None, *, ctq: bytes | None = None, iad_byte5: int = 0x00, afl: bool = True
) -> bytes:
    parts = [t(0x82, b"\x00\x00")]
    if afl:
        parts.append(t(0x94, bytes.fromhex("08010100")))
    parts += [
        t(0x9F36, b"\x00\x07"),
        t(0x9F26, bytes(range(8))),
        t(0x9F10, bytes((6, 1, 0x12, 3, iad_byte5, 0, 0))),
    ]
    if cid is not None:
        parts.append(t(0x9F27, bytes((cid,))))
    if ctq is not None:
        parts.append(t(0x9F6C, ctq))
    return t(0x77, *parts)


def test_hand_built_qvsdc_online_and_pdol_carries_the_ttq() -> None:
    transport = qvsdc_card(gpo(0x80))
    callbacks = ClCallbacks()
    result = run_contactless(transport, cl_config(), callbacks, txn(1234))
    assert result.decision is Decision.APPROVED_ONLINE
    gpo_cmd = next(cmd for cmd in transport.sent if cmd[:2] == b"\x80\xa8")
    assert gpo_cmd[7:11] == result.ttq and gpo_cmd[11:17] == bytes.fromhex("000000001234")
    assert callbacks.removed == 1


def test_cid_taken_from_iad_when_9f27_is_absent() -> None:
    # Visa CVR (IAD byte 5) b6-b5 = 10: ARQC
    result = run_contactless(
        qvsdc_card(gpo(None, iad_byte5=0x20)), cl_config(), ClCallbacks(), txn(1000)
    )
    assert result.outcome.outcome is OutcomeKind.ONLINE_REQUEST
    assert result.de55_tags[0x9F27] == b"\x80"
    result = run_contactless(
        qvsdc_card(gpo(None, iad_byte5=0x30)), cl_config(), ClCallbacks(), txn(1000)
    )
    assert result.outcome.outcome is OutcomeKind.END_APPLICATION


def test_offline_tc_without_fdda_is_declined_and_expired_card_too() -> None:
    result = run_contactless(
        qvsdc_card(gpo(0x40)), cl_config(floor_limit=5000), ClCallbacks(), txn(1000)
    )
    assert result.outcome.outcome is OutcomeKind.DECLINED  # no 9F4B: fDDA cannot pass
    expired = qvsdc_card(gpo(0x40), expiry=bytes.fromhex("200101"))
    result = run_contactless(expired, cl_config(floor_limit=5000), ClCallbacks(), txn(1000))
    assert result.outcome.outcome is OutcomeKind.DECLINED and "expired" in result.detail


def test_pdol_without_ttq_selects_next() -> None:
    transport = qvsdc_card(gpo(0x80))
    transport.table[select_cmd(VISA)] = (
        t(0x6F, t(0x84, VISA), t(0xA5, t(0x9F38, bytes.fromhex("9F0206")))) + OK
    )
    result = run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert result.restarts == 1 and result.reason is TerminationReason.NO_COMMON_APPLICATION
    assert not any(cmd[:2] == b"\x80\xa8" for cmd in transport.sent)


@pytest.mark.parametrize(
    "bad",
    [
        t(0x80, bytes(6)),  # format 1 is not qVSDC
        t(0x77, t(0x82, b"\x00\x00")),  # no cryptogram
        gpo(0xC0),  # RFU cryptogram type
        t(0x77, t(0x82, b"\x00\x00"), t(0x82, b"\x00\x00")),  # duplicate
        b"\x77\x05\x82",  # malformed
    ],
)
def test_malformed_gpo_ends_the_application(bad: bytes) -> None:
    result = run_contactless(qvsdc_card(bad), cl_config(), ClCallbacks(), txn(1000))
    assert result.outcome.outcome is OutcomeKind.END_APPLICATION
    assert result.decision is Decision.TERMINATED


def test_record_repeating_a_gpo_object_with_another_value_ends() -> None:
    transport = qvsdc_card(gpo(0x80))
    record = t(0x70, t(0x57, PAN + b"\xd3\x01"), t(0x9F36, b"\x00\x08"))
    transport.table[read_cmd(1, 1)] = record + OK
    result = run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert result.outcome.outcome is OutcomeKind.END_APPLICATION


# --- Book C-3 5.7 CVM selection table ------------------------------------------------------

ALL = TTQ.ONLINE_PIN_SUPPORTED | TTQ.SIGNATURE_SUPPORTED


@pytest.mark.parametrize(
    ("ctq", "ttq", "online", "required", "cvm"),
    [
        (0x0080, ALL, True, True, Cvm.CONFIRMATION_CODE_VERIFIED),
        (0x8000, ALL, True, False, Cvm.ONLINE_PIN),
        (0x8000, TTQ.SIGNATURE_SUPPORTED, True, False, Cvm.NO_CVM),
        (0x4000, ALL, False, False, Cvm.OBTAIN_SIGNATURE),
        (0x0000, ALL, True, False, Cvm.NO_CVM),
        (0x0000, ALL, True, True, Cvm.ONLINE_PIN),
        (0x0000, ALL, False, True, Cvm.OBTAIN_SIGNATURE),
        (0x0000, TTQ.ONLINE_PIN_SUPPORTED, False, True, None),
        (None, TTQ(0), True, True, None),
    ],
)
def test_choose_cvm(
    ctq: int | None, ttq: TTQ, online: bool, required: bool, cvm: Cvm | None
) -> None:
    card = CTQ(ctq) if ctq is not None else None
    assert choose_cvm(card, ttq, online=online, cvm_required=required) is cvm


def test_pan_masked_from_track2_when_the_card_has_no_5a() -> None:
    transport = qvsdc_card(gpo(0x80))
    transport.table[read_cmd(1, 1)] = t(0x70, t(0x57, PAN + bytes.fromhex("D3012201"))) + OK
    callbacks = ClCallbacks()
    result = run_contactless(transport, cl_config(), callbacks, txn(1000))
    assert result.decision is Decision.APPROVED_ONLINE
    assert result.pan_masked == "476173******0119" == result.receipt["pan"]
    (request,) = callbacks.requests
    assert request.pan_masked == "476173******0119"  # the PIN block and DE 2 need it


def test_no_pan_invented_from_a_malformed_track2() -> None:
    transport = qvsdc_card(gpo(0x80))
    transport.table[read_cmd(1, 1)] = t(0x70, t(0x57, bytes.fromhex("12D3"))) + OK
    result = run_contactless(transport, cl_config(), ClCallbacks(), txn(1000))
    assert result.pan_masked == ""


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(0, 10**6) | st.sampled_from([0, 100]),
    limit=st.none() | st.integers(0, 10**6),
    floor=st.none() | st.integers(0, 10**6),
    cvm=st.none() | st.integers(0, 10**6),
    zero_ok=st.booleans(),
    status=st.booleans(),
)
def test_pre_processing_indicators_and_ttq_agree(
    amount: int, limit: int | None, floor: int | None, cvm: int | None, zero_ok: bool, status: bool
) -> None:
    """Book B 3.1.1: each indicator follows its rule and the TTQ bits follow the indicators."""
    combination = Combination(
        VISA, 3, limit, floor, cvm, status_check=status, zero_amount_allowed=zero_ok
    )
    item = pre_process([combination], BASE_TTQ, amount, 2)[0]
    ttq = TTQ.from_bytes(item.ttq)
    assert item.not_allowed == (
        (limit is not None and amount >= limit) or (amount == 0 and not zero_ok)
    )
    assert item.status_check_requested == (status and amount == 100)
    assert item.floor_limit_exceeded == (floor is not None and amount > floor)
    assert item.cvm_required_limit_exceeded == (cvm is not None and amount >= cvm)
    online = item.floor_limit_exceeded or item.status_check_requested or (amount == 0 and zero_ok)
    assert (TTQ.ONLINE_CRYPTOGRAM_REQUIRED in ttq) == online
    assert (TTQ.CVM_REQUIRED in ttq) == item.cvm_required_limit_exceeded
    assert item.ttq[0] == BASE_TTQ[0] and item.ttq[2:] == BASE_TTQ[2:]
