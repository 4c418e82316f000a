"""The secure key store: keys at rest sealed under a device key the store file never holds.

Layout of the store file (JSON, no secret in clear): a random salt and one entry per
slot with its public metadata (kind, TR-31 header, KCV, KSN) and the sealed secret
(AES-256-GCM, the metadata as associated data so entries cannot be swapped or edited).
The device key is HKDF-SHA256 of a root secret supplied by a `RootSecretProvider`
(a file or an environment value on a laptop; a hardware-bound provider on handsets,
implemented in hal/). Writes are atomic (temp file, fsync, rename, directory fsync) and
serialised across processes with a lock file. DUKPT state is advanced and persisted
BEFORE its key is handed out, so a crash can skip a counter but never reuse one.

Python cannot promise that key bytes leave no copies in RAM; `erase_all` overwrites
the file on disk before unlinking it, which is what a tamper response can guarantee.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF

from keys import aes_dukpt, dukpt, tr31
from keys._primitives import aes_kcv, kcv
from keys.errors import KeyStoreError

RandomBytes = Callable[[int], bytes]

STORE_FILENAME = "keys.store"  # terminal.config [keys].store_file default
FORMAT = "posterm-keystore"
VERSION = 1
ROOT_SECRET_MIN = 16
ENV_ROOT_SECRET = "POSTERM_ROOT_SECRET"  # noqa: S105 - a variable name, not a secret
_HKDF_CONTEXT = b"posterm key store v1 device key"


def default_store_path(data_dir: str | os.PathLike[str]) -> Path:
    """Where a terminal with this data directory keeps its key store."""
    return Path(data_dir) / STORE_FILENAME


# -- root secret providers ----------------------------------------------------------
class RootSecretProvider(Protocol):
    """Supplies the secret the device key is derived from; never stored in the store."""

    def root_secret(self) -> bytes: ...


def _decode_secret(raw: bytes, where: str) -> bytes:
    text = raw.strip()
    try:
        secret = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        secret = raw
    if len(secret) < ROOT_SECRET_MIN:
        raise KeyStoreError(f"root secret from {where} is shorter than {ROOT_SECRET_MIN} bytes")
    return secret


@dataclass(frozen=True, slots=True)
class FileRootSecret:
    """Root secret in a file (hex text or raw bytes). With ``create`` a missing file is
    made with 32 random bytes as hex, mode 0600, created exclusively."""

    path: Path
    create: bool = False
    random_bytes: RandomBytes = field(default=os.urandom, repr=False)

    def root_secret(self) -> bytes:
        path = Path(self.path)
        if not path.exists():
            if not self.create:
                raise KeyStoreError(f"root secret file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(self.random_bytes(32).hex().encode() + b"\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                _fsync_dir(path.parent)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise KeyStoreError(
                f"root secret file {path} is unreadable ({error.strerror})"
            ) from None
        return _decode_secret(raw, f"file {path}")


@dataclass(frozen=True, slots=True)
class EnvRootSecret:
    """Root secret as hex in an environment variable (laptops, CI)."""

    name: str = ENV_ROOT_SECRET
    environ: Mapping[str, str] | None = field(default=None, repr=False)  # None: os.environ

    def root_secret(self) -> bytes:
        value = (os.environ if self.environ is None else self.environ).get(self.name)
        if not value:
            raise KeyStoreError(f"environment variable {self.name} is not set")
        return _decode_secret(value.encode(), f"environment variable {self.name}")


# -- storage backends ---------------------------------------------------------------
class StoreBackend(Protocol):
    """Where the store document lives. ``save`` must be atomic; ``locked`` serialises
    read-modify-write cycles; ``destroy`` overwrites then deletes."""

    def load(self) -> bytes | None: ...

    def save(self, data: bytes) -> None: ...

    def destroy(self) -> None: ...

    def locked(self) -> contextlib.AbstractContextManager[None]: ...


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class FileBackend:
    """One JSON file, replaced atomically; a sibling ``.lock`` file for flock."""

    path: Path

    def load(self) -> bytes | None:
        try:
            return Path(self.path).read_bytes()
        except FileNotFoundError:
            return None

    def save(self, data: bytes) -> None:
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_dir(path.parent)

    def destroy(self) -> None:
        path = Path(self.path)
        victims = [path, *path.parent.glob(f".{path.name}.*.tmp")] if path.parent.exists() else []
        for victim in victims:
            with contextlib.suppress(FileNotFoundError):
                size = victim.stat().st_size
                with open(victim, "r+b") as handle:  # overwrite in place, then unlink
                    handle.write(b"\x00" * size)
                    handle.flush()
                    os.fsync(handle.fileno())
                victim.unlink()
        if path.parent.exists():
            _fsync_dir(path.parent)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


@dataclass(slots=True)
class MemoryBackend:
    """In-memory backend for tests and simulators."""

    data: bytes | None = None

    def load(self) -> bytes | None:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = data

    def destroy(self) -> None:
        self.data = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        yield


# -- the store ------------------------------------------------------------------------
KIND_KEY = "key"
KIND_DUKPT = "dukpt"
KIND_AES_DUKPT = "aes_dukpt"


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """What a listing shows: never key bytes. ``ksn`` is the next KSN for DUKPT slots."""

    name: str
    kind: str
    usage: str
    algorithm: str
    mode_of_use: str
    kcv: str
    ksn: str | None = None


@dataclass(frozen=True, slots=True)
class DukptKeys:
    """The keys of one TDES DUKPT transaction; repr shows the KSN only.

    Satisfies terminal.hostmsg.keysource.KeySession (``ksn``, ``pin_key()``,
    ``mac_request_key()``, ``mac_response_key()``).
    """

    ksn: bytes
    transaction_key: bytes = field(repr=False)

    def pin_key(self) -> bytes:
        return dukpt.pin_variant(self.transaction_key)

    def mac_request_key(self) -> bytes:
        return dukpt.mac_request_variant(self.transaction_key)

    def mac_response_key(self) -> bytes:
        return dukpt.mac_response_variant(self.transaction_key)

    def data_request_key(self) -> bytes:
        return dukpt.data_encryption_key(dukpt.data_request_variant(self.transaction_key))

    def data_response_key(self) -> bytes:
        return dukpt.data_encryption_key(dukpt.data_response_variant(self.transaction_key))


def _slots(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    slots = doc["slots"]
    if not isinstance(slots, dict):
        raise KeyStoreError("key store file has no slot table")
    return slots


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class KeyStore:
    """Slots of sealed keys. Every mutation is one locked, atomic read-modify-write."""

    def __init__(
        self,
        backend: StoreBackend,
        root: RootSecretProvider,
        *,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        self._backend = backend
        self._root = root
        self._random = random_bytes

    def __repr__(self) -> str:
        return f"KeyStore(backend={type(self._backend).__name__})"

    @classmethod
    def open_file(
        cls, path: str | os.PathLike[str], root: RootSecretProvider, **kwargs: RandomBytes
    ) -> KeyStore:
        return cls(FileBackend(Path(path)), root, **kwargs)

    # -- document handling --------------------------------------------------------
    def _load(self) -> dict[str, object]:
        raw = self._backend.load()
        if raw is None:
            return {"format": FORMAT, "version": VERSION, "salt": None, "slots": {}}
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise KeyStoreError("key store file is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeyStoreError("key store file has an unknown format")
        if doc.get("version") != VERSION or not isinstance(doc.get("slots"), dict):
            raise KeyStoreError("key store file has an unsupported version")
        return doc

    def _save(self, doc: dict[str, object]) -> None:
        self._backend.save(json.dumps(doc, sort_keys=True, indent=1).encode())

    def _device_key(self, doc: dict[str, object]) -> bytes:
        if doc["salt"] is None:
            doc["salt"] = self._random(16).hex()
        salt = bytes.fromhex(str(doc["salt"]))
        key = HKDF(self._root.root_secret(), 32, salt, SHA256, context=_HKDF_CONTEXT)
        return bytes(key)

    @staticmethod
    def _aad(name: str, meta: Mapping[str, object]) -> bytes:
        public = {k: v for k, v in meta.items() if k not in ("nonce", "sealed")}
        return json.dumps([name, public], sort_keys=True).encode()

    def _seal(
        self, doc: dict[str, object], name: str, meta: dict[str, object], secret: bytes
    ) -> None:
        nonce = self._random(12)
        cipher = AES.new(self._device_key(doc), AES.MODE_GCM, nonce=nonce)
        cipher.update(self._aad(name, meta))
        sealed, tag = cipher.encrypt_and_digest(secret)
        meta["nonce"] = _b64(nonce)
        meta["sealed"] = _b64(sealed + tag)
        _slots(doc)[name] = meta

    def _open(self, doc: dict[str, object], name: str) -> tuple[dict[str, object], bytes]:
        meta = _slots(doc).get(name)
        if not isinstance(meta, dict):
            raise KeyStoreError(f"key store has no slot {name!r}")
        try:
            nonce, blob = _unb64(str(meta["nonce"])), _unb64(str(meta["sealed"]))
            cipher = AES.new(self._device_key(doc), AES.MODE_GCM, nonce=nonce)
            cipher.update(self._aad(name, meta))
            secret = cipher.decrypt_and_verify(blob[:-16], blob[-16:])
        except (KeyError, ValueError):
            raise KeyStoreError(
                f"slot {name!r} cannot be opened: wrong root secret or tampered store"
            ) from None
        return meta, bytes(secret)

    # -- public API ----------------------------------------------------------------
    def slots(self) -> list[SlotInfo]:
        """Every slot with usage and KCV (no secret is opened)."""
        doc = self._load()
        slots = _slots(doc)
        out = []
        for name in sorted(slots):
            meta = slots[name]
            header = tr31.Header.parse(str(meta["header"]))[0]
            out.append(
                SlotInfo(
                    name=name,
                    kind=str(meta["kind"]),
                    usage=header.key_usage,
                    algorithm=header.algorithm,
                    mode_of_use=header.mode_of_use,
                    kcv=str(meta["kcv"]),
                    ksn=str(meta["ksn"]) if meta.get("ksn") else None,
                )
            )
        return out

    def put_key(self, name: str, key: tr31.TaggedKey) -> SlotInfo:
        """Store a usage-tagged key in slot ``name`` (replacing any previous one)."""
        meta: dict[str, object] = {
            "kind": KIND_KEY,
            "header": key.header.dump(0),
            "kcv": key.kcv,
        }
        with self._backend.locked():
            doc = self._load()
            self._seal(doc, name, meta, key.material)
            self._save(doc)
        return self._info(name)

    def inject_tr31(self, name: str, kbpk: bytes, block: str) -> SlotInfo:
        """Unwrap a TR-31 block (MAC checked) and store its key, tagged, in ``name``."""
        return self.put_key(name, tr31.unwrap_tagged(kbpk, block))

    def inject_dukpt(self, name: str, kbpk: bytes, block: str, ksn: bytes) -> SlotInfo:
        """Load a DUKPT initial key from a TR-31 B1 block (rig contract) into ``name``.

        A 16-byte TDES key with a 10-byte KSN makes a TDES DUKPT slot (X9.24-1); an AES
        key with a 12-byte KSN makes an AES DUKPT slot (X9.24-3). The IPEK itself is
        not kept: only the future-key registers derived from it. A TDES KSN whose
        counter is not zero starts the device at that counter (its first key is that KSN).
        """
        tagged = tr31.unwrap_tagged(kbpk, block)
        if tagged.header.key_usage != "B1":
            raise KeyStoreError(
                "DUKPT injection needs a B1 (initial DUKPT key) block, "
                f"got {tagged.header.key_usage}"
            )
        initial_key = tagged.use(tr31.Purpose.KEY_DERIVATION)
        state_blob: bytes
        if tagged.header.algorithm == "T":
            if dukpt.ksn_counter(ksn) == 0:
                state = dukpt.DukptOriginator.load_initial_key(initial_key, ksn)
            else:  # a rig may hand over a KSN mid-way: start exactly there
                state = dukpt.DukptOriginator.at_counter(initial_key, ksn)
            kind, key_kcv, state_blob, next_ksn = (
                KIND_DUKPT,
                kcv(initial_key),
                state.to_bytes(),
                state.ksn,
            )
        elif tagged.header.algorithm == "A":
            if len(ksn) != aes_dukpt.KSN_LENGTH or ksn[8:] != bytes(4):
                raise KeyStoreError("AES DUKPT injection needs a 12-byte KSN with zero counter")
            aes_state = aes_dukpt.AesDukptOriginator.load_initial_key(initial_key, ksn[:8])
            kind, key_kcv = KIND_AES_DUKPT, aes_kcv(initial_key)
            state_blob, next_ksn = aes_state.to_bytes(), aes_state.ksn
        else:
            raise KeyStoreError(
                f"DUKPT initial key algorithm {tagged.header.algorithm} is unsupported"
            )
        meta: dict[str, object] = {
            "kind": kind,
            "header": tagged.header.dump(0),
            "kcv": key_kcv,
            "ksn": next_ksn.hex().upper(),
        }
        with self._backend.locked():
            doc = self._load()
            self._seal(doc, name, meta, state_blob)
            self._save(doc)
        return self._info(name)

    def _info(self, name: str) -> SlotInfo:
        for info in self.slots():
            if info.name == name:
                return info
        raise KeyStoreError(f"key store has no slot {name!r}")

    def verify(self, name: str) -> SlotInfo:
        """Check slot ``name`` opens with this root secret (nothing is returned but its
        listing); raises `KeyStoreError` for a missing slot, wrong secret or tampering."""
        self._open(self._load(), name)
        return self._info(name)

    def get_key(self, name: str) -> tr31.TaggedKey:
        """The usage-tagged key in a ``key`` slot (use it via `TaggedKey.use`)."""
        doc = self._load()
        meta, secret = self._open(doc, name)
        if meta["kind"] != KIND_KEY:
            raise KeyStoreError(f"slot {name!r} is a {meta['kind']} slot, not a plain key")
        return tr31.TaggedKey(tr31.Header.parse(str(meta["header"]))[0], secret)

    def next_dukpt_key(self, name: str) -> tuple[bytes, bytes]:
        """(KSN, base transaction key) for the next TDES DUKPT transaction.

        The advanced state is written (atomically, fsynced) before this returns, so the
        key handed out can never be handed out again, even after a crash. For AES DUKPT
        slots the key is the intermediate derivation key (see `next_aes_working_keys`).
        """
        with self._backend.locked():
            doc = self._load()
            meta, blob = self._open(doc, name)
            if meta["kind"] == KIND_DUKPT:
                state = dukpt.DukptOriginator.from_bytes(blob)
                ksn, key = state.ksn, state.current_key()
                state.advance()
                blob, next_ksn = state.to_bytes(), state.ksn
            elif meta["kind"] == KIND_AES_DUKPT:
                aes_state = aes_dukpt.AesDukptOriginator.from_bytes(blob)
                ksn, key = aes_state.ksn, aes_state.current_key()
                aes_state.advance()
                blob, next_ksn = aes_state.to_bytes(), aes_state.ksn
            else:
                raise KeyStoreError(f"slot {name!r} is not a DUKPT slot")
            meta = {k: v for k, v in meta.items() if k not in ("nonce", "sealed")}
            meta["ksn"] = next_ksn.hex().upper()
            self._seal(doc, name, meta, blob)
            self._save(doc)  # durable BEFORE the key leaves this function
        return ksn, key

    def next_dukpt_keys(self, name: str) -> DukptKeys:
        """The next TDES DUKPT transaction's KSN and its PIN / MAC / data keys."""
        ksn, key = self.next_dukpt_key(name)
        if len(ksn) != dukpt.KSN_LENGTH:
            raise KeyStoreError(f"slot {name!r} is an AES DUKPT slot; use next_aes_working_keys")
        return DukptKeys(ksn=ksn, transaction_key=key)

    def next_aes_working_keys(
        self, name: str, usages: tuple[str, ...], key_type: str = "AES128"
    ) -> tuple[bytes, dict[str, bytes]]:
        """(KSN, {usage: working key}) for the next AES DUKPT transaction."""
        ksn, derivation_key = self.next_dukpt_key(name)
        if len(ksn) != aes_dukpt.KSN_LENGTH:
            raise KeyStoreError(f"slot {name!r} is a TDES DUKPT slot; use next_dukpt_keys")
        return ksn, {
            usage: aes_dukpt.working_key_from_derivation_key(derivation_key, ksn, usage, key_type)
            for usage in usages
        }

    def delete(self, name: str) -> None:
        with self._backend.locked():
            doc = self._load()
            if _slots(doc).pop(name, None) is None:
                raise KeyStoreError(f"key store has no slot {name!r}")
            self._save(doc)

    def erase_all(self) -> None:
        """Tamper response: overwrite the store on disk, then delete it."""
        with self._backend.locked():
            self._backend.destroy()


