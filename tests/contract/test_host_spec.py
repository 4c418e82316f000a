"""host-spec.md, line by line, against the terminal as an outside host sees it.

The real `posterm` CLI (subprocesses, rig-contract config only) talks to
:class:`tests.contract.rig.RawHost`, an acquirer written from host-spec alone (pyiso8583
``specs.default``, psec MAC / PIN block, a TDES DUKPT written in rig.py). One module
fixture runs a whole business day once; the tests below read its frames.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import iso8583
import pytest
from Crypto.Cipher import DES3
from iso8583 import specs
from psec import pinblock
from pyemv import tlv

from tests.contract import rig
from tests.contract.rig import PAN, PIN, Frame, RawHost, pay, posterm, provision

KEYED = "4761739001010010=3012\n"
BALANCE_DE54 = "0002826C000000012345"  # ISO 8583:1987 DE 54: acct 00, type 02 available, GBP


@dataclass
class Day:
    host: RawHost
    config: Path
    results: dict[str, dict[str, Any]]
    frames: dict[str, Frame]  # name -> the request frame of that step
    settle: dict[str, Any]
    settle_code: int


def _script(frame: Frame) -> rig.Action:
    if frame.mti == "0500" and frame.doc["3"] == "920000":
        return {"39": "95"}
    if frame.mti == "0200" and frame.doc["3"] in ("310000", "210000"):
        return {"54": BALANCE_DE54}
    return None


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    directory = tmp_path_factory.mktemp("hostspec")
    with RawHost(_script) as host:
        config = provision(directory, host.port)
        results: dict[str, dict[str, Any]] = {}
        frames: dict[str, Frame] = {}

        def step(name: str, *args: str, stdin: str | None = None) -> dict[str, Any]:
            before = len(host.frames)
            code, result, err = pay(config, *args, stdin=stdin)
            assert code == 0 and result is not None, (name, err)
            assert len(host.frames) == before + 1, (name, host.mtis()[before:])
            results[name], frames[name] = result, host.frames[-1]
            return result

        sale = step("sale", "--type", "sale", "--amount", "1000", "--pin", PIN)
        refund = step("refund", "--type", "refund", "--amount", "300", "--entry", "keyed",
                      stdin=KEYED)  # fmt: skip
        step("void_sale", "--type", "void", "--rrn", sale["rrn"])
        step("void_refund", "--type", "void", "--rrn", refund["rrn"])
        step("refund2", "--type", "refund", "--amount", "150", "--entry", "keyed", stdin=KEYED)
        pre = step("preauth", "--type", "preauth", "--amount", "5000", "--pin", PIN)
        step("completion", "--type", "completion", "--amount", "4000", "--rrn", pre["rrn"],
             "--auth-code", pre["auth_code"])  # fmt: skip
        step("balance", "--type", "balance", "--pin", PIN)
        step("topup", "--type", "topup", "--amount", "2000", "--pin", PIN)
        step("qr", "--type", "sale", "--amount", "700", "--entry", "qr", "--qr", "WALLET:8d1f0c2e")
        step("voucher", "--type", "sale", "--amount", "600", "--voucher", "GIFT-2026-0001")
        step("contactless", "--type", "sale", "--amount", "500", "--entry", "contactless")
        step("sale2", "--type", "sale", "--amount", "1200", "--pin", PIN)
        before = len(host.frames)
        done = posterm("settle", "--config", str(config), "--operator", "admin")
        frames.update({f"settle{i}": f for i, f in enumerate(host.frames[before:])})
        yield Day(host, config, results, frames, json.loads(done.stdout or "{}"), done.returncode)


# ------------------------------------------------------------------ oracle self-check
def test_rig_dukpt_matches_x924_annex_a() -> None:
    """The rig's own DUKPT against ANSI X9.24-1:2009 Annex A (BDK 0123…3210, KSN
    FFFF9876543210E00000): IPEK 6AC292FAA1315B4D858AB3A3D7D5933A; counter 1 key
    042666B49184CFA368DE9628D0397BC9; counter 0x15 key E161D1956A61F6D2F37AFD7F9CC3699A;
    PIN 1234 / PAN 4012345678909 at counter 1 enciphers to 1B9C1845EB993A7A (values as
    republished in openemv/dukpt test/dukpt_tdes_test.c)."""
    initial = rig.ipek(rig.BDK, bytes.fromhex(rig.KSN))
    assert initial.hex().upper() == "6AC292FAA1315B4D858AB3A3D7D5933A"
    key1 = rig.transaction_key(initial, bytes.fromhex("FFFF9876543210E00001"))
    assert key1.hex().upper() == "042666B49184CFA368DE9628D0397BC9"
    key21 = rig.transaction_key(initial, bytes.fromhex("FFFF9876543210E00015"))
    assert key21.hex().upper() == "E161D1956A61F6D2F37AFD7F9CC3699A"
    clear = pinblock.encode_pinblock_iso_0("1234", "4012345678909")
    pin_key = rig._xor(key1, rig.PIN_VARIANT)
    assert DES3.new(pin_key, DES3.MODE_ECB).encrypt(clear).hex().upper() == "1B9C1845EB993A7A"


# ------------------------------------------------------------------ Transport / Encoding
def test_every_frame_is_length_prefixed_and_decodes_exactly(day: Day) -> None:
    """host-spec Transport: 2-byte big-endian length of the bytes that follow; Encoding:
    pyiso8583 specs.default decodes every byte (no trailing data)."""
    assert day.host.frames
    for frame in day.host.frames:
        assert frame.length == len(frame.raw) <= 4096
        _doc, _ = iso8583.decode(bytearray(frame.raw), specs.default)  # raises on extra data
        assert frame.raw[:4] == frame.mti.encode("ascii") and frame.mti.isdigit()


def test_secondary_bitmap_exactly_when_a_field_above_64(day: Day) -> None:
    """host-spec Encoding: DE 1 present exactly when a field above 64 is carried."""
    for frame in day.host.frames:
        above = [int(k) for k in frame.doc if k.isdigit() and int(k) > 64]
        primary = frame.raw[4:12]
        assert bool(primary[0] & 0x80) == bool(above), (frame.mti, above)
        assert ("1" in frame.doc) == bool(above)


def test_amounts_are_12_digit_minor_units(day: Day) -> None:
    assert day.frames["sale"].doc["4"] == "000000001000"
    assert day.frames["refund"].doc["4"] == "000000000300"
    for frame in day.host.frames:
        if "4" in frame.doc:
            assert re.fullmatch(r"\d{12}", frame.doc["4"])


# ------------------------------------------------------------------ Messages / DE 3
@pytest.mark.parametrize(
    ("step", "mti", "de3"),
    [
        ("sale", "0200", "000000"),
        ("refund", "0200", "200000"),
        ("void_sale", "0200", "020000"),
        ("void_refund", "0200", "220000"),
        ("preauth", "0100", "000000"),
        ("completion", "0220", "000000"),
        ("balance", "0200", "310000"),
        ("topup", "0200", "210000"),
        ("qr", "0200", "000000"),
        ("voucher", "0200", "000000"),
        ("settle0", "0500", "920000"),
    ],
)
def test_mti_and_processing_code_per_use(day: Day, step: str, mti: str, de3: str) -> None:
    """host-spec Messages table and Processing codes (DE 3)."""
    frame = day.frames[step]
    assert (frame.mti, frame.doc["3"]) == (mti, de3)


def test_de11_unique_and_in_range(day: Day) -> None:
    """DE 11: 000001-999999, never reused for another message (reversals, uploads and
    settlement messages included)."""
    stans = [f.doc["11"] for f in day.host.frames]
    assert all(re.fullmatch(r"\d{6}", s) and s != "000000" for s in stans)
    assert len(stans) == len(set(stans)), stans


def test_local_time_date_and_expiry_formats(day: Day) -> None:
    """DE 12 hhmmss, DE 13 MMDD, DE 14 YYMM when known."""
    for frame in day.host.frames:
        dt.datetime.strptime(frame.doc["12"], "%H%M%S")
        dt.datetime.strptime("2024" + frame.doc["13"], "%Y%m%d")
    assert day.frames["sale"].doc["14"] == "3012"
    assert day.frames["refund"].doc["14"] == "3012"


@pytest.mark.parametrize(
    ("step", "de22"),
    [("sale", "051"), ("contactless", "071"), ("preauth", "051"), ("balance", "051")],
)
def test_de22_entry_mode_with_pin_capable_digit(day: Day, step: str, de22: str) -> None:
    """DE 22: 05 chip, 07 contactless chip; third digit 1 (the keypad is configured)."""
    assert day.frames[step].doc["22"] == de22
    assert day.results[step]["entry_mode"] == de22


@pytest.mark.parametrize(("step", "de22"), [("refund", "011"), ("qr", "031")])
def test_de22_third_digit_is_terminal_pin_capability(day: Day, step: str, de22: str) -> None:
    """host-spec DE 22: third digit `1` terminal can take a PIN, `2` cannot - a property
    of the terminal (a keypad is configured), not of the entry method."""
    assert day.frames[step].doc["22"] == de22


def test_de22_first_two_digits_for_keyed_and_qr(day: Day) -> None:
    assert day.frames["refund"].doc["22"][:2] == "01"
    assert day.frames["qr"].doc["22"][:2] == "03"
    assert day.frames["voucher"].doc["22"][:2] == "03"
    for step in ("refund", "qr", "voucher"):
        assert day.results[step]["entry_mode"] == day.frames[step].doc["22"]


@pytest.mark.parametrize(("step", "de25"), [("sale", "00"), ("preauth", "06"), ("refund", "08")])
def test_de25_pos_condition(day: Day, step: str, de25: str) -> None:
    """DE 25: 00 normal, 06 pre-authorization, 08 mail/telephone order (keyed)."""
    assert day.frames[step].doc["25"] == de25


def test_de2_pan_and_never_for_qr_wallets(day: Day) -> None:
    assert day.frames["sale"].doc["2"] == PAN
    assert day.frames["refund"].doc["2"] == "4761739001010010"
    assert "2" not in day.frames["qr"].doc and "35" not in day.frames["qr"].doc
    assert "2" not in day.frames["voucher"].doc


def test_de23_and_de35_from_the_chip(day: Day) -> None:
    """DE 23 from 5F34; DE 35 from tag 57 with '=' as separator."""
    doc = day.frames["sale"].doc
    icc = tlv.decode(bytes.fromhex(doc["55"]), simple=True)
    assert int(doc["23"]) == int(icc.get("5F34", b"\x00").hex())
    assert doc["35"].startswith(PAN + "=3012") and "D" not in doc["35"]


def test_de37_de38_echoed_in_void_and_completion(day: Day) -> None:
    """DE 37 / 38 from the host, echoed in void and completion."""
    sale, pre = day.results["sale"], day.results["preauth"]
    assert (day.frames["void_sale"].doc["37"], day.frames["void_sale"].doc["38"]) == (
        sale["rrn"],
        sale["auth_code"],
    )
    assert day.frames["void_refund"].doc["37"] == day.results["refund"]["rrn"]
    assert (day.frames["completion"].doc["37"], day.frames["completion"].doc["38"]) == (
        pre["rrn"],
        pre["auth_code"],
    )
    assert "37" not in day.frames["sale"].doc


def test_de41_de42_de49_of_the_merchant_profile(day: Day) -> None:
    for frame in day.host.frames:
        assert (frame.doc["41"], frame.doc["42"]) == ("TERM0001", "MERCHANT0000001")
        if "49" in frame.doc:
            assert frame.doc["49"] == "826"


def test_de48_subelements_and_ks_on_every_message(day: Day) -> None:
    """DE 48: TT + 3-digit length + value; KS (20 hex) on every message but 0800, KSNs
    never reused; OP operator; BN batch (6 digits); QR / VC codes."""
    ksns = []
    for frame in day.host.frames:
        items = frame.de48()
        assert re.fullmatch(r"[0-9A-F]{20}", items["KS"]), frame.mti
        ksns.append(items["KS"])
        if "BN" in items:
            assert re.fullmatch(r"\d{6}", items["BN"])
    assert len(ksns) == len(set(ksns))
    assert day.frames["sale"].de48()["OP"] == "admin"
    assert day.frames["sale"].de48()["BN"] == "000001"
    assert day.frames["qr"].de48()["QR"] == "WALLET:8d1f0c2e"
    assert day.frames["voucher"].de48()["VC"] == "GIFT-2026-0001"


def test_de52_format0_under_pin_variant_of_the_ks_ksn(day: Day) -> None:
    """DE 52: ISO 9564 format 0, TDES under the PIN variant of the DUKPT key of DE 48 KS."""
    frame = day.frames["sale"]
    assert frame.key is not None
    key = rig._xor(frame.key, rig.PIN_VARIANT)
    clear = DES3.new(key, DES3.MODE_ECB).decrypt(bytes.fromhex(frame.doc["52"]))
    assert clear[0] >> 4 == 0
    assert pinblock.decode_pinblock_iso_0(clear, PAN) == PIN


REQUIRED_55 = "9F26 9F27 9F10 9F37 9F36 95 9A 9C 9F02 5F2A 82 9F1A 9F34 9F33 9F35 9F1E 84 9F09 9F03"


@pytest.mark.parametrize("step", ["sale", "preauth", "contactless", "sale2"])
def test_de55_minimum_tag_set_and_config_values(day: Day, step: str) -> None:
    """DE 55 requests carry at least the host-spec tag list; the rig-contract config
    values (9F1A, 5F2A, 9F33, 9F35) and the amount are what the terminal sends."""
    icc = tlv.decode(bytes.fromhex(day.frames[step].doc["55"]), simple=True)
    missing = [t for t in REQUIRED_55.split() if t not in icc]
    assert not missing
    assert icc["9F1A"].hex() == "0826" and icc["5F2A"].hex() == "0826"
    assert icc["9F33"].hex().upper() == "E0F8C8" and icc["9F35"].hex() == "22"
    assert icc["9F02"].hex() == day.frames[step].doc["4"]
    assert icc["9C"].hex() == "00"


@pytest.mark.parametrize("step", ["balance", "topup"])
def test_de55_on_every_chip_read_request(day: Day, step: str) -> None:
    """DE 55 'requests carry at least ...': a request whose card data came from the chip
    (DE 22 05x) carries the ICC data - balance and top-up go online with the ARQC.
    (The day's refunds are keyed; chip refunds, AAC in DE 55, are in tests/terminal.)"""
    doc = day.frames[step].doc
    assert doc["22"].startswith("05")
    icc = tlv.decode(bytes.fromhex(doc.get("55", "")), simple=True)
    assert not [t for t in REQUIRED_55.split() if t not in icc]
    assert icc["9F27"][0] & 0xC0 == 0x80
    assert icc["9F02"].hex() == doc["4"]


def test_mac_field_placement_and_coverage(day: Day) -> None:
    """Security: the MAC is the last field, DE 64 without a field above 64, else DE 128;
    it covers every byte before it (MTI, bitmaps, fields) under the MAC-request variant
    of the KS KSN; the response variant does not verify it."""
    for frame in day.host.frames:
        numbers = sorted(int(k) for k in frame.doc if k.isdigit())
        above = any(64 < n < 128 for n in numbers)
        assert numbers[-1] == (128 if above else 64), frame.mti
        assert ("64" in frame.doc) != above
        assert frame.mac_ok(), frame.mti
        assert frame.key is not None
        wrong = rig.retail_mac(rig._xor(frame.key, rig.MAC_RESPONSE_VARIANT), frame.raw[:-8])
        assert wrong != frame.raw[-8:]


def test_balance_from_de54_and_topup(day: Day) -> None:
    """`balance`: the prepaid balance after the transaction when the host gives one
    (DE 54, amount type 02), on a balance inquiry and a top-up; null otherwise."""
    assert day.results["balance"]["balance"] == 12345
    assert day.results["topup"]["balance"] == 12345
    assert day.results["sale"]["balance"] is None
    assert day.frames["balance"].doc["3"] == "310000"


# ------------------------------------------------------------------ settlement (rule 3)
def test_settlement_totals_voids_in_neither_then_upload_and_960000(day: Day) -> None:
    """0500 DE 74/76 counts, 86/88 amounts (voided transactions in neither); on 95 every
    transaction of the batch goes up as 0320, then 0500 with 960000; 00 closes."""
    assert day.settle_code == 0, day.settle
    first = day.frames["settle0"]
    debits = 700 + 600 + 500 + 1200 + 4000 + 2000  # qr, voucher, cl, sale2, completion, topup
    assert first.doc["74"] == f"{1:010d}" and first.doc["86"] == f"{150:016d}"
    assert first.doc["76"] == f"{6:010d}" and first.doc["88"] == f"{debits:016d}"
    settle_frames = [f for k, f in day.frames.items() if k.startswith("settle")]
    mtis = [f.mti for f in settle_frames]
    assert mtis[0] == "0500" and mtis[-1] == "0500" and set(mtis[1:-1]) == {"0320"}
    assert settle_frames[-1].doc["3"] == "960000"
    for upload in settle_frames[1:-1]:
        assert re.fullmatch(r"\d{42}", upload.doc["90"])
        assert upload.doc["11"] != upload.doc["90"][4:10]
    originals = {u.doc["90"][4:10] for u in settle_frames[1:-1]}
    assert {day.results[k]["stan"] for k in ("qr", "sale2", "refund2")} <= originals
    assert day.settle["result"] == "closed" and day.settle["uploaded"] == len(mtis) - 2


def test_settle_json_fields(day: Day) -> None:
    fields = {"result", "batch", "debit_count", "debit_amount", "credit_count",
              "credit_amount", "uploaded"}  # fmt: skip
    assert fields <= set(day.settle)
    assert (day.settle["debit_count"], day.settle["credit_count"]) == (6, 1)
    assert day.settle["credit_amount"] == 150 and isinstance(day.settle["batch"], int)


# ------------------------------------------------------------------ rule 1: reversal
def _silent_first(mti: str) -> Any:
    calls = {"n": 0}

    def script(frame: Frame) -> rig.Action:
        if frame.mti == mti and calls["n"] == 0:
            calls["n"] += 1
            return "silence"
        return None

    return script


FAULTS = ("silence", "bad_mac", "request_variant_mac", "oversize", "garbage", "close")


def test_no_valid_response_is_reversed_with_new_stan_and_de90(tmp_path: Path) -> None:
    """Rule 1 + DE 11 + DE 90: a timeout, a bad MAC (or one under the request variant),
    a frame over 4096 bytes, undecodable bytes or a broken link each lead to a 0400,
    sent before any other message, with a new STAN and DE 90 = MTI + STAN + MMDDhhmmss
    + 11 zeros + 11 zeros of the original. One terminal, one fault per sale."""
    amounts = {f"{901 + i:012d}": fault for i, fault in enumerate(FAULTS)}

    def script(frame: Frame) -> rig.Action:
        return amounts.get(frame.doc["4"]) if frame.mti == "0200" else None

    with RawHost(script) as host:
        config = provision(tmp_path, host.port, response_timeout=1)
        for amount, fault in amounts.items():
            code, result, err = pay(config, "--type", "sale", "--amount", str(int(amount)),
                                    "--pin", PIN)  # fmt: skip
            assert code == 1 and result is not None, (fault, err)
            assert result["decision"] == "terminated" and result["reversal_pending"] is True
            assert result["rrn"] is None and result["auth_code"] is None
            assert result["response_code"] is None
        code, result, err = pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)
        assert code == 0 and result is not None and result["reversal_pending"] is False, err
        mtis = host.mtis()
        assert mtis == ["0200"] + ["0400", "0200"] * len(FAULTS), mtis
        for index, fault in enumerate(FAULTS):
            original, rev = host.frames[2 * index], host.frames[2 * index + 1]
            o = original.doc
            assert rev.doc["90"] == "0200" + o["11"] + o["13"] + o["12"] + "0" * 22, fault
            assert rev.doc["11"] != o["11"]
            assert rev.doc["4"] == o["4"] and rev.doc["3"] == o["3"] and rev.doc["2"] == PAN
            assert rev.de48()["KS"] != original.de48()["KS"] and rev.mac_ok()
            assert "128" in rev.doc and "64" not in rev.doc


