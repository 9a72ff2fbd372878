"""A client of the IPFS Pinning Service API, sync and async.

The API (ipfs/pinning-services-api-spec, version 1.0.0) is what IPFS pinning
services and IPFS Cluster serve, and what ``ipfs pin remote`` speaks: a small
REST API over JSON, with a Bearer access token on every request.

==========================  ======================  ==============================
what                        HTTP                    method here
==========================  ======================  ==============================
ask for a pin               ``POST /pins``          :meth:`PinningService.add`
its status                  ``GET /pins/{id}``      :meth:`PinningService.get`
until it is pinned          (polls the above)       :meth:`PinningService.wait`
list, with filters          ``GET /pins``           :meth:`PinningService.pins`
replace one pin by another  ``POST /pins/{id}``     :meth:`PinningService.replace`
remove                      ``DELETE /pins/{id}``   :meth:`PinningService.remove`
==========================  ======================  ==============================

``PinningService`` and ``AsyncPinningService`` are thin twins over
``_PinningBase``, which does no I/O: it builds each request, parses each answer
into frozen values (:class:`PinStatus`, :class:`Pin`), pages through lists,
paces the polling, and translates httpx's exceptions in one place
(``_translate_errors``). The access token goes into each request's
``Authorization`` header and nowhere else: not into ``repr``, messages or logs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal, TypeAlias, TypeVar

import httpx

from troika._closing import AsyncClosing, Closing
from troika._errors import (
    ConfigError,
    IPFSUnavailable,
    PinFailed,
    PinningServiceError,
    PinTimeout,
)
from troika._json import loads
from troika.ipfs._cid import CID, CIDLike
from troika.ipfs._http import checked_http_url, http_timeout, tls_context, transport_failure
from troika.ipfs._kubo import DEFAULT_TIMEOUT

__all__ = [
    "DEFAULT_PIN_WAIT",
    "AsyncPinningService",
    "Pin",
    "PinRequestLike",
    "PinState",
    "PinStatus",
    "PinningService",
    "TextMatch",
]

DEFAULT_PIN_WAIT = 300.0
"""Seconds :meth:`PinningService.wait` waits for a pin unless told otherwise."""

_SERVICE = "IPFS pinning service"
_ADVICE = "check the endpoint URL (the one that ends before /pins) and that the service is up"
_PAGE_SIZE = 1000  # the spec's largest `limit`
_FIRST_POLL = 0.05
_MAX_POLL = 5.0
_POLL_GROWTH = 1.5

_T = TypeVar("_T")

TextMatch: TypeAlias = Literal["exact", "iexact", "partial", "ipartial"]
"""How :meth:`PinningService.pins` matches ``name``: whole or part, with or without case."""


class PinState(StrEnum):
    """Where a pin request stands at the service.

    ``queued`` and ``pinning`` are on the way; ``pinned`` and ``failed`` are final.
    """

    QUEUED = "queued"
    PINNING = "pinning"
    PINNED = "pinned"
    FAILED = "failed"


class _FrozenStrMap(Mapping[str, str]):
    """A read-only, hashable str-to-str mapping that prints like a dict."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr(self._items)


def _strings(value: object) -> dict[str, str]:
    """A JSON object as str-to-str (values that services send as numbers become text)."""
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _string_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("not an array of strings")
    return tuple(value)


