"""What every HTTP client of troika.ipfs checks before it sends anything. No I/O."""

from __future__ import annotations

import httpx

from troika._errors import ConfigError

__all__ = ["checked_http_url", "http_timeout"]


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
