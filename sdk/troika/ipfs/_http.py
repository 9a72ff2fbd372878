"""What every HTTP client of troika.ipfs checks before it sends anything. No I/O."""

from __future__ import annotations

import functools
import ssl

import httpx

from troika._errors import ConfigError

__all__ = ["checked_http_url", "http_timeout", "tls_context", "transport_failure"]


def checked_http_url(value: str, field: str, example: str) -> str:
    """``value`` without a trailing slash, or a ``ConfigError`` naming ``field``.

    Example:
        >>> checked_http_url("http://127.0.0.1:5001/", "api_url", "http://127.0.0.1:5001")
        'http://127.0.0.1:5001'
    """
    reason = f"expected an http(s) URL such as {example!r}"
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigError(field, value, f"{reason} ({exc})") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(field, value, reason)
    return value.rstrip("/")


def http_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    """An ``httpx.Timeout`` for a number of seconds (or the one given)."""
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, made once per process for every client troika makes.

    Loading the CA bundle takes about 20 ms, which every ``httpx.Client()``
    otherwise pays again, even for a plain-http node on loopback. The context
    holds settings and trusted certificates only (no connections, no
    sessions); ``SSL_CERT_FILE``/``SSL_CERT_DIR`` are read on first use.

    Example:
        >>> tls_context() is tls_context()
        True
    """
    return httpx.create_ssl_context()


def transport_failure(exc: httpx.TransportError) -> str:
    """Why a request got no answer, for :class:`~troika._errors.IPFSUnavailable`.

    Example:
        >>> transport_failure(httpx.ReadTimeout("timed out"))
        'no answer in time (ReadTimeout: timed out)'
        >>> transport_failure(httpx.ConnectError("refused"))
        'ConnectError: refused'
    """
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"
