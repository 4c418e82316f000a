"""Every host-spec message type over real TCP against sim.host, with a client built in
tests/sim/test_host_client.py from pyiso8583, psec and keys.dukpt only."""

from __future__ import annotations

import iso8583
import pytest
from iso8583.specs import default as spec_default
from pyemv import tlv as pyemv_tlv

from sim.host import HostSimulator, Ledger, rules_from_dict
from tests.sim.test_host_client import TEST_BDK, Client, de48, encode_request, pin_block
from tests.sim.test_host_vectors import PYEMV_ICC

VISA = "4761739001010010"
PREPAID = "6037990000000019"
DECLINED = "4761739001010101"
PYEMV_PAN = "1234567890123456"

RULES = {
    "host": {"today": "2026-11-25", "currency": "978"},
    "issuers": [
        {
            "prefix": "1234",
            "mk_ac": "AA" * 16,
            "mk_smi": "BB" * 16,
            "mk_smc": "CC" * 16,
            "cvn": "visa18",
        },
    ],
    "cards": [
        {"pan": VISA, "pin": "1234", "max_amount": 50000},
        {"pan": PREPAID, "balance": 10000, "pin": "4321"},
        {"pan": DECLINED, "response": "05"},
        {"prefix": "1234"},
        {"pan": "5413330089010434", "pin_required": True, "pin": "9999"},
    ],
    "vouchers": [
        {"code": "GIFT-1", "value": 2500, "expires": "2027-12-31"},
        {"code": "GIFT-OLD", "value": 1000, "expires": "2025-01-31"},
    ],
    "qr": [{"code": "WALLET:1", "max_amount": 20000}],
}


@pytest.fixture
def host(tmp_path):  # type: ignore[no-untyped-def]
    with HostSimulator(rules_from_dict(RULES), tmp_path / "ledger.db", TEST_BDK) as sim:
        yield sim


@pytest.fixture
def client(host):  # type: ignore[no-untyped-def]
    c = Client(host.port).connect()
    yield c
    c.close()


def _icc_hex(icc: dict[str, bytes]) -> str:
    return pyemv_tlv.encode({k: v for k, v in icc.items()}).hex().upper()


# --- 0800 ---


@pytest.mark.parametrize(
    ("code", "rc"), [("001", "00"), ("301", "00"), ("161", "00"), ("999", "12")]
)
def test_network_management(client: Client, code: str, rc: str) -> None:
    resp = client.exchange(client.base("0800", **{"70": code}), mac=False)
    assert resp.fields["t"] == "0810" and resp.rc == rc and resp.fields["70"] == code
    assert resp.mac_ok is None and "64" not in resp.fields and "128" not in resp.fields


# --- 0200 sale / PIN / MAC ---


def test_sale_approved_with_pin_and_mac(client: Client, host: HostSimulator) -> None:
    resp = client.sale(VISA, 1500, pin="1234", BN="000001")
    assert resp.fields["t"] == "0210" and resp.rc == "00" and resp.mac_ok is True
    assert len(resp.fields["37"]) == 12 and len(resp.fields["38"]) == 6
    assert resp.fields["11"] == "000001" and resp.fields["41"] == client.tid
    [txn] = host.ledger.charges(pan=VISA)
    assert txn.amount == 1500 and txn.state == "authorised" and txn.rrn == resp.fields["37"]


def test_wrong_pin_gets_55(client: Client, host: HostSimulator) -> None:
    resp = client.sale(VISA, 1500, pin="9999")
    assert resp.rc == "55" and resp.mac_ok is True and "38" not in resp.fields
    assert host.ledger.charges(pan=VISA) == []


def test_pin_required_but_absent_gets_55(client: Client) -> None:
    assert client.sale("5413330089010434", 100).rc == "55"
    assert client.sale("5413330089010434", 100, pin="9999").rc == "00"


@pytest.mark.parametrize(
    ("pan", "amount", "extra", "rc"),
    [
        ("4999999999999999", 100, {}, "14"),  # unknown card
        (VISA, 100, {"14": "2510"}, "54"),  # expired (host date 2026-11-25)
        (VISA, 100, {"14": "2611"}, "00"),  # valid through the end of the month
        (VISA, 50001, {}, "51"),  # above the card's limit
        (DECLINED, 100, {}, "05"),
    ],
)
def test_card_rules(client: Client, pan: str, amount: int, extra: dict[str, str], rc: str) -> None:
    assert client.sale(pan, amount, **extra).rc == rc


