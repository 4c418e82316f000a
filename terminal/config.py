"""The terminal's one TOML configuration file, validated at boot into frozen dataclasses.

Every key of ../shared/rig-contract.md is honoured exactly as written there; the rest are
the project's own (documented in docs/terminal-core.md). Validation fails on the first
broken rule with a :class:`~terminal.errors.ConfigError` naming the key path
(``merchants[1].tid``, 0-based list indices) and the rule, so a lab sees at once what to fix.
Unknown keys are errors too: a misspelt key silently ignored is a terminal configured
otherwise than its operator believes.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from terminal.errors import ConfigError

_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})*$")
_DIGITS = re.compile(r"^[0-9]*$")


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True, slots=True)
class TerminalSettings:
    data_dir: Path
    country_code: str  # 9F1A, 4 digits (ISO 3166 numeric, zero-padded)
    currency_code: str  # 5F2A, 4 digits (ISO 4217 numeric, zero-padded)
    currency_exponent: int  # 5F36
    terminal_type: str  # 9F35, 2 digits
    capabilities: bytes  # 9F33, 3 bytes
    additional_capabilities: bytes  # 9F40, 5 bytes
    merchant_category_code: str  # 9F15, 4 digits
    ifd_serial: str  # 9F1E, 8 characters

    @property
    def currency_numeric(self) -> str:
        """DE 49 form: the 3 ISO 4217 digits."""
        return self.currency_code[-3:]


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    contact_reader: str | None
    contactless_reader: str | None
    keypad: str | None
    printer: str | None
    others: Mapping[str, str] = field(default_factory=dict)  # magstripe, qr_scanner, …

    def url(self, name: str) -> str | None:
        """The URL configured for device ``name`` (None when not fitted)."""
        known = {
            "contact_reader": self.contact_reader,
            "contactless_reader": self.contactless_reader,
            "keypad": self.keypad,
            "printer": self.printer,
        }
        return known[name] if name in known else self.others.get(name)


@dataclass(frozen=True, slots=True)
class HostSettings:
    url: str  # tcp://host:port or tls://host:port
    scheme: str  # "tcp" or "tls"
    address: str
    port: int
    response_timeout: float  # seconds
    connect_timeout: float  # seconds
    pin_sha256: bytes | None  # SHA-256 of the server certificate (DER), TLS only
    nii: str  # DE 24, 3 digits
    retry_initial: float  # SAF back-off: first delay, seconds
    retry_max: float  # SAF back-off: ceiling, seconds


@dataclass(frozen=True, slots=True)
class Merchant:
    name: str
    tid: str  # DE 41, 8 characters
    mid: str  # DE 42, 15 characters
    currency_code: str  # 4 digits; defaults to [terminal].currency_code
    receipt_header: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CaKey:
    rid: bytes  # 5 bytes
    index: int  # 8F, 0..255
    modulus: bytes
    exponent: bytes
    expiry: str | None = None  # YYMMDD or YYYYMMDD, informative
    sha1: bytes | None = None  # check value from the scheme, when given


@dataclass(frozen=True, slots=True)
class RevokedCertificate:
    """An issuer public key certificate on the CA revocation list (EMV Book 2, 5.3 / 6.3)."""

    rid: bytes
    index: int
    serial: bytes  # 3 bytes, the certificate serial number


@dataclass(frozen=True, slots=True)
class AidConfig:
    aid: bytes
    label: str
    scheme: str  # "visa", "mastercard", … — totals are kept per scheme
    app_version: bytes  # 9F09, 2 bytes
    tac_default: bytes
    tac_denial: bytes
    tac_online: bytes
    floor_limit: int  # 9F1B, minor units
    threshold: int  # random transaction selection threshold, minor units
    target_percent: int
    max_target_percent: int
    partial_selection: bool  # ASI: True = partial name match allowed
    default_ddol: bytes
    default_tdol: bytes
    cl_kernel: int | None
    cl_transaction_limit: int | None
    cl_floor_limit: int | None
    cl_cvm_limit: int | None


@dataclass(frozen=True, slots=True)
class KeySettings:
    root_secret_file: Path
    store_file: Path


@dataclass(frozen=True, slots=True)
class TimeoutSettings:
    card_insert: float
    card_removal: float
    pin_entry: float
    amount_entry: float
    operator_idle: float  # automatic log-out


@dataclass(frozen=True, slots=True)
class OperatorPolicy:
    max_failures: int  # consecutive wrong passwords before lock-out
    lockout_seconds: float
    min_password_length: int


@dataclass(frozen=True, slots=True)
class JournalSettings:
    path: Path
    retention_days: int  # settled batches older than this are purged


@dataclass(frozen=True, slots=True)
class Config:
    source: Path | None
    terminal: TerminalSettings
    devices: DeviceSettings
    host: HostSettings
    merchants: tuple[Merchant, ...]
    ca_keys: tuple[CaKey, ...]
    revoked: tuple[RevokedCertificate, ...]
    exception_file: frozenset[bytes]  # SHA-256(PAN + "|" + PSN): no PAN held in memory
    aids: tuple[AidConfig, ...]
    keys: KeySettings
    timeouts: TimeoutSettings
    operators: OperatorPolicy
    journal: JournalSettings

    def merchant(self, name: str | None = None) -> Merchant:
        """The merchant profile called ``name``; the first one when ``name`` is None."""
        if name is None:
            return self.merchants[0]
        for merchant in self.merchants:
            if merchant.name == name:
                return merchant
        raise ConfigError("merchants", f"no merchant profile named {name!r}")

    def aid(self, aid: bytes) -> AidConfig | None:
        for entry in self.aids:
            if entry.aid == aid:
                return entry
        return None

    def ca_key(self, rid: bytes, index: int) -> CaKey | None:
        for key in self.ca_keys:
            if key.rid == rid and key.index == index:
                return key
        return None

    def is_revoked(self, rid: bytes, index: int, serial: bytes) -> bool:
        return RevokedCertificate(rid, index, serial) in self.revoked

    def on_exception_file(self, pan: str, psn: str = "") -> bool:
        """True when the card (PAN, optionally PAN sequence number) is on the exception file."""
        return (
            exception_digest(pan, psn) in self.exception_file
            or exception_digest(pan, "") in self.exception_file
        )


def exception_digest(pan: str, psn: str = "") -> bytes:
    return hashlib.sha256(f"{pan}|{psn}".encode("ascii")).digest()


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path) -> Config:
    """Read and validate the TOML file at ``path``.

    Raises
    ------
    ConfigError
        The file is missing, not TOML, or breaks a rule (the key and rule are named).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(str(path), f"cannot read ({error.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(str(path), f"not valid TOML ({error})") from None
    return parse_config(data, base_dir=path.resolve().parent, source=path)


def parse_config(
    data: Mapping[str, Any], *, base_dir: Path | None = None, source: Path | None = None
) -> Config:
    """Validate an already-parsed TOML document (relative paths resolve against ``base_dir``)."""
    base = base_dir or Path.cwd()
    _only(
        data,
        "",
        {
            "terminal",
            "devices",
            "host",
            "merchants",
            "ca_keys",
            "revocations",
            "exception_file",
            "aids",
            "keys",
            "timeouts",
            "operators",
            "journal",
        },
    )
    terminal = _terminal(_table(data, "terminal", required=True), base)
    devices = _devices(_table(data, "devices"))
    host = _host(_table(data, "host", required=True))
    merchants = _merchants(data.get("merchants"), terminal)
    ca_keys = _ca_keys(data.get("ca_keys"))
    revoked = builtin_revocations() + tuple(
        _revoked(item, f"revocations[{i}]") for i, item in enumerate(_array(data, "revocations"))
    )
    exceptions = frozenset(
        _exception(item, f"exception_file[{i}]")
        for i, item in enumerate(_array(data, "exception_file"))
    )
    aids = _aids(data.get("aids"))
    keys = _keys(_table(data, "keys"), terminal.data_dir, base)
    timeouts = _timeouts(_table(data, "timeouts"))
    operators = _operator_policy(_table(data, "operators"))
    journal = _journal(_table(data, "journal"), terminal.data_dir, base)
    return Config(
        source=source,
        terminal=terminal,
        devices=devices,
        host=host,
        merchants=merchants,
        ca_keys=ca_keys,
        revoked=revoked,
        exception_file=exceptions,
        aids=aids,
        keys=keys,
        timeouts=timeouts,
        operators=operators,
        journal=journal,
    )


# --------------------------------------------------------------------------- sections


def _terminal(t: Mapping[str, Any], base: Path) -> TerminalSettings:
    s = "terminal"
    _only(
        t,
        s,
        {
            "data_dir",
            "country_code",
            "currency_code",
            "currency_exponent",
            "terminal_type",
            "capabilities",
            "additional_capabilities",
            "merchant_category_code",
            "ifd_serial",
        },
    )
    currency_exponent = _int(t, s, "currency_exponent", default=2, low=0, high=3)
    return TerminalSettings(
        data_dir=_path(t, s, "data_dir", base, required=True),
        country_code=_numeric_code(t, s, "country_code", "0826"),
        currency_code=_numeric_code(t, s, "currency_code", "0826"),
        currency_exponent=currency_exponent,
        terminal_type=_digits(t, s, "terminal_type", 2, default="22"),
        capabilities=_hexbytes(t, s, "capabilities", 3, default="E0F8C8"),
        additional_capabilities=_hexbytes(t, s, "additional_capabilities", 5, default="F000F0A001"),
        merchant_category_code=_digits(t, s, "merchant_category_code", 4, default="5999"),
        ifd_serial=_fixed_text(t, s, "ifd_serial", 8, default="POSTERM1"),
    )


_KNOWN_DEVICES = ("contact_reader", "contactless_reader", "keypad", "printer")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://.*$")


def _devices(d: Mapping[str, Any]) -> DeviceSettings:
    urls: dict[str, str] = {}
    for name, value in d.items():
        key = f"devices.{name}"
        if not isinstance(value, str):
            raise ConfigError(key, "must be a string (a device URL)")
        if value != "stdout" and not _URL.match(value):
            raise ConfigError(key, "must be a URL such as pcsc://<reader>, sim://<profile>")
        urls[name] = value
    return DeviceSettings(
        contact_reader=urls.get("contact_reader"),
        contactless_reader=urls.get("contactless_reader"),
        keypad=urls.get("keypad"),
        printer=urls.get("printer"),
        others={k: v for k, v in urls.items() if k not in _KNOWN_DEVICES},
    )


_HOST_URL = re.compile(r"^(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[^:/\s]+):([0-9]{1,5})/?$")


def _host(h: Mapping[str, Any]) -> HostSettings:
    s = "host"
    _only(
        h,
        s,
        {
            "url",
            "response_timeout",
            "connect_timeout",
            "pin_sha256",
            "nii",
            "retry_initial",
            "retry_max",
        },
    )
    url = _str(h, s, "url", required=True)
    match = _HOST_URL.match(url)
    if not match:
        raise ConfigError("host.url", "must be tcp://HOST:PORT or tls://HOST:PORT")
    port = int(match.group(3))
    if not 0 < port < 65536:
        raise ConfigError("host.url", "port must be 1..65535")
    scheme = match.group(1)
    pin: bytes | None = None
    if "pin_sha256" in h:
        pin_text = _str(h, s, "pin_sha256").replace(":", "")
        if len(pin_text) != 64 or not _HEX.match(pin_text):
            raise ConfigError("host.pin_sha256", "must be 64 hex digits (SHA-256)")
        pin = bytes.fromhex(pin_text)
    if scheme == "tls" and pin is None:
        raise ConfigError("host.pin_sha256", "required when host.url is tls://")
    retry_initial = _float(h, s, "retry_initial", default=1.0, low=0.0)
    retry_max = _float(h, s, "retry_max", default=60.0, low=0.0)
    if retry_max < retry_initial:
        raise ConfigError("host.retry_max", "must be >= host.retry_initial")
    return HostSettings(
        url=url,
        scheme=scheme,
        address=match.group(2).strip("[]"),
        port=port,
        response_timeout=_float(h, s, "response_timeout", default=30.0, low=0.001),
        connect_timeout=_float(h, s, "connect_timeout", default=10.0, low=0.001),
        pin_sha256=pin,
        nii=_digits(h, s, "nii", 3, default="001"),
        retry_initial=retry_initial,
        retry_max=retry_max,
    )


def _merchants(value: Any, terminal: TerminalSettings) -> tuple[Merchant, ...]:
    if value is None:
        raise ConfigError("merchants", "at least one [[merchants]] profile is required")
    if not isinstance(value, list) or not value:
        raise ConfigError("merchants", "must be a non-empty array of tables [[merchants]]")
    result: list[Merchant] = []
    names: set[str] = set()
    ids: set[tuple[str, str]] = set()
    for i, item in enumerate(value):
        s = f"merchants[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(s, "must be a table")
        _only(item, s, {"name", "tid", "mid", "currency_code", "receipt_header"})
        name = _str(item, s, "name", required=True)
        if not name.strip():
            raise ConfigError(f"{s}.name", "must not be empty")
        if name in names:
            raise ConfigError(f"{s}.name", f"duplicate merchant name {name!r}")
        names.add(name)
        tid = _fixed_text(item, s, "tid", 8)
        mid = _fixed_text(item, s, "mid", 15)
        if (tid, mid) in ids:
            raise ConfigError(f"{s}.tid", "the same tid + mid is already another profile")
        ids.add((tid, mid))
        header = item.get("receipt_header", [])  # the name is printed anyway
        if isinstance(header, str):
            header = [header]
        if not isinstance(header, list) or not all(isinstance(x, str) for x in header):
            raise ConfigError(f"{s}.receipt_header", "must be a string or a list of strings")
        result.append(
            Merchant(
                name=name,
                tid=tid,
                mid=mid,
                currency_code=_numeric_code(item, s, "currency_code", terminal.currency_code),
                receipt_header=tuple(header),
            )
        )
    return tuple(result)


def builtin_ca_keys() -> tuple[CaKey, ...]:
    """The built-in test CA public keys (terminal/data/ca_keys.toml)."""
    text = resources.files("terminal.data").joinpath("ca_keys.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return tuple(
        _ca_key(item, f"builtin ca_keys[{i}]") for i, item in enumerate(data.get("ca_keys", []))
    )


def builtin_revocations() -> tuple[RevokedCertificate, ...]:
    """The built-in (test) CA revocation list, from terminal/data/ca_keys.toml."""
    text = resources.files("terminal.data").joinpath("ca_keys.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return tuple(
        _revoked(item, f"builtin revocations[{i}]")
        for i, item in enumerate(data.get("revocations", []))
    )


def _ca_keys(value: Any) -> tuple[CaKey, ...]:
    keys = {(k.rid, k.index): k for k in builtin_ca_keys()}
    if value is not None:
        if not isinstance(value, list):
            raise ConfigError("ca_keys", "must be an array of tables [[ca_keys]]")
        for i, item in enumerate(value):
            key = _ca_key(item, f"ca_keys[{i}]")
            keys[(key.rid, key.index)] = key
    return tuple(keys.values())


def _ca_key(item: Any, s: str) -> CaKey:
    if not isinstance(item, dict):
        raise ConfigError(s, "must be a table")
    _only(item, s, {"rid", "index", "modulus", "exponent", "expiry", "sha1"})
    modulus = _hexbytes(item, s, "modulus", None)
    if not 64 <= len(modulus) <= 248:  # EMV Book 2, 5.1: CA modulus up to 1984 bits
        raise ConfigError(f"{s}.modulus", "must be 64..248 bytes")
    exponent = _hexbytes(item, s, "exponent", None)
    if exponent not in (b"\x03", b"\x01\x00\x01"):  # EMV Book 2, 5.1: 3 or 2^16 + 1
        raise ConfigError(f"{s}.exponent", "must be 03 or 010001")
    expiry = item.get("expiry")
    if expiry is not None and not (
        isinstance(expiry, str) and len(expiry) in (6, 8) and expiry.isdigit()
    ):
        raise ConfigError(f"{s}.expiry", "must be digits YYMMDD or YYYYMMDD")
    sha1 = _hexbytes(item, s, "sha1", 20) if "sha1" in item else None
    return CaKey(
        rid=_hexbytes(item, s, "rid", 5),
        index=_index(item, s),
        modulus=modulus,
        exponent=exponent,
        expiry=expiry,
        sha1=sha1,
    )


def _index(item: Mapping[str, Any], s: str) -> int:
    text = _str(item, s, "index", required=True)
    if len(text) != 2 or not _HEX.match(text):
        raise ConfigError(f"{s}.index", "must be 2 hex digits (tag 8F)")
    return int(text, 16)


def _revoked(item: Any, s: str) -> RevokedCertificate:
    if not isinstance(item, dict):
        raise ConfigError(s, "must be a table")
    _only(item, s, {"rid", "index", "serial"})
    return RevokedCertificate(
        rid=_hexbytes(item, s, "rid", 5),
        index=_index(item, s),
        serial=_hexbytes(item, s, "serial", 3),
    )


def _exception(item: Any, s: str) -> bytes:
    if not isinstance(item, dict):
        raise ConfigError(s, "must be a table")
    _only(item, s, {"pan", "psn", "pan_sha256"})
    if "pan_sha256" in item:
        return _hexbytes(item, s, "pan_sha256", 32)
    pan = _str(item, s, "pan", required=True)
    if not (12 <= len(pan) <= 19 and pan.isdigit()):
        raise ConfigError(f"{s}.pan", "must be 12..19 digits")
    psn = _str(item, s, "psn", default="")
    if psn and not (len(psn) == 2 and psn.isdigit()):
        raise ConfigError(f"{s}.psn", "must be 2 digits")
    return exception_digest(pan, psn)


_AID_FIELDS = {
    "aid",
    "label",
    "scheme",
    "app_version",
    "tac_default",
    "tac_denial",
    "tac_online",
    "floor_limit",
    "threshold",
    "target_percent",
    "max_target_percent",
    "partial_selection",
    "default_ddol",
    "default_tdol",
    "cl_kernel",
    "cl_transaction_limit",
    "cl_floor_limit",
    "cl_cvm_limit",
}


def builtin_aids() -> tuple[AidConfig, ...]:
    """The built-in AID table (terminal/data/aids.toml)."""
    text = resources.files("terminal.data").joinpath("aids.toml").read_text("utf-8")
    return tuple(
        _aid(item, f"builtin aids[{i}]", None) for i, item in enumerate(tomllib.loads(text)["aids"])
    )


def _aids(value: Any) -> tuple[AidConfig, ...]:
    table = {a.aid: a for a in builtin_aids()}
    if value is not None:
        if not isinstance(value, list):
            raise ConfigError("aids", "must be an array of tables [[aids]]")
        for i, item in enumerate(value):
            s = f"aids[{i}]"
            if not isinstance(item, dict):
                raise ConfigError(s, "must be a table")
            aid = _hexbytes(item, s, "aid", None)
            entry = _aid(item, s, table.get(aid))
            table[entry.aid] = entry
    return tuple(table.values())


def _aid(item: Mapping[str, Any], s: str, base: AidConfig | None) -> AidConfig:
    """One AID entry; with ``base`` only the keys given override the built-in entry."""
    _only(item, s, _AID_FIELDS)
    aid = _hexbytes(item, s, "aid", None)
    if not 5 <= len(aid) <= 16:  # EMV Book 1, 12.2.1: AID is 5..16 bytes
        raise ConfigError(f"{s}.aid", "must be 5..16 bytes")
    have = base is not None

    def opt_int(key: str, low: int = 0, high: int = 999_999_999_999) -> int | None:
        if key not in item:
            return getattr(base, key) if base is not None else None
        return _int(item, s, key, low=low, high=high)

    tacs = {
        k: _hexbytes(item, s, k, 5, default=None if not have else getattr(base, k).hex())
        for k in ("tac_default", "tac_denial", "tac_online")
    }
    percent_target = _int(
        item, s, "target_percent", default=base.target_percent if base else 0, low=0, high=99
    )
    percent_max = _int(
        item,
        s,
        "max_target_percent",
        default=base.max_target_percent if base else 0,
        low=0,
        high=99,
    )
    if percent_max < percent_target:
        raise ConfigError(f"{s}.max_target_percent", "must be >= target_percent")
    floor = _int(item, s, "floor_limit", default=base.floor_limit if base else 0, low=0)
    threshold = _int(item, s, "threshold", default=base.threshold if base else 0, low=0)
    if floor and threshold > floor:
        raise ConfigError(f"{s}.threshold", "must be <= floor_limit")
    entry = AidConfig(
        aid=aid,
        label=_str(item, s, "label", default=base.label if base else aid.hex().upper()),
        scheme=_str(item, s, "scheme", default=base.scheme if base else "other"),
        app_version=_hexbytes(
            item, s, "app_version", 2, default=base.app_version.hex() if base else "0000"
        ),
        tac_default=tacs["tac_default"],
        tac_denial=tacs["tac_denial"],
        tac_online=tacs["tac_online"],
        floor_limit=floor,
        threshold=threshold,
        target_percent=percent_target,
        max_target_percent=percent_max,
        partial_selection=_bool(
            item, s, "partial_selection", default=base.partial_selection if base else True
        ),
        # EMV Book 3, 5.4: a default DDOL of 9F37 (unpredictable number) is the usual one.
        default_ddol=_hexbytes(
            item, s, "default_ddol", None, default=base.default_ddol.hex() if base else "9F3704"
        ),
        default_tdol=_hexbytes(
            item, s, "default_tdol", None, default=base.default_tdol.hex() if base else ""
        ),
        cl_kernel=opt_int("cl_kernel", 1, 255),
        cl_transaction_limit=opt_int("cl_transaction_limit"),
        cl_floor_limit=opt_int("cl_floor_limit"),
        cl_cvm_limit=opt_int("cl_cvm_limit"),
    )
    return entry


def _keys(k: Mapping[str, Any], data_dir: Path, base: Path) -> KeySettings:
    _only(k, "keys", {"root_secret_file", "store_file"})
    return KeySettings(
        root_secret_file=_path(k, "keys", "root_secret_file", base) or data_dir / "root.secret",
        store_file=_path(k, "keys", "store_file", base) or data_dir / "keys.store",
    )


def _timeouts(t: Mapping[str, Any]) -> TimeoutSettings:
    s = "timeouts"
    _only(t, s, {"card_insert", "card_removal", "pin_entry", "amount_entry", "operator_idle"})
    return TimeoutSettings(
        card_insert=_float(t, s, "card_insert", default=60.0, low=0.001),
        card_removal=_float(t, s, "card_removal", default=30.0, low=0.001),
        pin_entry=_float(t, s, "pin_entry", default=30.0, low=0.001),
        amount_entry=_float(t, s, "amount_entry", default=60.0, low=0.001),
        operator_idle=_float(t, s, "operator_idle", default=300.0, low=0.001),
    )


def _operator_policy(o: Mapping[str, Any]) -> OperatorPolicy:
    s = "operators"
    _only(o, s, {"max_failures", "lockout_seconds", "min_password_length"})
    return OperatorPolicy(
        max_failures=_int(o, s, "max_failures", default=5, low=1, high=100),
        lockout_seconds=_float(o, s, "lockout_seconds", default=900.0, low=0.0),
        min_password_length=_int(o, s, "min_password_length", default=4, low=1, high=128),
    )


def _journal(j: Mapping[str, Any], data_dir: Path, base: Path) -> JournalSettings:
    _only(j, "journal", {"path", "retention_days"})
    return JournalSettings(
        path=_path(j, "journal", "path", base) or data_dir / "journal.db",
        retention_days=_int(j, "journal", "retention_days", default=90, low=1, high=36500),
    )


# --------------------------------------------------------------------------- primitives

_MISSING: Any = object()


def _only(table: Mapping[str, Any], section: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            where = f"{section}.{key}" if section else key
            raise ConfigError(where, "unknown key")


def _table(data: Mapping[str, Any], key: str, required: bool = False) -> Mapping[str, Any]:
    if key not in data:
        if required:
            raise ConfigError(key, f"the [{key}] table is required")
        return {}
    value = data[key]
    if not isinstance(value, dict):
        raise ConfigError(key, "must be a table")
    return value


def _array(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(key, f"must be an array of tables [[{key}]]")
    return value


def _get(t: Mapping[str, Any], s: str, key: str, default: Any, kind: type, what: str) -> Any:
    if key not in t:
        if default is _MISSING:
            raise ConfigError(f"{s}.{key}", "is required")
        return default
    value = t[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{s}.{key}", f"must be {what}")
    return value


def _str(
    t: Mapping[str, Any], s: str, key: str, *, required: bool = False, default: str = ""
) -> str:
    return str(_get(t, s, key, _MISSING if required else default, str, "a string"))


def _bool(t: Mapping[str, Any], s: str, key: str, *, default: bool) -> bool:
    return bool(_get(t, s, key, default, bool, "true or false"))


def _int(
    t: Mapping[str, Any],
    s: str,
    key: str,
    *,
    default: int | None = None,
    low: int = 0,
    high: int = 999_999_999_999,
) -> int:
    value = int(_get(t, s, key, _MISSING if default is None else default, int, "an integer"))
    if not low <= value <= high:
        raise ConfigError(f"{s}.{key}", f"must be between {low} and {high}")
    return value


def _float(t: Mapping[str, Any], s: str, key: str, *, default: float, low: float) -> float:
    value = float(_get(t, s, key, default, float, "a number"))
    if value < low:
        raise ConfigError(f"{s}.{key}", f"must be >= {low:g}")
    return value


def _path(t: Mapping[str, Any], s: str, key: str, base: Path, *, required: bool = False) -> Path:
    text = _get(t, s, key, _MISSING if required else None, str, "a path string")
    if text is None:
        return None  # type: ignore[return-value]
    if not text:
        raise ConfigError(f"{s}.{key}", "must not be empty")
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _digits(t: Mapping[str, Any], s: str, key: str, n: int, *, default: str) -> str:
    value = _str(t, s, key, default=default)
    if len(value) != n or not _DIGITS.match(value):
        raise ConfigError(f"{s}.{key}", f"must be {n} digits")
    return value


def _numeric_code(t: Mapping[str, Any], s: str, key: str, default: str) -> str:
    """ISO 3166 / ISO 4217 numeric code: 3 digits, kept as the 4-digit EMV form."""
    value = _str(t, s, key, default=default)
    if not _DIGITS.match(value) or len(value) not in (3, 4):
        raise ConfigError(f"{s}.{key}", "must be 3 or 4 digits (ISO numeric code)")
    value = value.zfill(4)
    if value[0] != "0":
        raise ConfigError(f"{s}.{key}", "must be 3 or 4 digits (ISO numeric code)")
    return value


def _fixed_text(
    t: Mapping[str, Any], s: str, key: str, n: int, *, default: str | None = None
) -> str:
    value = _str(t, s, key, required=default is None, default=default or "")
    if len(value) != n:
        raise ConfigError(f"{s}.{key}", f"must be {n} characters")
    if not value.isascii() or not value.isprintable():
        raise ConfigError(f"{s}.{key}", "must be printable ASCII")
    return value


def _hexbytes(
    t: Mapping[str, Any], s: str, key: str, n: int | None, *, default: str | None = None
) -> bytes:
    value = _str(t, s, key, required=default is None, default=default or "")
    if not _HEX.match(value):
        raise ConfigError(f"{s}.{key}", "must be hex digits (an even number)")
    raw = bytes.fromhex(value)
    if n is not None and len(raw) != n:
        raise ConfigError(f"{s}.{key}", f"must be {n} bytes ({2 * n} hex digits)")
    return raw


def with_overrides(config: Config, **changes: Any) -> Config:
    """A copy of ``config`` with top-level fields replaced (tests, the flows' what-ifs)."""
    return replace(config, **changes)
