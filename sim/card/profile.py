"""Card profiles: a TOML file -> an immutable, fully personalised card image.

Loading lays the records out from the profile's data (its own layout or a
default one over three SFIs), computes the AFL, and builds the RSA chain
(issuer certificate, ICC / PIN-key certificates or signed static data) over the
exact bytes the terminal will hash. Results are cached per file, so a test suite
pays for each certificate once.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emv.tlv import encode_primitive
from sim.card import certs, cryptogram
from sim.card.cryptogram import IccKeys, IssuerKeys
from sim.card.dol import dol_length
from sim.card.faults import Faults
from sim.card.rsa_keys import RsaKey, ca_key, get_key
from sim.errors import SimError

PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"
REVOKED_SERIAL = bytes.fromhex("DEAD01")  # listed in sim/ca/ca_public_keys.toml [[revocations]]

# EMV 4.4 Book 3, Annex C1: Application Interchange Profile byte 1
AIP_SDA = 0x40
AIP_DDA = 0x20
AIP_CVM = 0x10
AIP_TRM = 0x08
AIP_ISSUER_AUTH = 0x04
AIP_CDA = 0x01

DEFAULT_CDOL1 = "9F02069F03069F1A0295055F2A029A039C019F37049F35019F45029F4C089F3403"
DEFAULT_CDOL2 = {
    "visa-cvn18": "8A0291089505",
    "visa-cvn10": "8A02910A9505",
    "mc-cvn16": "8A02910A9505",
}
DEFAULT_CDOL2_TAIL = "9F3704"
QVSDC_PDOL = "9F66049F02069F03069F1A0295055F2A029A039C019F3704"

# Test issuer master keys per scheme (TEST ONLY). A profile may set its own.
DEFAULT_ISSUER_KEYS = {
    "A000000003": (
        "0123456789ABCDEFFEDCBA9876543210",
        "1123456789ABCDEFFEDCBA9876543211",
        "2123456789ABCDEFFEDCBA9876543212",
    ),
    "A000000004": (
        "9E15204313F7318ACB79B90BD986AD29",
        "4664942FE615FB02E5D57F292AA2B3B6",
        "CE293B8CC12A977379EF256D76109492",
    ),
}

# Where the default layout puts each tag: (sfi, record, oda)
DEFAULT_LAYOUT: tuple[tuple[int, int, bool, tuple[str, ...]], ...] = (
    (1, 1, False, ("57", "5F20", "9F1F")),
    (
        2,
        1,
        True,
        ("5A", "5F24", "5F25", "5F28", "5F34", "9F07", "8E", "9F0D", "9F0E", "9F0F", "9F4A"),
    ),
    (2, 2, True, ("8C", "8D", "9F08", "9F42", "9F44", "9F14", "9F23", "5F30", "9F49")),
    (3, 1, False, ("8F", "9F32", "92", "9F47", "9F48")),
    (3, 2, False, ("90",)),
    (3, 3, False, ("9F46", "93")),
    (3, 4, False, ("9F2D", "9F2E", "9F2F")),
)
CERT_TAGS = {"8F", "90", "92", "9F32", "9F46", "9F47", "9F48", "93", "9F2D", "9F2E", "9F2F"}


class ProfileError(SimError):
    """A card profile is missing, unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class Record:
    sfi: int
    number: int
    body: bytes  # the whole record: '70' L value
    oda: bool


@dataclass(frozen=True, slots=True)
class RiskRules:
    """The card's own risk management (Book 3, 10.8 card action analysis)."""

    always_online: bool = False
    decline_offline: bool = False
    international_online: bool = True
    new_card_online: bool = False
    decline_on_issuer_auth_failure: bool = True
    gpo_domestic_only: bool = False
    decline_above: int | None = None


