"""Root-secret providers by URL (``file://PATH``, ``file://PATH?create=1``, ``env://NAME``).

The laptop providers live with the key store (keys.store.FileRootSecret /
EnvRootSecret, the RootSecretProvider port); this only picks one by URL so a
handset build can register a hardware-bound provider under another scheme.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keys.store import EnvRootSecret, FileRootSecret


def open_url(kind: str, url: Any, **options: Any) -> FileRootSecret | EnvRootSecret:
    if url.scheme == "env":
        return EnvRootSecret(url.target)
    create = str(options.get("create", url.query.get("create", ""))).lower() in ("1", "true", "yes")
    return FileRootSecret(Path(url.path or url.target), create=create)
