"""The resolvers' TTL cache: each rule on its own, with a clock the test moves."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from troika import DIDNotFound
from troika.did import DID, AsyncResolver, DIDDocument, ResolutionCache, ResolutionResult, Resolver


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A method resolver that counts its calls; DIDs ending in ``missing`` fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, did: DID, options: Mapping[str, Any]) -> DIDDocument:
        with self.lock:
            self.calls.append((str(did), dict(options)))
        if str(did).endswith("missing"):
            raise DIDNotFound(str(did))
        return DIDDocument(id=str(did))


def make(ttl: float = 60, max_size: int = 16) -> tuple[Resolver, Counting, Clock]:
    clock, method = Clock(), Counting()
    resolver = Resolver(cache=ResolutionCache(ttl, max_size=max_size, clock=clock))
    resolver.register("test", method)
    return resolver, method, clock


def test_a_success_is_served_from_the_cache_until_its_ttl_ends() -> None:
    resolver, method, clock = make(ttl=60)
    first = resolver.resolve("did:test:a")
    clock.now += 59.9
    assert resolver.resolve("did:test:a") is first
    assert len(method.calls) == 1
    clock.now += 0.1
    assert resolver.resolve("did:test:a") is not first
    assert len(method.calls) == 2


def test_errors_are_never_cached() -> None:
    resolver, method, _ = make()
    assert resolver.resolve("did:test:missing").error == "notFound"
    assert resolver.resolve("did:test:missing").error == "notFound"
    assert len(method.calls) == 2
    # Failures that happen before the method runs are not cached either.
    assert resolver.resolve("did:nope").error == "invalidDid"
    assert resolver.cache is not None
    assert len(resolver.cache) == 0


def test_a_result_with_an_error_is_refused_by_the_cache_itself() -> None:
    cache = ResolutionCache(60)
    cache.put("key", ResolutionResult.failure("internalError", "node down"))
    assert cache.get("key") is None
    assert len(cache) == 0


@pytest.mark.parametrize("option", ["noCache", "no-cache"])
@pytest.mark.parametrize("value", [True, "true"])
def test_no_cache_resolves_afresh_and_refreshes_the_entry(option: str, value: object) -> None:
    resolver, method, _ = make()
    first = resolver.resolve("did:test:a")
    fresh = resolver.resolve("did:test:a", **{option: value})
    assert fresh is not first
    assert len(method.calls) == 2
    assert method.calls[1][1][option] == value  # the method sees it (did:web: Cache-Control)
    assert resolver.resolve("did:test:a") is fresh  # the fresh result replaced the old one
    assert len(method.calls) == 2


def test_no_cache_false_uses_the_cache() -> None:
    resolver, method, _ = make()
    first = resolver.resolve("did:test:a")
    assert resolver.resolve("did:test:a", noCache=False) is first
    assert len(method.calls) == 1


def test_options_and_versions_are_part_of_the_key() -> None:
    resolver, method, _ = make()
    resolver.resolve("did:test:a")
    resolver.resolve("did:test:a?versionId=3")
    resolver.resolve("did:test:a", version_id="3")  # the same as the DID parameter
    resolver.resolve("did:test:b")
    assert [call[0] for call in method.calls] == ["did:test:a", "did:test:a", "did:test:b"]


def test_the_least_recently_used_entry_goes_when_full() -> None:
    resolver, method, _ = make(max_size=2)
    resolver.resolve("did:test:a")
    resolver.resolve("did:test:b")
    resolver.resolve("did:test:a")  # a is now the most recently used
    resolver.resolve("did:test:c")  # evicts b
    assert resolver.cache is not None
    assert len(resolver.cache) == 2
    resolver.resolve("did:test:a")
    resolver.resolve("did:test:b")
    assert [call[0] for call in method.calls] == [
        "did:test:a",
        "did:test:b",
        "did:test:c",
        "did:test:b",
    ]


def test_one_cache_serves_many_threads() -> None:
    resolver, _method, _ = make(max_size=8)
    dids = [f"did:test:{n}" for n in range(20)]
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                for did in dids:
                    assert resolver.resolve(did).did_document is not None
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert resolver.cache is not None
    assert len(resolver.cache) == 8


def test_the_async_resolver_caches_alike() -> None:
    clock, method = Clock(), Counting()
    resolver = AsyncResolver(cache=ResolutionCache(10, clock=clock))

    async def resolve_async(did: DID, options: Mapping[str, Any]) -> DIDDocument:
        return method(did, options)

    resolver.register("test", resolve_async)

    async def main() -> None:
        first = await resolver.resolve("did:test:a")
        assert await resolver.resolve("did:test:a") is first
        assert (await resolver.resolve("did:test:missing")).error == "notFound"
        assert (await resolver.resolve("did:test:missing")).error == "notFound"
        assert await resolver.resolve("did:test:a", noCache=True) is not first
        clock.now += 10
        await resolver.resolve("did:test:a")

    asyncio.run(main())
    assert [call[0] for call in method.calls] == [
        "did:test:a",
        "did:test:missing",
        "did:test:missing",
        "did:test:a",
        "did:test:a",
    ]


def test_resolve_document_uses_the_cache() -> None:
    resolver, method, _ = make()
    assert resolver.resolve_document("did:test:a") == resolver.resolve_document("did:test:a")
    assert len(method.calls) == 1
    with pytest.raises(DIDNotFound):
        resolver.resolve_document("did:test:missing")


@pytest.mark.parametrize(
    ("ttl", "max_size"), [(0, 1), (-1, 1), (True, 1), ("60", 1), (60, 0), (60, 1.5), (60, True)]
)
def test_bad_settings_are_refused(ttl: Any, max_size: Any) -> None:
    with pytest.raises(ValueError, match=r"ttl|max_size"):
        ResolutionCache(ttl, max_size=max_size)


def test_clear_forgets_everything() -> None:
    resolver, method, _ = make()
    resolver.resolve("did:test:a")
    assert resolver.cache is not None
    resolver.cache.clear()
    resolver.resolve("did:test:a")
    assert len(method.calls) == 2
    assert repr(resolver.cache) == "ResolutionCache(ttl=60.0, max_size=16)"