def test_reversal_repeats_as_0401_and_94_is_acknowledged(tmp_path: Path) -> None:
    """0401 on every repeat until a 0410 (a broken link is no 0410); 94 on a reversal
    means the host has it: no further repeat, and the journal shows the sale reversed."""
    seen = {"0200": 0, "0400": 0}

    def script(frame: Frame) -> rig.Action:
        if frame.mti == "0200" and seen["0200"] == 0:
            seen["0200"] += 1
            return "silence"
        if frame.mti in ("0400", "0401"):
            seen["0400"] += 1
            return "close" if seen["0400"] == 1 else {"39": "94"}
        return None

    with RawHost(script) as host:
        config = provision(tmp_path, host.port, response_timeout=1)
        assert pay(config, "--type", "sale", "--amount", "900", "--pin", PIN)[0] == 1
        pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)
        pay(config, "--type", "sale", "--amount", "110", "--pin", PIN)
        pay(config, "--type", "sale", "--amount", "120", "--pin", PIN)
        reversals = [f for f in host.frames if f.mti in ("0400", "0401")]
        assert [f.mti for f in reversals] == ["0400", "0401"], host.mtis()
        # A repeat is the same reversal (docs/host-choices.md: its STAN is kept, so the
        # host's duplicate check can answer 94); the KSN and MAC are fresh.
        assert reversals[0].doc["11"] == reversals[1].doc["11"] != reversals[0].doc["90"][4:10]
        assert reversals[0].doc["90"] == reversals[1].doc["90"]
        assert reversals[0].de48()["KS"] != reversals[1].de48()["KS"] and reversals[1].mac_ok()
        journal = posterm("journal", "--config", str(config), "--json")
        statuses = [json.loads(line)["status"] for line in journal.stdout.splitlines()]
        assert statuses[0] == "reversed", statuses