@dataclass(frozen=True, slots=True)
class Application:
    aid: bytes
    label: str
    preferred_name: str
    priority: int
    confirmation: bool
    pan: str
    psn: str
    cryptogram: str
    oda: str
    kernel: str  # "emv" (contact/M-Chip flow) or "qvsdc" (AC in GPO)
    aip: bytes
    afl: bytes
    pdol: bytes
    cdol1: bytes
    cdol2: bytes
    ddol: bytes
    gpo_format: int
    genac_format: int
    data: dict[str, bytes]
    records: tuple[Record, ...]
    static_data: bytes
    issuer_keys: IssuerKeys
    icc_keys: IccKeys
    icc_key: RsaKey | None
    pin_key: RsaKey | None
    pin: str | None
    pin_try_limit: int
    pin_tries: int
    atc: int
    last_online_atc: int
    lcol: int
    ucol: int
    risk: RiskRules
    blocked: bool
    issuer_country: bytes
    fci_extra: dict[str, bytes]
    log_sfi: int | None

    def __repr__(self) -> str:  # never the PAN, PIN or keys
        return f"Application({self.aid.hex().upper()}, {self.label!r})"

    @property
    def priority_indicator(self) -> int:
        # EMV 4.4 Book 1, Table 13: b8 cardholder confirmation, b4-b1 priority
        return (0x80 if self.confirmation else 0) | (self.priority & 0x0F)


@dataclass(frozen=True, slots=True)
class CardProfile:
    name: str
    description: str
    path: Path
    atr: bytes
    pse: bool
    ppse: bool
    applications: tuple[Application, ...]
    tracks: tuple[str, str]  # track 1 and track 2 (no sentinels) for the magstripe sim
    faults: Faults = field(default_factory=Faults)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:
        return f"CardProfile({self.name!r}, {len(self.applications)} application(s))"

    @property
    def has_chip(self) -> bool:
        return bool(self.applications)

    @property
    def issuer_keys(self) -> IssuerKeys:
        """The first application's issuer master keys (what a host sim verifies with)."""
        if not self.applications:
            raise ProfileError(f"profile {self.name} has no chip application")
        return self.applications[0].issuer_keys


