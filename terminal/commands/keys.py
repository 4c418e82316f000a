"""`posterm keys`: inject, list and erase keys in the terminal's secure key store.

``inject BLOCK --kbpk-file F --slot NAME [--ksn KSN]`` unwraps a TR-31 block (MAC
checked) into a slot; with ``--ksn`` (or a TR-31 ``KS`` optional block) and a B1 block
it loads a DUKPT initial key (rig contract: ``--slot dukpt --ksn KSN``). ``list`` prints
one JSON object per slot (usage, KCV, next KSN - never key bytes); ``erase`` is the
tamper response: the store is overwritten and deleted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from keys import tr31
from keys.store import FileRootSecret, KeyStore, SlotInfo
from terminal.errors import ConfigError, UsageError

DEFAULT_STORE_NAME = "keys.store"
DEFAULT_ROOT_SECRET_NAME = "root.secret"  # noqa: S105 - a file name


def keys_paths_from_config(path: str | Path) -> tuple[Path, Path]:
    """(store file, root secret file) from the TOML config at ``path``.

    Reads ``[terminal].data_dir`` (required) and ``[keys].root_secret_file`` /
    ``[keys].store_file`` (default ``<data_dir>/root.secret`` and
    ``<data_dir>/keys.store``); relative paths resolve against the config's directory,
    as terminal.config does. Kept small so terminal.config can replace it.

    Raises
    ------
    ConfigError
        Missing or unreadable file, invalid TOML, or a missing/invalid key (named).
    """
    config_path = Path(path)
    try:
        data = tomllib.loads(config_path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise ConfigError(str(config_path), f"cannot read ({error.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(str(config_path), f"not valid TOML ({error})") from None
    base = config_path.resolve().parent

    def path_value(section: str, key: str, default: Path | None) -> Path:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table")
        value = table.get(key)
        if value is None:
            if default is None:
                raise ConfigError(f"{section}.{key}", "is required")
            return default
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{section}.{key}", "must be a non-empty path string")
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    data_dir = path_value("terminal", "data_dir", None)
    root_secret = path_value("keys", "root_secret_file", data_dir / DEFAULT_ROOT_SECRET_NAME)
    store_file = path_value("keys", "store_file", data_dir / DEFAULT_STORE_NAME)
    return store_file, root_secret


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="inject, list and erase keys")
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)

    inject = actions.add_parser("inject", help="unwrap a TR-31 key block into a slot")
    inject.add_argument("block", metavar="BLOCK", help="TR-31 key block (ASCII)")
    inject.add_argument("--kbpk-file", required=True, help="file holding the KBPK in hex")
    inject.add_argument("--slot", required=True, help="slot name (dukpt for the DUKPT key)")
    inject.add_argument("--ksn", help="initial KSN in hex (20 digits TDES, 24 AES)")
    inject.add_argument("--config", required=True, help="terminal TOML config")
    inject.set_defaults(func=run_inject)

    listing = actions.add_parser("list", help="list slots with usage and KCV")
    listing.add_argument("--config", required=True, help="terminal TOML config")
    listing.set_defaults(func=run_list)

    erase = actions.add_parser("erase", help="zeroize and delete every key (tamper response)")
    erase.add_argument("--config", required=True, help="terminal TOML config")
    erase.set_defaults(func=run_erase)


def _hex_arg(name: str, text: str, lengths: tuple[int, ...]) -> bytes:
    try:
        value = bytes.fromhex(text.strip())
    except ValueError:
        raise UsageError(f"{name} is not hex") from None
    if len(value) not in lengths:
        wanted = " or ".join(str(2 * n) for n in lengths)
        raise UsageError(f"{name} must be {wanted} hex digits, got {2 * len(value)}")
    return value


def _slot_json(info: SlotInfo) -> str:
    return json.dumps(
        {
            "slot": info.name,
            "kind": info.kind,
            "usage": info.usage,
            "algorithm": info.algorithm,
            "mode_of_use": info.mode_of_use,
            "kcv": info.kcv,
            "ksn": info.ksn,
        }
    )


def run_inject(args: argparse.Namespace) -> int:
    store_file, root_file = keys_paths_from_config(args.config)
    try:
        kbpk_text = Path(args.kbpk_file).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise UsageError(f"cannot read KBPK file {args.kbpk_file}") from None
    kbpk = _hex_arg("KBPK", kbpk_text, (16, 24, 32))
    block = args.block.strip()
    header = tr31.Header.parse(block)[0]
    ksn_text = args.ksn or (header.optional("KS") if header.key_usage == "B1" else None)
    store = KeyStore.open_file(store_file, FileRootSecret(root_file, create=True))
    if ksn_text is not None:
        ksn = _hex_arg("KSN", ksn_text, (10, 12))
        info = store.inject_dukpt(args.slot, kbpk, block, ksn)
    elif header.key_usage == "B1":
        raise UsageError("a B1 (DUKPT initial key) block needs --ksn KSN")
    else:
        info = store.inject_tr31(args.slot, kbpk, block)
    print(_slot_json(info))
    return 0


def run_list(args: argparse.Namespace) -> int:
    store_file, root_file = keys_paths_from_config(args.config)
    for info in KeyStore.open_file(store_file, FileRootSecret(root_file)).slots():
        print(_slot_json(info))
    return 0


def run_erase(args: argparse.Namespace) -> int:
    store_file, root_file = keys_paths_from_config(args.config)
    KeyStore.open_file(store_file, FileRootSecret(root_file)).erase_all()
    print(f"key store {store_file} erased", file=sys.stderr)
    return 0