def test_94_on_advice_is_acknowledged(tmp_path: Path) -> None:
    """Rule 2: 94 on a 0220 means the host already has it - not sent again."""

    def script(frame: Frame) -> rig.Action:
        return {"39": "94"} if frame.mti == "0220" else None

    with RawHost(script) as host:
        config = provision(tmp_path, host.port)
        code, pre, err = pay(config, "--type", "preauth", "--amount", "900", "--pin", PIN)
        assert code == 0 and pre is not None, err
        pay(config, "--type", "completion", "--amount", "800", "--rrn", pre["rrn"],
            "--auth-code", pre["auth_code"])  # fmt: skip
        pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)
        done = posterm("settle", "--config", str(config), "--operator", "admin")
        assert done.returncode == 0, done.stderr
        assert host.mtis().count("0220") == 1, host.mtis()


def test_request_sent_but_never_recorded_is_reversed_at_boot(tmp_path: Path) -> None:
    """Rule 1: a request that was sent but whose outcome was never recorded (process
    killed while waiting) is reversed at the next start; the journal shows it pending."""
    with RawHost(_silent_first("0200")) as host:
        config = provision(tmp_path, host.port, response_timeout=20)
        proc = subprocess.Popen(
            [
                *rig.POSTERM,
                "pay",
                "--config",
                str(config),
                "--operator",
                "admin",
                "--type",
                "sale",
                "--amount",
                "950",
                "--pin",
                PIN,
            ],
            env=rig.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not host.frames and time.monotonic() < deadline:
                time.sleep(0.05)
            assert host.frames, "the sale never reached the host"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        journal = posterm("journal", "--config", str(config), "--json")
        rows = [json.loads(line) for line in journal.stdout.splitlines()]
        assert [r["status"] for r in rows] == ["pending"], rows
        code, _result, err = pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)
        assert code == 0, err
        assert host.mtis()[:3] == ["0200", "0400", "0200"], host.mtis()
        assert host.frames[1].doc["90"][4:10] == host.frames[0].doc["11"]