def test_bad_mac_gets_96_with_a_valid_response_mac(client: Client, host: HostSimulator) -> None:
    fields = client.base("0200", **{"2": VISA, "3": "000000", "4": "000000000100"})
    resp = client.exchange(fields, corrupt_mac=True)
    assert resp.rc == "96" and resp.mac_ok is True
    assert host.ledger.transactions() == []


def test_missing_ksn_gets_30_unmaced(client: Client) -> None:
    fields = client.base("0200", **{"2": VISA, "3": "000000", "4": "000000000100"})
    resp = client.exchange(fields, mac=False)
    assert resp.rc == "30" and resp.mac_ok is None


def test_track2_only_request(client: Client) -> None:
    fields = client.base(
        "0200", **{"3": "000000", "4": "000000000100", "35": f"{VISA}=30122010000000000"}
    )
    assert client.exchange(fields).rc == "00"


def test_unknown_processing_code_gets_12(client: Client) -> None:
    assert client.sale(VISA, 100, pcode="990000").rc == "12"


# --- duplicate STAN ---


def test_duplicate_stan_gets_94_and_charges_once(client: Client, host: HostSimulator) -> None:
    assert client.sale(VISA, 700).rc == "00"
    client.stan -= 1  # resend with the same STAN
    assert client.sale(VISA, 700).rc == "94"
    assert len(host.ledger.charges(pan=VISA)) == 1
    # the same STAN in a different batch is not a duplicate
    client.stan -= 1
    assert client.sale(VISA, 700, BN="000002").rc == "00"


# --- refund, void, balance, top-up ---


def test_refund_and_voids(client: Client, host: HostSimulator) -> None:
    sale = client.sale(VISA, 2000)
    refund = client.sale(VISA, 500, pcode="200000")
    assert sale.rc == refund.rc == "00"
    void = client.sale(
        VISA, 2000, pcode="020000", **{"37": sale.fields["37"], "38": sale.fields["38"]}
    )
    assert void.rc == "00"
    again = client.sale(VISA, 2000, pcode="020000", **{"37": sale.fields["37"]})
    assert again.rc == "12"  # already voided
    void_refund = client.sale(VISA, 500, pcode="220000", **{"37": refund.fields["37"]})
    assert void_refund.rc == "00"
    missing = client.sale(VISA, 1, pcode="020000", **{"37": "999999999999"})
    assert missing.rc == "25"
    assert host.ledger.net_amount(pan=VISA) == 0
    states = {t.rrn: t.state for t in host.ledger.transactions(pan=VISA)}
    assert states[sale.fields["37"]] == "voided" and states[refund.fields["37"]] == "voided"


def _balance(resp_fields: dict[str, str]) -> int:
    """DE 54: account type 00, amount type 02, currency, C/D, 12 digits."""
    value = resp_fields["54"]
    assert value[:4] == "0002" and value[4:7] == "978"
    return int(value[8:20]) * (1 if value[7] == "C" else -1)


def test_prepaid_balance_topup_and_insufficient_funds(client: Client, host: HostSimulator) -> None:
    inquiry = client.sale(PREPAID, 0, pin="4321", pcode="310000")
    assert inquiry.rc == "00" and _balance(inquiry.fields) == 10000
    assert client.sale(PREPAID, 10001, pin="4321").rc == "51"
    sale = client.sale(PREPAID, 4000, pin="4321")
    assert sale.rc == "00" and _balance(sale.fields) == 6000
    topup = client.sale(PREPAID, 500, pcode="210000")
    assert topup.rc == "00" and _balance(topup.fields) == 6500
    assert client.sale(VISA, 500, pcode="210000").rc == "57"  # not a prepaid card
    void = client.sale(PREPAID, 4000, pcode="020000", **{"37": sale.fields["37"]})
    assert void.rc == "00"
    assert _balance(client.sale(PREPAID, 0, pcode="310000").fields) == 10500
    assert host.ledger.current_balance(PREPAID) == 10500


# --- QR and vouchers ---


def _no_pan(client: Client, amount: int, **sub: str):  # type: ignore[no-untyped-def]
    fields = client.base("0200", **{"3": "000000", "4": f"{amount:012d}", "22": "031"})
    return client.exchange(fields, **sub)


