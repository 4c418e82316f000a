"""Shared helpers for the firmware-bundle tests: a small posterm-shaped source tree."""

from __future__ import annotations

from pathlib import Path

from Crypto.PublicKey import ECC
from Crypto.PublicKey.ECC import EccKey

from terminal.update.signing import load_private_key

DATA = Path(__file__).parent / "data"
DEV_PRIVATE = DATA / "update_signing_dev_private.pem"
CREATED_AT = 1_790_000_000  # 2026-09-21T14:13:20Z


def dev_key() -> EccKey:
    return load_private_key(DEV_PRIVATE)


def fresh_key() -> EccKey:
    return ECC.generate(curve="Ed25519")


def write_pem(key: EccKey, path: Path, *, private: bool) -> Path:
    pem = key.export_key(format="PEM") if private else key.public_key().export_key(format="PEM")
    path.write_text(pem + "\n", encoding="ascii")
    return path


def make_source(root: Path, version: str = "9.8.7") -> Path:
    """A tiny tree shaped like the posterm checkout (fast to bundle)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "setup.cfg").write_text(f"[metadata]\nname = posterm\nversion = {version}\n")
    (root / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n')
    (root / "README.md").write_text("# posterm\n")
    for package in ("emv", "hal", "keys", "terminal", "sim"):
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").write_text(f'"""{package}."""\n')
    (root / "terminal" / "app.py").write_text("def main() -> int:\n    return 0\n" * 40)
    (root / "terminal" / "data").mkdir(exist_ok=True)
    (root / "terminal" / "data" / "aids.toml").write_text('[[aids]]\naid = "A0000000031010"\n')
    (root / "sim" / "card.py").write_text("CARD = 1\n")
    (root / "terminal" / "__pycache__").mkdir(exist_ok=True)
    (root / "terminal" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00junk")
    return root
