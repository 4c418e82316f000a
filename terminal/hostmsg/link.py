"""A framed TCP / TLS link to the acquirer (host-spec "Transport").

Implements the ``hal.ports.HostLink`` protocol: 2-byte big-endian length frames, a
receive deadline, frames over 4096 bytes refused, TLS 1.2+ with the server certificate
pinned by SHA-256 of its DER encoding (pinning replaces CA validation: a handset has no
trustworthy CA store and the acquirer's certificate is provisioned with the config).
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
import struct
import time

from terminal.errors import TerminalError
from terminal.hostmsg.spec import MAX_FRAME


class LinkError(TerminalError):
    """The link failed; every subclass means "no valid response"."""


class ConnectFailed(LinkError):
    """Nothing was sent: the connection (or TLS handshake / pin check) failed."""


class PinMismatch(ConnectFailed):
    """The server certificate is not the pinned one."""


class LinkTimeout(LinkError):
    pass


class LinkClosed(LinkError):
    pass


class FrameTooLong(LinkError):
    pass


class TcpLink:
    def __init__(self, address: str, port: int, *, pin_sha256: bytes | None = None) -> None:
        self.address = address
        self.port = port
        self.pin_sha256 = pin_sha256
        self._sock: socket.socket | None = None

    def __repr__(self) -> str:
        kind = "tls" if self.pin_sha256 else "tcp"
        return f"TcpLink({kind}://{self.address}:{self.port})"

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self, timeout: float) -> None:
        if self._sock is not None:
            return
        try:
            sock = socket.create_connection((self.address, self.port), timeout=timeout)
        except OSError as error:
            raise ConnectFailed(f"cannot connect to {self.address}:{self.port} ({error})") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.pin_sha256 is not None:
            sock = self._wrap(sock, timeout)
        self._sock = sock

    def _wrap(self, sock: socket.socket, timeout: float) -> socket.socket:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the pin below is the check
        try:
            sock.settimeout(timeout)
            tls = context.wrap_socket(sock, server_hostname=self.address)
        except (OSError, ssl.SSLError) as error:
            sock.close()
            raise ConnectFailed(f"TLS handshake failed ({type(error).__name__})") from None
        der = tls.getpeercert(binary_form=True) or b""
        assert self.pin_sha256 is not None
        if not hmac.compare_digest(hashlib.sha256(der).digest(), self.pin_sha256):
            tls.close()
            raise PinMismatch("server certificate does not match host.pin_sha256")
        return tls

    def send(self, frame: bytes) -> None:
        if self._sock is None:
            raise LinkClosed("not connected")
        if len(frame) > MAX_FRAME:
            raise FrameTooLong(f"frame of {len(frame)} bytes exceeds {MAX_FRAME}")
        try:
            self._sock.sendall(struct.pack(">H", len(frame)) + frame)
        except OSError as error:
            self.close()
            raise LinkClosed(f"send failed ({type(error).__name__})") from None

    def receive(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        header = self._read(2, deadline)
        (length,) = struct.unpack(">H", header)
        if length > MAX_FRAME:
            self.close()
            raise FrameTooLong(f"frame of {length} bytes exceeds {MAX_FRAME}")
        return self._read(length, deadline)

    def _read(self, size: int, deadline: float) -> bytes:
        if self._sock is None:
            raise LinkClosed("not connected")
        data = bytearray()
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise LinkTimeout("no response within response_timeout")
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(size - len(data))
            except TimeoutError:
                self.close()
                raise LinkTimeout("no response within response_timeout") from None
            except OSError as error:
                self.close()
                raise LinkClosed(f"receive failed ({type(error).__name__})") from None
            if not chunk:
                self.close()
                raise LinkClosed("connection closed by host (short read)")
            data += chunk
        return bytes(data)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
