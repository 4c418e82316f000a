"""Issuer side of EMV online authentication: ARQC check, ARPC, issuer scripts (pyemv).

The cryptogram version comes from the rules (issuer ``cvn``) or, with ``auto``, from the
Issuer Application Data (9F10): Visa formats 0/1 carry the CVN in byte 3, Visa format 2
in byte 2, M/Chip in byte 2 after the DKI.
"""

from __future__ import annotations

import hmac
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyemv import cvn as pyemv_cvn
from pyemv import tlv as pyemv_tlv

# EMV 4.4 Book 2, 8.1.1 / Book 3 Annex C: data the host needs from DE 55.
ARQC_TAGS = ("9F26", "9F27", "9F10", "9F36", "9F37", "95", "9A", "9C", "9F02", "5F2A", "82")
CID_ARQC = 0x80  # EMV 4.4 Book 3, Table 15: cryptogram information data, bits 8-7 = 10
CID_TC = 0x40

CVN_CLASSES: dict[str, Any] = {
    "visa10": pyemv_cvn.VisaCVN10,
    "visa18": pyemv_cvn.VisaCVN18,
    "visa22": pyemv_cvn.VisaCVN22,
    "mc16": pyemv_cvn.MasterCardCVN16,
    "mc17": pyemv_cvn.MasterCardCVN17,
    "mc20": pyemv_cvn.MasterCardCVN20,
    "mc21": pyemv_cvn.MasterCardCVN21,
}
# pyemv drives two-key TDES through `cryptography`, which warns on every call.
warnings.filterwarnings("ignore", message=".*TripleDES.*", module="pyemv")

_VISA_BY_BYTE = {0x0A: "visa10", 0x12: "visa18", 0x22: "visa22"}
_MC_BY_BYTE = {0x10: "mc16", 0x11: "mc17", 0x14: "mc20", 0x15: "mc21"}


@dataclass(frozen=True, slots=True)
class IssuerKeys:
    """Issuer master keys for one BIN range; repr hides them."""

    mk_ac: bytes
    mk_smi: bytes
    mk_smc: bytes
    cvn: str = "auto"

    def __repr__(self) -> str:
        return f"IssuerKeys(cvn={self.cvn!r}, <keys hidden>)"


@dataclass(frozen=True, slots=True)
class OnlineAuth:
    """Outcome of ARQC verification; ``arqc_ok`` is None when no ARQC was presented."""

    cvn: str | None
    arqc_ok: bool | None
    cryptogram_type: int | None


def parse_icc(hex_data: str) -> dict[str, bytes]:
    """Flat tag -> value map of DE 55 (BER-TLV)."""
    decoded = pyemv_tlv.decode(bytes.fromhex(hex_data), flatten=True)
    return {
        tag.upper(): bytes(value)
        for tag, value in decoded.items()
        if isinstance(value, bytes | bytearray)
    }


def detect_cvn(iad: bytes, pan: str) -> str | None:
    if len(iad) >= 3 and iad[0] in (0x06, 0x07) and iad[2] in (0x0A, 0x12):
        return _VISA_BY_BYTE[iad[2]]  # Visa IAD format 0/1: length, DKI, CVN, CVR
    if len(iad) >= 2 and iad[0] == 0x1F and iad[1] == 0x22:
        return "visa22"  # Visa IAD format 2: format/CVN byte first after length
    if len(iad) >= 2 and iad[1] in _MC_BY_BYTE:
        return _MC_BY_BYTE[iad[1]]  # M/Chip IAD: DKI, CVN, CVR(6), ...
    if pan[:1] == "4" and len(iad) >= 3 and iad[2] in _VISA_BY_BYTE:
        return _VISA_BY_BYTE[iad[2]]
    return None


def issuer_card(keys: IssuerKeys, cvn: str, pan: str, psn: str) -> Any:
    """pyemv's model of this card: ICC master keys derived from the issuer's (option A)."""
    return CVN_CLASSES[cvn](
        iss_mk_ac=keys.mk_ac, iss_mk_smi=keys.mk_smi, iss_mk_smc=keys.mk_smc, pan=pan, psn=psn
    )