# ------------------------------------------------------------------ 0800 (builder level)
def test_0800_has_no_ks_and_no_mac() -> None:
    """Every message except 0800/0810 carries KS and a MAC; 0800 carries DE 70 codes
    001 / 301 / 161 (no CLI command sends one, so this checks the terminal's builder
    and packer with the raw decoder)."""
    from terminal.hostmsg import Acceptor, network_management, pack

    for name, code in (("sign_on", "001"), ("echo", "301"), ("key_change", "161")):
        message = network_management(
            name, stan="000042", acceptor=Acceptor("TERM0001", "MERCHANT0000001"),
            when=dt.datetime(2026, 1, 2, 3, 4, 5),
        )  # fmt: skip
        raw = pack(message, None)
        doc, _ = iso8583.decode(bytearray(raw), specs.default)
        assert doc["t"] == "0800" and doc["70"] == code
        assert "48" not in doc and "64" not in doc and "128" not in doc
        assert "1" in doc  # DE 70 is above 64


# ------------------------------------------------------------------ rule 2: advices
def _offline_config(directory: Path, port: int) -> Path:
    """visa-offline-pin (TC at the first GENERATE AC) under a raised floor limit: an
    `[[aids]]` override, as the rig contract allows."""
    config = provision(directory, port, contact_reader="sim://visa-offline-pin")
    override = '\n[[aids]]\naid = "A0000000031010"\nfloor_limit = 100000\n'
    config.write_text(config.read_text() + override)
    return config


