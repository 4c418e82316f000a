"""An outside lab's rig, built only from the two public contracts.

* The terminal is configured with the rig contract's example TOML (no other key), keys
  go in with ``posterm keys inject`` (a TR-31 B1 block made here with psec, the IPEK
  derived here), the operator with ``posterm operator add``, and every command runs as a
  subprocess (``sys.executable -m terminal``).
* :class:`RawHost` is an acquirer written from host-spec.md alone: pyiso8583's
  ``specs.default``, psec's retail MAC / ISO 9564 PIN block, and a TDES DUKPT (ANSI
  X9.24-1:2009 Annex A) written here, checked in test_host_spec against the standard's
  published vectors. No posterm code is on the wire side.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import iso8583
from Crypto.Cipher import DES, DES3
from iso8583 import specs
from psec import mac as psec_mac
from psec import tr31 as psec_tr31

from tests.terminal.hostpeer import Peer

POSTERM = [sys.executable, "-m", "terminal"]
PASSWORD = "contract-pass-1"
BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1 Annex A test BDK
KSN = "FFFF9876543210E00000"  # X9.24-1 Annex A initial KSN
PAN = "4761739001010044"  # TEST card of sim profile visa-online-pin
PIN = "1234"

# rig-contract.md "Configuration (TOML)", copied as written; only the values a rig must
# point at its own machine are substituted (see contract_config).
CONTRACT_TOML = """\
[terminal]
data_dir = "/var/lib/posterm"      # journal, key store, traces, receipts
country_code = "0826"              # 9F1A, ISO 3166 numeric
currency_code = "0826"             # 5F2A, ISO 4217 numeric
currency_exponent = 2
terminal_type = "22"               # 9F35
capabilities = "E0F8C8"            # 9F33

[devices]
contact_reader = "pcsc://Virtual PCD 00 00"   # pcsc://<reader name> or sim://<profile>
contactless_reader = "sim://visa-qvsdc"       # optional
keypad = "sim://"                  # sim:// lets `posterm pay --pin` type the PIN
printer = "file:///var/lib/posterm/receipts.txt"   # or "stdout", or a device URL

[host]
url = "tcp://127.0.0.1:8583"       # tls://host:port with [host].pin_sha256 for TLS
response_timeout = 30              # seconds

[[merchants]]                      # one or more; the first is the default
name = "Main store"
tid = "TERM0001"                   # DE 41, 8 characters
mid = "MERCHANT0000001"            # DE 42, 15 characters

[[ca_keys]]                        # added to the built-in test CA keys
rid = "A000000003"
index = "99"
modulus = "…hex…"
exponent = "03"

