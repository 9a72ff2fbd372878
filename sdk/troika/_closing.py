"""Context managers for everything troika holds open: ``with`` / ``async with`` call ``close``.

Sync and async classes alike name their closing method ``close`` (awaited on
the async ones), as style.md asks of twins.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["AsyncClosing", "Closing"]


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