def test_offline_approvals_are_advised_as_0220_y1_in_order(tmp_path: Path) -> None:
    """Rule 2 + DE 39: an offline approval goes up as 0220 with 39 Y1 and its ICC data,
    repeated until a 0230, in the order the transactions happened."""
    state = {"down": True}

    def script(frame: Frame) -> rig.Action:
        return "close" if frame.mti == "0220" and state["down"] else None

    with RawHost(script) as host:
        config = _offline_config(tmp_path, host.port)
        stans = []
        for amount in ("1500", "1600"):
            code, result, err = pay(config, "--type", "sale", "--amount", amount, "--pin", PIN)
            assert code == 0 and result is not None, err
            assert result["cryptogram_type"] == "TC" and result["response_code"] == "Y1"
            stans.append(result["stan"])
        state["down"] = False
        code, result, err = pay(config, "--type", "sale", "--amount", "1700", "--pin", PIN)
        assert code == 0 and result is not None, err
        stans.append(result["stan"])
        answered = [f for f in host.frames if f.mti == "0220"]
        tail = [f.doc["11"] for f in answered[-3:]]
        assert tail == stans, [f.doc["11"] for f in answered]
        for frame in answered:
            assert frame.doc["39"] == "Y1" and frame.mac_ok()
            icc = tlv.decode(bytes.fromhex(frame.doc["55"]), simple=True)
            assert not [t for t in REQUIRED_55.split() if t not in icc]
            assert icc["9F27"] == b"\x40"  # TC