def _parse_time(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError("not a string")
    moment = datetime.fromisoformat(text)
    # RFC 3339 requires an offset; read one without it as UTC rather than local.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _state(value: object) -> PinState:
    return PinState(_text(value))


def _cid(value: object) -> CID:
    return CID.parse(_text(value))  # InvalidCID is a ValueError


class _Fields:
    """Reads the fields of a JSON object, collecting every problem instead of the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def read(
        self, source: Mapping[str, object], name: str, parse: Callable[[object], _T], default: _T
    ) -> _T:
        if name not in source:
            return default
        try:
            return parse(source[name])
        except ValueError as exc:
            self.problems.append(f"{name}: {exc} (got {source[name]!r:.80})")
            return default

    def require(
        self, source: Mapping[str, object], name: str, parse: Callable[[object], _T]
    ) -> _T | None:
        if name not in source:
            self.problems.append(f"{name}: missing")
            return None
        return self.read(source, name, parse, None)


@dataclass(frozen=True)
class Pin:
    """What was asked to be pinned: the spec's ``Pin`` object.

    Attributes:
        cid: The root of the DAG to pin (recursively).
        name: A name to find the pin by, if one was given.
        origins: Multiaddrs of nodes that have the content, if any were given.
        meta: Free-form string metadata stored with the pin.
    """

    cid: CID
    name: str | None = None
    origins: tuple[str, ...] = ()
    meta: Mapping[str, str] = field(default_factory=_FrozenStrMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "origins", tuple(self.origins))
        if not isinstance(self.meta, _FrozenStrMap):
            object.__setattr__(self, "meta", _FrozenStrMap(self.meta))


@dataclass(frozen=True)
class PinStatus:
    """A pin request as the service reports it: the spec's ``PinStatus`` object.

    Attributes:
        requestid: The service's id of the request, for :meth:`PinningService.get`,
            :meth:`~PinningService.replace` and :meth:`~PinningService.remove`.
        status: Where the request stands.
        created: When the service received it (time-zone aware).
        pin: What was asked for.
        delegates: Multiaddrs of the service's nodes that fetch the content; a
            node that has the content may connect to them to speed things up.
        info: Extra, service-specific details, such as ``status_details``.
    """

    requestid: str
    status: PinState
    created: datetime
    pin: Pin
    delegates: tuple[str, ...] = ()
    info: Mapping[str, str] = field(default_factory=_FrozenStrMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "delegates", tuple(self.delegates))
        if not isinstance(self.info, _FrozenStrMap):
            object.__setattr__(self, "info", _FrozenStrMap(self.info))

    @classmethod
    def from_json(cls, body: object) -> PinStatus:
        """Read the spec's ``PinStatus`` JSON object (as ``json.loads`` gives it).

        Raises:
            ValueError: fields are missing or of the wrong type; the message
                names every one.

        Example:
            >>> status = PinStatus.from_json({
            ...     "requestid": "r1", "status": "queued", "created": "2020-07-27T17:32:28Z",
            ...     "pin": {"cid": "bafkqaaa", "name": "empty"}, "delegates": ["/dns/pin.example"],
            ... })
            >>> status.status, str(status.pin.cid), status.pin.name, status.created.year
            (<PinState.QUEUED: 'queued'>, 'bafkqaaa', 'empty', 2020)
            >>> PinStatus.from_json({"requestid": 7, "status": "done", "pin": {}})
            Traceback (most recent call last):
            ...
            ValueError: requestid: not a string (got 7); status: 'done' is not a valid PinState \
(got 'done'); created: missing; delegates: missing; cid: missing
        """
        if not isinstance(body, dict):
            raise ValueError("a PinStatus is a JSON object")
        fields = _Fields()
        requestid = fields.require(body, "requestid", _text)
        status = fields.require(body, "status", _state)
        created = fields.require(body, "created", _parse_time)
        delegates = fields.require(body, "delegates", _string_list)
        info: dict[str, str] = fields.read(body, "info", _strings, {})
        pin = body.get("pin")
        if not isinstance(pin, dict):
            fields.problems.append("pin: missing or not an object")
            pin = {}
        cid = fields.require(pin, "cid", _cid)
        name = fields.read(pin, "name", _text, None)
        origins: tuple[str, ...] = fields.read(pin, "origins", _string_list, ())
        meta: dict[str, str] = fields.read(pin, "meta", _strings, {})
        if (
            fields.problems
            or requestid is None
            or status is None
            or created is None
            or delegates is None
            or cid is None
        ):
            raise ValueError("; ".join(fields.problems))
        return cls(requestid, status, created, Pin(cid, name, origins, meta), delegates, info)


PinRequestLike: TypeAlias = PinStatus | str
"""A pin request: its ``requestid``, or the :class:`PinStatus` that carries it."""


@dataclass(frozen=True)
class _Call:
    """One API call, ready to send."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, object] | None = None


def _requestid(request: PinRequestLike) -> str:
    return request.requestid if isinstance(request, PinStatus) else request


def _cid_text(cid: CIDLike) -> str:
    # A string goes out as given (the service may compare CIDs as strings),
    # once it is known to be a CID: CID.parse raises InvalidCID otherwise.
    parsed = CID.parse(cid)
    return cid if isinstance(cid, str) else str(parsed)


def _pin_body(
    cid: CIDLike, name: str | None, origins: Iterable[str], meta: Mapping[str, str] | None
) -> dict[str, object]:
    body: dict[str, object] = {"cid": _cid_text(cid)}
    if name is not None:
        body["name"] = name
    origins = list(origins)
    if origins:
        body["origins"] = origins
    if meta:
        body["meta"] = dict(meta)
    return body


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone; pass an aware datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _failure(response: httpx.Response) -> tuple[str, str | None]:
    """The spec's ``Failure`` body: ``error.reason`` and ``error.details``."""
    try:
        body = loads(response.text)  # troika._json: nesting bounded
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("reason"), str):
        details = error.get("details")
        return error["reason"], details if isinstance(details, str) else None
    # Not a Failure (a proxy's error page, say): the status line and the text.
    text = response.text.strip()
    return response.reason_phrase.upper().replace(" ", "_") or "ERROR", text[:500] or None


