"""Contactless Entry Point + kernels against the simulator's contactless cards
(sim/profiles visa-qvsdc, wallet-cdcvm, mc-contactless), in process.

EMV Contactless Book B (Entry Point), Book C-2 (Kernel 2), Book C-3 (Kernel 3)."""

from __future__ import annotations

import dataclasses

import pytest

from emv.bits import TSI, TVR
from emv.callbacks import OnlineResponse, PinKind, PinStatus
from emv.contactless import Cvm, OutcomeKind, Start, run_contactless
from emv.outcome import Decision, TerminationReason
from sim.card import Faults, VirtualCard, load_profile
from tests.emv.contactless_support import (
    MASTERCARD,
    ONLINE_BLOCK,
    TTQ_ODA_ONLINE,
    VISA,
    ClCallbacks,
    Rewriting,
    cl_config,
    on_gpo,
    set_in_77,
    txn,
)


def card(name: str, **faults: object) -> VirtualCard:
    return VirtualCard(load_profile(name), faults=Faults(**faults) if faults else None)  # type: ignore[arg-type]


def tvr(result_tvr: bytes) -> TVR:
    return TVR.from_bytes(result_tvr)


# --- Kernel 3 (qVSDC) --------------------------------------------------------------


def test_qvsdc_online_below_cvm_limit_no_cvm() -> None:
    callbacks = ClCallbacks()
    result = run_contactless(card("visa-qvsdc"), cl_config(), callbacks, txn(1000))
    assert result.outcome.outcome is OutcomeKind.ONLINE_REQUEST
    assert result.decision is Decision.APPROVED_ONLINE
    assert result.kernel_id == 3 and result.entry_mode == 0x07
    assert result.outcome.cvm is Cvm.NO_CVM and result.cvm_results == bytes.fromhex("1F0002")
    assert result.cryptogram_type == "ARQC" and len(result.cryptogram) == 8
    assert result.aid == VISA
    assert not callbacks.pins and callbacks.removed == 1
    # the authorisation request carries the contactless tags (Book C-3 Annex A)
    (request,) = callbacks.requests
    assert request.de55[0x9F66] == result.ttq
    assert 0x9F6C in request.de55 and request.de55[0x9F39] == b"\x07"
    assert result.de55_tags[0x9F26] == result.cryptogram
    # host-spec DE 55 minimum set, 9F09 from the AID row included
    for tag in (0x9F26, 0x9F27, 0x9F10, 0x9F37, 0x9F36, 0x95, 0x9A, 0x9C, 0x9F02, 0x5F2A):
        assert tag in request.de55
    for tag in (0x82, 0x9F1A, 0x9F34, 0x9F33, 0x9F35, 0x9F1E, 0x84, 0x9F09, 0x9F03):
        assert tag in request.de55
    assert result.pan_masked == "476173******0168"
    assert result.receipt["entry_mode"] == "contactless"


def test_qvsdc_ttq_in_gpo_has_cvm_required_over_limit_and_online_pin() -> None:
    callbacks = ClCallbacks()
    sim = card("visa-qvsdc")
    result = run_contactless(sim, cl_config(), callbacks, txn(6000))
    # Book B 3.1.1.7-3.1.1.9: at/over the CVM Required Limit the TTQ says 'CVM required'
    assert result.ttq[1] & 0x40 and result.ttq[1] & 0x80  # and online (floor limit 0)
    assert sim.last_arqc_data["9F66"] == result.ttq
    assert result.outcome.cvm is Cvm.ONLINE_PIN
    assert [pin.kind for pin in callbacks.pins] == [PinKind.ONLINE]
    (request,) = callbacks.requests
    assert request.online_pin is not None and request.online_pin.online_block == ONLINE_BLOCK
    assert TVR.ONLINE_CVM_CAPTURED in tvr(result.tvr)
    assert result.decision is Decision.APPROVED_ONLINE


def test_qvsdc_online_pin_cancelled_ends_the_transaction() -> None:
    callbacks = ClCallbacks(pin=PinStatus.CANCELLED)
    result = run_contactless(card("visa-qvsdc"), cl_config(), callbacks, txn(6000))
    assert result.decision is Decision.TERMINATED
    assert result.reason is TerminationReason.CANCELLED
    assert not callbacks.requests


