"""One resolver for every DID method (W3C DID Resolution): sync and async twins.

A resolver maps method names to method resolvers: callables that take the DID
and the resolution options and return its :class:`DIDDocument` (or a whole
:class:`ResolutionResult`, when they have metadata to add), raising
:class:`InvalidDID` or a :class:`DIDResolutionError` when they cannot.
``resolve`` never raises for bad input: every failure becomes a result whose
``didResolutionMetadata.error`` is the specification's code. ``resolve_document``
is the raising convenience. Both resolvers know did:key and did:pkh, which
need no I/O; methods that do I/O register themselves with their client
(``resolver.register("ethr", EthrResolver(networks))``). The module's
``resolve`` also knows did:ethr on the node that troika's settings name, and
did:web.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeAlias

from troika._errors import (
    DIDError,
    DIDNotFound,
    DIDResolutionError,
    InvalidDID,
    InvalidPublicKey,
    MethodNotSupported,
)
from troika.did._cache import ResolutionCache, cache_key, wants_fresh
from troika.did._did import DID, DIDURL, DIDURLLike
from troika.did._document import DIDDocument, ResolutionResult
from troika.did._ethr import EthrResolver
from troika.did._key import resolve_key
from troika.did._pkh import resolve_pkh
from troika.did._web import WebResolver

__all__ = [
    "AsyncMethodResolver",
    "AsyncResolver",
    "MethodResolver",
    "Resolver",
    "resolve",
    "resolve_document",
]

MethodResult: TypeAlias = DIDDocument | ResolutionResult
MethodResolver: TypeAlias = Callable[[DID, Mapping[str, Any]], MethodResult]
"""Resolves DIDs of one method: ``(did, options) -> DIDDocument | ResolutionResult``."""
AsyncMethodResolver: TypeAlias = Callable[
    [DID, Mapping[str, Any]], MethodResult | Awaitable[MethodResult]
]
"""A method resolver for :class:`AsyncResolver`: a plain or an ``async`` function."""

#: The representations ``resolve`` produces (the ``accept`` option).
SUPPORTED_CONTENT_TYPES = ("application/did+ld+json",)
_METHOD_NAME = re.compile(r"[a-z0-9]+")
_PURE_METHODS: dict[str, MethodResolver] = {"key": resolve_key, "pkh": resolve_pkh}
_KEY_ERRORS = frozenset(
    {
        "invalidPublicKey",
        "invalidPublicKeyLength",
        "invalidPublicKeyType",
        "unsupportedPublicKeyType",
    }
)


class _Outcome:
    """A result, and the exception behind it when it failed (for resolve_document)."""

    __slots__ = ("did", "error", "result")

    def __init__(self, did: str, result: ResolutionResult, error: DIDError | None = None) -> None:
        self.did = did
        self.result = result
        self.error = error


class _ResolverCore:
    """The registry and the I/O-free steps that both resolvers share."""

    def __init__(self, *, cache: ResolutionCache | None = None) -> None:
        self._methods: dict[str, Any] = dict(_PURE_METHODS)
        self.cache = cache

    def _cached(self, did: DID, options: Mapping[str, Any]) -> tuple[Any, _Outcome | None]:
        # (key, hit): key is None without a cache; a noCache resolution never hits.
        if self.cache is None:
            return None, None
        key = cache_key(str(did), options)
        if wants_fresh(options):
            return key, None
        hit = self.cache.get(key)
        return key, None if hit is None else _Outcome(str(did), hit)

    def _store(self, key: Any, outcome: _Outcome) -> _Outcome:
        if key is not None and self.cache is not None and outcome.error is None:
            self.cache.put(key, outcome.result)  # put() itself refuses failed results
        return outcome

    @property
    def methods(self) -> tuple[str, ...]:
        """The DID methods this resolver knows, sorted."""
        return tuple(sorted(self._methods))

    def _register(self, method: str, resolver: Any) -> None:
        if not isinstance(method, str) or not _METHOD_NAME.fullmatch(method):
            raise ValueError(f"a DID method name is lowercase letters and digits, not {method!r}")
        if not callable(resolver):
            raise TypeError(f"the resolver for did:{method} must be callable, not {resolver!r}")
        self._methods[method] = resolver

    def _prepare(
        self, did_url: DIDURLLike, options: dict[str, Any]
    ) -> tuple[DID, Any, Mapping[str, Any]] | _Outcome:
        try:
            url = DIDURL.parse(did_url)
        except InvalidDID as exc:
            return _failure(str(did_url), exc)
        accept = options.get("accept")
        if accept not in (None, "*/*", *SUPPORTED_CONTENT_TYPES):
            return _Outcome(
                str(url.did),
                ResolutionResult.failure(
                    "representationNotSupported",
                    f"cannot represent {str(url.did)!r} as {accept!r}; "
                    f"supported: {', '.join(SUPPORTED_CONTENT_TYPES)}",
                ),
            )
        # DID parameters select a version: they become the resolution options.
        if url.version_id is not None:
            options.setdefault("version_id", url.version_id)
        if url.version_time is not None:
            options.setdefault("version_time", url.params["versionTime"])
        method = self._methods.get(url.did.method)
        if method is None:
            known = ", ".join(self.methods)
            return _failure(
                str(url.did),
                MethodNotSupported(
                    str(url.did),
                    url.did.method,
                    f"no resolver for did:{url.did.method} (this resolver knows {known}); "
                    "register one with Resolver.register()",
                ),
            )
        return url.did, method, MappingProxyType(options)

    @staticmethod
    def _finish(did: DID, outcome: object) -> _Outcome:
        # object, not MethodResult: a registered method is someone else's code.
        if isinstance(outcome, ResolutionResult):
            return _Outcome(str(did), outcome)
        if isinstance(outcome, DIDDocument):
            return _Outcome(str(did), ResolutionResult.success(outcome))
        return _failure(
            str(did),
            DIDResolutionError(
                str(did),
                "internalError",
                f"the did:{did.method} resolver returned {type(outcome).__name__}, "
                "not a DIDDocument or ResolutionResult",
            ),
        )


def _failure(did: str, exc: DIDError) -> _Outcome:
    error = getattr(exc, "error", "internalError")
    return _Outcome(did, ResolutionResult.failure(error, str(exc)), exc)


def _crash(did: DID, exc: Exception) -> _Outcome:
    # A method's bug must not take down a caller (or the resolver service).
    wrapped = DIDResolutionError(
        str(did), "internalError", f"the did:{did.method} resolver failed: {exc!r}"
    )
    wrapped.__cause__ = exc
    return _failure(str(did), wrapped)


def _raise_for(outcome: _Outcome) -> DIDDocument:
    if outcome.error is not None:
        raise outcome.error
    result = outcome.result
    if result.did_document is not None and result.error is None:
        return result.did_document
    # A method that returned a failed result rather than raising.
    error = result.error or "internalError"
    reason = result.did_resolution_metadata.error_message or "the method returned no document"
    if error == "invalidDid":
        raise InvalidDID(outcome.did, reason)
    if error in _KEY_ERRORS:
        raise InvalidPublicKey(outcome.did, reason, error=error)
    if error == "notFound":
        raise DIDNotFound(outcome.did, reason)
    if error == "methodNotSupported":
        raise MethodNotSupported(outcome.did, DID.parse(outcome.did).method, reason)
    raise DIDResolutionError(outcome.did, error, reason)


class Resolver(_ResolverCore):
    """Resolves DIDs of every registered method, in this thread.

    Args:
        cache: keeps successful results for a while (see
            :class:`~troika.did.ResolutionCache`); None, the default, resolves
            every time. The ``noCache`` option (or ``no-cache``) bypasses it for
            one resolution.

    Example:
        >>> resolver = Resolver()
        >>> resolver.methods
        ('key', 'pkh')
        >>> result = resolver.resolve("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        >>> result.did_resolution_metadata.content_type
        'application/did+ld+json'
        >>> resolver.resolve("did:example:123").to_dict()["didResolutionMetadata"]["error"]
        'methodNotSupported'
        >>> resolver.resolve_document("did:nope")
        Traceback (most recent call last):
        ...
        troika._errors.InvalidDID: invalid DID 'did:nope': the method-specific id is empty
    """

    def register(self, method: str, resolver: MethodResolver) -> None:
        """Resolve ``did:<method>:...`` with ``resolver`` (replacing any earlier one).

        Raises:
            ValueError: ``method`` is not a DID method name.
            TypeError: ``resolver`` is not callable, or is ``async`` (use
                :class:`AsyncResolver` for those).
        """
        if inspect.iscoroutinefunction(resolver):
            raise TypeError(f"the did:{method} resolver is async; register it on AsyncResolver")
        self._register(method, resolver)

    def resolve(self, did_url: DIDURLLike, **options: Any) -> ResolutionResult:
        """Resolve a DID (the DID part of a DID URL) to a result; never raises for bad input.

        ``versionId`` and ``versionTime`` DID parameters become the
        ``version_id`` and ``version_time`` options; other options go to the
        method (did:key takes ``public_key_format`` and
        ``enable_encryption_key_derivation``); ``accept`` picks the
        representation; ``noCache=True`` skips the cache's lookup (the fresh
        result still refreshes it) and asks methods for a fresh copy.
        """
        return self._run(did_url, options).result

    def resolve_document(self, did_url: DIDURLLike, **options: Any) -> DIDDocument:
        """Resolve a DID to its document, or raise.

        Raises:
            InvalidDID: not a DID (or, as :class:`InvalidPublicKey`, a did:key
                whose key is unusable).
            MethodNotSupported: no resolver for the DID's method.
            DIDNotFound: the method found no document.
            DIDResolutionError: any other failure; ``.error`` has the code.
        """
        return _raise_for(self._run(did_url, options))

    def _run(self, did_url: DIDURLLike, options: dict[str, Any]) -> _Outcome:
        prepared = self._prepare(did_url, options)
        if isinstance(prepared, _Outcome):
            return prepared
        did, method, frozen_options = prepared
        key, hit = self._cached(did, frozen_options)
        if hit is not None:
            return hit
        try:
            return self._store(key, self._finish(did, method(did, frozen_options)))
        except DIDError as exc:
            return _failure(str(did), exc)
        except Exception as exc:
            return _crash(did, exc)


class AsyncResolver(_ResolverCore):
    """The asyncio twin of :class:`Resolver`; methods may be plain or ``async`` functions.

    Example:
        >>> import asyncio
        >>> did = "did:pkh:eip155:1:0xb9c5714089478a327f09197987f16f9e5d936e8a"
        >>> doc = asyncio.run(AsyncResolver().resolve_document(did))
        >>> doc.verification_method[0].type
        'EcdsaSecp256k1RecoveryMethod2020'
    """

    def register(self, method: str, resolver: AsyncMethodResolver) -> None:
        """Resolve ``did:<method>:...`` with ``resolver`` (replacing any earlier one).

        Raises:
            ValueError: ``method`` is not a DID method name.
            TypeError: ``resolver`` is not callable.
        """
        self._register(method, resolver)

    async def resolve(self, did_url: DIDURLLike, **options: Any) -> ResolutionResult:
        """Resolve a DID to a result; never raises for bad input (see :meth:`Resolver.resolve`)."""
        return (await self._run(did_url, options)).result

    async def resolve_document(self, did_url: DIDURLLike, **options: Any) -> DIDDocument:
        """Resolve a DID to its document, or raise (see :meth:`Resolver.resolve_document`)."""
        return _raise_for(await self._run(did_url, options))

    async def _run(self, did_url: DIDURLLike, options: dict[str, Any]) -> _Outcome:
        prepared = self._prepare(did_url, options)
        if isinstance(prepared, _Outcome):
            return prepared
        did, method, frozen_options = prepared
        key, hit = self._cached(did, frozen_options)
        if hit is not None:
            return hit
        try:
            outcome = method(did, frozen_options)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            return self._store(key, self._finish(did, outcome))
        except DIDError as exc:
            return _failure(str(did), exc)
        except Exception as exc:
            return _crash(did, exc)


@functools.cache
def _settings_ethr() -> EthrResolver:
    return EthrResolver.from_settings()


def _resolve_ethr(did: DID, options: Mapping[str, Any]) -> ResolutionResult:
    # Settings are read, and the node reached, on the first did:ethr only.
    return _settings_ethr()(did, options)


@functools.cache
def _web() -> WebResolver:
    return WebResolver()


def _resolve_web(did: DID, options: Mapping[str, Any]) -> ResolutionResult:
    # The HTTPS client is made on the first did:web only.
    return _web()(did, options)


@functools.cache
def _default_resolver() -> Resolver:
    # did:key and did:pkh, did:ethr on the configured node, did:web; made on first use.
    resolver = Resolver()
    resolver.register("ethr", _resolve_ethr)
    resolver.register("web", _resolve_web)
    return resolver


def resolve(did_url: DIDURLLike, **options: Any) -> ResolutionResult:
    """Resolve with a resolver that knows did:key and did:pkh (no I/O),
    did:ethr on the node troika's settings name (``TROIKA_RPC_URL``), and did:web.

    Example:
        >>> result = resolve("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        >>> [m.type for m in result.did_document.verification_method]
        ['Multikey', 'Multikey']
    """
    return _default_resolver().resolve(did_url, **options)


def resolve_document(did_url: DIDURLLike, **options: Any) -> DIDDocument:
    """The document of a did:key, did:pkh, did:ethr or did:web (see :func:`resolve`),
    or a typed error.

    See :meth:`Resolver.resolve_document` for the errors.
    """
    return _default_resolver().resolve_document(did_url, **options)