# ------------------------------------------------------------------ rule 1: AAC after 00
@pytest.fixture
def strict_card(pcscd: str, tmp_path: Path) -> Iterator[str]:
    """visa-online-pin that answers an AAC when issuer authentication fails (a lab's own
    card profile behind the real PC/SC stack)."""
    from sim.card import VirtualCard
    from sim.card.profile import PROFILE_DIR, load_profile
    from sim.vpicc import VpiccConnection

    text = (PROFILE_DIR / "visa-online-pin.toml").read_text(encoding="utf-8")
    strict = "risk = { always_online = true, decline_on_issuer_auth_failure = true }"
    text = text.replace("risk = { always_online = true }", strict)
    assert strict in text
    path = tmp_path / "strict-card.toml"
    path.write_text(text, encoding="utf-8")
    link = VpiccConnection(VirtualCard(load_profile(path))).serve_in_thread()
    try:
        yield pcscd
    finally:
        link.stop()


def test_card_aac_after_host_approval_is_reversed(strict_card: str, tmp_path: Path) -> None:
    """Rule 1: the host approves but the card declines at the second GENERATE AC (here:
    the ARPC in 91 does not verify) - the approval is reversed; the 0400 echoes the
    host's DE 37 / 38."""
    bad_arpc = "910A" + "00" * 8 + "3030"

    def script(frame: Frame) -> rig.Action:
        return (
            {"55": bad_arpc} if frame.mti == "0200" and frame.doc["4"] == "000000000999" else None
        )

    with RawHost(script) as host:
        config = provision(tmp_path / "t", host.port, contact_reader=f"pcsc://{strict_card}")
        code, result, err = pay(config, "--type", "sale", "--amount", "999", "--pin", PIN)
        assert code == 1 and result is not None, err
        assert result["decision"] == "declined" and result["cryptogram_type"] == "AAC"
        pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)
        mtis = host.mtis()
        assert mtis[:2] == ["0200", "0400"], mtis
        original, rev = host.frames[0], host.frames[1]
        assert rev.doc["37"] == result["rrn"] and rev.doc["38"] == result["auth_code"]
        assert rev.doc["90"][:10] == "0200" + original.doc["11"]