def test_qvsdc_signature_when_reader_has_no_online_pin() -> None:
    ttq = bytes.fromhex("22004080")  # EMV mode + signature, no online PIN
    result = run_contactless(card("visa-qvsdc"), cl_config(ttq=ttq), ClCallbacks(), txn(6000))
    assert result.outcome.cvm is Cvm.OBTAIN_SIGNATURE and result.signature_required
    assert result.outcome.receipt


def test_qvsdc_fdda_verified_for_online_when_reader_supports_it() -> None:
    result = run_contactless(
        card("visa-qvsdc"), cl_config(ttq=TTQ_ODA_ONLINE), ClCallbacks(), txn(1000)
    )
    assert TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in TSI.from_bytes(result.tsi)
    assert tvr(result.tvr) & (TVR.DDA_FAILED | TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED) == 0
    assert result.decision is Decision.APPROVED_ONLINE


def test_qvsdc_broken_fdda_on_online_is_recorded_not_fatal() -> None:
    sim = card("visa-qvsdc", bad_signatures=frozenset({"sdad"}))
    result = run_contactless(sim, cl_config(ttq=TTQ_ODA_ONLINE), ClCallbacks(), txn(1000))
    assert TVR.DDA_FAILED in tvr(result.tvr)
    assert result.outcome.outcome is OutcomeKind.ONLINE_REQUEST


def _as_tc(response: bytes) -> bytes:
    return set_in_77(response, 0x9F27, b"\x40")


def test_qvsdc_offline_tc_with_valid_fdda_is_approved() -> None:
    """fDDA v01 does not sign the CID, so the sim's GPO answer turned into a TC still verifies."""
    transport = Rewriting(card("visa-qvsdc"), on_gpo(_as_tc))
    callbacks = ClCallbacks()
    result = run_contactless(transport, cl_config(floor_limit=5000), callbacks, txn(1000))
    assert result.outcome.outcome is OutcomeKind.APPROVED, result.detail
    assert result.decision is Decision.APPROVED_OFFLINE
    assert result.cryptogram_type == "TC"
    assert result.de55_tags.get(0x9F27) == b"\x40"
    assert not callbacks.requests
    assert TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in TSI.from_bytes(result.tsi)
    assert result.receipt["response_code"] == "Y1"


def test_qvsdc_offline_tc_with_broken_fdda_is_declined() -> None:
    sim = card("visa-qvsdc", bad_signatures=frozenset({"sdad"}))
    transport = Rewriting(sim, on_gpo(_as_tc))
    result = run_contactless(transport, cl_config(floor_limit=5000), ClCallbacks(), txn(1000))
    assert result.outcome.outcome is OutcomeKind.DECLINED
    assert result.decision is Decision.DECLINED_OFFLINE
    assert TVR.DDA_FAILED in tvr(result.tvr)


def test_qvsdc_offline_tc_with_wrong_ctq_copy_in_9f69_is_declined() -> None:
    def change(response: bytes) -> bytes:
        data = set_in_77(response, 0x9F27, b"\x40")
        return set_in_77(data, 0x9F6C, b"\x80\x00")  # CTQ now differs from 9F69's copy

    transport = Rewriting(card("visa-qvsdc"), on_gpo(change))
    result = run_contactless(transport, cl_config(floor_limit=5000), ClCallbacks(), txn(1000))
    assert result.outcome.outcome is OutcomeKind.DECLINED


@pytest.mark.parametrize(
    ("ctq", "kind"),
    [
        ("1000", OutcomeKind.TRY_ANOTHER_INTERFACE),  # switch interface if ODA fails
        ("2000", OutcomeKind.ONLINE_REQUEST),  # go online if ODA fails
        ("0000", OutcomeKind.DECLINED),
    ],
)
def test_qvsdc_offline_tc_failed_fdda_follows_the_ctq(ctq: str, kind: OutcomeKind) -> None:
    """Book C-3 5.6.1.2: with a TC and a failed fDDA, CTQ byte 1 b6/b5 decide."""

    def change(response: bytes) -> bytes:
        data = set_in_77(response, 0x9F27, b"\x40")
        data = set_in_77(data, 0x9F4B, bytes(96))  # a signature that cannot verify
        return set_in_77(data, 0x9F6C, bytes.fromhex(ctq))

    ttq = bytes.fromhex("36004080")  # + contact chip supported
    transport = Rewriting(card("visa-qvsdc"), on_gpo(change))
    result = run_contactless(
        transport, cl_config(ttq=ttq, floor_limit=5000), ClCallbacks(), txn(1000)
    )
    assert result.outcome.outcome is kind
    assert TVR.DDA_FAILED in tvr(result.tvr)


