"""Transaction flows end to end in one process: the real firmware (flows, EMV kernel,
secure PIN entry, DUKPT, journal, SAF) with sim cards and the sim host over real TCP.
Every assertion is checked against the host's ledger as well as the result object."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from emv.tlv import decode
from hal.events import Key
from sim.devices import SimKeypad, SimMagstripe
from terminal.flows import TxnRequest, result_object, run_flow
from terminal.journal import Journal, Status
from tests.terminal.flowrig import Rig, rig

PAN = "4761739001010044"  # visa-online-pin TEST card
# host-spec DE 55: the tags every request carries at least.
REQUIRED_55 = (
    0x9F26, 0x9F27, 0x9F10, 0x9F37, 0x9F36, 0x95, 0x9A, 0x9C, 0x9F02, 0x5F2A, 0x82,
    0x9F1A, 0x9F34, 0x9F33, 0x9F35, 0x9F1E, 0x84, 0x9F09, 0x9F03,
)  # fmt: skip


@pytest.fixture
def r(tmp_path: Path) -> Rig:
    with rig(tmp_path) as made:
        yield made


def journal_rows(r: Rig) -> list:
    with Journal(r.directory / "terminal" / "journal.db") as journal:
        return list(journal.transactions())


def test_chip_sale_online_pin_approved(r: Rig) -> None:
    result = r.pay(type="sale", amount=1250, entry="chip")
    assert result["decision"] == "approved", result
    assert result["cryptogram_type"] == "TC"
    assert result["entry_mode"] == "051"
    assert result["pan"] == "476173******0044"
    assert result["response_code"] == "00"
    assert re.fullmatch(r"\d{12}", result["rrn"])
    assert result["aid"] == "A0000000032010"
    assert result["reversal_pending"] is False
    assert "PIN VERIFIED" in result["receipt"] and PAN not in result["receipt"]
    assert r.host.ledger.net_amount(pan=PAN) == 1250
    request = r.host.ledger.messages(mti="0200")[0]["fields"]
    assert request["22"] == "051" and request["3"] == "000000"
    assert [t.status for t in journal_rows(r)] == [Status.APPROVED]


def test_wrong_online_pin_declined_55(r: Rig) -> None:
    result = r.pay(type="sale", amount=1250, entry="chip", pin="9999")
    assert result["decision"] == "declined"
    assert result["response_code"] == "55"
    assert result["cryptogram_type"] == "AAC"
    assert r.host.ledger.net_amount(pan=PAN) == 0


def test_host_decline(r: Rig) -> None:
    r.host.faults.declines = True
    result = r.pay(type="sale", amount=700, entry="chip")
    assert result["decision"] == "declined" and result["response_code"] == "05"
    assert "do not honor" in result["reason"]
    assert "DECLINED" in result["receipt"]


def icc(fields: dict[str, str]) -> dict[int, bytes]:
    """The request's DE 55 as tag -> value (the ledger keeps it as JSON of hex)."""
    raw = fields["55"]
    if raw.startswith("{"):
        import json

        return {int(tag, 16): bytes.fromhex(value) for tag, value in json.loads(raw).items()}
    return {item.tag: item.value for item in decode(bytes.fromhex(raw))}


def chip_request(r: Rig, pcode: str) -> dict[str, str]:
    """The one 0200 of processing code ``pcode``, checked for the host-spec DE 55 set."""
    (request,) = [
        m["fields"]
        for m in r.host.ledger.messages(mti="0200")
        if m["direction"] == "in" and m["fields"]["3"] == pcode
    ]
    assert request["22"] == "051"
    data = icc(request)
    assert [hex(tag) for tag in REQUIRED_55 if tag not in data] == []
    return request