# ------------------------------------------------------------------ rule 3: drain first
def test_settlement_drains_reversals_before_0500(tmp_path: Path) -> None:
    """Rule 3: before a 0500 every reversal (and advice) is drained."""
    with RawHost(_silent_first("0200")) as host:
        config = provision(tmp_path, host.port, response_timeout=1)
        assert pay(config, "--type", "sale", "--amount", "900", "--pin", PIN)[0] == 1
        done = posterm("settle", "--config", str(config), "--operator", "admin")
        assert done.returncode == 0, done.stderr
        assert host.mtis() == ["0200", "0400", "0500"]
        assert json.loads(done.stdout)["debit_count"] == 0


def test_upload_echoes_rrn_and_auth_code(day: Day) -> None:
    """DE 37 / 38 echoed in upload (0320)."""
    uploads = {f.doc["90"][4:10]: f for k, f in day.frames.items() if f.mti == "0320"}
    sale2 = day.results["sale2"]
    upload = uploads[sale2["stan"]]
    assert (upload.doc["37"], upload.doc["38"]) == (sale2["rrn"], sale2["auth_code"])
    assert upload.doc["90"][:4] == "0200" and upload.doc["4"] == "000000001200"


def test_settle_killed_while_0500_in_flight_closes_on_rerun(tmp_path: Path) -> None:
    """Guarantee: the rules hold when a command is killed at any instant - a `settle`
    killed with its 0500 unanswered is run again: it closes the same totals, nothing is
    reversed or counted twice, and the next sale is in the next batch."""
    with RawHost(_silent_first("0500")) as host:
        config = provision(tmp_path, host.port, response_timeout=20)
        assert pay(config, "--type", "sale", "--amount", "800", "--pin", PIN)[0] == 0
        proc = subprocess.Popen(
            [*rig.POSTERM, "settle", "--config", str(config), "--operator", "admin"],
            env=rig.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while "0500" not in host.mtis() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "0500" in host.mtis()
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        done = posterm("settle", "--config", str(config), "--operator", "admin")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert (result["debit_count"], result["debit_amount"]) == (1, 800)
        assert pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)[0] == 0
        mtis = host.mtis()
        assert mtis == ["0200", "0500", "0500", "0200"], mtis
        first, second = host.frames[1], host.frames[2]
        assert first.doc["76"] == second.doc["76"] and first.doc["88"] == second.doc["88"]
        assert host.frames[-1].de48()["BN"] == "000002"