class StoreKeySource:
    """A DUKPT key source over one store slot: each `next_session` is a new KSN,
    persisted before its keys are returned (terminal.hostmsg.keysource.KeySource)."""

    def __init__(self, store: KeyStore, slot: str = "dukpt") -> None:
        self._store = store
        self._slot = slot

    def __repr__(self) -> str:
        return f"StoreKeySource(slot={self._slot!r})"

    def next_session(self) -> DukptKeys:
        return self._store.next_dukpt_keys(self._slot)


class _KeyPaths(Protocol):
    @property
    def root_secret_file(self) -> Path: ...

    @property
    def store_file(self) -> Path: ...


class _HasKeyPaths(Protocol):
    @property
    def keys(self) -> _KeyPaths: ...


def open_dukpt_source(config: _HasKeyPaths, slot: str = "dukpt") -> StoreKeySource:
    """The terminal's DUKPT source from ``config.keys`` (store_file, root_secret_file).

    Raises `KeyStoreError` when the store or its DUKPT slot is missing, naming what to
    run (``posterm keys inject ... --slot dukpt --ksn KSN``).
    """
    store = KeyStore.open_file(config.keys.store_file, FileRootSecret(config.keys.root_secret_file))
    kinds = {info.name: info.kind for info in store.slots()}
    if kinds.get(slot) == KIND_DUKPT:
        store.verify(slot)  # fail now, not mid-transaction, on a wrong root secret
    else:
        raise KeyStoreError(
            f"key store {config.keys.store_file} has no TDES DUKPT slot {slot!r}; "
            f"inject one with: posterm keys inject BLOCK --slot {slot} --ksn KSN"
        )
    return StoreKeySource(store, slot)


__all__ = [
    "DukptKeys",
    "EnvRootSecret",
    "FileBackend",
    "FileRootSecret",
    "KeyStore",
    "MemoryBackend",
    "RootSecretProvider",
    "SlotInfo",
    "StoreBackend",
    "StoreKeySource",
    "default_store_path",
    "open_dukpt_source",
]
