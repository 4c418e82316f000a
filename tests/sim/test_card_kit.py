"""A minimal terminal for the card tests: its own TLV reader, DOL filler, the
Book 2 recovery steps in plain integer RSA, and an ISO 9797-1 MAC built from
single DES, so the card is checked against code that shares nothing with it."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from Crypto.Cipher import DES

from sim.card import VirtualCard

CA_FILE = Path(__file__).resolve().parents[2] / "sim" / "ca" / "ca_public_keys.toml"
PSE = b"1PAY.SYS.DDF01"
PPSE = b"2PAY.SYS.DDF01"


def ca_keys() -> dict[tuple[str, str], tuple[int, int]]:
    data = tomllib.loads(CA_FILE.read_text())
    return {
        (k["rid"], k["index"]): (int(k["modulus"], 16), int(k["exponent"], 16))
        for k in data["ca_keys"]
    }


def revoked() -> set[tuple[str, str, str]]:
    data = tomllib.loads(CA_FILE.read_text())
    return {(r["rid"], r["index"], r["serial"]) for r in data.get("revocations", [])}


# -- TLV (own reader: tag, length, value; constructed when b6 of the first byte) ---
def tlv_items(data: bytes) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    i = 0
    while i < len(data):
        if data[i] in (0x00, 0xFF):
            i += 1
            continue
        start = i
        i += 1
        if data[start] & 0x1F == 0x1F:
            while data[i] & 0x80:
                i += 1
            i += 1
        tag = data[start:i].hex().upper()
        length = data[i]
        i += 1
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(data[i : i + size], "big")
            i += size
        value = data[i : i + length]
        if len(value) != length:
            raise ValueError(f"TLV {tag} overruns its container")
        i += length
        out.append((tag, value))
    return out


def tlv_flat(data: bytes, out: dict[str, bytes] | None = None) -> dict[str, bytes]:
    out = {} if out is None else out
    for tag, value in tlv_items(data):
        if int(tag[:2], 16) & 0x20:
            tlv_flat(value, out)
        else:
            out.setdefault(tag, value)
    return out


def dol_entries(dol: bytes) -> list[tuple[str, int]]:
    entries = []
    i = 0
    while i < len(dol):
        start = i
        i += 1
        if dol[start] & 0x1F == 0x1F:
            while dol[i] & 0x80:
                i += 1
            i += 1
        entries.append((dol[start:i].hex().upper(), dol[i]))
        i += 1
    return entries


def fill_dol(dol: bytes, values: dict[str, bytes]) -> bytes:
    out = b""
    for tag, length in dol_entries(dol):
        value = values.get(tag, b"")
        out += (
            (value + b"\x00" * length)[:length]
            if tag not in NUMERIC
            else value.rjust(length, b"\x00")[-length:]
        )
    return out


NUMERIC = {"9F02", "9F03"}


# -- crypto without pyemv --------------------------------------------------------
def retail_mac(key: bytes, data: bytes, method: int) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with padding method 1 or 2, from single DES."""
    if method == 2:
        data += b"\x80"
    data += b"\x00" * (-len(data) % 8)
    k1, k2 = DES.new(key[:8], DES.MODE_ECB), DES.new(key[8:], DES.MODE_ECB)
    state = b"\x00" * 8
    for i in range(0, len(data), 8):
        state = k1.encrypt(bytes(a ^ b for a, b in zip(state, data[i : i + 8], strict=True)))
    return k1.encrypt(k2.decrypt(state))


def tdes(key: bytes, block: bytes) -> bytes:
    """Two-key 3DES EDE from single DES (pycryptodome's DES3 refuses K1 == K2 keys)."""
    k1, k2 = DES.new(key[:8], DES.MODE_ECB), DES.new(key[8:16], DES.MODE_ECB)
    return k1.encrypt(k2.decrypt(k1.encrypt(block)))


def icc_mk_option_a(imk: bytes, pan: str, psn: str) -> bytes:
    """EMV 4.4 Book 2, A1.4.1 option A."""
    y = bytes.fromhex((pan + psn)[-16:].rjust(16, "0"))
    return tdes(imk, y) + tdes(imk, bytes(b ^ 0xFF for b in y))


def common_sk(mk: bytes, r: bytes) -> bytes:
    """EMV 4.4 Book 2, A1.3.1 common session key derivation."""
    left = r[:2] + b"\xf0" + r[3:]
    right = r[:2] + b"\x0f" + r[3:]
    return tdes(mk, left) + tdes(mk, right)