def test_qr_payment(client: Client) -> None:
    assert _no_pan(client, 1000, QR="WALLET:1").rc == "00"
    assert _no_pan(client, 20001, QR="WALLET:1").rc == "51"
    assert _no_pan(client, 10, QR="WALLET:unknown").rc == "14"


def test_voucher_validity_and_single_use(client: Client, host: HostSimulator) -> None:
    assert _no_pan(client, 10, VC="NOPE").rc == "14"
    assert _no_pan(client, 10, VC="GIFT-OLD").rc == "54"
    assert _no_pan(client, 2501, VC="GIFT-1").rc == "51"
    first = _no_pan(client, 2500, VC="GIFT-1")
    assert first.rc == "00"
    assert _no_pan(client, 2500, VC="GIFT-1").rc == "57"  # already redeemed
    void = client.exchange(
        client.base("0200", **{"3": "020000", "4": "000000002500", "37": first.fields["37"]})
    )
    assert void.rc == "00"
    assert _no_pan(client, 2500, VC="GIFT-1").rc == "00"  # the void gave it back


# --- pre-authorization and completion ---


def test_preauth_then_completion(client: Client, host: HostSimulator) -> None:
    pre = client.sale(VISA, 8000, mti="0100", **{"25": "06"})
    assert pre.fields["t"] == "0110" and pre.rc == "00" and pre.mac_ok
    assert host.ledger.charges(pan=VISA) == []  # a pre-auth is not a charge
    fields = client.base("0220", **{"2": VISA, "3": "000000", "4": "000000007500", "25": "06"})
    fields |= {"37": pre.fields["37"], "38": pre.fields["38"]}
    comp = client.exchange(fields)
    assert comp.fields["t"] == "0230" and comp.rc == "00" and comp.mac_ok
    [charge] = host.ledger.charges(pan=VISA)
    assert charge.kind == "completion" and charge.amount == 7500 and charge.state == "advised"
    again = client.exchange(dict(fields, **{"11": client.next_stan()}))
    assert again.rc == "25"  # the pre-auth is already completed


def test_offline_advice(client: Client, host: HostSimulator) -> None:
    fields = client.base(
        "0220", **{"2": VISA, "3": "000000", "4": "000000001234", "39": "Y1", "22": "051"}
    )
    resp = client.exchange(fields)
    assert resp.fields["t"] == "0230" and resp.rc == "00" and resp.mac_ok
    [charge] = host.ledger.charges(pan=VISA)
    assert charge.kind == "offline" and charge.state == "advised" and "Y1" in (charge.note or "")


# --- ARQC / ARPC / issuer scripts over the wire ---


def _chip_sale(client: Client, rc_rule_pan: str = PYEMV_PAN, **extra: str):  # type: ignore[no-untyped-def]
    fields = client.base(
        "0200", **{"2": rc_rule_pan, "3": "000000", "4": "000000009999", "22": "051", "23": "000"}
    )
    fields["55"] = _icc_hex(PYEMV_ICC)
    fields.update(extra)
    return client.exchange(fields)


def test_arqc_verified_and_arpc_returned(client: Client) -> None:
    resp = _chip_sale(client)
    assert resp.rc == "00" and resp.mac_ok
    icc = pyemv_tlv.decode(bytes.fromhex(resp.fields["55"]))
    assert len(icc["91"]) == 8 and icc["91"][4:] == bytes.fromhex("00800000")


def test_bad_arqc_declined_without_arpc(client: Client) -> None:
    fields = client.base(
        "0200", **{"2": PYEMV_PAN, "3": "000000", "4": "000000009999", "23": "000"}
    )
    bad = dict(PYEMV_ICC, **{"9F26": bytes(8)})
    fields["55"] = _icc_hex(bad)
    resp = client.exchange(fields)
    assert resp.rc == "05" and "55" not in resp.fields


def test_issuer_scripts_on_demand(client: Client, host: HostSimulator) -> None:
    host.scripts.next(["application_block", "put_data:9F4F:0102"], tag=0x72, pan_prefix="1234")
    resp = _chip_sale(client)
    raw55 = bytes.fromhex(resp.fields["55"])
    decoded = pyemv_tlv.decode(raw55, flatten=False)
    assert "91" in decoded and "72" in decoded
    template = decoded["72"]
    assert template["9F18"] == bytes.fromhex("00000001")
    assert raw55.count(bytes.fromhex("841E000008")) == 1  # APPLICATION BLOCK, Lc = MAC only
    assert raw55.count(bytes.fromhex("04DA9F4F0A0102")) == 1  # PUT DATA 9F4F, 2 data + 8 MAC
    # the next approval carries no script (the order was consumed)
    assert "72" not in pyemv_tlv.decode(bytes.fromhex(_chip_sale(client).fields["55"]))