def test_completion_upload_echoes_the_rrn_and_auth_code_it_carried(day: Day) -> None:
    """DE 37 / 38 'echoed in ... completion, ... upload': the completion's 0320 carries
    the RRN / auth code its 0220 carried."""
    uploads = {f.doc["90"][4:10]: f for k, f in day.frames.items() if f.mti == "0320"}
    upload = uploads[day.results["completion"]["stan"]]
    sent = day.frames["completion"].doc
    assert (upload.doc.get("37"), upload.doc.get("38")) == (sent["37"], sent["38"])


def test_nothing_else_is_sent_while_a_reversal_is_owed(tmp_path: Path) -> None:
    """Rule 1: the 0400 is sent before any other message - while the host does not take
    it, no 0200 and no 0500 leaves (pay answers offline, settle does not close)."""

    def script(frame: Frame) -> rig.Action:
        if frame.mti == "0200" and frame.doc["4"] == "000000000900":
            return "silence"
        return "close" if frame.mti in ("0400", "0401") else None

    with RawHost(script) as host:
        config = provision(tmp_path, host.port, response_timeout=1)
        assert pay(config, "--type", "sale", "--amount", "900", "--pin", PIN)[0] == 1
        code, result, err = pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)
        assert code == 1 and result is not None and result["reversal_pending"] is True, err
        done = posterm("settle", "--config", str(config), "--operator", "admin")
        assert done.returncode != 0 and "Traceback" not in done.stderr
        mtis = host.mtis()
        assert mtis[0] == "0200" and set(mtis[1:]) <= {"0400", "0401"}, mtis
        assert mtis[1] == "0400" and len(mtis) >= 3
