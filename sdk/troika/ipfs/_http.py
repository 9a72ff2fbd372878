"""What every HTTP client of troika.ipfs checks before it sends anything. No I/O."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from troika._errors import ConfigError

__all__ = ["AsyncClosing", "Closing", "checked_http_url", "http_timeout"]


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


class Closing:
    """``with client:`` closes the client at the end; a subclass defines ``close``."""

    def close(self) -> None:  # pragma: no cover - always overridden
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosing:
    """``async with client:`` closes the client at the end; a subclass defines ``close``."""

    async def close(self) -> None:  # pragma: no cover - always overridden
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