# -- RSA recovery -------------------------------------------------------------------
def rsa_recover(block: bytes, modulus: int, exponent: int) -> bytes:
    size = (modulus.bit_length() + 7) // 8
    assert len(block) == size, "signature length differs from the key's modulus"
    return pow(int.from_bytes(block, "big"), exponent, modulus).to_bytes(size, "big")


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


# -- driving a card -------------------------------------------------------------------
@dataclass
class Txn:
    card: VirtualCard
    aid: bytes = b""
    fci: bytes = b""
    pdol_data: bytes = b""
    gpo: bytes = b""
    aip: bytes = b""
    afl: bytes = b""
    records: list[tuple[int, int, bytes, bool]] = field(default_factory=list)
    data: dict[str, bytes] = field(default_factory=dict)
    terminal: dict[str, bytes] = field(default_factory=dict)
    cdol1_data: bytes = b""

    def send(self, hexstr_or_bytes: str | bytes) -> tuple[bytes, int]:
        apdu = (
            bytes.fromhex(hexstr_or_bytes) if isinstance(hexstr_or_bytes, str) else hexstr_or_bytes
        )
        response = self.card.transmit(apdu)
        return response[:-2], int.from_bytes(response[-2:], "big")

    def static_data(self) -> bytes:
        out = b""
        for sfi, _rec, body, oda in self.records:
            if oda:
                out += tlv_items(body)[0][1] if sfi <= 10 else body
        if "9F4A" in self.data:
            assert self.data["9F4A"] == b"\x82"
            out += self.aip
        return out


def apdu(header: str, data: bytes = b"", le: bool = True) -> bytes:
    out = bytes.fromhex(header)
    if data:
        out += bytes([len(data)]) + data
    return out + (b"\x00" if le else b"")


def terminal_values(**overrides: bytes) -> dict[str, bytes]:
    values = {
        "9F02": bytes.fromhex("000000001500"),
        "9F03": bytes.fromhex("000000000000"),
        "9F1A": bytes.fromhex("0826"),
        "95": bytes.fromhex("0000000000"),
        "5F2A": bytes.fromhex("0826"),
        "9A": bytes.fromhex("261125"),
        "9C": b"\x00",
        "9F37": bytes.fromhex("1A2B3C4D"),
        "9F35": b"\x22",
        "9F66": bytes.fromhex("36000000"),
        "9F34": bytes.fromhex("1E0300"),
        "8A": b"00",
    }
    values.update(overrides)
    return values


def select_and_read(card: VirtualCard, aid: bytes | None = None, **terminal: bytes) -> Txn:
    txn = Txn(card)
    txn.terminal = terminal_values(**terminal)
    app = card.profile.applications[0]
    txn.aid = aid or app.aid
    fci, sw = txn.send(apdu("00A40400", txn.aid))
    assert sw == 0x9000, hex(sw)
    txn.fci = fci
    pdol = tlv_flat(fci).get("9F38", b"")
    txn.pdol_data = fill_dol(pdol, txn.terminal)
    gpo, sw = txn.send(apdu("80A80000", b"\x83" + bytes([len(txn.pdol_data)]) + txn.pdol_data))
    assert sw == 0x9000, hex(sw)
    txn.gpo = gpo
    tag, value = tlv_items(gpo)[0]
    if tag == "80":
        txn.aip, txn.afl = value[:2], value[2:]
    else:
        flat = tlv_flat(gpo)
        txn.aip, txn.afl = flat["82"], flat["94"]
        txn.data.update(flat)
    for i in range(0, len(txn.afl), 4):
        sfi, first, last, oda = txn.afl[i] >> 3, txn.afl[i + 1], txn.afl[i + 2], txn.afl[i + 3]
        for number in range(first, last + 1):
            body, sw = txn.send(apdu(f"00B2{number:02X}{sfi << 3 | 4:02X}"))
            assert sw == 0x9000, (sfi, number, hex(sw))
            assert body[0] == 0x70
            txn.records.append((sfi, number, body, number - first < oda))
            tlv_flat(body, txn.data)
    return txn


def generate_ac(
    txn: Txn, p1: int, dol_tag: str = "8C", **values: bytes
) -> tuple[bytes, int, bytes]:
    txn.terminal.update(values)
    data = fill_dol(txn.data[dol_tag], txn.terminal)
    if dol_tag == "8C":
        txn.cdol1_data = data
    body, sw = txn.send(apdu(f"80AE{p1:02X}00", data))
    return body, sw, data


# -- Book 2 recovery, every field checked ----------------------------------------------
@dataclass
class Chain:
    issuer: tuple[int, int] | None = None
    icc: tuple[int, int] | None = None
    pin: tuple[int, int] | None = None
    issuer_fields: dict[str, bytes] = field(default_factory=dict)
    icc_fields: dict[str, bytes] = field(default_factory=dict)