def test_refund_and_void_of_sale(r: Rig) -> None:
    sale = r.pay(type="sale", amount=2000, entry="chip")
    refund = r.pay(type="refund", amount=500, entry="chip")
    assert refund["decision"] == "approved", refund
    # The card was asked for an AAC and the refund went online with it (EMV scheme rules).
    assert refund["cryptogram_type"] == "AAC" and refund["response_code"] == "00"
    data = icc(chip_request(r, "200000"))
    assert data[0x9F27][0] & 0xC0 == 0x00 and data[0x9C] == b"\x20"
    assert data[0x9F02] == bytes.fromhex("000000000500")
    assert "52" in chip_request(r, "200000")  # the card's CVM list asks online PIN
    assert [m["mti"] for m in r.host.ledger.messages() if m["direction"] == "in"][1] == "0200"
    assert r.host.ledger.net_amount(pan=PAN) == 1500
    void = r.pay(type="void", rrn=sale["rrn"])
    assert void["decision"] == "approved", void
    assert void["amount"] == 2000
    assert r.host.ledger.net_amount(pan=PAN) == -500
    statuses = [t.status for t in journal_rows(r)]
    assert statuses == [Status.VOIDED, Status.APPROVED, Status.APPROVED]
    voids = r.host.ledger.messages(mti="0200")
    assert voids[-1]["fields"]["3"] == "020000"


def test_void_of_unknown_original_is_declined_without_sending(r: Rig) -> None:
    result = r.pay(type="void", rrn="999999999999")
    assert result["decision"] == "declined" and "original not found" in result["reason"]
    assert r.host.ledger.messages(mti="0200") == []


def test_preauth_then_completion(r: Rig) -> None:
    pre = r.pay(type="preauth", amount=5000, entry="chip")
    assert pre["decision"] == "approved", pre
    first = r.host.ledger.messages(mti="0100")[0]["fields"]
    assert first["25"] == "06"
    done = r.pay(type="completion", amount=4200, rrn=pre["rrn"], auth_code=pre["auth_code"])
    assert done["decision"] == "approved", done
    assert done["response_code"] == "00"
    advice = r.host.ledger.messages(mti="0220")[0]["fields"]
    assert advice["37"] == pre["rrn"] and advice["38"] == pre["auth_code"]
    assert r.host.ledger.net_amount(pan=PAN) == 4200


def test_balance_inquiry(r: Rig) -> None:
    result = r.pay(type="balance", entry="chip")
    assert result["decision"] == "approved", result
    assert result["balance"] == 500000  # the credit card's limit (docs/sim-host.md)
    assert result["cryptogram_type"] == "TC"  # ARQC online, TC at the second GENERATE AC
    data = icc(chip_request(r, "310000"))
    assert data[0x9F27][0] & 0xC0 == 0x80 and data[0x9C] == b"\x31"
    assert data[0x9F02] == bytes(6)
    assert r.host.ledger.messages(mti="0200")[0]["fields"]["3"] == "310000"
    assert r.host.ledger.messages(mti="0220") == []  # not an offline approval


def test_chip_refund_host_decline_and_no_response(r: Rig) -> None:
    """The host alone decides a chip refund: its decline stands (the card's AAC is not
    a decline); no valid response to the refund's 0200 stores a reversal (rule 1)."""
    r.host.faults.declines = True
    declined = r.pay(type="refund", amount=400, entry="chip")
    assert declined["decision"] == "declined" and declined["response_code"] == "05", declined
    r.host.faults.declines = False
    r.host.faults.next("never", mti="0200")
    lost = r.pay(type="refund", amount=300, entry="chip")
    assert lost["decision"] == "terminated" and lost["reversal_pending"] is True, lost
    assert "reversal stored" in lost["reason"]
    nxt = r.pay(type="balance", entry="chip")
    assert nxt["decision"] == "approved" and nxt["reversal_pending"] is False
    assert r.host.ledger.messages(mti="0400")
    assert r.host.ledger.net_amount(pan=PAN) == 0


