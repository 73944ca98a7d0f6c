"""Outbound HTTP for connectors: only allow-listed hosts, bounded timeouts, secrets never in logs."""

from __future__ import annotations

import json
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


def scrub(message: str, secrets: Iterable[str]) -> str:
    """Remove every secret (tokens, encoded credentials) from a message before it is raised or logged."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def send_json(client: httpx.Client, system: str, method: str, url: str, payload=None, *,
              params: dict | None = None, secrets: Iterable[str] = (),
              content_type: str = "application/json", show_path_only: bool = False):
    """One JSON call shared by the connectors: every failure becomes a ``ConnectorError`` with the shared
    retry decision (``error_for_status``; transport errors and non-JSON 2xx are retryable, because
    every push is idempotent) and with secrets removed. Returns the decoded JSON ({} for no body)."""
    from .base import ConnectorError, error_for_status

    secrets = tuple(secrets)
    where = httpx.URL(url).path if show_path_only else url
    content = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": content_type} if content is not None else None
    try:
        response = client.request(method, url, content=content, params=params, headers=headers)
    except httpx.TransportError as exc:  # timeouts, refused/reset connections, DNS
        raise ConnectorError(scrub(f"{system} {method} {where}: {type(exc).__name__}: {exc}", secrets),
                             retryable=True) from None
    if not response.is_success:
        err = error_for_status(system, response.status_code, response.text, response.headers.get("Retry-After"))
        raise ConnectorError(scrub(f"{method} {where}: {err}", secrets), retryable=err.retryable,
                             status=err.status, retry_after=err.retry_after)
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:  # a proxy's HTML page with 200: the outcome is unknown, the retry is idempotent
        raise ConnectorError(f"{system} {method} {where}: answered non-JSON", retryable=True,
                             status=response.status_code) from None


class ClientOwner:
    """Connectors own one ``httpx.Client`` in ``self._client``: close it, or use the connector in ``with``."""

    _client: httpx.Client

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
