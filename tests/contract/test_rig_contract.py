"""rig-contract.md, sentence by sentence, as an outside lab drives posterm: only the
contract's config keys, only the contract's commands and flags, each a subprocess; the
acquirer is tests.contract.rig.RawHost (host-spec alone)."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from Crypto.PublicKey import ECC
from psec import tr31 as psec_tr31

from sim.card import VirtualCard
from sim.vpicc import VpiccConnection
from tests.contract import rig
from tests.contract.rig import (
    KSN,
    PAN,
    PIN,
    Frame,
    RawHost,
    contract_config,
    pay,
    posterm,
    provision,
)

KEYED = "4761739001010010=3012\n"
RESULT_FIELDS = {
    "decision", "reason", "type", "amount", "currency", "pan", "entry_mode", "stan", "rrn",
    "auth_code", "response_code", "tvr", "tsi", "cvm_results", "cryptogram_type", "aid",
    "reversal_pending", "balance", "receipt",
}  # fmt: skip
HEX = re.compile(r"[0-9A-F]+")


def check_result_object(result: dict[str, Any], frame: Frame | None) -> None:
    """The `pay` table: every field, its type, and what it must equal on the wire."""
    assert set(result) >= RESULT_FIELDS
    assert result["decision"] in ("approved", "declined", "terminated")
    assert result["reason"] is None or (isinstance(result["reason"], str) and result["reason"])
    if result["decision"] != "approved":
        assert result["reason"]
    assert isinstance(result["type"], str) and isinstance(result["currency"], str)
    if result["pan"] is not None:
        assert re.fullmatch(r"\d{6}\*+\d{4}", result["pan"]), result["pan"]
    for name, size in (("tvr", 10), ("tsi", 4), ("cvm_results", 6)):
        value = result[name]
        assert value is None or (len(value) == size and HEX.fullmatch(value)), (name, value)
    assert result["cryptogram_type"] in (None, "TC", "ARQC", "AAC")
    assert result["aid"] is None or HEX.fullmatch(result["aid"])
    assert isinstance(result["reversal_pending"], bool)
    assert result["balance"] is None or isinstance(result["balance"], int)
    assert isinstance(result["receipt"], str)
    for name in ("stan", "rrn", "auth_code", "response_code"):
        assert result[name] is None or isinstance(result[name], str)
    if frame is not None:
        assert result["entry_mode"] == frame.doc["22"]  # DE 22 value sent
        assert result["stan"] == frame.doc["11"]  # as sent
        assert result["amount"] == int(frame.doc["4"])


# ------------------------------------------------------------------ Configuration
@pytest.fixture
def pcsc_card(pcscd: str) -> Iterator[str]:
    link = VpiccConnection(VirtualCard("visa-online-pin")).serve_in_thread()
    try:
        yield pcscd
    finally:
        link.stop()


def test_example_config_pcsc_card_sale_one_json_object(pcsc_card: str, tmp_path: Path) -> None:
    """The contract's example TOML (pcsc:// reader, sim:// keypad, file:// printer,
    [[ca_keys]], [keys]) as written; `pay` recovers, runs one sale, prints ONE JSON
    object whose fields match what went on the wire; the receipt is printed masked."""
    with RawHost() as host:
        config = provision(tmp_path, host.port, contact_reader=f"pcsc://{pcsc_card}")
        code, result, err = pay(config, "--type", "sale", "--amount", "1250", "--pin", PIN)
        assert code == 0 and result is not None, err
        assert "Traceback" not in err
        frame = host.frames[-1]
        check_result_object(result, frame)
        assert result["decision"] == "approved" and result["reason"] is None
        assert (result["type"], result["amount"], result["currency"]) == ("sale", 1250, "0826")
        assert result["pan"] == "476173******0044" and result["entry_mode"] == "051"
        assert (result["rrn"], result["response_code"]) == ("100000000001", "00")
        assert result["auth_code"] == "A00001" and result["cryptogram_type"] == "TC"
        assert result["aid"] == "A0000000032010" and result["reversal_pending"] is False
        # [[ca_keys]] adds to the built-in TEST CA keys: CDA with the built-in F1 works.
        assert int(result["tvr"][:2], 16) & 0x84 == 0
        assert "476173******0044" in result["receipt"] and PAN not in result["receipt"]
        printed = (tmp_path / "receipts.txt").read_text(encoding="utf-8")
        assert "12.50" in printed and PAN not in printed
    assert_no_secret_on_disk(tmp_path)


def test_printer_stdout_keeps_stdout_one_json_object(tmp_path: Path) -> None:
    """printer = "stdout" is allowed, and `pay` still prints exactly one JSON object."""
    with RawHost() as host:
        config = provision(tmp_path, host.port)
        text = config.read_text().replace(
            f'printer = "file://{tmp_path}/receipts.txt"', 'printer = "stdout"'
        )
        assert 'printer = "stdout"' in text
        config.write_text(text)
        code, result, err = pay(config, "--type", "sale", "--amount", "300", "--pin", PIN)
        assert code == 0 and result is not None, err


def test_builtin_aid_table_and_aids_override(tmp_path: Path) -> None:
    """The built-in AID table covers the listed AIDs; `[[aids]]` overrides a field (seen
    on the wire as 9F09 in DE 55)."""
    from terminal.config import load_config

    config = load_config(contract_config(tmp_path, 1))
    have = {a.aid.hex().upper() for a in config.aids}
    listed = {"A0000000031010", "A0000000032010", "A0000000041010", "A0000000043060",
              "A000000025010801", "A0000003330101"}  # fmt: skip
    assert listed <= have
    with RawHost() as host:
        path = provision(tmp_path / "t", host.port)
        path.write_text(
            path.read_text() + '\n[[aids]]\naid = "A0000000032010"\napp_version = "0097"\n'
        )
        code, _result, err = pay(path, "--type", "sale", "--amount", "400", "--pin", PIN)
        assert code in (0, 1), err
        de55 = bytes.fromhex(host.frames[-1].doc["55"])
        assert b"\x9f\x09\x02\x00\x97" in de55


def test_merchant_profiles_first_is_default(tmp_path: Path) -> None:
    """[[merchants]]: one or more, the first the default; --merchant picks DE 41 / 42 for
    `pay` and the batch for `settle`."""
    with RawHost() as host:
        config = provision(tmp_path, host.port,
                           merchants=[("Branch", "TERM0002", "MERCHANT0000002")])  # fmt: skip
        assert pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)[0] == 0
        code, _r, err = pay(config, "--type", "sale", "--amount", "200", "--pin", PIN,
                            "--merchant", "Branch")  # fmt: skip
        assert code == 0, err
        ids = [(f.doc["41"], f.doc["42"]) for f in host.frames]
        assert ids == [("TERM0001", "MERCHANT0000001"), ("TERM0002", "MERCHANT0000002")]
        rows = journal(config)
        assert [r["merchant"] for r in rows] == ["Main store", "Branch"]
        done = posterm("settle", "--config", str(config), "--operator", "admin",
                       "--merchant", "Branch")  # fmt: skip
        assert done.returncode == 0, done.stderr
        settled = json.loads(done.stdout)
        assert (settled["debit_count"], settled["debit_amount"]) == (1, 200)
        assert host.frames[-1].mti == "0500" and host.frames[-1].doc["41"] == "TERM0002"


# ------------------------------------------------------------------ keys inject
def test_keys_inject_tr31_b1_block_and_no_plaintext_key_on_disk(tmp_path: Path) -> None:
    """`keys inject BLOCK --kbpk-file FILE --slot dukpt --ksn KSN`: exit 0 for a TR-31
    version B / usage B1 block (made by psec here); a different usage or a wrong KBPK is
    not accepted; host-spec Security: no plaintext key on the device's disk."""
    config = contract_config(tmp_path, 1)
    kbpk = os.urandom(16)
    kbpk_file = tmp_path / "kbpk.hex"
    kbpk_file.write_text(kbpk.hex().upper())
    ipek = rig.ipek(rig.BDK, bytes.fromhex(KSN))

    def inject(block: str) -> subprocess.CompletedProcess[str]:
        return posterm("keys", "inject", block, "--kbpk-file", str(kbpk_file), "--slot",
                       "dukpt", "--ksn", KSN, "--config", str(config))  # fmt: skip

    wrong_usage = psec_tr31.wrap(kbpk, "B0000B0TX00N0000", ipek)
    done = inject(wrong_usage)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    done = inject(rig.tr31_block(os.urandom(16)))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    done = inject(rig.tr31_block(kbpk))
    assert done.returncode == 0, done.stderr
    assert_no_secret_on_disk(tmp_path, skip=kbpk_file)