[keys]
root_secret_file = "/var/lib/posterm/root.secret"   # laptop provider of the store's root secret
"""

# A 1024-bit modulus for the example's [[ca_keys]] entry (any RSA modulus will do: the
# index 99 is not used by the test cards).
CA_MODULUS = (
    "C696034213D7D8546984579D1D0F0EA519CFF8DEFFC429354CF3A871A6F7183F1228DA5C7470C055387100CB"
    "935A712C4E2864DF5D64BA93FE7E63E71F25B1E5F5298575EBE1C63AA617706917911DC2A75AC28B251C7EF4"
    "0F2365912490B939BCA2124A30A28F54402C34AECA331AB67E1E79B285DD5771B5D9FF79EA630B75"
)


def contract_config(
    directory: Path,
    port: int,
    *,
    contact_reader: str = "sim://visa-online-pin",
    keypad: str = "sim://",
    response_timeout: float = 3,
    merchants: list[tuple[str, str, str]] | None = None,
) -> Path:
    """The contract's example TOML with this rig's paths, port, reader and timeout."""
    directory.mkdir(parents=True, exist_ok=True)
    text = CONTRACT_TOML.replace("/var/lib/posterm", str(directory))
    text = text.replace("Virtual PCD 00 00", "@READER@").replace(
        '"pcsc://@READER@"', json.dumps(contact_reader)
    )
    text = text.replace('keypad = "sim://"', f"keypad = {json.dumps(keypad)}")
    text = text.replace("127.0.0.1:8583", f"127.0.0.1:{port}")
    text = text.replace("response_timeout = 30", f"response_timeout = {response_timeout}")
    text = text.replace("…hex…", CA_MODULUS)
    for name, tid, mid in merchants or []:
        extra = f'[[merchants]]\nname = "{name}"\ntid = "{tid}"\nmid = "{mid}"\n\n'
        text = text.replace("[[ca_keys]]", extra + "[[ca_keys]]", 1)
    path = directory / "posterm.toml"
    path.write_text(text, encoding="utf-8")
    return path


def env(password: str = PASSWORD) -> dict[str, str]:
    return {**os.environ, "POSTERM_PASSWORD": password, "PYTHONWARNINGS": "ignore"}


def posterm(
    *args: str, stdin: str | None = None, password: str = PASSWORD, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*POSTERM, *args],
        capture_output=True,
        text=True,
        env=env(password),
        timeout=timeout,
        input=stdin,
        check=False,
    )


# ---------------------------------------------------------------- TDES DUKPT (host side)
_KEY_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")
PIN_VARIANT = bytes.fromhex("00000000000000FF00000000000000FF")  # X9.24-1 A.6
MAC_REQUEST_VARIANT = bytes.fromhex("000000000000FF00000000000000FF00")
MAC_RESPONSE_VARIANT = bytes.fromhex("00000000FF00000000000000FF000000")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def ipek(bdk: bytes, ksn: bytes) -> bytes:
    """X9.24-1:2009 A.6 initial key: TDES of the counter-cleared KSN's left 8 bytes
    under the BDK, and under the BDK XOR C0C0C0C000000000C0C0C0C000000000."""
    reg = bytes(ksn[:7]) + bytes([ksn[7] & 0xE0])
    left = DES3.new(bdk, DES3.MODE_ECB).encrypt(reg)
    right = DES3.new(_xor(bdk, _KEY_MASK), DES3.MODE_ECB).encrypt(reg)
    return left + right


def _nonreversible(key: bytes, reg: bytes) -> bytes:
    def half(k: bytes) -> bytes:
        return _xor(DES.new(k[:8], DES.MODE_ECB).encrypt(_xor(reg, k[8:])), k[8:])

    return half(_xor(key, _KEY_MASK)) + half(key)


def transaction_key(initial: bytes, ksn: bytes) -> bytes:
    """X9.24-1:2009 A.3 host derivation: walk the 21-bit counter's set bits, high first."""
    counter = int.from_bytes(ksn[7:], "big") & 0x1FFFFF
    reg = int.from_bytes(ksn[2:], "big") & ~0x1FFFFF
    key = initial
    bit = 0x100000
    while bit:
        if counter & bit:
            reg |= bit
            key = _nonreversible(key, reg.to_bytes(8, "big"))
        bit >>= 1
    return key


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO 9797-1 MAC algorithm 3, padding method 1 (psec)."""
    return psec_mac.generate_retail_mac(key[:8], key[8:], data, padding=1)


def tr31_block(kbpk: bytes, bdk: bytes = BDK, ksn: str = KSN) -> str:
    """A TR-31 version B, usage B1 (initial DUKPT key), TDES block by psec."""
    return psec_tr31.wrap(kbpk, "B0000B1TX00N0000", ipek(bdk, bytes.fromhex(ksn)))


def provision(directory: Path, port: int, **config: Any) -> Path:
    """Config + `posterm keys inject` + first `posterm operator add` (an admin)."""
    path = contract_config(directory, port, **config)
    kbpk = os.urandom(16)
    kbpk_file = directory / "kbpk.hex"
    kbpk_file.write_text(kbpk.hex().upper(), encoding="ascii")
    done = posterm("keys", "inject", tr31_block(kbpk), "--kbpk-file", str(kbpk_file),
                   "--slot", "dukpt", "--ksn", KSN, "--config", str(path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = posterm("operator", "add", "admin", "--role", "admin", "--config", str(path))
    assert done.returncode == 0, done.stderr
    return path


def pay(config: Path, *args: str, operator: str = "admin", stdin: str | None = None,
        password: str = PASSWORD) -> tuple[int, dict[str, Any] | None, str]:  # fmt: skip
    """(exit code, the one JSON object or None, stderr [+ stdout when not one line])."""
    done = posterm("pay", "--config", str(config), "--operator", operator, *args,
                   stdin=stdin, password=password)  # fmt: skip
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[0]) if len(lines) == 1 else None
    return done.returncode, result, done.stderr + ("" if len(lines) == 1 else done.stdout)


# ---------------------------------------------------------------- the raw acquirer
RESPONSE_MTI = {"0800": "0810", "0100": "0110", "0200": "0210", "0220": "0230",
                "0320": "0330", "0400": "0410", "0401": "0410", "0500": "0510"}  # fmt: skip


def de48_items(text: str) -> list[tuple[str, str]]:
    """host-spec DE 48: repeated TT + 3-digit length + value."""
    out, pos = [], 0
    while pos < len(text):
        tag, size = text[pos : pos + 2], int(text[pos + 2 : pos + 5])
        out.append((tag, text[pos + 5 : pos + 5 + size]))
        pos += 5 + size
    assert pos == len(text), "DE 48 sub-elements overrun the field"
    return out


@dataclass
class Frame:
    """One request as the host received it."""

    length: int  # the 2-byte big-endian prefix (the peer read exactly that many bytes)
    raw: bytes  # the bytes after it
    doc: dict[str, Any]
    ksn: bytes | None
    key: bytes | None  # DUKPT transaction key of the KSN in DE 48 KS

    @property
    def mti(self) -> str:
        return str(self.doc["t"])

    def de48(self) -> dict[str, str]:
        return dict(de48_items(self.doc.get("48", "")))

    def mac_ok(self) -> bool:
        if self.key is None:
            return False
        mac_field = "128" if "128" in self.doc else "64"
        mac = bytes.fromhex(self.doc.get(mac_field, ""))
        key = _xor(self.key, MAC_REQUEST_VARIANT)
        return len(mac) == 8 and self.raw[-8:] == mac and retail_mac(key, self.raw[:-8]) == mac


Action = dict[str, str | None] | str | None


class RawHost(Peer):
    """Answers each request with ``script(frame) -> action``: a dict of response fields
    (default: echo + ``39 00``), or "silence", "close", "bad_mac", "request_variant_mac",
    "oversize", "garbage". The
    socket plumbing is tests/terminal/hostpeer.py's; decoding, keys and MAC are here."""

    def __init__(self, script: Callable[[Frame], Action] | None = None) -> None:
        self.raw_script = script
        self.frames: list[Frame] = []
        self.rrn_base = 100000000000
        self.ipek = ipek(BDK, bytes.fromhex(KSN))
        super().__init__()

    def __enter__(self) -> RawHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mtis(self) -> list[str]:
        return [f.mti for f in self.frames]

    def _answer(self, conn: socket.socket, raw: bytes) -> bool:
        doc, _ = iso8583.decode(bytearray(raw), specs.default)
        ksn = key = None
        if "48" in doc and "KS" in dict(de48_items(doc["48"])):
            ksn = bytes.fromhex(dict(de48_items(doc["48"]))["KS"])
            key = transaction_key(self.ipek, ksn)
        frame = Frame(len(raw), raw, doc, ksn, key)
        self.frames.append(frame)
        action = self.raw_script(frame) if self.raw_script else None
        if action == "silence":
            self._stop.wait(6)
            return False
        if action == "close":
            return False
        if action == "oversize":
            conn.sendall(struct.pack(">H", 4097) + b"0" * 4097)
            return True
        if action == "garbage":
            conn.sendall(b"\x00\x0c0210\xff\xff\xff\xff\xff\xff\xff\xff")
            return True
        out: dict[str, str | None] = {"t": RESPONSE_MTI[frame.mti]}
        for de in ("3", "4", "11", "12", "13", "24", "41", "42", "49"):
            if de in doc:
                out[de] = doc[de]
        out["39"] = "00"
        if frame.mti in ("0100", "0200"):
            self.rrn_base += 1
            out["37"] = str(self.rrn_base)
            out["38"] = f"A{self.rrn_base % 100000:05d}"
        if ksn is not None:  # host-spec Security: every message but 0800/0810 carries KS
            out["48"] = f"KS020{ksn.hex().upper()}"
        if isinstance(action, dict):
            out.update(action)
        self._send(conn, {k: v for k, v in out.items() if v is not None}, key, action)
        return True

    def _send(
        self, conn: socket.socket, out: dict[str, str], key: bytes | None, action: Action
    ) -> None:
        if key is not None:
            mac_de = "128" if any(64 < int(k) < 128 for k in out if k.isdigit()) else "64"
            out[mac_de] = "00" * 8
            body, _ = iso8583.encode(out, specs.default)
            variant = (
                MAC_REQUEST_VARIANT if action == "request_variant_mac" else MAC_RESPONSE_VARIANT
            )
            mac = retail_mac(_xor(key, variant), bytes(body[:-8]))
            frame_out = bytes(body[:-8]) + (bytes(8) if action == "bad_mac" else mac)
        else:
            body, _ = iso8583.encode(out, specs.default)
            frame_out = bytes(body)
        conn.sendall(struct.pack(">H", len(frame_out)) + frame_out)