def test_qvsdc_aac_in_gpo_is_declined() -> None:
    transport = Rewriting(card("visa-qvsdc"), on_gpo(lambda r: set_in_77(r, 0x9F27, b"\x00")))
    callbacks = ClCallbacks()
    result = run_contactless(transport, cl_config(), callbacks, txn(1000))
    assert result.decision is Decision.DECLINED_OFFLINE and result.cryptogram_type == "AAC"
    assert not callbacks.requests


@pytest.mark.parametrize(
    ("sw", "kind", "start"),
    [
        (0x6984, OutcomeKind.TRY_ANOTHER_INTERFACE, Start.NA),
        (0x6986, OutcomeKind.TRY_AGAIN, Start.B),
        (0x6A80, OutcomeKind.END_APPLICATION, Start.NA),
    ],
)
def test_qvsdc_gpo_status_words(sw: int, kind: OutcomeKind, start: Start) -> None:
    result = run_contactless(
        card("visa-qvsdc", status_words={"GPO": sw}), cl_config(), ClCallbacks(), txn(1000)
    )
    assert result.outcome.outcome is kind and result.outcome.start is start
    assert result.decision is Decision.TERMINATED


def test_qvsdc_gpo_6985_selects_next_and_ends_without_other_app() -> None:
    result = run_contactless(
        card("visa-qvsdc", status_words={"GPO": 0x6985}), cl_config(), ClCallbacks(), txn(1000)
    )
    assert result.outcome.outcome is OutcomeKind.END_APPLICATION
    assert result.reason is TerminationReason.NO_COMMON_APPLICATION
    assert result.restarts == 1


def test_card_pulled_mid_transaction_is_try_again() -> None:
    result = run_contactless(
        card("visa-qvsdc", pull_after=3), cl_config(), ClCallbacks(), txn(1000)
    )
    assert result.outcome.outcome is OutcomeKind.TRY_AGAIN and result.outcome.start is Start.B
    assert result.reason is TerminationReason.CARD_REMOVED


def test_unable_to_go_online_declines_with_z3() -> None:
    result = run_contactless(card("visa-qvsdc"), cl_config(), ClCallbacks(online=None), txn(1000))
    assert result.decision is Decision.DECLINED_OFFLINE
    assert result.receipt["response_code"] == "Z3"


def test_host_decline_is_declined_online() -> None:
    result = run_contactless(
        card("visa-qvsdc"), cl_config(), ClCallbacks(online=OnlineResponse(False, b"05")), txn(1000)
    )
    assert result.decision is Decision.DECLINED_ONLINE
    assert result.receipt["response_code"] == "05"


# --- consumer device CVM -----------------------------------------------------------


def test_wallet_consumer_device_cvm_over_the_cvm_limit() -> None:
    callbacks = ClCallbacks()
    result = run_contactless(card("wallet-cdcvm"), cl_config(), callbacks, txn(6000))
    assert result.outcome.cvm is Cvm.CONFIRMATION_CODE_VERIFIED
    assert not callbacks.pins and not result.signature_required
    assert result.de55_tags[0x9F6E] == bytes.fromhex("20700000")
    assert result.de55_tags[0x9F6C] == bytes.fromhex("0080")
    assert result.decision is Decision.APPROVED_ONLINE


# --- Kernel 2 (M/Chip EMV mode) -------------------------------------------------------


def test_mchip_online_with_cda_verified() -> None:
    callbacks = ClCallbacks()
    result = run_contactless(card("mc-contactless"), cl_config(), callbacks, txn(1000))
    assert result.kernel_id == 2 and result.aid == MASTERCARD
    assert result.outcome.outcome is OutcomeKind.ONLINE_REQUEST, result.detail
    assert TVR.CDA_FAILED not in tvr(result.tvr)
    assert TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in TSI.from_bytes(result.tsi)
    assert result.outcome.cvm is Cvm.NO_CVM
    assert result.decision is Decision.APPROVED_ONLINE
    assert 0x9F66 not in result.de55_tags  # the TTQ is Kernel 3's
    assert result.de55_tags[0x9F09] == b"\x00\x96"


