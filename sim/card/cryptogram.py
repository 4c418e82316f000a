"""Card-side symmetric cryptography per cryptogram version, computed with pyemv.

Three styles, chosen by a profile's ``cryptogram`` key:

* ``visa-cvn10``: ICC master key (option A) used directly as the AC key,
  Visa padding, CVR in the AC, ARPC method 1 under the master key, Visa
  secure-messaging session keys.
* ``visa-cvn18``: EMV common session key from ATC || 00..00, EMV padding, the
  whole Issuer Application Data in the AC, ARPC method 2 (with a Card Status
  Update) under the session key.
* ``mc-cvn16``: the Mastercard session key from ATC || 0000 || UN, EMV padding,
  the 6-byte CVR in the AC, ARPC method 1 under the master key, common-method
  secure-messaging keys diversified by the ARQC.

The layouts match pyemv.cvn's VisaCVN10, VisaCVN18 and MasterCardCVN16, so a
host simulator can verify with those classes directly.
"""

from __future__ import annotations

import hmac
import warnings
from dataclasses import dataclass

from Crypto.Cipher import DES3
from pyemv import ac as pyemv_ac
from pyemv import kd, sm

from sim.errors import SimError

# EMV 4.4 Book 2, 8.1.1: the recommended minimum AC data, in this order
AC_TERMINAL_TAGS = ("9F02", "9F03", "9F1A", "95", "5F2A", "9A", "9C", "9F37")
CVN_BYTES = {"visa-cvn10": 0x0A, "visa-cvn18": 0x12, "mc-cvn16": 0x10}
MAC_LENGTH = 8

# pyemv drives two-key 3DES through `cryptography`, which warns on every call.
warnings.filterwarnings("ignore", message=".*TripleDES.*", module="pyemv")


class UnknownCryptogramVersion(SimError):
    """A profile asks for a cryptogram version the simulator does not implement."""


@dataclass(frozen=True, slots=True)
class IssuerKeys:
    """Issuer master keys (AC, script integrity, script confidentiality).

    ``repr`` hides the values: they are test keys, but the rule is the rule.
    """

    ac: bytes
    smi: bytes
    smc: bytes

    def __repr__(self) -> str:
        return "IssuerKeys(<hidden>)"


@dataclass(frozen=True, slots=True)
class IccKeys:
    ac: bytes
    smi: bytes
    smc: bytes

    def __repr__(self) -> str:
        return "IccKeys(<hidden>)"


def derive_icc_keys(issuer: IssuerKeys, pan: str, psn: str) -> IccKeys:
    """ICC master keys by EMV option A (Book 2 A1.4.1); same as option B for PANs <= 16."""
    return IccKeys(
        kd.derive_icc_mk_a(issuer.ac, pan, psn),
        kd.derive_icc_mk_a(issuer.smi, pan, psn),
        kd.derive_icc_mk_a(issuer.smc, pan, psn),
    )


def check_version(version: str) -> None:
    if version not in CVN_BYTES:
        raise UnknownCryptogramVersion(f"unknown cryptogram version {version!r}")


def ac_session_key(version: str, keys: IccKeys, atc: bytes, un: bytes) -> bytes:
    if version == "visa-cvn10":
        return keys.ac
    if version == "visa-cvn18":
        return kd.derive_common_sk(keys.ac, atc + b"\x00" * 6)  # EMV 4.4 Book 2, A1.3
    return kd.derive_common_sk(keys.ac, atc + b"\x00\x00" + un)  # Mastercard SKD


def ac_input(version: str, terminal: dict[str, bytes], aip: bytes, atc: bytes, iad: bytes) -> bytes:
    """The data the cryptogram covers (Book 2, 8.1.1) plus the version's card data."""
    data = b"".join(terminal.get(tag, b"") for tag in AC_TERMINAL_TAGS) + aip + atc
    if version == "visa-cvn10":
        return data + iad[3:7]  # CVR, length byte included
    if version == "visa-cvn18":
        return data + iad
    return data + iad[2:8]  # Mastercard CVR, 6 bytes


