"""Outbound HTTP for connectors: only allow-listed hosts, bounded timeouts, secrets never in logs."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx


class HostNotAllowed(ValueError):
    pass


def check_allowed(url: str, allowed_hosts: Iterable[str]) -> None:
    """Raise unless the URL's host is in the allow-list (exact host, or ``*.example.com`` suffix)."""
    host = (urlsplit(url).hostname or "").lower()
    for allowed in allowed_hosts:
        allowed = allowed.lower().strip()
        if allowed.startswith("*.") and host.endswith(allowed[1:]):
            return
        if host == allowed:
            return
    raise HostNotAllowed(f"outbound host {host!r} is not in the allow-list (FEEDBACK_OUTBOUND_ALLOWED_HOSTS)")


def make_client(base_url: str, allowed_hosts: Iterable[str], *, auth: httpx.Auth | tuple[str, str] | None = None,
                headers: dict[str, str] | None = None, timeout: float = 10.0,
                transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An ``httpx.Client`` for one ticketing system. Tests pass ``transport=httpx.MockTransport(...)``."""
    check_allowed(base_url, allowed_hosts)
    return httpx.Client(base_url=base_url, auth=auth, headers=headers or {}, timeout=timeout,
                        transport=transport, follow_redirects=False)
