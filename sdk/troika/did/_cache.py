"""A bounded, thread-safe TTL cache of successful DID resolution results.

:class:`Resolver` and :class:`AsyncResolver` take one (``Resolver(cache=...)``).
Only results with a document and no ``error`` go in: a failure (a node that
timed out, a did:web host that was down) is retried by the next resolution. The
``noCache`` resolution option (the name proposed for DID Resolution's caching
extension; ``no-cache``, the DID URL parameter the JavaScript ``did-resolver``
honours, is accepted too) skips the lookup and resolves afresh; the fresh result
then replaces the cached one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from troika.did._document import ResolutionResult

__all__ = ["NO_CACHE_OPTIONS", "ResolutionCache", "cache_key", "wants_fresh"]

#: The resolution options that turn the cache off for one resolution.
NO_CACHE_OPTIONS = ("noCache", "no-cache")


def wants_fresh(options: Mapping[str, Any]) -> bool:
    """True when the options ask for a fresh resolution (``noCache`` or ``no-cache``).

    ``True`` or the string ``"true"`` (as a DID URL parameter carries it) count.

    Example:
        >>> wants_fresh({"noCache": True}), wants_fresh({"no-cache": "true"}), wants_fresh({})
        (True, True, False)
    """
    return any(options.get(name) in (True, "true") for name in NO_CACHE_OPTIONS)


def cache_key(did: str, options: Mapping[str, Any]) -> Hashable:
    """The cache key of a resolution: the DID and every option but the cache's own.

    Example:
        >>> cache_key("did:web:a.example", {"noCache": True}) == cache_key("did:web:a.example", {})
        True
        >>> cache_key("did:ethr:0x1", {"version_id": "5"}) == cache_key("did:ethr:0x1", {})
        False
    """
    kept = {k: v for k, v in options.items() if k not in NO_CACHE_OPTIONS}
    return did, json.dumps(kept, sort_keys=True, default=repr)


class ResolutionCache:
    """Successful resolution results for ``ttl`` seconds, at most ``max_size`` of them.

    The least recently used entry goes first when the cache is full. Every
    method takes one lock, so one cache can serve many threads (and an
    :class:`AsyncResolver`, whose event loop never waits on the lock for long).

    Args:
        ttl: seconds a result stays fresh; more than 0.
        max_size: most results kept; 1 or more.
        clock: seconds from any fixed point (``time.monotonic``); tests pass their own.

    Raises:
        ValueError: ``ttl`` or ``max_size`` out of range.

    Example:
        >>> from troika.did import DIDDocument
        >>> now = [0.0]
        >>> cache = ResolutionCache(ttl=60, max_size=2, clock=lambda: now[0])
        >>> result = ResolutionResult.success(DIDDocument(id="did:example:1"))
        >>> cache.put("key", result)
        >>> cache.get("key") is result
        True
        >>> now[0] = 60.0
        >>> cache.get("key") is None
        True
    """

    def __init__(
        self,
        ttl: float = 300.0,
        *,
        max_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            raise ValueError(f"a cache's ttl is seconds above 0, not {ttl!r}")
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"a cache's max_size is 1 or more, not {max_size!r}")
        self.ttl = float(ttl)
        self.max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, ResolutionResult]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ResolutionCache(ttl={self.ttl!r}, max_size={self.max_size!r})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: Hashable) -> ResolutionResult | None:
        """The fresh result under ``key``, or None (an expired one is dropped)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, result = entry
            if self._clock() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return result

    def put(self, key: Hashable, result: ResolutionResult) -> None:
        """Keep ``result`` under ``key`` if it succeeded; a failure is never cached."""
        if result.error is not None or result.did_document is None:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, result)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every result."""
        with self._lock:
            self._entries.clear()