def application_cryptogram(
    version: str, keys: IccKeys, terminal: dict[str, bytes], aip: bytes, atc: bytes, iad: bytes
) -> bytes:
    """ARQC, TC or AAC (Book 2, 8.1)."""
    check_version(version)
    key = ac_session_key(version, keys, atc, terminal.get("9F37", b"\x00" * 4))
    padding = pyemv_ac.PaddingType.VISA if version == "visa-cvn10" else pyemv_ac.PaddingType.EMV
    return pyemv_ac.generate_ac(key, ac_input(version, terminal, aip, atc, iad), padding, 8)


def issuer_authentication_ok(
    version: str, keys: IccKeys, atc: bytes, un: bytes, arqc: bytes, data: bytes
) -> bool:
    """Check the ARPC in Issuer Authentication Data (tag 91), Book 2 8.2."""
    if version == "visa-cvn18":
        # EMV 4.4 Book 2, 8.2.2 ARPC method 2: ARPC(4) || CSU(4) || prop. data (0-8)
        if not 8 <= len(data) <= 16:
            return False
        key = ac_session_key(version, keys, atc, un)
        prop = data[8:] or None
        expected = pyemv_ac.generate_arpc_2(key, arqc, data[4:8], prop)
        return hmac.compare_digest(expected, data[:4])
    # EMV 4.4 Book 2, 8.2.1 ARPC method 1: ARPC(8) || ARC(2), under the ICC master key
    if len(data) != 10:
        return False
    expected = pyemv_ac.generate_arpc_1(keys.ac, arqc, data[8:10])
    return hmac.compare_digest(expected, data[:8])


def _sm_key(version: str, master: bytes, atc: bytes, arqc: bytes) -> bytes:
    if version == "mc-cvn16":
        return kd.derive_common_sk(master, arqc)  # EMV 4.4 Book 2, A1.3 keyed by the AC
    return kd.derive_visa_sm_sk(master, atc)


def script_mac_ok(
    version: str, keys: IccKeys, header: bytes, data: bytes, mac: bytes, atc: bytes, arqc: bytes
) -> bool:
    """Secure-messaging integrity (Book 2, 9.2): MAC over header || ATC || AC || data."""
    key = _sm_key(version, keys.smi, atc, arqc)
    expected = sm.generate_command_mac(key, header + atc + arqc + data, MAC_LENGTH)
    return len(mac) == MAC_LENGTH and hmac.compare_digest(expected, mac)


def decipher_script_data(
    version: str, keys: IccKeys, data: bytes, atc: bytes, arqc: bytes
) -> bytes:
    """Undo secure-messaging confidentiality (Book 2, 9.3) as pyemv's encrypt_command_data."""
    key = _sm_key(version, keys.smc, atc, arqc)
    if len(data) % 8:
        raise SimError("enciphered script data is not a whole number of blocks")
    if version == "mc-cvn16":
        clear = DES3.new(key, DES3.MODE_CBC, iv=b"\x00" * 8).decrypt(data)
        return clear
    clear = DES3.new(key, DES3.MODE_ECB).decrypt(data)
    return clear[1 : 1 + clear[0]]  # Visa: length byte first, ISO 9797-1 method 2 pad


def new_pin_from_block(
    version: str, keys: IccKeys, block: bytes, current_pin: str | None
) -> str | None:
    """The new PIN from a deciphered PIN CHANGE/UNBLOCK block, or None if malformed."""
    block = block[:8]
    if len(block) != 8:
        return None
    if version == "mc-cvn16":
        digits = block.hex().upper()  # ISO 9564 format 2: 2L PPPP... FF
        if digits[0] != "2":
            return None
        length = int(digits[1], 16)
        pin = digits[2 : 2 + length]
        return pin if pin.isdigit() and 4 <= length <= 12 else None
    clear = bytes(a ^ b for a, b in zip(block, b"\x00" * 4 + keys.ac[4:8], strict=True))
    if current_pin is not None:
        pad = bytes.fromhex(current_pin + "0" * (16 - len(current_pin)))
        clear = bytes(a ^ b for a, b in zip(clear, pad, strict=True))
    length = clear[0]
    pin = clear[1:].hex().upper()[:length]
    return pin if 4 <= length <= 12 and pin.isdigit() else None