def assert_no_secret_on_disk(directory: Path, skip: Path | None = None) -> None:
    """No IPEK, no DUKPT key (future keys: counters 2^k and the first 32) and no full
    TEST PAN in any file under ``directory`` (raw, or hex/ASCII)."""
    base = bytes.fromhex(KSN)
    ipek = rig.ipek(rig.BDK, base)
    counters = {1 << k for k in range(21)} | set(range(1, 33))
    secrets = [ipek] + [
        rig.transaction_key(ipek, base[:7] + ((base[7] & 0xE0) << 16 | c).to_bytes(3, "big"))
        for c in counters
    ]
    for path in directory.rglob("*"):
        if path.is_file() and path != skip:
            data = path.read_bytes()
            assert PAN.encode() not in data, path
            for secret in secrets:
                assert secret not in data and secret.hex().encode() not in data.lower(), path


# ------------------------------------------------------------------ operator add
def test_operator_add_rules(tmp_path: Path) -> None:
    """The first operator must be an admin and needs no login; after that only an admin
    (--operator, password in POSTERM_PASSWORD) adds operators."""
    c = str(contract_config(tmp_path, 1))

    def add(op: str, role: str, *login: str, password: str = rig.PASSWORD) -> int:
        done = posterm("operator", "add", op, "--role", role, "--config", c, *login,
                       password=password)  # fmt: skip
        assert "Traceback" not in done.stderr
        return done.returncode

    assert add("cash0", "cashier") != 0
    assert add("sup0", "supervisor") != 0
    assert add("root", "admin") == 0
    assert add("sup", "supervisor") != 0  # no login any more
    assert add("sup", "supervisor", "--operator", "root", password="wrong") != 0
    assert add("sup", "supervisor", "--operator", "root") == 0
    assert add("cash", "cashier", "--operator", "root") == 0
    assert add("cash2", "cashier", "--operator", "sup") != 0
    assert add("cash3", "cashier", "--operator", "cash") != 0


