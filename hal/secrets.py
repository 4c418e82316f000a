"""Laptop providers of the key store's root secret (``file://PATH``, ``env://NAME``).

A handset replaces these with a hardware-bound provider; the store only sees the
RootSecretProvider port. Errors never quote the secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hal.errors import HalError

MIN_SECRET_BYTES = 16


class RootSecretError(HalError):
    """The root secret is missing, unreadable or too short (the value is never shown)."""


def _decode(raw: bytes, where: str) -> bytes:
    text = raw.strip()
    try:
        secret = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        secret = text
    if len(secret) < MIN_SECRET_BYTES:
        raise RootSecretError(f"root secret from {where} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret


class FileRootSecret:
    """Reads the secret (hex or raw bytes) from a file each time it is asked."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def root_secret(self) -> bytes:
        try:
            raw = self.path.read_bytes()
        except OSError as error:
            raise RootSecretError(
                f"cannot read root secret file {self.path}: {error.strerror}"
            ) from None
        return _decode(raw, str(self.path))


class EnvRootSecret:
    """Reads the secret (hex) from an environment variable."""

    def __init__(self, name: str) -> None:
        self.name = name

    def root_secret(self) -> bytes:
        value = os.environ.get(self.name)
        if value is None:
            raise RootSecretError(f"environment variable {self.name} is not set")
        return _decode(value.encode(), f"${self.name}")


def open_url(kind: str, url: Any, **options: Any) -> FileRootSecret | EnvRootSecret:
    if url.scheme == "env":
        return EnvRootSecret(url.target)
    return FileRootSecret(url.path or url.target)