def list_profiles() -> list[str]:
    """Names of the bundled profiles (sim/profiles/*.toml)."""
    return sorted(path.stem for path in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path) -> CardProfile:
    """Load a bundled profile by name, or any profile file by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PROFILE_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise ProfileError(f"no card profile {name_or_path!s}")
    return _load(path.resolve(), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=128)
def _load(path: Path, _mtime: int) -> CardProfile:
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path.name}: {error}") from None
    return build_profile(raw, path)


def build_profile(
    raw: dict[str, Any], path: Path = Path("<memory>"), extra_faults: Faults | None = None
) -> CardProfile:
    """A profile from already-parsed TOML (tests build variants this way)."""
    name = raw.get("name", path.stem)
    faults = Faults.from_dict(raw.get("faults", {})).merged(extra_faults)
    apps = tuple(_application(entry, faults, name) for entry in raw.get("applications", []))
    tracks = _tracks(raw, apps)
    return CardProfile(
        name=name,
        description=raw.get("description", ""),
        path=path,
        atr=bytes.fromhex(raw.get("atr", "3B6800000073C84013009000")),
        pse=raw.get("pse", True),
        ppse=raw.get("ppse", False),
        applications=apps,
        tracks=tracks,
        faults=faults,
        raw=raw,
    )


def with_faults(profile: CardProfile, faults: Faults) -> CardProfile:
    """The same card with more faults; the image is rebuilt only when they touch it."""
    if faults.changes_image:
        return build_profile(profile.raw, profile.path, profile.faults.merged(faults))
    return CardProfile(
        name=profile.name,
        description=profile.description,
        path=profile.path,
        atr=profile.atr,
        pse=profile.pse,
        ppse=profile.ppse,
        applications=profile.applications,
        tracks=profile.tracks,
        faults=profile.faults.merged(faults),
        raw=profile.raw,
    )


def _date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def _yymmdd(day: datetime.date) -> bytes:
    return bytes.fromhex(day.strftime("%y%m%d"))


def _tracks(raw: dict[str, Any], apps: tuple[Application, ...]) -> tuple[str, str]:
    mag = raw.get("magstripe", {})
    if apps and not mag:
        app = apps[0]
        track2 = app.data["57"].hex().upper().rstrip("F").replace("D", "=")
        pan, rest = track2.split("=")
        name = app.data.get("5F20", b"CARDHOLDER/TEST").decode()
        return f"B{pan}^{name}^{rest}", track2
    pan = mag["pan"]
    expiry = _date(mag["expiry"]).strftime("%y%m")
    service = mag.get("service_code", "101")
    disc = mag.get("discretionary", "00000000")
    name = mag.get("cardholder_name", "CARDHOLDER/TEST")
    return f"B{pan}^{name}^{expiry}{service}{disc}", f"{pan}={expiry}{service}{disc}"


def _hexmap(table: dict[str, str]) -> dict[str, bytes]:
    return {tag.upper(): bytes.fromhex(value) for tag, value in table.items()}


def _text(value: str) -> bytes:
    return value.encode("ascii")


def _application(entry: dict[str, Any], faults: Faults, profile: str) -> Application:
    aid = bytes.fromhex(entry["aid"])
    rid = entry["aid"][:10].upper()
    version = entry.get("cryptogram", "visa-cvn10" if rid != "A000000004" else "mc-cvn16")
    cryptogram.check_version(version)
    pan = entry["pan"]
    psn = entry.get("psn", "00")
    oda = entry.get("oda", "none")
    kernel = entry.get("kernel", "emv")
    effective = _date(entry.get("effective", "2020-01-01"))
    expiry = _date(entry.get("expiry", "2030-12-31"))
    service_code = entry.get("service_code", "201")
    keys = entry.get("issuer_keys")
    ac_k, smi_k, smc_k = (
        (keys["ac"], keys["smi"], keys["smc"])
        if keys
        else DEFAULT_ISSUER_KEYS.get(rid, DEFAULT_ISSUER_KEYS["A000000003"])
    )
    issuer_keys = cryptogram.IssuerKeys(
        bytes.fromhex(ac_k), bytes.fromhex(smi_k), bytes.fromhex(smc_k)
    )
    icc_keys = cryptogram.derive_icc_keys(issuer_keys, pan, psn)

    pdol = bytes.fromhex(entry.get("pdol", QVSDC_PDOL if kernel == "qvsdc" else ""))
    cdol1 = bytes.fromhex(entry.get("cdol1", DEFAULT_CDOL1))
    cdol2 = bytes.fromhex(entry.get("cdol2", DEFAULT_CDOL2[version] + DEFAULT_CDOL2_TAIL))
    ddol = bytes.fromhex(entry.get("ddol", "9F3704" if oda in ("dda", "cda") else ""))
    dol_length(pdol), dol_length(cdol1), dol_length(cdol2), dol_length(ddol)  # validate early

    aip_default = {
        "none": 0,
        "sda": AIP_SDA,
        "dda": AIP_DDA,
        "cda": AIP_DDA | AIP_CDA,
        "fdda": AIP_DDA,
    }[oda]
    aip_default |= AIP_CVM | AIP_TRM | AIP_ISSUER_AUTH
    aip = bytes.fromhex(entry["aip"]) if "aip" in entry else bytes([aip_default, 0x00])

    disc = entry.get("track2_discretionary", "00000000")
    track2 = f"{pan}D{expiry.strftime('%y%m')}{service_code}{disc}"
    if len(track2) % 2:
        track2 += "F"
    data: dict[str, bytes] = {
        "57": bytes.fromhex(track2),
        "5F20": _text(entry.get("cardholder_name", "CARDHOLDER/TEST")),
        "5A": bytes.fromhex(pan + ("F" if len(pan) % 2 else "")),
        "5F24": _yymmdd(expiry),
        "5F25": _yymmdd(effective),
        "5F28": bytes.fromhex(entry.get("issuer_country", "0826")),
        "5F34": bytes.fromhex(psn),
        "9F07": bytes.fromhex(entry.get("auc", "FF00")),
        "8E": bytes.fromhex(entry.get("cvm_list", "000000000000000042031E031F00")),
        "9F0D": bytes.fromhex(entry.get("iac_default", "F040008800")),
        "9F0E": bytes.fromhex(entry.get("iac_denial", "0010000000")),
        "9F0F": bytes.fromhex(entry.get("iac_online", "F040009800")),
        "8C": cdol1,
        "8D": cdol2,
        "9F08": bytes.fromhex(entry.get("app_version", "0096" if rid == "A000000003" else "0002")),
        "9F42": bytes.fromhex(entry.get("currency", "0826")),
        "9F44": bytes([entry.get("currency_exponent", 2)]),
        "9F14": bytes([entry.get("lcol", 3)]),
        "9F23": bytes([entry.get("ucol", 5)]),
        "5F30": bytes.fromhex("0" + service_code),
    }
    if ddol:
        data["9F49"] = ddol
    if oda in ("sda", "fdda"):
        data["9F4A"] = bytes.fromhex("82")  # EMV 4.4 Book 3, 10.3: SDA Tag List holds only AIP
    data.update(_hexmap(entry.get("data", {})))
    for tag in faults.missing_tags:
        data.pop(tag.upper(), None)

    icc_key = (
        get_key(entry["icc_key"]) if oda in ("dda", "cda", "fdda") or entry.get("icc_key") else None
    )
    pin_key = get_key(entry["pin_key"]) if entry.get("pin_key") else None
    layout = _layout(entry)
    if oda in ("none",) and not pin_key and not icc_key:
        layout = [spec for spec in layout if not set(spec[3]) <= CERT_TAGS]
    static_data = _static_data(layout, data, aip)
    if oda != "none" or pin_key or icc_key:
        data.update(_certificates(entry, rid, oda, data, static_data, icc_key, pin_key, faults))
    records = tuple(
        _record(sfi, number, oda_flag, tags, data, pad)
        for sfi, number, oda_flag, tags, pad in layout
    )
    records = tuple(record for record in records if record.body[1:] not in (b"\x00",))

    log_sfi = entry.get("log_sfi")
    fci_extra = _hexmap(entry.get("fci", {}))
    if log_sfi:
        fci_extra.setdefault("9F4D", bytes([log_sfi, 10]))
    return Application(
        aid=aid,
        label=entry.get("label", "TEST CARD"),
        preferred_name=entry.get("preferred_name", ""),
        priority=entry.get("priority", 1),
        confirmation=entry.get("confirmation", False),
        pan=pan,
        psn=psn,
        cryptogram=version,
        oda=oda,
        kernel=kernel,
        aip=aip,
        afl=_afl(records),
        pdol=pdol,
        cdol1=cdol1,
        cdol2=cdol2,
        ddol=ddol,
        gpo_format=entry.get("gpo_format", 1),
        genac_format=entry.get("genac_format", 1),
        data=data,
        records=records,
        static_data=static_data,
        issuer_keys=issuer_keys,
        icc_keys=icc_keys,
        icc_key=icc_key,
        pin_key=pin_key,
        pin=entry.get("pin"),
        pin_try_limit=entry.get("pin_try_limit", 3),
        pin_tries=entry.get("pin_tries", entry.get("pin_try_limit", 3)),
        atc=entry.get("atc", 1),
        last_online_atc=entry.get("last_online_atc", entry.get("atc", 1)),
        lcol=entry.get("lcol", 3),
        ucol=entry.get("ucol", 5),
        risk=RiskRules(**entry.get("risk", {})),
        blocked=entry.get("blocked", False),
        issuer_country=data.get("5F28", b"\x08\x26"),
        fci_extra=fci_extra,
        log_sfi=log_sfi,
    )


def _layout(entry: dict[str, Any]) -> list[tuple[int, int, bool, tuple[str, ...], int]]:
    if "records" in entry:
        return [
            (
                r["sfi"],
                r["record"],
                r.get("oda", False),
                tuple(t.upper() for t in r["tags"]),
                r.get("pad", 0),
            )
            for r in entry["records"]
        ]
    return [(sfi, number, oda, tags, 0) for sfi, number, oda, tags in DEFAULT_LAYOUT]


def _record_value(tags: tuple[str, ...], data: dict[str, bytes], pad: int) -> bytes:
    value = b"".join(encode_primitive(int(tag, 16), data[tag]) for tag in tags if tag in data)
    return value + b"\x00" * pad  # EMV 4.4 Book 3, Annex B: '00' padding between objects


def _record(
    sfi: int, number: int, oda: bool, tags: tuple[str, ...], data: dict[str, bytes], pad: int
) -> Record:
    return Record(sfi, number, encode_primitive(0x70, _record_value(tags, data, pad)), oda)


def _static_data(
    layout: list[tuple[int, int, bool, tuple[str, ...], int]], data: dict[str, bytes], aip: bytes
) -> bytes:
    """Static Data to be Authenticated, in AFL order (Book 3, 10.3)."""
    out = bytearray()
    for sfi, _number, oda, tags, pad in sorted(
        layout, key=lambda spec: (spec[0], not spec[2], spec[1])
    ):
        if not oda:
            continue
        if any(tag in CERT_TAGS for tag in tags):
            raise ProfileError("certificate data cannot sit in a record signed for ODA")
        value = _record_value(tags, data, pad)
        # SFI 1-10: the record's value only; SFI 11-30: the whole '70' object
        out += value if sfi <= 10 else encode_primitive(0x70, value)
    if "9F4A" in data:
        out += aip
    return bytes(out)


def _afl(records: tuple[Record, ...]) -> bytes:
    """AFL entries (Book 3, 10.2): per SFI, ODA records first, runs of consecutive numbers."""
    afl = bytearray()
    by_sfi: dict[int, list[Record]] = {}
    for record in records:
        by_sfi.setdefault(record.sfi, []).append(record)
    for sfi in sorted(by_sfi):
        ordered = sorted(by_sfi[sfi], key=lambda r: (not r.oda, r.number))
        run: list[Record] = []
        for record in ordered:
            if run and (record.number != run[-1].number + 1 or (record.oda and not run[-1].oda)):
                afl += _afl_entry(sfi, run)
                run = []
            run.append(record)
        if run:
            afl += _afl_entry(sfi, run)
    return bytes(afl)


def _afl_entry(sfi: int, run: list[Record]) -> bytes:
    return bytes([sfi << 3, run[0].number, run[-1].number, sum(1 for r in run if r.oda)])


def _mmyy(day: datetime.date) -> bytes:
    return bytes.fromhex(day.strftime("%m%y"))


def _certificates(
    entry: dict[str, Any],
    rid: str,
    oda: str,
    data: dict[str, bytes],
    static_data: bytes,
    icc_key: RsaKey | None,
    pin_key: RsaKey | None,
    faults: Faults,
) -> dict[str, bytes]:
    ca = ca_key(rid, entry.get("ca_index", "F1"))
    issuer = get_key(entry.get("issuer_key", "issuer-1152"))
    pan = entry["pan"]
    pan_bytes = bytes.fromhex(pan + ("F" if len(pan) % 2 else ""))
    issuer_id = bytes.fromhex(
        (pan[:8] if entry.get("issuer_id_digits", 6) == 8 else pan[:6]).ljust(8, "F")
    )
    cert_expiry = _date(entry.get("cert_expiry", "2030-12-31"))
    expired = _date("2021-12-31")
    serial = (
        REVOKED_SERIAL
        if "issuer" in faults.revoked_certs
        else hashlib.sha256(pan.encode()).digest()[:3]
    )
    out: dict[str, bytes] = {"8F": bytes.fromhex(entry.get("ca_index", "F1"))}
    issuer_cert = certs.issuer_certificate(
        ca,
        issuer,
        issuer_identifier=issuer_id,
        expiry_mmyy=_mmyy(expired if "issuer" in faults.expired_certs else cert_expiry),
        serial=serial,
        corrupt="issuer_cert" in faults.bad_signatures,
    )
    out["90"] = issuer_cert.signed
    out["9F32"] = issuer_cert.exponent
    if issuer_cert.remainder:
        out["92"] = issuer_cert.remainder
    if oda == "sda":
        out["93"] = certs.signed_static_data(
            issuer,
            dac=bytes.fromhex(entry.get("dac", "DAC1")),
            static_data=static_data,
            corrupt="ssad" in faults.bad_signatures,
        )
    icc_expiry = _mmyy(expired if "icc" in faults.expired_certs else cert_expiry)
    if icc_key is not None:
        icc_cert = certs.icc_certificate(
            issuer,
            icc_key,
            pan=pan_bytes,
            expiry_mmyy=icc_expiry,
            serial=hashlib.sha256(b"icc" + pan.encode()).digest()[:3],
            static_data=static_data,
            corrupt="icc_cert" in faults.bad_signatures,
        )
        out["9F46"] = icc_cert.signed
        out["9F47"] = icc_cert.exponent
        if icc_cert.remainder:
            out["9F48"] = icc_cert.remainder
    if pin_key is not None:
        pin_cert = certs.icc_certificate(
            issuer,
            pin_key,
            pan=pan_bytes,
            expiry_mmyy=icc_expiry,
            serial=hashlib.sha256(b"pin" + pan.encode()).digest()[:3],
            static_data=None,
        )
        out["9F2D"] = pin_cert.signed
        out["9F2E"] = pin_cert.exponent
        if pin_cert.remainder:
            out["9F2F"] = pin_cert.remainder
    return out