def test_refund_card_answering_above_aac_is_terminated(
    r: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card answering the refund's AAC request with an ARQC is a card error (Book 3,
    9.3): terminated, nothing sent. The card here sees P1 ARQC where the terminal sent
    AAC, as a card ignoring P1 would."""
    from terminal.flows import chip

    real_open = chip.open_session

    class IgnoresP1:
        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner = inner

        def transmit(self, apdu: bytes) -> bytes:
            if apdu[:3] == b"\x80\xae\x00":
                apdu = b"\x80\xae\x80" + apdu[3:]
            return self.inner.transmit(apdu)

    def wrapped(ports, contactless):  # type: ignore[no-untyped-def]
        session = real_open(ports, contactless)
        return None if session is None else IgnoresP1(session)

    monkeypatch.setattr(chip, "open_session", wrapped)
    result = r.pay(type="refund", amount=500, entry="chip")
    assert result["decision"] == "terminated" and result["reason"] == "not accepted", result
    assert r.host.ledger.messages(mti="0200") == []


def test_topup_by_chip_goes_online_with_the_arqc(tmp_path: Path) -> None:
    """Top-up (9C 28 in this code, DE 3 210000): the full kernel like a sale - ARQC
    online, the host's DE 54 balance in the result, TC at the second GENERATE AC."""
    with rig(tmp_path, cards=[{"pan": PAN, "pin": "1234", "balance": 10000}]) as prepaid:
        result = prepaid.pay(type="topup", amount=2500, entry="chip")
        assert result["decision"] == "approved", result
        assert result["balance"] == 12500 and result["cryptogram_type"] == "TC"
        data = icc(chip_request(prepaid, "210000"))
        assert data[0x9F27][0] & 0xC0 == 0x80 and data[0x9C] == b"\x28"
        assert data[0x9F02] == bytes.fromhex("000000002500")
        balance = prepaid.pay(type="balance", entry="chip")
        assert balance["decision"] == "approved" and balance["balance"] == 12500


def test_topup_of_prepaid_keyed(r: Rig) -> None:
    result = r.pay(
        type="topup",
        amount=2500,
        entry="keyed",
        devices={"keyed_entry": lambda: "6037990000000014=3012"},
    )
    assert result["decision"] == "approved", result
    assert result["balance"] == 12500
    fields = r.host.ledger.messages(mti="0200")[0]["fields"]
    assert fields["3"] == "210000" and fields["22"] == "011" and fields["25"] == "08"


def test_keyed_sale_moto(r: Rig) -> None:
    result = r.pay(
        type="sale",
        amount=300,
        entry="keyed",
        devices={"keyed_entry": lambda: "4761739001010010=3012"},
    )
    assert result["decision"] == "approved", result
    assert result["entry_mode"] == "011" and result["cryptogram_type"] is None


def test_keyed_bad_luhn_terminated(r: Rig) -> None:
    result = r.pay(
        type="sale", amount=300, entry="keyed", devices={"keyed_entry": lambda: "4761739001010011"}
    )
    assert result["decision"] == "terminated"
    assert r.host.ledger.messages(mti="0200") == []


def test_qr_payment(r: Rig) -> None:
    result = r.pay(type="sale", amount=1500, entry="qr", qr="WALLET:8d1f0c2e")
    assert result["decision"] == "approved", result
    fields = r.host.ledger.messages(mti="0200")[0]["fields"]
    assert fields["22"].startswith("03") and "2" not in fields
    assert result["pan"] is None


def test_voucher_payment_single_use(r: Rig) -> None:
    first = r.pay(type="sale", amount=2000, voucher="GIFT-2026-0001")
    assert first["decision"] == "approved", first
    second = r.pay(type="sale", amount=100, voucher="GIFT-2026-0001")
    assert second["decision"] == "declined" and second["response_code"] == "57"


def swiped(track2: str) -> SimMagstripe:
    reader = SimMagstripe()
    original = reader.attach

    def attach(queue):  # type: ignore[no-untyped-def]
        original(queue)
        reader.swipe(track2=track2)

    reader.attach = attach  # type: ignore[method-assign]
    return reader


def test_swipe_magstripe_only_card(r: Rig) -> None:
    reader = swiped("4761739001010143=30121010000000000")
    result = r.pay(type="sale", amount=900, entry="swipe", devices={"magstripe": reader})
    assert result["decision"] == "approved", result
    assert result["entry_mode"] == "021"
    assert "=" not in str(journal_rows(r)[0].request)  # no track data journaled


def test_swipe_of_chip_card_sends_to_chip_reader(r: Rig) -> None:
    reader = swiped("4761739001010150=30122010000000000")
    result = r.pay(type="sale", amount=900, entry="swipe", devices={"magstripe": reader})
    assert result["decision"] == "terminated" and "insert" in result["reason"]
    assert r.host.ledger.messages(mti="0200") == []


