"""TR-31 (ANSI X9.143) key blocks: header, wrap, unwrap, and usage-tagged keys.

Versions: A and C (TDES, key variant binding), B (TDES, CMAC key derivation binding)
and D (AES, CMAC key derivation binding). The MAC is checked in constant time before
any key byte is returned. A `TaggedKey` keeps the header with the key and refuses to
be used for anything its usage and mode of use do not allow (a P0 PIN key cannot MAC).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from keys._primitives import (
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    aes_cmac,
    aes_kcv,
    check_length,
    kcv,
    tdes_cbc_decrypt,
    tdes_cbc_encrypt,
    tdes_cmac,
    xor,
)
from keys.errors import KeyUsageError, Tr31Error
from keys.mac import iso9797_mac

RandomBytes = Callable[[int], bytes]

HEADER_LENGTH = 16
VERSIONS = "ABCD"
# TR-31:2018 Table 6 (algorithm), Table 7 (mode of use), Table 9 (exportability).
ALGORITHMS = frozenset("ADEHRT")
MODES_OF_USE = frozenset("BCDEGNSTVX")
EXPORTABILITY = frozenset("ENS")


@dataclass(frozen=True, slots=True)
class Header:
    """A TR-31 key block header (TR-31:2018 A.5). Optional blocks exclude the PB pad."""

    version_id: str = "B"
    key_usage: str = "P0"
    algorithm: str = "T"
    mode_of_use: str = "E"
    key_version: str = "00"
    exportability: str = "N"
    optional_blocks: tuple[tuple[str, str], ...] = ()
    reserved: str = "00"

    def __post_init__(self) -> None:
        checks = (
            (self.version_id in VERSIONS and len(self.version_id) == 1, "version ID", 0),
            (len(self.key_usage) == 2 and self.key_usage.isalnum(), "key usage", 5),
            (self.algorithm in ALGORITHMS and len(self.algorithm) == 1, "algorithm", 7),
            (self.mode_of_use in MODES_OF_USE and len(self.mode_of_use) == 1, "mode of use", 8),
            (len(self.key_version) == 2 and self.key_version.isalnum(), "key version", 9),
            (
                self.exportability in EXPORTABILITY and len(self.exportability) == 1,
                "exportability",
                11,
            ),
            (len(self.reserved) == 2 and self.reserved.isascii(), "reserved field", 14),
        )
        for ok, name, offset in checks:
            if not ok:
                raise Tr31Error(f"TR-31 header {name} at offset {offset} is invalid")
        for block_id, data in self.optional_blocks:
            if len(block_id) != 2 or not block_id.isalnum() or block_id == "PB":
                raise Tr31Error(f"TR-31 optional block ID {block_id!r} is invalid")
            if not (data.isascii() and data.isprintable()):
                raise Tr31Error(f"TR-31 optional block {block_id} holds non-printable data")

    @property
    def block_size(self) -> int:
        return 16 if self.version_id == "D" else 8

    def optional(self, block_id: str) -> str | None:
        """The data of optional block ``block_id`` (e.g. "KS" for the initial KSN)."""
        for found, data in self.optional_blocks:
            if found == block_id:
                return data
        return None

    def dump(self, total_length: int) -> str:
        """Header text with the given total block length and a PB block when needed."""
        blocks = "".join(_optional_block(i, d) for i, d in self.optional_blocks)
        count = len(self.optional_blocks)
        size = HEADER_LENGTH + len(blocks)
        if size % self.block_size:
            pad = -(size + 4) % self.block_size
            blocks += _optional_block("PB", "0" * pad)
            count += 1
        if count > 99 or total_length > 9999:
            raise Tr31Error("TR-31 key block is too large to encode")
        return (
            f"{self.version_id}{total_length:04d}{self.key_usage}{self.algorithm}"
            f"{self.mode_of_use}{self.key_version}{self.exportability}{count:02d}"
            f"{self.reserved}{blocks}"
        )

    def header_length(self) -> int:
        return len(self.dump(0))

    @classmethod
    def parse(cls, text: str) -> tuple[Header, int, int]:
        """(header, declared total length, header length in characters)."""
        if len(text) < HEADER_LENGTH or not text.isascii():
            raise Tr31Error("TR-31 header is shorter than 16 ASCII characters")
        if not text[1:5].isdigit():
            raise Tr31Error("TR-31 header block length at offset 1 is not 4 digits")
        if not text[12:14].isdigit():
            raise Tr31Error("TR-31 header optional block count at offset 12 is not 2 digits")
        declared = int(text[1:5])
        blocks: list[tuple[str, str]] = []
        offset = HEADER_LENGTH
        for _ in range(int(text[12:14])):
            block_id, data, offset = _parse_optional_block(text, offset)
            if block_id != "PB":
                blocks.append((block_id, data))
        header = cls(
            version_id=text[0],
            key_usage=text[5:7],
            algorithm=text[7],
            mode_of_use=text[8],
            key_version=text[9:11],
            exportability=text[11],
            optional_blocks=tuple(blocks),
            reserved=text[14:16],
        )
        if offset % header.block_size:
            raise Tr31Error(f"TR-31 header length {offset} is not a multiple of the block size")
        return header, declared, offset


def _optional_block(block_id: str, data: str) -> str:
    size = len(data) + 4
    if size <= 0xFF:
        return f"{block_id}{size:02X}{data}"
    # TR-31:2018 A.5.6 extended length: "00", length of length, then the length.
    size = len(data) + 4 + 2 + 4
    return f"{block_id}0004{size:04X}{data}"


def _parse_optional_block(text: str, offset: int) -> tuple[str, str, int]:
    try:
        block_id = text[offset : offset + 2]
        length_text = text[offset + 2 : offset + 4]
        if len(block_id) != 2 or len(length_text) != 2:
            raise ValueError
        size = int(length_text, 16)
        header_size = 4
        if size == 0:
            length_of_length = int(text[offset + 4 : offset + 6], 16)
            size = int(text[offset + 6 : offset + 6 + length_of_length], 16)
            header_size = 6 + length_of_length
        if size < header_size or offset + size > len(text):
            raise ValueError
    except ValueError:
        raise Tr31Error(f"TR-31 optional block at offset {offset} is malformed") from None
    return block_id, text[offset + header_size : offset + size], offset + size


# -- key derivation binding (versions B and D), TR-31:2018 A.3 / A.4 ----------------
_KDF_ALGORITHM = {("B", 16): 0x0000, ("B", 24): 0x0001, ("D", 16): 0x0002}
_KDF_ALGORITHM.update({("D", 24): 0x0003, ("D", 32): 0x0004})


def _kdf(version: str, kbpk: bytes, usage: int) -> bytes:
    """CMAC counter-mode KDF (NIST SP 800-108) giving the KBEK (usage 0) or KBAK (1)."""
    algorithm = _KDF_ALGORITHM[(version, len(kbpk))]
    bits = len(kbpk) * 8
    cmac = aes_cmac if version == "D" else tdes_cmac
    out = b""
    counter = 1
    while len(out) < len(kbpk):
        data = (
            bytes([counter])
            + usage.to_bytes(2, "big")
            + b"\x00"
            + algorithm.to_bytes(2, "big")
            + bits.to_bytes(2, "big")
        )
        out += cmac(kbpk, data)
        counter += 1
    return out[: len(kbpk)]


def _check_kbpk(version: str, kbpk: bytes) -> None:
    check_length("KBPK", kbpk, (16, 24, 32) if version == "D" else (16, 24))


def _protect(version: str, kbpk: bytes, header_text: str, payload: bytes) -> tuple[bytes, bytes]:
    """(encrypted payload, MAC) for one version."""
    if version in "AC":
        kbek, kbak = xor(kbpk, b"\x45" * len(kbpk)), xor(kbpk, b"\x4d" * len(kbpk))
        encrypted = tdes_cbc_encrypt(kbek, header_text[:8].encode(), payload)
        mac_input = header_text.encode() + encrypted
        return encrypted, iso9797_mac(kbak, mac_input, algorithm=1, padding=1)[:4]
    kbek, kbak = _kdf(version, kbpk, 0), _kdf(version, kbpk, 1)
    if version == "B":
        mac = tdes_cmac(kbak, header_text.encode() + payload)
        return tdes_cbc_encrypt(kbek, mac, payload), mac
    mac = aes_cmac(kbak, header_text.encode() + payload)
    return aes_cbc_encrypt(kbek, mac, payload), mac


def _recover(version: str, kbpk: bytes, header_text: str, encrypted: bytes, mac: bytes) -> bytes:
    """The payload after the MAC verified (constant-time), else `Tr31Error`."""
    if version in "AC":
        kbek, kbak = xor(kbpk, b"\x45" * len(kbpk)), xor(kbpk, b"\x4d" * len(kbpk))
        mac_input = header_text.encode() + encrypted
        expected = iso9797_mac(kbak, mac_input, algorithm=1, padding=1)[:4]
        if not hmac.compare_digest(expected, mac):
            raise Tr31Error("TR-31 key block MAC does not verify")
        return tdes_cbc_decrypt(kbek, header_text[:8].encode(), encrypted)
    kbek, kbak = _kdf(version, kbpk, 0), _kdf(version, kbpk, 1)
    if version == "B":
        payload = tdes_cbc_decrypt(kbek, mac, encrypted)
        expected = tdes_cmac(kbak, header_text.encode() + payload)
    else:
        payload = aes_cbc_decrypt(kbek, mac, encrypted)
        expected = aes_cmac(kbak, header_text.encode() + payload)
    if not hmac.compare_digest(expected, mac):
        raise Tr31Error("TR-31 key block MAC does not verify")
    return payload


_MAC_LENGTH = {"A": 4, "B": 8, "C": 4, "D": 16}


def wrap(
    kbpk: bytes,
    header: Header | str,
    key: bytes,
    *,
    masked_key_length: int | None = None,
    random_bytes: RandomBytes = os.urandom,
) -> str:
    """Wrap ``key`` under ``kbpk`` into a TR-31 key block.

    ``header`` may be a `Header` or header text (its length field is recomputed).
    ``masked_key_length`` pads as if the key were that long, hiding its real length.
    Padding comes from ``random_bytes`` (default ``os.urandom``).
    """
    if isinstance(header, str):
        header = Header.parse(header)[0]
    version = header.version_id
    _check_kbpk(version, kbpk)
    if not key or len(key) > 4095:
        raise Tr31Error("TR-31 key length must be 1..4095 bytes")
    if len(key) > len(kbpk) and header.algorithm in "TA" and len(key) <= 32:
        raise Tr31Error("TR-31 key must not be stronger than the KBPK")
    block = header.block_size
    hidden = max(masked_key_length or 0, len(key))
    pad_length = hidden - len(key) + (-(2 + hidden) % block)
    payload = (len(key) * 8).to_bytes(2, "big") + key + random_bytes(pad_length)
    header_length = header.header_length()
    total = header_length + 2 * len(payload) + 2 * _MAC_LENGTH[version]
    header_text = header.dump(total)
    encrypted, mac = _protect(version, kbpk, header_text, payload)
    return header_text + encrypted.hex().upper() + mac.hex().upper()


def unwrap(kbpk: bytes, block: str) -> tuple[Header, bytes]:
    """The header and clear key of a TR-31 block, after its MAC verified.

    Raises `Tr31Error` for a malformed block, a wrong length field or a bad MAC.
    """
    header, declared, header_length = Header.parse(block)
    if declared != len(block):
        raise Tr31Error(f"TR-31 length field says {declared}, block has {len(block)}")
    version = header.version_id
    _check_kbpk(version, kbpk)
    body = block[header_length:]
    mac_chars = 2 * _MAC_LENGTH[version]
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise Tr31Error(f"TR-31 key data after offset {header_length} is not hex") from None
    if len(body) % 2 or len(raw) <= _MAC_LENGTH[version]:
        raise Tr31Error("TR-31 key data is missing or has odd length")
    encrypted, mac = raw[: -mac_chars // 2], raw[-mac_chars // 2 :]
    if not encrypted or len(encrypted) % header.block_size:
        raise Tr31Error("TR-31 encrypted key data is not a whole number of blocks")
    payload = _recover(version, kbpk, block[:header_length], encrypted, mac)
    bits = int.from_bytes(payload[:2], "big")
    if bits % 8 or not 0 < bits // 8 <= len(payload) - 2:
        raise Tr31Error("TR-31 key length field is inconsistent with the key data")
    return header, payload[2 : 2 + bits // 8]


# -- usage-tagged keys --------------------------------------------------------------
class Purpose(Enum):
    """What a caller wants to do with a key; checked against the TR-31 header."""

    PIN_ENCRYPTION = "pin_encryption"
    PIN_DECRYPTION = "pin_decryption"
    MAC_GENERATION = "mac_generation"
    MAC_VERIFICATION = "mac_verification"
    DATA_ENCRYPTION = "data_encryption"
    DATA_DECRYPTION = "data_decryption"
    KEY_DERIVATION = "key_derivation"
    KEY_WRAPPING = "key_wrapping"
    KEY_UNWRAPPING = "key_unwrapping"


_MAC_USAGES = frozenset({"M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8"})
# TR-31:2018 Tables 5 and 7: purpose -> (allowed key usages, allowed modes of use).
PURPOSE_RULES: dict[Purpose, tuple[frozenset[str], frozenset[str]]] = {
    Purpose.PIN_ENCRYPTION: (frozenset({"P0"}), frozenset("BEN")),
    Purpose.PIN_DECRYPTION: (frozenset({"P0"}), frozenset("BDN")),
    Purpose.MAC_GENERATION: (_MAC_USAGES, frozenset("CGN")),
    Purpose.MAC_VERIFICATION: (_MAC_USAGES, frozenset("CVN")),
    Purpose.DATA_ENCRYPTION: (frozenset({"D0", "D1", "D2"}), frozenset("BEN")),
    Purpose.DATA_DECRYPTION: (frozenset({"D0", "D1", "D2"}), frozenset("BDN")),
    Purpose.KEY_DERIVATION: (frozenset({"B0", "B1", "B2"}), frozenset("XN")),
    Purpose.KEY_WRAPPING: (frozenset({"K0", "K1"}), frozenset("BEN")),
    Purpose.KEY_UNWRAPPING: (frozenset({"K0", "K1"}), frozenset("BDN")),
}


@dataclass(frozen=True, slots=True)
class TaggedKey:
    """A clear key bound to its TR-31 header. `use` hands out the bytes only for an
    allowed purpose; the repr shows usage and KCV, never the key."""

    header: Header
    material: bytes = field(repr=False)

    def __repr__(self) -> str:
        h = self.header
        return (
            f"TaggedKey(usage={h.key_usage}, algorithm={h.algorithm}, "
            f"mode={h.mode_of_use}, kcv={self.kcv})"
        )

    @property
    def kcv(self) -> str:
        return aes_kcv(self.material) if self.header.algorithm == "A" else kcv(self.material)

    def allows(self, purpose: Purpose) -> bool:
        usages, modes = PURPOSE_RULES[purpose]
        return self.header.key_usage in usages and self.header.mode_of_use in modes

    def use(self, purpose: Purpose) -> bytes:
        """The key bytes for ``purpose``, or `KeyUsageError` naming usage and purpose."""
        if not self.allows(purpose):
            raise KeyUsageError(
                f"key with usage {self.header.key_usage} and mode "
                f"{self.header.mode_of_use} may not be used for {purpose.value}"
            )
        return self.material


def unwrap_tagged(kbpk: bytes, block: str) -> TaggedKey:
    header, key = unwrap(kbpk, block)
    return TaggedKey(header=header, material=key)