# --- 0400 / 0401 reversal ---


def _reversal(client: Client, original: dict[str, str], orig_mti: str = "0200", mti: str = "0400"):  # type: ignore[no-untyped-def]
    de90 = orig_mti + original["11"] + "1125101500" + "0" * 22
    fields = client.base(mti, **{"2": VISA, "3": original["3"], "4": original["4"], "90": de90})
    return client.exchange(fields)


def test_reversal_undoes_a_sale_and_repeat_is_acknowledged(
    client: Client, host: HostSimulator
) -> None:
    sale = client.sale(VISA, 3000)
    assert sale.rc == "00"
    rev = _reversal(client, sale.fields)
    assert rev.fields["t"] == "0410" and rev.rc == "00" and rev.mac_ok
    assert host.ledger.charges(pan=VISA) == []
    client.stan -= 1
    repeat = _reversal(client, sale.fields, mti="0401")
    assert repeat.fields["t"] == "0410" and repeat.rc == "94"  # host already has it
    fresh = _reversal(client, sale.fields, mti="0401")
    assert fresh.rc == "00"
    assert host.ledger.net_amount(pan=VISA) == 0


def test_reversal_of_unknown_original_is_acknowledged(client: Client) -> None:
    assert _reversal(client, {"11": "777777", "3": "000000", "4": "000000000100"}).rc == "00"


def test_reversal_request_carries_de128(client: Client, host: HostSimulator) -> None:
    """DE 90 puts the MAC in DE 128; the host verified it (else 96)."""
    sale = client.sale(VISA, 10)
    rev = _reversal(client, sale.fields)
    assert rev.rc == "00"
    msgs = host.ledger.messages(mti="0400")
    assert msgs and msgs[-1]["direction"] == "in"


# --- 0500 / 0320 settlement ---


def _settle(
    client: Client,
    pcode: str,
    credits: tuple[int, int],
    debits: tuple[int, int],
    batch: str = "000001",
):  # type: ignore[no-untyped-def]
    fields = client.base(
        "0500",
        **{
            "3": pcode,
            "74": f"{credits[0]:010d}",
            "76": f"{debits[0]:010d}",
            "86": f"{credits[1]:016d}",
            "88": f"{debits[1]:016d}",
        },
    )
    return client.exchange(fields, BN=batch)


def test_settlement_95_then_upload_then_close(client: Client, host: HostSimulator) -> None:
    s1 = client.sale(VISA, 1000, BN="000001")
    s2 = client.sale(VISA, 2500, BN="000001")
    r1 = client.sale(VISA, 300, pcode="200000", BN="000001")
    voided = client.sale(VISA, 999, BN="000001")
    client.sale(VISA, 999, pcode="020000", BN="000001", **{"37": voided.fields["37"]})
    # the terminal forgot one sale: totals differ -> 95
    wrong = _settle(client, "920000", (1, 300), (1, 1000))
    assert wrong.fields["t"] == "0510" and wrong.rc == "95" and wrong.mac_ok
    for txn in (s1, s2, r1):
        fields = client.base("0320", **{"2": VISA, "3": txn.fields["3"], "4": txn.fields["4"]})
        fields |= {"37": txn.fields["37"], "38": txn.fields.get("38", "")}
        up = client.exchange(fields, BN="000001")
        assert up.fields["t"] == "0330" and up.rc == "00"
    # an offline advice uploaded without RRN is matched through DE 90
    advice = client.base("0220", **{"2": VISA, "3": "000000", "4": "000000000100", "39": "Y3"})
    advice_stan = advice["11"]
    assert client.exchange(advice, BN="000001").rc == "00"
    up = client.base("0320", **{"2": VISA, "3": "000000", "4": "000000000100"})
    up["90"] = "0220" + advice_stan + "1125101500" + "0" * 22
    assert client.exchange(up, BN="000001").rc == "00"
    close = _settle(client, "960000", (1, 300), (3, 3600))
    assert close.rc == "00"
    settlements = host.ledger.settlements(client.tid)
    assert [s["rc"] for s in settlements] == ["95", "00"]
    assert settlements[0]["host"].debits == 2 and settlements[0]["host"].debit_amount == 3500
    assert "4 uploads, 0 unmatched" in settlements[1]["note"]
    assert host.ledger.batch_state(client.tid, "000001") == "closed"


