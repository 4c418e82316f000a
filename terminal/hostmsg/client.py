"""The host client: one request, one validated response or "no valid response".

host-spec "Transport" and "Security": the request gets DE 48 ``KS`` and its MAC from the
key session; the answer counts only if it arrives within ``response_timeout``, fits a
frame of ≤ 4096 bytes, decodes, has the paired MTI, echoes the STAN and TID, and carries
a MAC that verifies under the MAC-response variant of the request's KSN. Anything else is
a :class:`NoValidResponse` — a returned value, since the flows decide what follows
(reversal, offline, decline), not an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hal.hostlink import HostLinkError, TcpHostLink
from terminal.hostmsg import de48
from terminal.hostmsg.keysource import KeySession
from terminal.hostmsg.message import Message, MessageError, decode, pack, verify_mac
from terminal.hostmsg.spec import APPROVED_CODES, MAX_FRAME, RESPONSE_MTI, UNMACED_MTIS

log = logging.getLogger(__name__)


class Link(Protocol):
    """What the client needs of a link: ``hal.ports.HostLink`` (hal.hostlink raises
    HostLinkError subclasses; ConnectError means nothing was sent)."""

    def connect(self, timeout: float) -> None: ...
    def send(self, frame: bytes) -> None: ...
    def receive(self, timeout: float) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Response:
    """A valid host response."""

    request: Message  # as sent (with KS), for the journal
    message: Message

    @property
    def code(self) -> str | None:
        return self.message.text(39)

    @property
    def approved(self) -> bool:
        return self.code in APPROVED_CODES


@dataclass(frozen=True, slots=True)
class NoValidResponse:
    """host-spec: timeout, broken link, bad MAC, undecodable, oversize, wrong pairing.

    ``sent`` is False only when the request certainly never left (the connection or the
    TLS pin check failed): then no reversal is owed for it.
    """

    reason: str
    sent: bool = True


Outcome = Response | NoValidResponse


@dataclass(frozen=True, slots=True)
class HostClientSettings:
    address: str
    port: int
    response_timeout: float = 30.0
    connect_timeout: float = 10.0
    pin_sha256: bytes | None = None


class HostClient:
    """Exchanges messages with the acquirer, one connection per exchange.

    ``link_factory`` builds the link (default: ``hal.hostlink.TcpHostLink``, TCP or pinned TLS).
    """

    def __init__(
        self,
        settings: HostClientSettings,
        link_factory: Callable[[], Link] | None = None,
    ) -> None:
        self.settings = settings
        self._factory = link_factory or (
            lambda: TcpHostLink(
                settings.address,
                settings.port,
                tls=settings.pin_sha256 is not None,
                pin_sha256=settings.pin_sha256,
                connect_timeout=settings.connect_timeout,
            )
        )
        self._link: Link | None = None

    @classmethod
    def from_config(cls, host: object) -> HostClient:
        """From ``terminal.config.HostSettings``."""
        return cls(
            HostClientSettings(
                address=host.address,  # type: ignore[attr-defined]
                port=host.port,  # type: ignore[attr-defined]
                response_timeout=host.response_timeout,  # type: ignore[attr-defined]
                connect_timeout=host.connect_timeout,  # type: ignore[attr-defined]
                pin_sha256=host.pin_sha256,  # type: ignore[attr-defined]
            )
        )

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def prepare(self, request: Message, session: KeySession | None) -> tuple[Message, bytes]:
        """The request as it goes out (KS set) and its wire bytes (MAC added)."""
        if request.mti in UNMACED_MTIS:
            return request, pack(request, None)
        if session is None:
            raise ValueError(f"{request.mti} needs a DUKPT key session (KS + MAC)")
        current = request.text(48) or ""
        private = de48.replace(current, de48.KSN, session.ksn.hex().upper())
        request = request.with_fields(de48=private)
        return request, pack(request, session.mac_request_key())

    def exchange(self, request: Message, session: KeySession | None) -> Outcome:
        sent_request, frame = self.prepare(request, session)
        if len(frame) > MAX_FRAME:
            return NoValidResponse(f"not sent: request of {len(frame)} bytes", sent=False)
        try:
            if self._link is None:
                self._link = self._factory()
            link = self._link
            link.connect(self.settings.connect_timeout)
        except HostLinkError as error:  # ConnectError, PinMismatchError: nothing left
            self.close()
            return NoValidResponse(f"not sent: {error}", sent=False)
        try:
            link.send(frame)
            raw = link.receive(self.settings.response_timeout)
        except HostLinkError as error:
            return NoValidResponse(str(error))
        finally:
            # One exchange per connection: a late answer can never meet the next request,
            # and a host that dropped an idle connection never turns into a reversal.
            self.close()
        verdict = validate(sent_request, raw, session)
        if isinstance(verdict, str):
            log.warning("no valid response to %s: %s", request.mti, verdict)
            return NoValidResponse(verdict)
        return Response(sent_request, verdict)


def validate(request: Message, raw: bytes, session: KeySession | None) -> Message | str:
    """The decoded response, or the reason it is no valid response."""
    try:
        message = decode(raw)
    except MessageError:
        return "undecodable response"
    expected = RESPONSE_MTI.get(request.mti)
    if message.mti != expected:
        return f"response MTI {message.mti} does not pair with {request.mti}"
    if message.text(11) != request.text(11):
        return "response STAN does not echo the request"
    if request.get(41) is not None and message.text(41) != request.text(41):
        return "response TID does not echo the request"
    if request.mti not in UNMACED_MTIS:
        assert session is not None
        if not verify_mac(raw, message, session.mac_response_key()):
            return "response MAC does not verify"
    return message
