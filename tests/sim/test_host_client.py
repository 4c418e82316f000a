"""A terminal-side ISO 8583 client for the host tests, built only from pyiso8583, psec and
keys.dukpt (not from sim.host), plus tests of the client's own framing and DE 48 coding.

Kept independent of the host so a shared bug cannot hide: the MAC is psec's ISO 9797-1
algorithm 3 and the PIN block psec's ISO 9564 format 0.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import iso8583
from hypothesis import given, settings
from hypothesis import strategies as st
from iso8583.specs import default as spec_default
from psec import des as psec_des
from psec import mac as psec_mac
from psec import pinblock as psec_pinblock

from keys import dukpt

TEST_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1:2009 Annex A.4
BASE_KSN = "FFFF9876543210E00000"


def de48(**elements: str) -> str:
    return "".join(f"{tag}{len(value):03d}{value}" for tag, value in elements.items())


def parse_de48(value: str) -> dict[str, str]:
    out, pos = {}, 0
    while pos < len(value):
        size = int(value[pos + 2 : pos + 5])
        out[value[pos : pos + 2]] = value[pos + 5 : pos + 5 + size]
        pos += 5 + size
    return out


def retail_mac(key: bytes, data: bytes) -> bytes:
    return psec_mac.generate_retail_mac(key[:8], key[8:], data, padding=1)


def variants(ksn: str) -> tuple[bytes, bytes, bytes]:
    raw = bytes.fromhex(ksn)
    key = dukpt.derive_transaction_key(dukpt.derive_ipek(TEST_BDK, raw), raw)
    return dukpt.pin_variant(key), dukpt.mac_request_variant(key), dukpt.mac_response_variant(key)


def pin_block(ksn: str, pin: str, pan: str) -> str:
    pin_key, _, _ = variants(ksn)
    clear = psec_pinblock.encode_pinblock_iso_0(pin, pan)
    return psec_des.encrypt_tdes_ecb(pin_key, clear).hex().upper()


def encode_request(fields: dict[str, str], ksn: str | None, *, corrupt_mac: bool = False) -> bytes:
    doc = dict(fields)
    if ksn is None:
        raw, _ = iso8583.encode(doc, spec_default)
        return bytes(raw)
    above = any(k.isdigit() and 64 < int(k) < 128 for k in doc)
    mac_de = "128" if above else "64"
    doc[mac_de] = "00" * 8
    raw = bytes(iso8583.encode(doc, spec_default)[0])
    _, mac_key, _ = variants(ksn)
    mac = retail_mac(mac_key, raw[:-8])
    if corrupt_mac:
        mac = bytes([mac[0] ^ 0x80]) + mac[1:]
    return raw[:-8] + mac


@dataclass
class Response:
    fields: dict[str, str]
    raw: bytes
    mac_ok: bool | None  # None: message carries no MAC

    @property
    def rc(self) -> str:
        return self.fields.get("39", "")


def check_response(raw: bytes, ksn: str | None) -> Response:
    fields, _ = iso8583.decode(raw, spec_default)
    mac_de = "128" if "128" in fields else "64" if "64" in fields else None
    if mac_de is None or ksn is None:
        return Response(fields, raw, None)
    _, _, response_key = variants(ksn)
    return Response(fields, raw, retail_mac(response_key, raw[:-8]) == raw[-8:])


@dataclass
class Client:
    port: int
    tid: str = "TERM0001"
    mid: str = "MERCHANT0000001"
    ksn_counter: int = 0
    stan: int = 0
    timeout: float = 5.0
    sock: socket.socket | None = field(default=None, repr=False)

    def connect(self) -> Client:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def next_ksn(self) -> str:
        self.ksn_counter += 1
        return BASE_KSN[:15] + f"{self.ksn_counter:05X}"

    def next_stan(self) -> str:
        self.stan += 1
        return f"{self.stan:06d}"

    def base(self, mti: str, **fields: str) -> dict[str, str]:
        doc = {
            "t": mti,
            "11": self.next_stan(),
            "12": "101500",
            "13": "1125",
            "41": self.tid,
            "42": self.mid,
        }
        doc.update(fields)
        return doc

    def send_raw(self, payload: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(len(payload).to_bytes(2, "big") + payload)

    def read_frame(self) -> bytes:
        assert self.sock is not None
        head = self._exact(2)
        return self._exact(int.from_bytes(head, "big"))

    def _exact(self, size: int) -> bytes:
        assert self.sock is not None
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError(f"short read {len(data)}/{size}")
            data += chunk
        return data

    def exchange(
        self, fields: dict[str, str], *, mac: bool = True, corrupt_mac: bool = False, **sub: str
    ) -> Response:
        """Send one request (KS added to DE 48 unless mac=False) and read the answer."""
        ksn = None
        if mac:
            ksn = self.next_ksn()
            fields = dict(fields)
            fields["48"] = de48(KS=ksn, **sub)
        elif sub:
            fields = dict(fields) | {"48": de48(**sub)}
        self.send_raw(encode_request(fields, ksn, corrupt_mac=corrupt_mac))
        return check_response(self.read_frame(), ksn)

    def sale(
        self,
        pan: str,
        amount: int,
        *,
        pin: str | None = None,
        pcode: str = "000000",
        mti: str = "0200",
        **extra: str,
    ) -> Response:
        fields = self.base(
            mti, **{"2": pan, "3": pcode, "4": f"{amount:012d}", "22": "051", "49": "978"}
        )
        sub = {k: extra.pop(k) for k in ("BN", "VC", "QR", "LY", "OP") if k in extra}
        fields.update(extra)
        if pin is not None:
            ksn = self.next_ksn()
            fields["52"] = pin_block(ksn, pin, pan)
            fields["48"] = de48(KS=ksn, **sub)
            self.send_raw(encode_request(fields, ksn))
            return check_response(self.read_frame(), ksn)
        return self.exchange(fields, **sub)


# --- the client's own codec checks (so a broken client cannot make host tests pass) ---


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["KS", "QR", "VC", "LY", "OP", "BN"]),
        st.text("0123456789ABCDEF", max_size=40),
    )
)
def test_de48_round_trip(elements: dict[str, str]) -> None:
    assert parse_de48(de48(**elements)) == elements


def test_mac_field_follows_secondary_bitmap() -> None:
    """host-spec "Security": DE 128 exactly when a field above 64 is present."""
    low = encode_request({"t": "0200", "11": "000001", "41": "TERM0001"}, BASE_KSN[:15] + "00001")
    high = encode_request({"t": "0400", "11": "000002", "90": "0" * 42}, BASE_KSN[:15] + "00002")
    assert "64" in iso8583.decode(low, spec_default)[0]
    decoded_high = iso8583.decode(high, spec_default)[0]
    assert "128" in decoded_high and "64" not in decoded_high