def test_settlement_matching_totals_closes(client: Client, host: HostSimulator) -> None:
    client.sale(VISA, 1000, BN="000007")
    assert _settle(client, "920000", (0, 0), (1, 1000), batch="000007").rc == "00"
    assert host.ledger.batch_state(client.tid, "000007") == "closed"


# --- wire-level robustness ---


def test_undecodable_request_closes_the_link(client: Client, host: HostSimulator) -> None:
    client.send_raw(b"\xff\xfe garbage that is not ISO 8583")
    with pytest.raises((ConnectionError, OSError)):
        client.read_frame()


def test_oversize_frame_closes_the_link(client: Client) -> None:
    assert client.sock is not None
    client.sock.sendall((5000).to_bytes(2, "big") + b"0" * 100)
    with pytest.raises((ConnectionError, OSError)):
        client.read_frame()


def test_many_requests_on_one_connection_and_several_connections(host: HostSimulator) -> None:
    clients = [Client(host.port, tid=f"TERM{n:04d}").connect() for n in range(3)]
    try:
        for _ in range(5):
            for c in clients:
                assert c.sale(VISA, 100).rc == "00"
    finally:
        for c in clients:
            c.close()
    assert len(host.ledger.charges(pan=VISA)) == 15


def test_no_full_pan_pin_or_track_at_rest(client: Client, host: HostSimulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client.sale(VISA, 100, pin="1234", **{"35": f"{VISA}=30122010000000000"})
    client.sale(PREPAID, 100, pin="4321")
    host.stop()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
    for secret in (VISA, PREPAID, "30122010000000000"):
        assert secret.encode() not in blob
    with Ledger(tmp_path / "ledger.db") as ledger:  # reopened: durable
        assert len(ledger.charges(pan=VISA)) == 1
        assert ledger.transactions(pan=VISA)[0].pan_masked == "476173******0010"
        assert ledger.integrity_check() == "ok"


def test_request_encoding_uses_pyiso8583_default_spec() -> None:
    raw = encode_request(
        {"t": "0200", "2": VISA, "52": pin_block("FFFF9876543210E00001", "1234", VISA)}, None
    )
    assert iso8583.decode(raw, spec_default)[0]["52"] and de48(KS="A") == "KS001A"


def test_closed_batch_is_reopened_by_a_terminal_that_missed_the_0510(client: Client) -> None:
    """A terminal killed after the host closed its batch still names that batch: the host
    accepts the business and reconciles the batch again on the next 0500."""
    client.sale(VISA, 1000, BN="000009")
    assert _settle(client, "920000", (0, 0), (1, 1000), batch="000009").rc == "00"
    assert client.sale(VISA, 5, BN="000009").rc == "00"
    assert _settle(client, "920000", (0, 0), (2, 1005), batch="000009").rc == "00"
    assert client.sale(VISA, 5, BN="000010").rc == "00"


def test_empty_secondary_bitmap_is_a_format_error(client: Client) -> None:
    """host-spec "Encoding": DE 1 exactly when a field above 64 is present."""
    from tests.sim.test_host_client import check_response, de48, variants
    from tests.sim.test_host_client import retail_mac as client_mac

    ksn = client.next_ksn()
    fields = client.base("0200", **{"2": VISA, "3": "000000", "4": "000000000100"})
    fields["48"] = de48(KS=ksn)
    fields["64"] = "00" * 8
    raw = bytes(iso8583.encode(fields, spec_default)[0])
    # set bit 1 and insert an all-zero secondary bitmap: DE 1 with nothing above 64
    raw = raw[:4] + bytes([raw[4] | 0x80]) + raw[5:12] + bytes(8) + raw[12:]
    raw = raw[:-8] + client_mac(variants(ksn)[1], raw[:-8])
    client.send_raw(raw)
    resp = check_response(client.read_frame(), ksn)
    assert resp.rc == "30" and resp.mac_ok