def test_operator_password_from_a_prompt_on_a_terminal(tmp_path: Path) -> None:
    """Without POSTERM_PASSWORD the password is asked on a terminal (a pty here); with
    neither, exit 2 and a message."""
    config = str(contract_config(tmp_path, 1))
    bare = {k: v for k, v in rig.env().items() if k != "POSTERM_PASSWORD"}
    command = [*rig.POSTERM, "operator", "add", "root", "--role", "admin", "--config", config]
    done = subprocess.run(
        command, env=bare, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "POSTERM_PASSWORD" in done.stderr
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            command, env=bare, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        assert proc.stderr is not None
        prompt = b""
        while b"Password:" not in prompt and len(prompt) < 4000:  # getpass flushes input
            chunk = proc.stderr.read(1)
            assert chunk, prompt
            prompt += chunk
        os.write(master, b"typed-pass-1\n")
        raw_out, raw_err = proc.communicate(timeout=60)
        out, err = raw_out.decode(), (prompt + raw_err).decode()
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert json.loads(out)["role"] == "admin" and "typed-pass-1" not in out + err
    done = posterm("operator", "add", "sup", "--role", "supervisor", "--config", config,
                   "--operator", "root", password="typed-pass-1")  # fmt: skip
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ pay: roles, errors
@pytest.fixture
def staffed(tmp_path: Path) -> Iterator[tuple[Path, RawHost]]:
    """A provisioned terminal with a supervisor and a cashier."""
    with RawHost() as host:
        config = provision(tmp_path, host.port)
        for op, role in (("sup", "supervisor"), ("cash", "cashier")):
            done = posterm("operator", "add", op, "--role", role, "--config", str(config),
                           "--operator", "admin")  # fmt: skip
            assert done.returncode == 0, done.stderr
        yield config, host


def test_refund_void_keyed_need_a_supervisor(staffed: tuple[Path, RawHost]) -> None:
    config, host = staffed
    code, sale, err = pay(config, "--type", "sale", "--amount", "900", "--pin", PIN,
                          operator="cash")  # fmt: skip
    assert code == 0 and sale is not None, err
    sent = len(host.frames)
    for args, stdin in (
        (("--type", "refund", "--amount", "100", "--pin", PIN), None),
        (("--type", "void", "--rrn", sale["rrn"]), None),
        (("--type", "sale", "--amount", "100", "--entry", "keyed"), KEYED),
    ):
        code, result, err = pay(config, *args, operator="cash", stdin=stdin)
        assert code != 0 and result is None and "Traceback" not in err, args
        assert "supervisor" in err
    assert len(host.frames) == sent  # nothing went to the host
    code, result, err = pay(config, "--type", "refund", "--amount", "100", "--entry", "keyed",
                            operator="sup", stdin=KEYED)  # fmt: skip
    assert code == 0 and result is not None and result["type"] == "refund", err
    code, result, err = pay(config, "--type", "void", "--rrn", sale["rrn"], operator="sup")
    assert code == 0 and result is not None and result["type"] == "void", err


def test_exit_2_usage_and_configuration_errors(tmp_path: Path) -> None:
    """Exit 2, a message on stderr, no traceback, nothing on stdout, nothing sent."""
    with RawHost() as host:
        config = provision(tmp_path / "a", host.port)
        bad_keypad = provision(tmp_path / "b", host.port, keypad="tty:///dev/null")
        broken = tmp_path / "broken.toml"
        broken.write_text(config.read_text().replace('tid = "TERM0001"', 'tid = "T1"'))
        cases: list[tuple[Path, tuple[str, ...], str]] = [
            (bad_keypad, ("--type", "sale", "--amount", "100", "--pin", PIN), "--pin"),
            (config, ("--type", "sale"), "amount"),
            (config, ("--type", "barter", "--amount", "1"), "type"),
            (config, ("--type", "sale", "--amount", "1", "--merchant", "Nowhere"), "Nowhere"),
            (config, ("--type", "sale", "--amount", "1", "--entry", "telepathy"), "entry"),
            (config, ("--type", "sale", "--amount", "-5"), "amount"),
            # DE 4 holds 12 digits: a larger amount cannot be requested at all.
            (config, ("--type", "sale", "--amount", "1000000000000", "--pin", PIN), "amount"),
            (tmp_path / "missing.toml", ("--type", "sale", "--amount", "1"), ""),
            (broken, ("--type", "sale", "--amount", "1"), "tid"),
        ]
        for path, args, says in cases:
            done = posterm("pay", "--config", str(path), "--operator", "admin", *args)
            assert done.returncode == 2, (args, done.stderr)
            assert done.stdout == "" and "Traceback" not in done.stderr, args
            assert done.stderr.strip() and says in done.stderr, (args, done.stderr)
        done = posterm("pay", "--config", str(config), "--operator", "admin", "--type",
                       "sale", "--amount", "1", password="wrong")  # fmt: skip
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert host.frames == []


def test_decline_exit_1_with_reason_and_nulls(tmp_path: Path) -> None:
    """Exit 1 on a decline; reason says why; auth_code null when the host gave none."""

    def script(frame: Frame) -> rig.Action:
        return {"39": "51", "38": None} if frame.doc.get("4") == "000000000777" else None

    with RawHost(script) as host:
        config = provision(tmp_path, host.port)
        code, result, err = pay(config, "--type", "sale", "--amount", "777", "--pin", PIN)
        assert code == 1 and result is not None, err
        check_result_object(result, host.frames[-1])
        assert result["decision"] == "declined" and result["response_code"] == "51"
        assert result["auth_code"] is None and "insufficient" in result["reason"]


def test_terminated_exit_1_nulls_and_reversal_pending(tmp_path: Path) -> None:
    """No response: terminated, exit 1, rrn/auth_code/response_code null,
    reversal_pending true."""
    with RawHost(lambda f: "close") as host:
        config = provision(tmp_path, host.port, response_timeout=1)
        code, result, err = pay(config, "--type", "sale", "--amount", "300", "--pin", PIN)
        assert code == 1 and result is not None, err
        check_result_object(result, host.frames[-1])
        assert result["decision"] == "terminated" and result["reversal_pending"] is True
        assert (result["rrn"], result["auth_code"], result["response_code"]) == (None,) * 3


def test_completion_reports_the_rrn_and_auth_code_it_sent(tmp_path: Path) -> None:
    """`rrn`, `auth_code`: as sent or received (null only when none)."""
    with RawHost() as host:
        config = provision(tmp_path, host.port)
        code, pre, err = pay(config, "--type", "preauth", "--amount", "900", "--pin", PIN)
        assert code == 0 and pre is not None, err
        code, result, err = pay(config, "--type", "completion", "--amount", "800", "--rrn",
                                pre["rrn"], "--auth-code", pre["auth_code"])  # fmt: skip
        assert code == 0 and result is not None, err
        assert host.frames[-1].doc["37"] == pre["rrn"]
        assert (result["rrn"], result["auth_code"]) == (pre["rrn"], pre["auth_code"])


# ------------------------------------------------------------------ journal / settle
def journal(config: Path) -> list[dict[str, Any]]:
    done = posterm("journal", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_journal_json_lines_statuses_and_settle(tmp_path: Path) -> None:
    """journal --json: one JSON object per line, masked, with type, amount, stan, rrn,
    merchant, batch and status in {approved, declined, reversed, voided}; settle prints
    one JSON object with the contract's fields and exits 0 when the batch closed (a
    failed close exits non-zero); the next batch number follows."""
    state: dict[str, Any] = {"silent": True, "settle": "96"}

    def script(frame: Frame) -> rig.Action:
        if frame.doc.get("4") == "000000000505":
            return {"39": "05"}
        if frame.doc.get("4") == "000000000404" and frame.mti == "0200" and state["silent"]:
            state["silent"] = False
            return "silence"
        if frame.mti == "0500":
            return {"39": state["settle"]}
        return None

    with RawHost(script) as host:
        config = provision(tmp_path, host.port, response_timeout=1)
        code, sale, err = pay(config, "--type", "sale", "--amount", "1000", "--pin", PIN)
        assert code == 0 and sale is not None, err
        assert pay(config, "--type", "sale", "--amount", "505", "--pin", PIN)[0] == 1
        assert pay(config, "--type", "sale", "--amount", "404", "--pin", PIN)[0] == 1
        code, _r, err = pay(config, "--type", "void", "--rrn", sale["rrn"])
        assert code == 0, err
        code, _r, err = pay(config, "--type", "refund", "--amount", "250", "--entry", "keyed",
                            stdin=KEYED)  # fmt: skip
        assert code == 0, err
        rows = journal(config)
        for row in rows:
            for key in ("type", "amount", "stan", "rrn", "merchant", "batch", "status"):
                assert key in row, key
            assert row["status"] in ("approved", "declined", "reversed", "voided", "pending")
            assert row.get("pan") is None or re.fullmatch(r"\d{6}\*+\d{4}", row["pan"])
            assert PAN not in json.dumps(row)
        by_amount = {(r["type"], r["amount"]): r["status"] for r in rows}
        assert by_amount[("sale", 1000)] == "voided"
        assert by_amount[("sale", 505)] == "declined"
        assert by_amount[("sale", 404)] == "reversed"
        assert by_amount[("refund", 250)] == "approved"
        sale_row = next(r for r in rows if r["amount"] == 1000 and r["type"] == "sale")
        assert (sale_row["stan"], sale_row["rrn"]) == (sale["stan"], sale["rrn"])
        assert sale_row["merchant"] == "Main store" and sale_row["batch"] == 1

        failed = posterm("settle", "--config", str(config), "--operator", "admin")
        assert failed.returncode != 0 and "Traceback" not in failed.stderr
        state["settle"] = "00"
        done = posterm("settle", "--config", str(config), "--operator", "admin")
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        assert len(lines) == 1
        result = json.loads(lines[0])
        expected = {"result", "batch", "debit_count", "debit_amount", "credit_count",
                    "credit_amount", "uploaded"}  # fmt: skip
        assert expected <= set(result)
        assert result["batch"] == 1 and result["uploaded"] == 0
        assert (result["debit_count"], result["debit_amount"]) == (0, 0)
        assert (result["credit_count"], result["credit_amount"]) == (1, 250)
        assert pay(config, "--type", "sale", "--amount", "100", "--pin", PIN)[0] == 0
        assert host.frames[-1].de48()["BN"] == "000002"


def test_settle_needs_a_supervisor(staffed: tuple[Path, RawHost]) -> None:
    config, host = staffed
    done = posterm("settle", "--config", str(config), "--operator", "cash")
    assert done.returncode != 0 and done.stdout == "" and "Traceback" not in done.stderr
    assert host.frames == []
    done = posterm("settle", "--config", str(config), "--operator", "sup")
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ run (ECR)
def test_run_ecr_same_fields_as_pay_and_0800_sign_on(tmp_path: Path) -> None:
    """`posterm run --ecr tcp://…`: JSON lines with pay's fields, answered with pay's
    result object. The sign-on it sends is an 0800 DE 70 001 without KS or MAC."""
    with RawHost() as host:
        config = provision(tmp_path, host.port)
        proc = subprocess.Popen(
            [*rig.POSTERM, "run", "--config", str(config), "--ecr", "tcp://127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=rig.env(),
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()
            match = re.search(r"tcp://127\.0\.0\.1:(\d+)", banner)
            assert match, banner
            with socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=30) as conn:
                reader = conn.makefile("rb")
                request = {"type": "sale", "amount": 1999, "pin": PIN, "operator": "admin",
                           "password": rig.PASSWORD}  # fmt: skip
                conn.sendall((json.dumps(request) + "\n").encode())
                answer = json.loads(reader.readline())
                void = {"type": "void", "rrn": answer["rrn"], "operator": "admin",
                        "password": rig.PASSWORD}  # fmt: skip
                conn.sendall((json.dumps(void) + "\n").encode())
                voided = json.loads(reader.readline())
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        check_result_object(answer, host.frames[-2])
        assert answer["decision"] == "approved" and answer["amount"] == 1999
        check_result_object(voided, host.frames[-1])
        assert voided["decision"] == "approved" and host.frames[-1].doc["3"] == "020000"
        assert host.frames[-1].doc["37"] == answer["rrn"]
        sign_on = [f for f in host.frames if f.mti == "0800"]
        assert sign_on and sign_on[0].doc["70"] == "001"
        assert not {"48", "64", "128"} & set(sign_on[0].doc)


# ------------------------------------------------------------------ qr decode
# EMV QRCPS Merchant-Presented Mode v1.1 Appendix A example (CRC A13A): 64 holds
# non-ASCII text whose lengths count characters.
EMVCO_MPM = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME91320016A011223344"
    "9988770708123456786304A13A"
)


def test_qr_decode_mpm_cpm_and_errors() -> None:
    done = posterm("qr", "decode", EMVCO_MPM)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert (doc["mode"], doc["crc_ok"], doc["fields"]["00"]) == ("mpm", True, "01")
    fields = doc["fields"]
    assert fields["29"] == {"00": "D15600000000", "05": "A93FO3230Q"}
    assert fields["62"]["03"] == "1234" and fields["64"]["01"] == "最佳运输"
    assert fields["91"]["00"] == "A011223344998877" and fields["59"] == "BEST TRANSPORT"

    bad_crc = EMVCO_MPM[:-4] + "0000"
    done = posterm("qr", "decode", bad_crc)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert "63" in done.stderr or "CRC" in done.stderr.upper()
    done = posterm("qr", "decode", "000201010212X9")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert re.search(r"field|offset", done.stderr), done.stderr

    # Templates 26-51 and 80-99 nest when they hold sub-fields; lengths count characters.
    body = ("000201010211" "26280011com.example0109ABCDEF123" "52045411530382658" "02GB"
            "5904Café6006London" "8006HELLO!" "81120003abc01011" "6304")  # fmt: skip
    own = body + f"{crc16(body.encode()):04X}"
    done = posterm("qr", "decode", own)
    assert done.returncode == 0, done.stderr
    fields = json.loads(done.stdout)["fields"]
    assert fields["26"] == {"00": "com.example", "01": "ABCDEF123"}
    assert fields["81"] == {"00": "abc", "01": "1"} and fields["80"] == "HELLO!"
    assert fields["59"] == "Café"

    # EMV QRCPS Consumer-Presented Mode: base64 of BER-TLV 85 "CPV01" + 61 (4F AID, 5A PAN).
    app = bytes.fromhex("4F07A0000000031010") + bytes.fromhex("5A084761739001010044")
    cpm = bytes.fromhex("8505") + b"CPV01" + bytes([0x61, len(app)]) + app
    done = posterm("qr", "decode", base64.b64encode(cpm).decode())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mode"] == "cpm"


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 1021, init FFFF), as EMV QRCPS 4.7.3 names for ID 63."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


# ------------------------------------------------------------------ certify
def test_certify_builtin_suite_writes_three_reports(tmp_path: Path) -> None:
    report = tmp_path / "report"
    done = posterm("certify", "--report", str(report), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("junit.xml", "report.md", "report.html"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0
    root = ET.parse(report / "junit.xml").getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    assert sum(int(s.get("tests", 0)) for s in suites) >= 20
    assert sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites) == 0


def test_certify_suite_with_a_failing_case_is_not_exit_0(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(
        '[suite]\nname = "lab"\n\n[[case]]\nname = "wrong-expectation"\n'
        'card = "sim://visa-online-pin"\npin = "1234"\n\n[case.transaction]\namount = 1500\n'
        '\n[case.host]\nresponse = "approve"\n\n[case.expected]\ndecision = "declined"\n'
    )
    report = tmp_path / "report"
    done = posterm("certify", str(suite), "--report", str(report))
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert (report / "junit.xml").is_file() and (report / "report.md").is_file()


# ------------------------------------------------------------------ bundle / update
def test_bundle_writes_one_file_and_update_verify(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = posterm("bundle", "--platform", "sim", "--out", str(out))
    assert done.returncode == 0, done.stderr
    files = list(out.iterdir())
    assert len(files) == 1
    bundle = files[0]
    assert posterm("update", "verify", str(bundle)).returncode == 0
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered = tmp_path / "tampered.ptb"
    tampered.write_bytes(bytes(data))
    done = posterm("update", "verify", str(tampered))
    assert done.returncode == 1 and done.stderr.strip() and "Traceback" not in done.stderr
    other = tmp_path / "other.pem"
    other.write_text(ECC.generate(curve="Ed25519").public_key().export_key(format="PEM"))
    done = posterm("update", "verify", str(bundle), "--pubkey", str(other))
    assert done.returncode == 1 and done.stderr.strip()
    bad = {"garbage.ptb": b"garbage\n", "truncated.ptb": bundle.read_bytes()[:700]}
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
        done = posterm("update", "verify", str(tmp_path / name))
        assert done.returncode == 1 and done.stderr.strip() and "Traceback" not in done.stderr


# ------------------------------------------------------------------ [host] tls:// + pin
class TlsHost(RawHost):
    """RawHost behind TLS (server certificate pinned by the terminal's config)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__()

    def _conn(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):  # a client whose pin did not match hangs up
            conn.close()
            return
        super()._conn(tls)


def test_tls_host_with_pinned_certificate(tmp_path: Path) -> None:
    """[host] url = tls://host:port with [host].pin_sha256: a sale over TLS; a wrong pin
    sends nothing (no reversal is owed for what never left)."""
    from tests.terminal.test_hostmsg_tls import make_cert

    cert, key, digest = make_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    with TlsHost(context) as host:
        config = provision(tmp_path / "t", host.port)
        text = config.read_text()
        tls_url = f'url = "tls://127.0.0.1:{host.port}"\npin_sha256 = "{digest.hex()}"'
        config.write_text(text.replace(f'url = "tcp://127.0.0.1:{host.port}"', tls_url))
        code, result, err = pay(config, "--type", "sale", "--amount", "650", "--pin", PIN)
        assert code == 0 and result is not None, err
        assert host.mtis() == ["0200"]
        config.write_text(config.read_text().replace(digest.hex(), "00" * 32))
        code, result, err = pay(config, "--type", "sale", "--amount", "660", "--pin", PIN)
        assert code == 1 and result is not None, err
        assert result["reversal_pending"] is False and host.mtis() == ["0200"]


def test_every_command_unreadable_config_is_exit_2(tmp_path: Path) -> None:
    """A configuration error is exit 2 with a message naming the file, never a traceback
    (pay's table states it; the other commands keep the same convention)."""
    missing = str(tmp_path / "missing.toml")
    commands = [
        ("settle", "--operator", "admin"),
        ("journal", "--json"),
        ("run",),
        ("operator", "add", "root", "--role", "admin"),
        ("keys", "inject", "B0", "--kbpk-file", missing, "--slot", "dukpt", "--ksn", KSN),
        ("certify", "--report", str(tmp_path / "r")),
    ]
    for command in commands:
        done = posterm(*command, "--config", missing)
        assert done.returncode == 2, (command, done.stderr)
        assert "missing.toml" in done.stderr and "Traceback" not in done.stderr, command
