"""terminal.config: rig-contract keys honoured, every rule named on failure."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from terminal.config import exception_digest, load_config, parse_config
from terminal.errors import ConfigError

RIG_TOML = """
[terminal]
data_dir = "state"
country_code = "0826"
currency_code = "0826"
currency_exponent = 2
terminal_type = "22"
capabilities = "E0F8C8"

[devices]
contact_reader = "pcsc://Virtual PCD 00 00"
contactless_reader = "sim://visa-qvsdc"
keypad = "sim://"
printer = "file:///var/lib/posterm/receipts.txt"

[host]
url = "tcp://127.0.0.1:8583"
response_timeout = 30

[[merchants]]
name = "Main store"
tid = "TERM0001"
mid = "MERCHANT0000001"

[[merchants]]
name = "Cafe"
tid = "TERM0002"
mid = "MERCHANT0000002"

[[ca_keys]]
rid = "A000000003"
index = "99"
modulus = "%s"
exponent = "03"

[keys]
root_secret_file = "/var/lib/posterm/root.secret"

[[aids]]
aid = "A0000000031010"
floor_limit = 2500

[[aids]]
aid = "A0000000999999"
label = "LOCAL DEBIT"
tac_default = "0000000000"
tac_denial = "0000000000"
tac_online = "0000000000"
""" % ("C1" * 128)


def base() -> dict[str, Any]:
    return {
        "terminal": {"data_dir": "/tmp/x"},
        "host": {"url": "tcp://127.0.0.1:8583"},
        "merchants": [{"name": "A", "tid": "TERM0001", "mid": "MERCHANT0000001"}],
    }


def test_rig_contract_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "posterm.toml"
    path.write_text(RIG_TOML)
    config = load_config(path)
    assert config.terminal.data_dir == tmp_path / "state"  # relative to the file
    assert config.terminal.capabilities == bytes.fromhex("E0F8C8")
    assert config.terminal.currency_numeric == "826"
    assert config.devices.contact_reader == "pcsc://Virtual PCD 00 00"
    assert config.host.port == 8583 and config.host.scheme == "tcp"
    assert config.host.response_timeout == 30.0
    assert [m.name for m in config.merchants] == ["Main store", "Cafe"]
    assert config.merchant().name == "Main store"
    assert config.merchant("Cafe").tid == "TERM0002"
    key = config.ca_key(bytes.fromhex("A000000003"), 0x99)
    assert key is not None and key.modulus == b"\xc1" * 128
    assert config.keys.root_secret_file == Path("/var/lib/posterm/root.secret")
    assert config.journal.path == tmp_path / "state" / "journal.db"
    visa = config.aid(bytes.fromhex("A0000000031010"))
    assert visa is not None
    assert visa.floor_limit == 2500  # overridden
    assert visa.tac_online == bytes.fromhex("DC4004F800")  # kept from the built-in entry
    assert config.aid(bytes.fromhex("A0000000999999")) is not None


@pytest.mark.parametrize(
    "aid",
    [
        "A0000000031010",
        "A0000000032010",
        "A0000000041010",
        "A0000000043060",
        "A000000025010801",
        "A0000003330101",
    ],
)
def test_builtin_aid_table_covers_major_schemes(aid: str) -> None:
    entry = parse_config(base()).aid(bytes.fromhex(aid))
    assert entry is not None
    assert len(entry.tac_default) == len(entry.tac_online) == len(entry.tac_denial) == 5
    assert entry.tac_online != b"\x00" * 5
    assert entry.cl_cvm_limit is not None


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.replace("]", "").replace("[", ".").split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("merchants[0].tid", "TERM1", "merchants[0].tid: must be 8 characters"),
        ("merchants[0].mid", "M", "merchants[0].mid: must be 15 characters"),
        ("merchants[0].name", _DELETE, "merchants[0].name: is required"),
        ("terminal.country_code", "GB", "terminal.country_code: must be 3 or 4 digits"),
        ("terminal.currency_code", 826, "terminal.currency_code: must be a string"),
        ("terminal.currency_exponent", 7, "terminal.currency_exponent: must be between 0 and 3"),
        ("terminal.terminal_type", "222", "terminal.terminal_type: must be 2 digits"),
        ("terminal.capabilities", "E0F8", "terminal.capabilities: must be 3 bytes"),
        ("terminal.capabilities", "E0F8CZ", "terminal.capabilities: must be hex digits"),
        ("terminal.data_dir", _DELETE, "terminal.data_dir: is required"),
        ("terminal.colour", "red", "terminal.colour: unknown key"),
        ("host.url", "http://x:1", "host.url: must be tcp://HOST:PORT or tls://HOST:PORT"),
        ("host.url", "tls://127.0.0.1:8583", "host.pin_sha256: required when host.url is tls"),
        ("host.pin_sha256", "ab", "host.pin_sha256: must be 64 hex digits"),
        ("host.response_timeout", 0, "host.response_timeout: must be >= 0.001"),
        ("host.nii", "1", "host.nii: must be 3 digits"),
        ("devices.printer", "lp0", "devices.printer: must be a URL"),
        (
            "ca_keys",
            [{"rid": "A000000003", "index": "9", "modulus": "00" * 64, "exponent": "03"}],
            "ca_keys[0].index: must be 2 hex digits",
        ),
        (
            "ca_keys",
            [{"rid": "A000000003", "index": "99", "modulus": "00" * 64, "exponent": "05"}],
            "ca_keys[0].exponent: must be 03 or 010001",
        ),
        (
            "aids",
            [{"aid": "A0000000031010", "tac_online": "00"}],
            "aids[0].tac_online: must be 5 bytes",
        ),
        (
            "aids",
            [{"aid": "A0000000031010", "floor_limit": -1}],
            "aids[0].floor_limit: must be between 0",
        ),
        ("aids", [{"aid": "A0000000991010"}], "aids[0].tac_default: is required"),
        ("exception_file", [{"pan": "12"}], "exception_file[0].pan: must be 12..19 digits"),
        ("journal.retention_days", 0, "journal.retention_days: must be between 1"),
        ("merchants", [], "merchants: must be a non-empty array"),
    ],
)
def test_errors_name_key_and_rule(path: str, value: Any, message: str) -> None:
    doc = copy.deepcopy(base())
    _set(doc, path, value)
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert message in str(info.value)


def test_second_merchant_error_names_its_index() -> None:
    doc = base()
    doc["merchants"].append({"name": "B", "tid": "T2", "mid": "MERCHANT0000002"})
    with pytest.raises(ConfigError, match=r"merchants\[1\]\.tid: must be 8 characters"):
        parse_config(doc)


def test_duplicate_merchant_names_refused() -> None:
    doc = base()
    doc["merchants"].append(dict(doc["merchants"][0], tid="TERM0002"))
    with pytest.raises(ConfigError, match="duplicate merchant name"):
        parse_config(doc)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[terminal\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_unknown_merchant_name() -> None:
    with pytest.raises(ConfigError, match="no merchant profile named"):
        parse_config(base()).merchant("Nope")


def test_exception_file_holds_no_pan() -> None:
    doc = base()
    doc["exception_file"] = [{"pan": "4761739001010010"}]
    config = parse_config(doc)
    assert config.on_exception_file("4761739001010010", "01")
    assert not config.on_exception_file("4761739001010028")
    assert b"4761739001010010" not in repr(config).encode()
    assert exception_digest("4761739001010010") in config.exception_file


def test_tls_with_pin() -> None:
    doc = base()
    doc["host"] = {"url": "tls://localhost:8443", "pin_sha256": "AB" * 32}
    host = parse_config(doc).host
    assert host.scheme == "tls" and host.address == "localhost" and host.pin_sha256 == b"\xab" * 32


def test_builtin_test_ca_keys_and_revocations() -> None:
    config = parse_config(base())
    visa = config.ca_key(bytes.fromhex("A000000003"), 0xF1)
    assert visa is not None and visa.exponent == b"\x03" and len(visa.modulus) >= 64
    assert config.is_revoked(bytes.fromhex("A000000003"), 0xF1, bytes.fromhex("DEAD01"))
    doc = base()
    doc["revocations"] = [{"rid": "A000000004", "index": "F4", "serial": "000001"}]
    assert parse_config(doc).is_revoked(bytes.fromhex("A000000004"), 0xF4, b"\x00\x00\x01")
    doc["revocations"] = [{"rid": "A000000004", "index": "F4", "serial": "01"}]
    with pytest.raises(ConfigError, match=r"revocations\[0\]\.serial: must be 3 bytes"):
        parse_config(doc)