class _Pages:
    """Reads ``GET /pins`` page by page, as the spec says (no I/O).

    Each page asks for results ``before`` the oldest ``created`` of the last
    one, until a page holds all that remain (``count`` says how many match), a
    page brings nothing new, or ``limit`` results are in.
    """

    def __init__(self, params: list[tuple[str, str]], limit: int | None) -> None:
        self.params = params
        self.limit = limit
        self.results: list[PinStatus] = []
        self._seen: set[str] = set()
        self._before: str | None = None
        self._done = limit == 0

    def next_call(self) -> _Call | None:
        if self._done:
            return None
        size = _PAGE_SIZE if self.limit is None else min(_PAGE_SIZE, self.limit - len(self.results))
        params = [*self.params, ("limit", str(size))]
        if self._before is not None:
            params.append(("before", self._before))
        return _Call("GET", "/pins", tuple(params))

    def take(self, count: int, page: list[tuple[str, PinStatus]]) -> None:
        new = [(created, s) for created, s in page if s.requestid not in self._seen]
        for _, status in new:
            self._seen.add(status.requestid)
            self.results.append(status)
        if self.limit is not None and len(self.results) >= self.limit:
            del self.results[self.limit :]
            self._done = True
        elif not new or len(page) >= count:
            self._done = True
        else:
            # The raw text, not a re-formatted datetime: services keep more
            # precision (nanoseconds) than Python does. Pages run newest to
            # oldest, so among equal datetimes the last one is the oldest.
            self._before = min(reversed(page), key=lambda item: item[1].created)[0]


