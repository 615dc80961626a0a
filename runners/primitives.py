"""What the runner checks are made of: their error, and addresses (parsing them, telling loopback
ones, checking that something listens). Imported by the dispatcher (runners.checks) and by the
Flink and Dataflow checks alike."""
from __future__ import annotations

import ipaddress
import socket
from typing import Optional, Tuple
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 3.0
# Flink's and Spark's "start a cluster inside the job server" addresses.
EMBEDDED_CLUSTERS = frozenset({"[local]", "[auto]"})


class RunnerConfigError(ValueError):
    """The options cannot work with the chosen runner; the message says what to change."""


def split_host_port(address: str) -> Tuple[str, Optional[int]]:
    """``host:port``, ``http://host:port/``, ``[::1]:8099`` -> (host, port or None)."""
    text = address.strip()
    parts = urlsplit(text if "://" in text else "//" + text)
    try:
        port = parts.port
    except ValueError:
        raise RunnerConfigError(f"{address!r} has an invalid port") from None
    return parts.hostname or "", port


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_reachable(address: str, what: str, default_port: Optional[int] = None) -> None:
    """Fails fast with a clear message when nothing listens at ``address``."""
    host, port = split_host_port(address)
    port = port or default_port
    if not host or not port:
        raise RunnerConfigError(f"{what} {address!r} must be HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise RunnerConfigError(
            f"cannot reach {what} at {host}:{port} ({e.strerror or e}). Is it running, and is "
            f"the address right?"
        ) from None
