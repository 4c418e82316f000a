"""``sim://`` host URLs for hal's registry: an in-process sim.host behind a real TCP link.

``sim://?rules=FILE&ledger=FILE&bdk=HEX`` starts (once per URL) a HostSimulator on a
free loopback port and returns hal's own TcpHostLink to it, so the terminal's host code
path is the production one. ``&tls_cert=PEM[&tls_key=PEM]`` serves TLS and the link
pins that certificate.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from sim.host.cli import TEST_BDK
from sim.host.errors import HostError
from sim.host.server import HostSimulator

_HOSTS: dict[str, HostSimulator] = {}
_LOCK = threading.Lock()


def open_device(kind: str, url: str, **options: Any) -> Any:
    """The HostLink for ``sim://?rules=...``; raises HostError for other kinds."""
    if kind != "host":
        raise HostError(f"sim.host provides the host device, not {kind!r}")
    from hal.hostlink import TcpHostLink
    from hal.registry import parse_url

    opts = {**parse_url(url).query, **options}
    if "rules" not in opts:
        raise HostError("sim:// host URL needs rules=FILE")
    key = "|".join(str(opts.get(k, "")) for k in ("rules", "ledger", "bdk", "tls_cert", "tls_key"))
    with _LOCK:
        host = _HOSTS.get(key)
        if host is None:
            host = HostSimulator(
                opts["rules"],
                opts.get("ledger", "host-ledger.db"),
                opts.get("bdk") or TEST_BDK,
                tls_cert=opts.get("tls_cert"),
                tls_key=opts.get("tls_key"),
            )
            host.start()
            _HOSTS[key] = host
    if host.pin_sha256 is not None:
        return TcpHostLink("127.0.0.1", host.port, tls=True, pin_sha256=host.pin_sha256)
    return TcpHostLink("127.0.0.1", host.port)


@atexit.register
def _stop_all() -> None:
    with _LOCK:
        for host in _HOSTS.values():
            host.stop()
        _HOSTS.clear()
