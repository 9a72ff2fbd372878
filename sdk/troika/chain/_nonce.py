"""Nonces for concurrent sends from one process, for threads and for asyncio."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

__all__ = ["AsyncNonceManager", "NonceManager"]


class _NonceBook:
    """The next nonce of each account; no I/O and no locking of its own."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def known(self, key: str) -> int | None:
        return self._next.get(key)

    def used(self, key: str, nonce: int) -> None:
        self._next[key] = nonce + 1

    def forget(self, key: str) -> None:
        self._next.pop(key, None)


class NonceManager:
    """Hands out each account's nonces in order, once, across threads.

    The first send of an account asks the node for its pending transaction
    count; later sends count locally. A reservation holds the account's lock
    until the transaction is handed to the node, so nonce ``n`` is always
    broadcast before ``n + 1`` is reserved and a failed send leaves no gap:
    it releases its nonce and makes the next send ask the node again.

    Args:
        fetch: returns an address's pending transaction count from the node.
    """

    def __init__(self, fetch: Callable[[str], int]) -> None:
        self._fetch = fetch
        self._book = _NonceBook()
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @contextmanager
    def reserve(self, address: str) -> Iterator[int]:
        """Reserve the next nonce of ``address`` while the body broadcasts it.

        Example:
            >>> manager = NonceManager(lambda address: 7)
            >>> with manager.reserve("0xabc") as nonce:
            ...     nonce
            7
            >>> with manager.reserve("0xabc") as nonce:
            ...     nonce
            8
        """
        key = address.lower()
        with self._lock(key):
            nonce = self._book.known(key)
            if nonce is None:
                nonce = self._fetch(address)
            try:
                yield nonce
            except BaseException:
                self._book.forget(key)
                raise
            self._book.used(key, nonce)

    def forget(self, address: str) -> None:
        """Ask the node again at the next send (after another process used the key)."""
        key = address.lower()
        with self._lock(key):
            self._book.forget(key)


class AsyncNonceManager:
    """:class:`NonceManager` for asyncio: the same rules, with asyncio locks.

    Args:
        fetch: awaits an address's pending transaction count from the node.
    """

    def __init__(self, fetch: Callable[[str], Awaitable[int]]) -> None:
        self._fetch = fetch
        self._book = _NonceBook()
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def reserve(self, address: str) -> AsyncIterator[int]:
        """Reserve the next nonce of ``address`` while the body broadcasts it."""
        key = address.lower()
        async with self._locks.setdefault(key, asyncio.Lock()):
            nonce = self._book.known(key)
            if nonce is None:
                nonce = await self._fetch(address)
            try:
                yield nonce
            except BaseException:
                self._book.forget(key)
                raise
            self._book.used(key, nonce)

    def forget(self, address: str) -> None:
        """Ask the node again at the next send."""
        self._book.forget(address.lower())