def test_mchip_online_pin_over_cvm_limit_entered_after_card_left() -> None:
    callbacks = ClCallbacks()
    result = run_contactless(card("mc-contactless"), cl_config(), callbacks, txn(6000))
    assert result.outcome.cvm is Cvm.ONLINE_PIN
    assert [pin.kind for pin in callbacks.pins] == [PinKind.ONLINE]
    (request,) = callbacks.requests
    assert request.online_pin is not None and request.online_pin.online_block == ONLINE_BLOCK
    assert result.cvm_results == bytes.fromhex("420300")


def test_mchip_broken_cda_declines() -> None:
    sim = card("mc-contactless", bad_signatures=frozenset({"sdad"}))
    callbacks = ClCallbacks()
    result = run_contactless(sim, cl_config(), callbacks, txn(1000))
    assert result.outcome.outcome is OutcomeKind.DECLINED
    assert result.reason is TerminationReason.CDA_FAILED
    assert TVR.CDA_FAILED in tvr(result.tvr)
    assert not callbacks.requests


def test_mchip_offline_tc_below_floor_limit() -> None:
    cfg = cl_config(floor_limit=5000)
    kernel = dataclasses.replace(
        cfg.kernel,
        aids=tuple(
            dataclasses.replace(a, tac_online=bytes(5), tac_default=bytes(5))
            for a in cfg.kernel.aids
        ),
    )
    cfg = dataclasses.replace(cfg, kernel=kernel)
    result = run_contactless(card("mc-contactless"), cfg, ClCallbacks(), txn(1000))
    assert result.outcome.outcome is OutcomeKind.APPROVED, result.detail
    assert result.decision is Decision.APPROVED_OFFLINE and result.cryptogram_type == "TC"
    assert TVR.CDA_FAILED not in tvr(result.tvr)


def test_mchip_gpo_6985_selects_next() -> None:
    result = run_contactless(
        card("mc-contactless", status_words={"GPO": 0x6985}), cl_config(), ClCallbacks(), txn(1000)
    )
    assert result.restarts == 1 and result.reason is TerminationReason.NO_COMMON_APPLICATION


def test_mchip_zero_amount_asks_for_an_online_cryptogram() -> None:
    """Book B 3.1.1.4: zero amount allowed -> online cryptogram, even below the floor limit."""
    cfg = cl_config(floor_limit=5000)
    kernel = dataclasses.replace(
        cfg.kernel,
        aids=tuple(
            dataclasses.replace(a, tac_online=bytes(5), tac_default=bytes(5))
            for a in cfg.kernel.aids
        ),
    )
    cfg = dataclasses.replace(cfg, kernel=kernel)
    sim = card("mc-contactless")
    transport = Rewriting(sim, lambda command, response: response)
    result = run_contactless(transport, cfg, ClCallbacks(), txn(0))
    genac = next(cmd for cmd in transport.sent if cmd[:2] == b"\x80\xae")
    assert genac[2] & 0xC0 == 0x80  # ARQC requested
    assert result.outcome.outcome is OutcomeKind.ONLINE_REQUEST


def test_qvsdc_arqc_on_an_offline_only_reader_is_declined() -> None:
    ttq = bytes.fromhex("2E004080")  # offline-only reader
    callbacks = ClCallbacks()
    result = run_contactless(card("visa-qvsdc"), cl_config(ttq=ttq), callbacks, txn(1000))
    assert result.outcome.outcome is OutcomeKind.DECLINED and not callbacks.requests


@pytest.mark.parametrize(
    ("ctq", "kind"),
    [("0800", OutcomeKind.ONLINE_REQUEST), ("0000", OutcomeKind.DECLINED)],
)
def test_qvsdc_expired_tc_goes_online_only_when_the_ctq_says(ctq: str, kind: OutcomeKind) -> None:
    def change(response: bytes) -> bytes:
        return set_in_77(set_in_77(response, 0x9F27, b"\x40"), 0x9F6C, bytes.fromhex(ctq))

    def expired(command: bytes, response: bytes) -> bytes:
        response = on_gpo(change)(command, response)
        return response.replace(bytes.fromhex("5F2403301231"), bytes.fromhex("5F2403240101"))

    result = run_contactless(
        Rewriting(card("visa-qvsdc"), expired),
        cl_config(floor_limit=5000),
        ClCallbacks(),
        txn(1000),
    )
    assert result.outcome.outcome is kind
    assert TVR.EXPIRED_APPLICATION in tvr(result.tvr)