def _mmyy_not_past(mmyy: bytes, today: tuple[int, int] = (26, 11)) -> bool:
    month, year = int(mmyy[:1].hex()), int(mmyy[1:].hex())
    return (year, month) >= today


def recover_issuer(txn: Txn) -> Chain:
    """EMV 4.4 Book 2, 5.3 / 6.3: issuer public key from tag 90 under the CA key."""
    rid = txn.aid[:5].hex().upper()
    n_ca, e_ca = ca_keys()[(rid, txn.data["8F"].hex().upper())]
    cert = txn.data["90"]
    x = rsa_recover(cert, n_ca, e_ca)
    size = len(x)
    assert x[0] == 0x6A and x[-1] == 0xBC, "header/trailer"
    assert x[1] == 0x02, "certificate format"
    issuer_id = x[2:6]
    pan = txn.data["5A"].hex().upper().rstrip("F")
    ident = issuer_id.hex().upper().rstrip("F")
    assert 3 <= len(ident) <= 8 and pan.startswith(ident), "issuer identifier matches PAN"
    expiry, serial = x[6:8], x[8:11]
    assert x[11] == 0x01 and x[12] == 0x01, "hash and PK algorithm indicators"
    n_i_len, e_i_len = x[13], x[14]
    leftmost = x[15 : size - 21]
    assert len(leftmost) == size - 36
    remainder = txn.data.get("92", b"")
    exponent = txn.data["9F32"]
    assert len(exponent) == e_i_len
    hashed = x[1 : size - 21] + remainder + exponent
    assert sha1(hashed) == x[size - 21 : size - 1], "issuer certificate hash"
    if n_i_len <= size - 36:
        modulus = leftmost[:n_i_len]
        assert set(leftmost[n_i_len:]) <= {0xBB}, "BB padding"
        assert not remainder
    else:
        modulus = leftmost + remainder
    assert len(modulus) == n_i_len
    return Chain(
        issuer=(int.from_bytes(modulus, "big"), int.from_bytes(exponent, "big")),
        issuer_fields={"expiry": expiry, "serial": serial, "issuer_id": issuer_id},
    )


def recover_icc(txn: Txn, chain: Chain, *, pin_key: bool = False) -> tuple[int, int]:
    """EMV 4.4 Book 2, 6.4 (and 7.1 for the PIN key): ICC public key from 9F46 (9F2D)."""
    assert chain.issuer is not None
    cert_tag, exp_tag, rem_tag = ("9F2D", "9F2E", "9F2F") if pin_key else ("9F46", "9F47", "9F48")
    x = rsa_recover(txn.data[cert_tag], *chain.issuer)
    size = len(x)
    assert x[0] == 0x6A and x[-1] == 0xBC and x[1] == 0x04
    pan_field = x[2:12].hex().upper().rstrip("F")
    assert pan_field == txn.data["5A"].hex().upper().rstrip("F"), "PAN in ICC certificate"
    expiry, serial = x[12:14], x[14:17]
    assert x[17] == 0x01 and x[18] == 0x01
    n_len, e_len = x[19], x[20]
    leftmost = x[21 : size - 21]
    assert len(leftmost) == size - 42
    remainder = txn.data.get(rem_tag, b"")
    exponent = txn.data[exp_tag]
    assert len(exponent) == e_len
    static = b"" if pin_key else txn.static_data()
    assert sha1(x[1 : size - 21] + remainder + exponent + static) == x[size - 21 : size - 1], (
        "ICC cert hash"
    )
    modulus = leftmost[:n_len] if n_len <= size - 42 else leftmost + remainder
    if n_len <= size - 42:
        assert set(leftmost[n_len:]) <= {0xBB}
    chain.icc_fields = {"expiry": expiry, "serial": serial}
    return int.from_bytes(modulus, "big"), int.from_bytes(exponent, "big")


def recover_sdad(sdad: bytes, icc: tuple[int, int], terminal_data: bytes) -> bytes:
    """EMV 4.4 Book 2, 6.5.2: returns the ICC Dynamic Data after checking the hash."""
    x = rsa_recover(sdad, *icc)
    size = len(x)
    assert x[0] == 0x6A and x[-1] == 0xBC and x[1] == 0x05 and x[2] == 0x01
    ldd = x[3]
    dynamic = x[4 : 4 + ldd]
    assert set(x[4 + ldd : size - 21]) <= {0xBB}
    assert sha1(x[1 : size - 21] + terminal_data) == x[size - 21 : size - 1], "SDAD hash"
    return dynamic
