"""`posterm demo`: a complete simulated purchase on one laptop, in a few seconds.

Everything on the terminal side is the real firmware (`posterm pay`'s code path:
config, key store, journal, operators, EMV kernel, secure PIN entry, DUKPT, ISO 8583,
MAC, receipts). Simulated: the card (sim.card profile ``visa-online-pin`` in-process,
no pcscd needed), the keypad that types the PIN, and the acquirer host (sim.host on
an ephemeral loopback port). The DUKPT initial key reaches the terminal as a TR-31 B1
block through the key store's injection path, as `posterm keys inject` does.

The rig helpers here (:func:`write_config`, :func:`inject_dukpt`, :func:`demo_rules`)
are shared with the end-to-end tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # ANSI X9.24-1 Annex A test BDK
KSN = "FFFF9876543210E00000"  # X9.24-1 Annex A initial KSN
TR31_HEADER = "B0000B1TX00N0000"  # version B, usage B1 (initial DUKPT key), TDES, 'X'
DEMO_PIN = "1234"  # TEST card PIN of the demo rules
DEMO_PASSWORD = "demo-admin-pass"  # noqa: S105 - throwaway operator of a temp terminal
DEMO_PROFILE = "visa-online-pin"

# TEST issuer keys of sim.card (sim/host/rules-example.toml) and TEST cards.
ISSUERS = [
    {
        "prefix": "4",
        "mk_ac": "0123456789ABCDEFFEDCBA9876543210",
        "mk_smi": "1123456789ABCDEFFEDCBA9876543211",
        "mk_smc": "2123456789ABCDEFFEDCBA9876543212",
        "cvn": "auto",
    },
    {
        "prefix": "5",
        "mk_ac": "9E15204313F7318ACB79B90BD986AD29",
        "mk_smi": "4664942FE615FB02E5D57F292AA2B3B6",
        "mk_smc": "CE293B8CC12A977379EF256D76109492",
        "cvn": "mc16",
    },
]


def demo_rules(**host: Any) -> dict[str, Any]:
    """Host rules for the TEST cards the demo and the e2e tests use."""
    return {
        "host": {"currency": "826", **host},
        "issuers": ISSUERS,
        "cards": [
            {"pan": "4761739001010044", "pin": DEMO_PIN, "max_amount": 500000},
            {"pan": "4761739001010010", "pin": DEMO_PIN, "max_amount": 500000},
            {"pan": "4761739001010101", "response": "05"},
            {"pan": "6037990000000014", "balance": 10000},
            {"prefix": "4", "max_amount": 500000},
            {"prefix": "5"},
        ],
        "vouchers": [{"code": "GIFT-2026-0001", "value": 2500, "expires": "2099-12-31"}],
        "qr": [{"code": "WALLET:8d1f0c2e", "max_amount": 20000}],
    }


def rules_toml(rules: dict[str, Any]) -> str:
    """The rules as TOML text (for `posterm sim host --rules FILE`)."""
    out: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    for name, body in rules.items():
        if isinstance(body, dict):
            out.append(f"[{name}]")
            out += [f"{k} = {value(v)}" for k, v in body.items()]
        else:
            for item in body:
                out.append(f"[[{name}]]")
                out += [f"{k} = {value(v)}" for k, v in item.items()]
        out.append("")
    return "\n".join(out)


def write_config(
    directory: Path,
    port: int,
    *,
    contact_reader: str = f"sim://{DEMO_PROFILE}",
    keypad: str = "sim://",
    printer: str | None = None,
    response_timeout: float = 5.0,
    extra_devices: dict[str, str] | None = None,
    extra_toml: str = "",
) -> Path:
    """A rig-contract TOML config for a terminal whose data lives in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    printer = printer or (directory / "receipts.txt").as_uri()
    devices = {"contact_reader": contact_reader, "keypad": keypad, "printer": printer}
    devices.update(extra_devices or {})
    lines = [
        "[terminal]",
        f'data_dir = "{directory}"',
        'country_code = "0826"',
        'currency_code = "0826"',
        "currency_exponent = 2",
        'terminal_type = "22"',
        'capabilities = "E0F8C8"',
        "",
        "[devices]",
        *[f'{k} = "{v}"' for k, v in devices.items()],
        "",
        "[host]",
        f'url = "tcp://127.0.0.1:{port}"',
        f"response_timeout = {response_timeout}",
        "connect_timeout = 2",
        "retry_initial = 0.0",
        "retry_max = 0.0",
        "",
        "[[merchants]]",
        'name = "Main store"',
        'tid = "TERM0001"',
        'mid = "MERCHANT0000001"',
        "",
        "[keys]",
        f'root_secret_file = "{directory / "root.secret"}"',
        "",
    ]
    path = directory / "posterm.toml"
    path.write_text("\n".join(lines) + extra_toml, encoding="utf-8")
    return path