def _ac(card: Any, cvn: str, icc: Mapping[str, bytes]) -> bytes:
    common = {
        "tag_9f02": icc["9F02"],
        "tag_9f03": icc.get("9F03", bytes(6)),
        "tag_9f1a": icc.get("9F1A", bytes(2)),
        "tag_95": icc["95"],
        "tag_5f2a": icc["5F2A"],
        "tag_9a": icc["9A"],
        "tag_9c": icc["9C"],
        "tag_9f37": icc["9F37"],
        "tag_82": icc["82"],
        "tag_9f36": icc["9F36"],
    }
    iad = icc["9F10"]
    if cvn == "visa10":
        return bytes(card.generate_ac(cvr=iad[3:7], **common))
    if cvn in ("visa18", "visa22"):
        return bytes(card.generate_ac(tag_9f10=iad, **common))
    if cvn in ("mc17", "mc21"):
        return bytes(card.generate_ac(cvr=iad[2:8], counters=iad[10:18], **common))
    return bytes(card.generate_ac(cvr=iad[2:8], **common))


def verify_arqc(
    keys: IssuerKeys | None,
    pan: str,
    psn: str,
    icc: Mapping[str, bytes],
) -> OnlineAuth:
    """Recompute the card's cryptogram; EMV 4.4 Book 2, 8.1 Application Cryptogram.

    Strictly over DE 55 as sent, as an issuer does: a reader must send the values the
    card's cryptogram covered (for a qVSDC card, the PDOL data of its GPO)."""
    cid = icc.get("9F27")
    ctype = cid[0] & 0xC0 if cid else None
    if keys is None or "9F26" not in icc:
        return OnlineAuth(cvn=None, arqc_ok=None, cryptogram_type=ctype)
    cvn = keys.cvn if keys.cvn != "auto" else detect_cvn(icc.get("9F10", b""), pan)
    if cvn is None or cvn not in CVN_CLASSES:
        return OnlineAuth(cvn=cvn, arqc_ok=False, cryptogram_type=ctype)
    try:
        card = issuer_card(keys, cvn, pan, psn)
        if hmac.compare_digest(_ac(card, cvn, icc), icc["9F26"]):
            return OnlineAuth(cvn=cvn, arqc_ok=True, cryptogram_type=ctype)
    except (KeyError, ValueError, TypeError):
        pass
    return OnlineAuth(cvn=cvn, arqc_ok=False, cryptogram_type=ctype)


# Visa Card Status Update (VIS 1.6, Appendix: ARPC method 2): byte 2 bit 8 = approved.
CSU_APPROVED = bytes.fromhex("00800000")
CSU_DECLINED = bytes.fromhex("00000000")


def issuer_auth_data(
    keys: IssuerKeys, cvn: str, pan: str, psn: str, icc: Mapping[str, bytes], rc: str
) -> bytes:
    """Tag 91 value. Method 1 (EMV 4.4 Book 2, 8.2.1): ARPC(8) || ARC(2), ARC = DE 39 in
    ASCII. Method 2 (Book 2, 8.2.2; Visa CVN 18/22): ARPC(4) || CSU(4)."""
    card = issuer_card(keys, cvn, pan, psn)
    arqc, atc = icc["9F26"], icc["9F36"]
    if cvn in ("visa18", "visa22"):
        csu = CSU_APPROVED if rc == "00" else CSU_DECLINED
        return bytes(card.generate_arpc(tag_9f26=arqc, tag_9f36=atc, csu=csu)) + csu
    arc = rc.encode("ascii")
    if cvn in ("mc20", "mc21"):
        return bytes(card.generate_arpc(tag_9f26=arqc, tag_9f36=atc, arpc_rc=arc)) + arc
    return bytes(card.generate_arpc(tag_9f26=arqc, arpc_rc=arc)) + arc


def tlv(tag: bytes, value: bytes) -> bytes:
    """Primitive BER-TLV with a definite length (EMV 4.4 Book 3, Annex B)."""
    size = len(value)
    length = bytes([size]) if size < 0x80 else bytes([0x81, size])
    return tag + length + value


def __getattr__(name: str) -> Any:
    """script_command / script_template live in sim.host.scripts; kept reachable here
    because tests/emv use them through this module."""
    if name in ("script_command", "script_template"):
        from sim.host import scripts

        return getattr(scripts, name)
    raise AttributeError(f"module 'sim.host.emvauth' has no attribute {name!r}")
