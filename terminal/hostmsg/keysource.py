"""The seam between host messaging and the DUKPT key state (keys.store owns it).

One :class:`KeySession` is one DUKPT transaction key: its KSN goes in DE 48 ``KS``, its
MAC-request variant MACs the request, its MAC-response variant verifies the answer and its
PIN variant encrypts DE 52 (host-spec Security). :class:`KeySource.next_session` advances
the counter durably *before* handing out a key, so a crash never reuses a KSN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from keys import dukpt, store
from keys.errors import KeysError
from terminal.config import Config
from terminal.errors import TerminalError


class KeySession(Protocol):
    @property
    def ksn(self) -> bytes: ...

    def mac_request_key(self) -> bytes: ...

    def mac_response_key(self) -> bytes: ...

    def pin_key(self) -> bytes: ...


class KeySource(Protocol):
    def next_session(self) -> KeySession: ...


@dataclass(frozen=True, slots=True)
class DukptSession:
    """Keys of one TDES DUKPT transaction key (ANSI X9.24-1 variants)."""

    ksn: bytes
    _key: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"DukptSession(ksn={self.ksn.hex().upper()})"

    def mac_request_key(self) -> bytes:
        return dukpt.mac_request_variant(self._key)

    def mac_response_key(self) -> bytes:
        return dukpt.mac_response_variant(self._key)

    def pin_key(self) -> bytes:
        return dukpt.pin_variant(self._key)


class OriginatorKeySource:
    """A :class:`KeySource` over a ``keys.dukpt.DukptOriginator``.

    ``persist`` receives the advanced originator and must store it durably (the key
    store's job) before this returns the session; ``load`` gives the current state.
    """

    def __init__(
        self,
        load: Callable[[], dukpt.DukptOriginator],
        persist: Callable[[dukpt.DukptOriginator], None],
    ) -> None:
        self._load = load
        self._persist = persist

    def next_session(self) -> DukptSession:
        state = self._load()
        key = state.current_key()
        ksn = state.ksn
        self._persist(state.advanced())  # durable before the key is used
        return DukptSession(ksn, key)


class MemoryKeySource:
    """An in-memory originator (tests, benchmarks): loses its counter on exit."""

    def __init__(self, ipek: bytes, initial_ksn: bytes) -> None:
        self._state = dukpt.DukptOriginator.load_initial_key(ipek, initial_ksn)

    def __repr__(self) -> str:
        return f"MemoryKeySource(ksn={self._state.ksn.hex().upper()})"

    def next_session(self) -> DukptSession:
        key = self._state.current_key()
        ksn = self._state.ksn
        self._state.advance()
        return DukptSession(ksn, key)


class KeyStoreUnavailable(TerminalError):
    """No DUKPT key state to use (key store missing or no key injected)."""


def open_key_source(config: Config) -> KeySource:
    """The terminal's DUKPT key source: the ``dukpt`` slot of the key store named by
    ``[keys]`` (store_file, root_secret_file); each session's KSN is persisted before
    its keys are used.

    Raises
    ------
    KeyStoreUnavailable
        No store, or no DUKPT key injected (``posterm keys inject … --slot dukpt``).
    """
    try:
        return store.open_dukpt_source(config)
    except KeysError as error:
        raise KeyStoreUnavailable(str(error)) from None