def tr31_block(kbpk: bytes, bdk: bytes = BDK, ksn: str = KSN) -> str:
    """The IPEK of ``ksn`` under ``bdk``, wrapped in a TR-31 B1 block under ``kbpk``."""
    from keys import dukpt, tr31

    return tr31.wrap(kbpk, TR31_HEADER, dukpt.derive_ipek(bdk, bytes.fromhex(ksn)))


def inject_dukpt(config_path: Path, *, bdk: bytes = BDK, ksn: str = KSN) -> None:
    """What `posterm keys inject BLOCK --kbpk-file F --slot dukpt --ksn KSN` does."""
    from keys.store import FileRootSecret, KeyStore
    from terminal.commands.keys import keys_paths_from_config

    kbpk = os.urandom(16)
    block = tr31_block(kbpk, bdk, ksn)
    store_file, root_file = keys_paths_from_config(config_path)
    store = KeyStore.open_file(store_file, FileRootSecret(root_file, create=True))
    store.inject_dukpt("dukpt", kbpk, block, bytes.fromhex(ksn))


def add_admin(config_path: Path, operator: str, password: str) -> None:
    """The first operator (an admin), as `posterm operator add ID --role admin`."""
    from terminal.commands.operator import open_operators

    operators = open_operators(str(config_path))
    try:
        operators.add(operator, "admin", password, by=None)
    finally:
        operators.journal.close()


def register_demo(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="a complete simulated purchase")
    parser.add_argument("--amount", type=int, default=1250, help="minor units (default 1250)")
    parser.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from sim.host import HostSimulator, rules_from_dict
    from terminal.commands.pay import execute
    from terminal.config import load_config
    from terminal.flows import TxnRequest

    started = time.perf_counter()
    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="posterm-demo-") as temp:
        directory = Path(temp)
        host = HostSimulator(rules_from_dict(demo_rules()), directory / "host-ledger.db", BDK)
        port = host.start()
        try:
            config_path = write_config(directory / "terminal", port)
            inject_dukpt(config_path)
            add_admin(config_path, "admin", DEMO_PASSWORD)
            os.environ["POSTERM_PASSWORD"] = DEMO_PASSWORD
            print("posterm demo - one chip sale with online PIN, end to end", file=out)
            print(f"  terminal : real posterm firmware, data in {directory / 'terminal'}", file=out)
            print(f"  card     : SIMULATED ({DEMO_PROFILE}, in-process, no pcscd)", file=out)
            print("  keypad   : SIMULATED (types the TEST PIN into secure PIN entry)", file=out)
            print(f"  host     : SIMULATED acquirer on tcp://127.0.0.1:{port}", file=out)
            print("  keys     : DUKPT IPEK injected as a TR-31 B1 block (X9.24 test BDK)", file=out)
            print("", file=out)
            result = execute(
                load_config(config_path),
                TxnRequest(type="sale", amount=args.amount, entry="chip", operator="admin"),
                pin=DEMO_PIN,
            )
        finally:
            host.stop()
        print(result["receipt"], file=out)
        elapsed = time.perf_counter() - started
        summary = (
            f"{result['decision'].upper()}: {result['type']} {result['amount']} "
            f"(DE 39 {result['response_code']}, RRN {result['rrn']}, "
            f"auth {result['auth_code']}, {result['cryptogram_type']}) in {elapsed:.2f} s"
        )
        print(summary, file=out)
    return 0 if result["decision"] == "approved" else 1