def test_fallback_swipe_after_chip_failure(r: Rig) -> None:
    """EMV Book 4, 6.3.1: after a chip failure where the kernel allowed fallback, a
    chip card's swipe goes through with DE 22 80 (the same swipe without a chip
    failure is sent back to the chip reader, test above)."""
    from terminal.flows import cardless
    from terminal.flows.context import TransactionContext, TxnRequest

    reader = swiped("4761739001010150=30122010000000000")
    terminal = r.terminal(devices={"magstripe": reader})
    try:
        ctx = TransactionContext(
            TxnRequest("sale", 900, "chip", operator="admin"),
            terminal.config.merchant(),
            terminal.ports.now(),
        )
        ctx.notes["fallback_allowed"] = True
        assert cardless.read_swipe(ctx, terminal.ports, chip_failed=True) is None
        assert ctx.entry_mode == "801"
    finally:
        terminal.close()


def test_pin_entry_cancelled(r: Rig) -> None:
    keypad = SimKeypad(pin=None)
    original = keypad.set_pin_sink

    def cancel(sink):  # type: ignore[no-untyped-def]
        original(sink)
        if sink is not None:
            keypad.press([Key.CANCEL])

    keypad.set_pin_sink = cancel  # type: ignore[method-assign]
    result = r.pay(type="sale", amount=1250, entry="chip", pin=None, devices={"keypad": keypad})
    assert result["decision"] in ("terminated", "declined"), result
    assert r.host.ledger.net_amount(pan=PAN) == 0


def test_no_response_reversal_then_recovered_by_next_command(r: Rig) -> None:
    r.host.faults.next("never", mti="0200")
    result = r.pay(type="sale", amount=1250, entry="chip")
    assert result["decision"] == "terminated" and result["reversal_pending"] is True
    assert r.host.ledger.transactions(pan=PAN)[0].state == "authorised"
    nxt = r.pay(type="sale", amount=100, entry="chip")
    assert nxt["decision"] == "approved" and nxt["reversal_pending"] is False
    states = sorted(t.state for t in r.host.ledger.transactions(pan=PAN))
    assert states == ["authorised", "reversed"]
    assert r.host.ledger.net_amount(pan=PAN) == 100
    assert r.host.ledger.messages(mti="0400")


def test_card_declines_after_host_approval_is_reversed(r: Rig) -> None:
    """host-spec rule 1: AAC at the second GENERATE AC after a host approval. The
    issuer data is broken (bad MAC on ARPC via a wrong response) → the card says AAC."""
    r.host.scripts.next(["application_block"], tag=0x71, pan_prefix="4761")
    result = r.pay(type="sale", amount=1250, entry="chip")
    assert result["decision"] == "declined", result
    assert result["cryptogram_type"] == "AAC"
    assert result["reversal_pending"] is True
    assert "reversal stored" in result["reason"]
    nxt = r.pay(type="balance", entry="chip")
    assert nxt["reversal_pending"] is False
    assert r.host.ledger.net_amount(pan=PAN) == 0


FLOOR = (
    '\n[[aids]]\naid = "A0000000031010"\nfloor_limit = 10000\nthreshold = 0\n'
    "target_percent = 0\nmax_target_percent = 0\n"
)


def test_offline_approval_is_advised(r: Rig) -> None:
    """host-spec rule 2: a TC below the floor limit is approved offline (Y1) and its
    0220 advice, stored with the approval, reaches the host."""
    config = {"contact_reader": "sim://visa-signature", "extra_toml": FLOOR}
    result = r.pay(type="sale", amount=100, entry="chip", config=config)
    assert result["decision"] == "approved" and result["response_code"] == "Y1", result
    assert result["cryptogram_type"] == "TC"
    advice = r.host.ledger.messages(mti="0220")[0]["fields"]
    assert advice["39"] == "Y1" and "55" in advice
    assert r.host.ledger.net_amount(pan="4761739001010051") == 100


def test_advice_waits_for_the_host_then_drains_in_order(r: Rig) -> None:
    config = {"contact_reader": "sim://visa-signature", "extra_toml": FLOOR}
    r.host.faults.next("never", mti="0220", process=False)
    first = r.pay(type="sale", amount=100, entry="chip", config=config)
    assert first["decision"] == "approved"
    with Journal(r.directory / "terminal" / "journal.db") as journal:
        assert len(journal.pending_advices()) == 1
    second = r.pay(type="sale", amount=200, entry="chip", config=config)
    assert second["decision"] == "approved"
    advices = r.host.ledger.messages(mti="0220")
    amounts = [m["fields"]["4"] for m in advices if m["direction"] == "in"]
    assert amounts[-2:] == ["000000000100", "000000000200"]
    assert r.host.ledger.net_amount(pan="4761739001010051") == 300


