"""Nonces for concurrent sends from one process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["NonceManager"]


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
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._next: dict[str, int] = {}

    def _lock(self, address: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(address.lower(), threading.Lock())

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
            nonce = self._next.get(key)
            if nonce is None:
                nonce = self._fetch(address)
            try:
                yield nonce
            except BaseException:
                self._next.pop(key, None)
                raise
            self._next[key] = nonce + 1

    def forget(self, address: str) -> None:
        """Ask the node again at the next send (after another process used the key)."""
        with self._lock(address):
            self._next.pop(address.lower(), None)
