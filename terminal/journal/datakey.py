"""Where the journal's PAN data key comes from.

The data key is derived (HMAC-SHA256, a one-way step) from the device root secret that
``[keys].root_secret_file`` provides on a laptop and hardware provides on a handset, with
a label that ties it to this one use. So no data key is ever stored, the journal file
alone reveals no PAN, and the key store's own keys are never reused. When keys.store
offers a dedicated data-key slot, :func:`data_key_source` is the one place to switch.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path

from keys.store import FileRootSecret

LABEL = b"posterm journal PAN data key v1"


def derive_data_key(root_secret: bytes) -> bytes:
    return hmac.new(root_secret, LABEL, hashlib.sha256).digest()


def data_key_source(root_secret_file: Path) -> Callable[[], bytes]:
    """A lazy source: the root secret is read only when a PAN is stored or needed."""
    provider = FileRootSecret(root_secret_file)
    return lambda: derive_data_key(provider.root_secret())


def ensure_root_secret(path: Path, random: Callable[[int], bytes] = os.urandom) -> bool:
    """Create the laptop root-secret file (32 random bytes, hex, mode 0600) if absent.
    Returns True when it was created. Concurrent callers: exactly one creates it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(random(32).hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return True