def test_contactless_sale(r: Rig) -> None:
    config = {
        "contact_reader": "sim://",
        "extra_devices": {"contactless_reader": "sim://mc-contactless"},
    }
    result = r.pay(type="sale", amount=100, entry="contactless", config=config)
    assert result["decision"] == "approved", result
    assert result["entry_mode"].startswith("07")
    assert result["cvm_results"] == "1F0302"  # below the CVM limit: no CVM (Book C-2)
    assert r.host.ledger.net_amount(pan="5413330089010038") == 100


@pytest.mark.parametrize("fault", ["bad_mac", "garble", "drop", "never"])
def test_no_valid_response_is_reversed(r: Rig, fault: str) -> None:
    """host-spec Transport/Security: bad MAC, undecodable, short frame and timeout are all
    "no valid response" → reversal stored before anything else and sent first."""
    r.host.faults.next(fault, mti="0200")
    result = r.pay(type="sale", amount=1250, entry="chip")
    assert result["decision"] == "terminated" and result["reversal_pending"] is True, result
    assert result["cryptogram_type"] == "AAC"
    nxt = r.pay(type="balance", entry="chip")
    assert nxt["reversal_pending"] is False
    assert r.host.ledger.net_amount(pan=PAN) == 0
    reversals = [m for m in r.host.ledger.messages() if m["mti"] in ("0400", "0401")]
    first_after = [m["mti"] for m in r.host.ledger.messages() if m["direction"] == "in"][1]
    assert reversals and first_after in ("0400", "0401")


def refuse(r: Rig) -> None:
    """Close the host's listener (its accept loop notices within its accept timeout)."""
    r.host.faults.refuse(3.0)
    time.sleep(0.5)


def test_host_unreachable_chip_decided_offline_without_reversal(r: Rig) -> None:
    """Connection refused: the request never left, so no reversal is owed; the card
    decides by default action analysis (EMV Book 3, 10.7) - this always-online card
    declines (Z3)."""
    refuse(r)
    result = r.pay(type="sale", amount=1250, entry="chip")
    assert result["decision"] == "declined" and result["response_code"] == "Z3", result
    assert result["reversal_pending"] is False
    with Journal(r.directory / "terminal" / "journal.db") as journal:
        assert not journal.pending_reversals()
        assert [t.status for t in journal.transactions()] == [Status.DECLINED]


def test_host_unreachable_keyed_terminated(r: Rig) -> None:
    refuse(r)
    keyed = {"keyed_entry": lambda: "4761739001010010=3012"}
    result = r.pay(type="sale", amount=300, entry="keyed", devices=keyed)
    assert result["decision"] == "terminated" and "unreachable" in result["reason"]
    assert result["reversal_pending"] is False


def test_cancel_during_pin_entry(r: Rig) -> None:
    """ECR cancel while the cardholder is at the PIN prompt: the PIN pad gets CANCEL,
    the kernel ends the transaction, nothing is charged."""
    terminal = r.terminal(pin=None)
    terminal.ports.pin_timeout = 10.0
    timer = threading.Timer(0.3, terminal.ports.cancel)
    timer.start()
    try:
        started = time.monotonic()
        ctx = run_flow(TxnRequest("sale", 1250, "chip", operator="admin"), terminal.ports)
        result = result_object(ctx)
    finally:
        timer.cancel()
        terminal.close()
    assert time.monotonic() - started < 5
    assert result["decision"] in ("terminated", "declined"), result
    assert r.host.ledger.net_amount(pan=PAN) == 0


def test_cancel_before_the_card_sends_nothing(r: Rig) -> None:
    terminal = r.terminal()
    try:
        terminal.ports.cancelled.set()
        original = terminal.ports.cancelled.clear
        terminal.ports.cancelled.clear = lambda: None  # type: ignore[method-assign]
        ctx = run_flow(TxnRequest("sale", 1250, "chip", operator="admin"), terminal.ports)
        terminal.ports.cancelled.clear = original  # type: ignore[method-assign]
    finally:
        terminal.close()
    assert result_object(ctx)["decision"] == "terminated" and ctx.outcome.reason == "cancelled"
    assert r.host.ledger.messages(mti="0200") == []