@pytest.mark.parametrize(
    ("ctq", "txn_args", "kind"),
    [
        ("0400", {"transaction_type": 0x01, "cash": True}, OutcomeKind.TRY_ANOTHER_INTERFACE),
        (
            "0200",
            {"transaction_type": 0x09, "amount_other": 500},
            OutcomeKind.TRY_ANOTHER_INTERFACE,
        ),
        ("0200", {"transaction_type": 0x01, "cash": True}, OutcomeKind.ONLINE_REQUEST),
    ],
)
def test_qvsdc_ctq_switch_interface_for_cash_and_cashback(
    ctq: str, txn_args: dict[str, object], kind: OutcomeKind
) -> None:
    transport = Rewriting(
        card("visa-qvsdc"), on_gpo(lambda r: set_in_77(r, 0x9F6C, bytes.fromhex(ctq)))
    )
    cfg = cl_config(ttq=bytes.fromhex("36004080"))
    result = run_contactless(transport, cfg, ClCallbacks(), txn(1000, **txn_args))
    assert result.outcome.outcome is kind


@pytest.mark.parametrize(("amount", "cvm"), [(5000, Cvm.NO_CVM), (5001, Cvm.ONLINE_PIN)])
def test_mchip_cvm_required_only_above_the_limit(amount: int, cvm: Cvm) -> None:
    """Book C-2 Annex A: 'CVM Capability - CVM Required' when the amount is above the limit."""
    result = run_contactless(card("mc-contactless"), cl_config(), ClCallbacks(), txn(amount))
    assert result.outcome.cvm is cvm


@pytest.mark.parametrize(
    ("amount", "on_device", "cvm", "results"),
    [
        (6000, True, Cvm.CONFIRMATION_CODE_VERIFIED, "010002"),
        (1000, True, Cvm.NO_CVM, "3F0002"),
        (6000, False, Cvm.ONLINE_PIN, "420300"),
    ],
)
def test_mchip_on_device_cvm(amount: int, on_device: bool, cvm: Cvm, results: str) -> None:
    """Book C-2 CVM selection: AIP byte 1 b2 and the reader's on-device CVM support."""

    def aip(response: bytes) -> bytes:
        return set_in_77(response, 0x82, bytes.fromhex("1B80"))

    cfg = cl_config()
    combos = tuple(dataclasses.replace(c, on_device_cvm=on_device) for c in cfg.combinations)
    cfg = dataclasses.replace(cfg, combinations=combos)
    callbacks = ClCallbacks()
    result = run_contactless(
        Rewriting(card("mc-contactless"), on_gpo(aip)), cfg, callbacks, txn(amount)
    )
    assert result.outcome.cvm is cvm and result.cvm_results == bytes.fromhex(results)
    assert bool(callbacks.pins) is (cvm is Cvm.ONLINE_PIN)
    assert result.decision is Decision.APPROVED_ONLINE, result.detail


class TwoApps:
    """A PPSE listing Visa (priority 1) and Mastercard (2), each application a sim card."""

    def __init__(self, visa: VirtualCard, mastercard: VirtualCard) -> None:
        from tests.emv.test_contactless_entry_point import entry, ppse

        self.cards = {VISA: visa, MASTERCARD: mastercard}
        self.ppse = ppse(entry(VISA, 1), entry(MASTERCARD, 2))
        self.current: VirtualCard | None = None

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\x00\xa4":
            name = apdu[5 : 5 + apdu[4]]
            if name == b"2PAY.SYS.DDF01":
                return self.ppse
            self.current = self.cards.get(name)
        if self.current is None:
            return b"\x6a\x82"
        return self.current.transmit(apdu)


def test_select_next_restarts_at_start_c_with_the_next_combination() -> None:
    """Book B 3.5: GPO 6985 from Kernel 3 -> Start C -> Kernel 2 runs on a clean context."""
    transport = TwoApps(card("visa-qvsdc", status_words={"GPO": 0x6985}), card("mc-contactless"))
    callbacks = ClCallbacks()
    result = run_contactless(transport, cl_config(), callbacks, txn(1000))
    assert result.restarts == 1 and result.kernel_id == 2 and result.aid == MASTERCARD
    assert result.decision is Decision.APPROVED_ONLINE
    assert 0x9F66 not in result.de55_tags and 0x9F6C not in result.de55_tags
    assert len(callbacks.requests) == 1