class _PinningBase:
    """What both clients share; builds requests and parses answers, no I/O."""

    def __init__(self, endpoint: str, token: str, timeout: float | httpx.Timeout) -> None:
        if not isinstance(token, str) or not token.strip():
            # The value is never quoted: it is a secret.
            raise ConfigError("token", "<hidden>", "an access token is required")
        self.endpoint = checked_http_url(endpoint, "endpoint", "https://api.example.com/psa")
        self.__token = token
        self.timeout = http_timeout(timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    # -- requests ------------------------------------------------------------

    def _request(self, call: _Call) -> httpx.Request:
        return httpx.Request(
            call.method,
            f"{self.endpoint}{call.path}",
            params=call.params,
            json=call.body,
            headers={"Authorization": f"Bearer {self.__token}", "Accept": "application/json"},
            extensions={"timeout": self.timeout.as_dict()},
        )

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn httpx's exceptions and error answers into troika's IPFS errors."""
        try:
            yield
        except httpx.HTTPStatusError as exc:
            response = exc.response
            reason, details = _failure(response)
            raise PinningServiceError(
                str(exc.request.url), response.status_code, reason, details
            ) from exc
        except httpx.TransportError as exc:
            raise self._unavailable(transport_failure(exc)) from exc

    def _unavailable(self, reason: str) -> IPFSUnavailable:
        return IPFSUnavailable(self.endpoint, reason, service=_SERVICE, advice=_ADVICE)

    def _not_a_service(self, response: httpx.Response, what: str) -> IPFSUnavailable:
        return self._unavailable(f"{response.request.url} answered {what}: {response.text[:200]!r}")

    @staticmethod
    def _add_call(
        cid: CIDLike, name: str | None, origins: Iterable[str], meta: Mapping[str, str] | None
    ) -> _Call:
        return _Call("POST", "/pins", body=_pin_body(cid, name, origins, meta))

    @staticmethod
    def _get_call(request: PinRequestLike) -> _Call:
        return _Call("GET", f"/pins/{_requestid(request)}")

    @staticmethod
    def _replace_call(
        request: PinRequestLike,
        cid: CIDLike,
        name: str | None,
        origins: Iterable[str],
        meta: Mapping[str, str] | None,
    ) -> _Call:
        body = _pin_body(cid, name, origins, meta)
        return _Call("POST", f"/pins/{_requestid(request)}", body=body)

    @staticmethod
    def _remove_call(request: PinRequestLike) -> _Call:
        return _Call("DELETE", f"/pins/{_requestid(request)}")

    @staticmethod
    def _pages(
        cid: CIDLike | Iterable[CIDLike] | None,
        name: str | None,
        match: TextMatch,
        status: PinState | str | Iterable[PinState | str] | None,
        before: datetime | None,
        after: datetime | None,
        meta: Mapping[str, str] | None,
        limit: int | None,
    ) -> _Pages:
        params: list[tuple[str, str]] = []
        if cid is not None:
            cids = [cid] if isinstance(cid, str | CID) else list(cid)
            # `style: form, explode: false`: one comma-separated value.
            params.append(("cid", ",".join(dict.fromkeys(_cid_text(c) for c in cids))))
        if name is not None:
            params.append(("name", name))
            if match != "exact":
                params.append(("match", match))
        if status is not None:
            states = [status] if isinstance(status, str) else list(status)
            params.append(("status", ",".join(dict.fromkeys(PinState(s).value for s in states))))
        if before is not None:
            params.append(("before", _rfc3339(before)))
        if after is not None:
            params.append(("after", _rfc3339(after)))
        if meta:
            params.append(("meta", json.dumps(dict(meta), separators=(",", ":"))))
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit!r}")
        return _Pages(params, limit)

    # -- answers -------------------------------------------------------------

    def _json(self, response: httpx.Response) -> object:
        try:
            return loads(response.text)  # troika._json: nesting bounded
        except ValueError:
            raise self._not_a_service(response, "with something other than JSON") from None

    def _parse_status(self, response: httpx.Response) -> PinStatus:
        try:
            return PinStatus.from_json(self._json(response))
        except ValueError as exc:
            raise self._not_a_service(response, f"with an invalid PinStatus ({exc})") from None

    def _parse_page(self, response: httpx.Response) -> tuple[int, list[tuple[str, PinStatus]]]:
        body = self._json(response)
        count = body.get("count") if isinstance(body, dict) else None
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(count, int) or not isinstance(results, list):
            raise self._not_a_service(response, "without the count and results of PinResults")
        page: list[tuple[str, PinStatus]] = []
        for number, item in enumerate(results):
            try:
                page.append((str(item["created"]), PinStatus.from_json(item)))
            except (ValueError, KeyError, TypeError) as exc:
                what = f"with an invalid PinStatus at results[{number}] ({exc})"
                raise self._not_a_service(response, what) from None
        return count, page

    @staticmethod
    def _settled(status: PinStatus) -> bool:
        """True once pinned; raises PinFailed if the service gave up."""
        if status.status is PinState.FAILED:
            details = status.info.get("status_details")
            raise PinFailed(str(status.pin.cid), status.requestid, details)
        return status.status is PinState.PINNED

    @staticmethod
    def _next_poll(delay: float, deadline: float) -> float:
        """Seconds to sleep before the next poll: growing, capped, never past the deadline."""
        return max(0.0, min(delay, deadline - time.monotonic()))

    @staticmethod
    def _timed_out(status: PinStatus, timeout: float) -> PinTimeout:
        return PinTimeout(str(status.pin.cid), status.requestid, status.status.value, timeout)


class PinningService(_PinningBase, Closing):
    """A client of a pinning service that speaks the IPFS Pinning Service API.

    Args:
        endpoint: The API's root URL, without ``/pins`` (for example
            ``"https://api.example.com/psa"``).
        token: The access token, sent as ``Authorization: Bearer <token>``.
            It is never shown: not in ``repr``, error messages or logs.
        client: The httpx client to send requests with; one is created (and
            closed by :meth:`close`) if not given. An injected client is never
            closed by troika.
        timeout: Seconds (or an ``httpx.Timeout``) that any one network step may
            take; it applies to an injected client too.

    Raises:
        ConfigError: ``endpoint`` is not an http(s) URL, or ``token`` is empty.

    Example:
        In the examples, ``endpoint`` and ``token`` are a pinning service's and
        ``ipfs`` is a :class:`~troika.ipfs.KuboClient` of a node it can fetch from.

        >>> cid = ipfs.add(b"pin me\\n")
        >>> with PinningService(endpoint, token) as service:
        ...     requested = service.add(cid, name="pin me")
        ...     service.wait(requested).status
        <PinState.PINNED: 'pinned'>
    """

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        client: httpx.Client | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(endpoint, token, timeout)
        self._owns_client = client is None
        self._client = httpx.Client(verify=tls_context()) if client is None else client

    def _send(self, call: _Call) -> httpx.Response:
        request = self._request(call)
        with self._translate_errors():
            response = self._client.send(request)
            response.raise_for_status()
        return response

    def add(
        self,
        cid: CIDLike,
        *,
        name: str | None = None,
        origins: Iterable[str] = (),
        meta: Mapping[str, str] | None = None,
    ) -> PinStatus:
        """Ask the service to pin a DAG (``POST /pins``); it pins in the background.

        Args:
            cid: The DAG's root.
            name: A name to find the pin by later (at most 255 characters).
            origins: Multiaddrs of nodes that have the content (at most 20),
                so the service need not search for them.
            meta: String metadata to keep with the pin.

        Returns:
            The new request, usually ``queued``; see :meth:`wait`.

        Raises:
            InvalidCID: ``cid`` is not a CID.
            PinningServiceError: The service refused (say, a bad token: HTTP 401).
            IPFSUnavailable: Nothing answers at ``endpoint``, or not in time.

        Example:
            >>> requested = pinning.add(ipfs.add(b"add\\n"), name="add", meta={"app": "doc"})
            >>> requested.pin.name, dict(requested.pin.meta)
            ('add', {'app': 'doc'})
        """
        return self._parse_status(self._send(self._add_call(cid, name, origins, meta)))

    def get(self, request: PinRequestLike) -> PinStatus:
        """A pin request's current status (``GET /pins/{requestid}``).

        Args:
            request: The request's id, or its :class:`PinStatus`.

        Raises:
            PinningServiceError: The service refused (HTTP 404: no such request).
            IPFSUnavailable: Nothing answers at ``endpoint``, or not in time.

        Example:
            >>> requested = pinning.add(ipfs.add(b"get\\n"))
            >>> pinning.get(requested.requestid).pin == requested.pin
            True
        """
        return self._parse_status(self._send(self._get_call(request)))

    def wait(
        self,
        request: PinRequestLike,
        *,
        timeout: float = DEFAULT_PIN_WAIT,
        poll_interval: float = _FIRST_POLL,
    ) -> PinStatus:
        """Poll a pin request until it is pinned.

        Polls start ``poll_interval`` seconds apart and back off (x1.5, at most
        5 s apart), and the last one is made at ``timeout``: the wait is over
        then, give or take the one request's own (bounded) time.

        Args:
            request: The request's id, or its :class:`PinStatus`.
            timeout: Seconds to wait at most.
            poll_interval: Seconds before the first poll.

        Returns:
            The request's status, ``pinned``.

        Raises:
            PinFailed: The service gave up (status ``failed``); ``details``
                carries its ``info.status_details``.
            PinTimeout: Still ``queued`` or ``pinning`` after ``timeout`` seconds.
            PinningServiceError: The service refused a poll.
            IPFSUnavailable: Nothing answers at ``endpoint``, or not in time.

        Example:
            >>> pinning.wait(pinning.add(ipfs.add(b"wait\\n")), timeout=30).status
            <PinState.PINNED: 'pinned'>
        """
        deadline = time.monotonic() + timeout
        delay = poll_interval
        while True:
            status = self.get(request)
            if self._settled(status):
                return status
            if time.monotonic() >= deadline:
                raise self._timed_out(status, timeout)
            time.sleep(self._next_poll(delay, deadline))
            delay = min(delay * _POLL_GROWTH, _MAX_POLL)

    def pins(
        self,
        *,
        cid: CIDLike | Iterable[CIDLike] | None = None,
        name: str | None = None,
        match: TextMatch = "exact",
        status: PinState | str | Iterable[PinState | str] | None = None,
        before: datetime | None = None,
        after: datetime | None = None,
        meta: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> list[PinStatus]:
        """The pin requests that match every filter given, newest first (``GET /pins``).

        Pages through the results as the spec says (by ``created``), so all
        matches come back, or the first ``limit``.

        Args:
            cid: Requests for this CID, or any of these (at most 10).
            name: Requests of this name, matched as ``match`` says.
            match: ``exact`` (the default), ``iexact``, ``partial`` or ``ipartial``.
            status: Requests in this state or any of these. The spec's
                default, when None, is ``pinned`` only.
            before: Requests created before this (time-zone aware) moment.
            after: Requests created after this moment.
            meta: Requests whose ``meta`` has all these keys and values.
            limit: Return at most this many; None for all.

        Raises:
            InvalidCID: a ``cid`` is not a CID.
            ValueError: an unknown ``status``, a naive datetime or a negative ``limit``.
            PinningServiceError: The service refused (HTTP 400: a filter it rejects).
            IPFSUnavailable: Nothing answers at ``endpoint``, or not in time.

        Example:
            >>> cid = ipfs.add(b"listed\\n")
            >>> pinning.wait(pinning.add(cid, name="listed"), timeout=30).status
            <PinState.PINNED: 'pinned'>
            >>> [str(found.pin.cid) for found in pinning.pins(cid=cid, name="listed")] == [cid]
            True
        """
        pages = self._pages(cid, name, match, status, before, after, meta, limit)
        while (call := pages.next_call()) is not None:
            pages.take(*self._parse_page(self._send(call)))
        return pages.results

    def replace(
        self,
        request: PinRequestLike,
        cid: CIDLike,
        *,
        name: str | None = None,
        origins: Iterable[str] = (),
        meta: Mapping[str, str] | None = None,
    ) -> PinStatus:
        """Replace a pin request by a new one (``POST /pins/{requestid}``).

        The service removes the old request and keeps the blocks that both
        DAGs share pinned throughout, so a large dataset that changed a little
        is not fetched again.

        Args:
            request: The old request's id, or its :class:`PinStatus`.
            cid: The new DAG's root.
            name: As for :meth:`add`.
            origins: As for :meth:`add`.
            meta: As for :meth:`add`.

        Returns:
            The new request (with a new ``requestid``).

        Raises:
            InvalidCID: ``cid`` is not a CID.
            PinningServiceError: The service refused (HTTP 404: no such request).
            IPFSUnavailable: Nothing answers at ``endpoint``, or not in time.

        Example:
            >>> old = pinning.wait(pinning.add(ipfs.add(b"v1\\n")), timeout=30)
            >>> new = pinning.replace(old, ipfs.add(b"v2\\n"), name="v2")
            >>> new.requestid != old.requestid
            True
        """
        call = self._replace_call(request, cid, name, origins, meta)
        return self._parse_status(self._send(call))

    def remove(self, request: PinRequestLike) -> None:
        """Remove a pin request (``DELETE /pins/{requestid}``); the service may then drop the data.

        Args:
            request: The request's id, or its :class:`PinStatus`.

        Raises:
            PinningServiceError: The service refused (HTTP 404: no such request).
            IPFSUnavailable: Nothing answers at ``endpoint``, or not in time.

        Example:
            >>> requested = pinning.add(ipfs.add(b"remove\\n"))
            >>> pinning.remove(requested)
            >>> pinning.get(requested)
            Traceback (most recent call last):
            ...
            troika._errors.PinningServiceError: the pinning service refused ... HTTP 404 ...
        """
        self._send(self._remove_call(request))

    def close(self) -> None:
        """Close the httpx client, if this object created it.

        Example:
            >>> PinningService(endpoint, token).close()
        """
        if self._owns_client:
            self._client.close()


class AsyncPinningService(_PinningBase, AsyncClosing):
    """The async twin of :class:`PinningService`: the same methods, awaited.

    Args:
        endpoint: The API's root URL, without ``/pins``.
        token: The access token; never shown.
        client: The ``httpx.AsyncClient`` to send requests with; one is created
            (and closed by :meth:`close`) if not given.
        timeout: Seconds (or an ``httpx.Timeout``) that any one network step may take.

    Raises:
        ConfigError: ``endpoint`` is not an http(s) URL, or ``token`` is empty.

    Example:
        >>> async def pin(cid: str) -> PinState:
        ...     async with AsyncPinningService(endpoint, token) as service:
        ...         requested = await service.add(cid)
        ...         return (await service.wait(requested, timeout=30)).status
        >>> asyncio.run(pin(ipfs.add(b"pin me too\\n")))
        <PinState.PINNED: 'pinned'>
    """

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(endpoint, token, timeout)
        self._owns_client = client is None
        self._client = httpx.AsyncClient(verify=tls_context()) if client is None else client

    async def _send(self, call: _Call) -> httpx.Response:
        request = self._request(call)
        with self._translate_errors():
            response = await self._client.send(request)
            response.raise_for_status()
        return response

    async def add(
        self,
        cid: CIDLike,
        *,
        name: str | None = None,
        origins: Iterable[str] = (),
        meta: Mapping[str, str] | None = None,
    ) -> PinStatus:
        """Ask the service to pin a DAG; see :meth:`PinningService.add`.

        Example:
            >>> async def add(cid: str) -> str | None:
            ...     async with AsyncPinningService(endpoint, token) as service:
            ...         return (await service.add(cid, name="async add")).pin.name
            >>> asyncio.run(add(ipfs.add(b"async add\\n")))
            'async add'
        """
        return self._parse_status(await self._send(self._add_call(cid, name, origins, meta)))

    async def get(self, request: PinRequestLike) -> PinStatus:
        """A pin request's current status; see :meth:`PinningService.get`.

        Example:
            >>> async def same(cid: str) -> bool:
            ...     async with AsyncPinningService(endpoint, token) as service:
            ...         requested = await service.add(cid)
            ...         return (await service.get(requested)).pin == requested.pin
            >>> asyncio.run(same(ipfs.add(b"async get\\n")))
            True
        """
        return self._parse_status(await self._send(self._get_call(request)))

    async def wait(
        self,
        request: PinRequestLike,
        *,
        timeout: float = DEFAULT_PIN_WAIT,
        poll_interval: float = _FIRST_POLL,
    ) -> PinStatus:
        """Poll a pin request until it is pinned; see :meth:`PinningService.wait`.

        Example:
            >>> async def wait(cid: str) -> PinState:
            ...     async with AsyncPinningService(endpoint, token) as service:
            ...         return (await service.wait(await service.add(cid), timeout=30)).status
            >>> asyncio.run(wait(ipfs.add(b"async wait\\n")))
            <PinState.PINNED: 'pinned'>
        """
        deadline = time.monotonic() + timeout
        delay = poll_interval
        while True:
            status = await self.get(request)
            if self._settled(status):
                return status
            if time.monotonic() >= deadline:
                raise self._timed_out(status, timeout)
            await asyncio.sleep(self._next_poll(delay, deadline))
            delay = min(delay * _POLL_GROWTH, _MAX_POLL)

    async def pins(
        self,
        *,
        cid: CIDLike | Iterable[CIDLike] | None = None,
        name: str | None = None,
        match: TextMatch = "exact",
        status: PinState | str | Iterable[PinState | str] | None = None,
        before: datetime | None = None,
        after: datetime | None = None,
        meta: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> list[PinStatus]:
        """The pin requests that match every filter given; see :meth:`PinningService.pins`.

        Example:
            >>> async def listed(cid: str) -> int:
            ...     async with AsyncPinningService(endpoint, token) as service:
            ...         await service.add(cid, name="async listed")
            ...         return len(await service.pins(name="async listed", status=list(PinState)))
            >>> asyncio.run(listed(ipfs.add(b"async listed\\n")))
            1
        """
        pages = self._pages(cid, name, match, status, before, after, meta, limit)
        while (call := pages.next_call()) is not None:
            pages.take(*self._parse_page(await self._send(call)))
        return pages.results

    async def replace(
        self,
        request: PinRequestLike,
        cid: CIDLike,
        *,
        name: str | None = None,
        origins: Iterable[str] = (),
        meta: Mapping[str, str] | None = None,
    ) -> PinStatus:
        """Replace a pin request by a new one; see :meth:`PinningService.replace`.

        Example:
            >>> async def replace(old: str, new: str) -> bool:
            ...     async with AsyncPinningService(endpoint, token) as service:
            ...         first = await service.add(old)
            ...         second = await service.replace(first, new)
            ...         return str(second.pin.cid) == new
            >>> asyncio.run(replace(ipfs.add(b"async v1\\n"), ipfs.add(b"async v2\\n")))
            True
        """
        call = self._replace_call(request, cid, name, origins, meta)
        return self._parse_status(await self._send(call))

    async def remove(self, request: PinRequestLike) -> None:
        """Remove a pin request; see :meth:`PinningService.remove`.

        Example:
            >>> async def remove(cid: str) -> list[PinStatus]:
            ...     async with AsyncPinningService(endpoint, token) as service:
            ...         requested = await service.add(cid, name="async remove")
            ...         await service.remove(requested)
            ...         return await service.pins(name="async remove", status=list(PinState))
            >>> asyncio.run(remove(ipfs.add(b"async remove\\n")))
            []
        """
        await self._send(self._remove_call(request))

    async def close(self) -> None:
        """Close the httpx client, if this object created it.

        Example:
            >>> asyncio.run(AsyncPinningService(endpoint, token).close())
        """
        if self._owns_client:
            await self._client.aclose()
