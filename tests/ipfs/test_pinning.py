"""PinningService and AsyncPinningService against a real Pinning Service API server.

The server is tests/_pinning_server.py (IPFS Cluster cannot be built here: the
module proxy refuses its Go module), started by the ``pinning_service``
fixture and pinning into the real Kubo of the ``kubo`` fixture. So that the
client is tested against the spec rather than against a server written beside
it, every request the client sends and every answer the server gives is
checked against the spec's own OpenAPI document
(vectors/ipfs-pinning-service.yaml) with openapi-core.

A few tests of answers no spec-following server gives (HTML, a broken
PinStatus, nanosecond timestamps) use httpx.MockTransport, and say so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_spec_validator import validate as validate_spec
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests._pinning_server import PinningServer
from tests._services import free_port
from troika._errors import (
    ConfigError,
    InvalidCID,
    IPFSUnavailable,
    PinFailed,
    PinningServiceError,
    PinTimeout,
)
from troika.ipfs import (
    CID,
    AsyncPinningService,
    KuboClient,
    Pin,
    PinningService,
    PinState,
    PinStatus,
    _pinning,
)

pytestmark = pytest.mark.kubo

SPEC_PATH = Path(__file__).parent / "vectors" / "ipfs-pinning-service.yaml"
STATES = list(PinState)


def load_spec() -> dict[str, Any]:
    with SPEC_PATH.open() as file:
        spec: dict[str, Any] = yaml.safe_load(file)
    return spec


# -- checking both sides against the spec ------------------------------------------


class SpecRequest:
    """An httpx request as openapi-core's Request protocol sees it."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(request.url.params.multi_items()),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self.request.url.scheme}://{self.request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return self.request.headers.get("Content-Type", "")


class SpecResponse:
    """An httpx response as openapi-core's Response protocol sees it."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return self.response.headers.get("Content-Type", "")

    @property
    def headers(self) -> Headers:
        return Headers(list(self.response.headers.items()))

    @property
    def data(self) -> bytes:
        return self.response.content


class SpecChecker:
    """Checks each exchange against the OpenAPI document; counts them by operation."""

    def __init__(self, url: str, *, requests: bool = True) -> None:
        spec = load_spec()
        spec["servers"] = [{"url": url}]
        self.openapi = OpenAPI.from_dict(spec)
        self.check_requests = requests
        self.seen: list[tuple[str, int]] = []

    def check(self, response: httpx.Response) -> None:
        request = SpecRequest(response.request)
        if self.check_requests:
            self.openapi.validate_request(request)
        self.openapi.validate_response(request, SpecResponse(response))
        self.seen.append(
            (f"{response.request.method} {response.request.url.path}", response.status_code)
        )

    def hook(self, response: httpx.Response) -> None:
        response.read()
        self.check(response)

    async def async_hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.check(response)


@pytest.fixture
def checker(pinning_service: PinningServer) -> SpecChecker:
    return SpecChecker(pinning_service.url)


@pytest.fixture
def service(pinning_service: PinningServer, checker: SpecChecker) -> Iterator[PinningService]:
    client = httpx.Client(event_hooks={"response": [checker.hook]})
    with client, PinningService(pinning_service.url, pinning_service.token, client=client) as svc:
        yield svc


@pytest.fixture
async def async_service(
    pinning_service: PinningServer, checker: SpecChecker
) -> AsyncIterator[AsyncPinningService]:
    client = httpx.AsyncClient(event_hooks={"response": [checker.async_hook]})
    async with (
        client,
        AsyncPinningService(pinning_service.url, pinning_service.token, client=client) as svc,
    ):
        yield svc


@pytest.fixture
def ipfs(kubo: Any) -> Iterator[KuboClient]:
    with KuboClient(kubo.api_url) as client:
        yield client


def fresh(size: int = 64) -> bytes:
    """Bytes no other test stores, so pins and unpins never meet another test's."""
    return random.randbytes(size)


def unique_name(prefix: str) -> str:
    return f"{prefix}-{random.getrandbits(48):012x}"


def poll_until(service: PinningService, requestid: str, wanted: PinState) -> list[PinState]:
    """The statuses seen (each once, in order) until ``wanted``; bounded at 10 s."""
    seen: list[PinState] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = service.get(requestid).status
        if not seen or seen[-1] is not status:
            seen.append(status)
        if status is wanted:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"{requestid} never became {wanted}; seen {seen}")


# -- the spec itself -------------------------------------------------------------------


def test_the_stored_spec_is_a_valid_openapi_document() -> None:
    spec = load_spec()

    validate_spec(spec)  # raises if not
    assert spec["info"]["version"] == "1.0.0"
    assert set(spec["paths"]) == {"/pins", "/pins/{requestid}"}


def test_the_checker_refuses_what_the_spec_refuses(pinning_service: PinningServer) -> None:
    # The hook is what makes every other test a spec test, so prove it bites.
    checker = SpecChecker(pinning_service.url)
    request = httpx.Request("GET", f"{pinning_service.url}/pins", params={"status": "done"})
    answer = httpx.Response(200, json={"count": 0, "results": []}, request=request)

    with pytest.raises(Exception, match=r"Security not found"):
        checker.check(answer)


# -- pinning for real ----------------------------------------------------------------


def test_add_then_wait_pins_the_dag_in_kubo(
    service: PinningService, ipfs: KuboClient, pinning_service: PinningServer
) -> None:
    cid = ipfs.add(fresh(), pin=False)
    origins = ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"]

    requested = service.add(cid, name="dataset.csv", origins=origins, meta={"app": "troika"})
    pinned = service.wait(requested, timeout=30)

    assert requested.status is PinState.QUEUED
    assert requested.pin == Pin(CID.parse(cid), "dataset.csv", tuple(origins), {"app": "troika"})
    assert requested.created.tzinfo is not None
    assert requested.delegates
    assert all("/p2p/" in d for d in requested.delegates)
    assert (pinned.requestid, pinned.status, pinned.pin) == (
        requested.requestid,
        PinState.PINNED,
        requested.pin,
    )
    assert cid in ipfs.pins()  # Kubo holds the pin: the service really pinned it


def test_statuses_move_from_queued_through_pinning_to_pinned(
    service: PinningService, ipfs: KuboClient
) -> None:
    # Kubo waits for content it lacks, so a pin of it stays `pinning` (and holds
    # the service's one worker, so the next request stays `queued`) until the
    # content arrives.
    absent = fresh()
    absent_cid = CID.of(absent)  # a raw block, as `ipfs add --raw-leaves` stores it
    waiting = service.add(absent_cid)
    seen_waiting = poll_until(service, waiting.requestid, PinState.PINNING)
    behind = service.add(ipfs.add(fresh(), pin=False))

    assert service.get(behind).status is PinState.QUEUED
    assert ipfs.add(absent, pin=False, cid_version=1, raw_leaves=True) == str(absent_cid)
    for status in poll_until(service, waiting.requestid, PinState.PINNED):
        if status is not seen_waiting[-1]:
            seen_waiting.append(status)
    assert service.wait(behind, timeout=30).status is PinState.PINNED
    assert seen_waiting == [PinState.QUEUED, PinState.PINNING, PinState.PINNED] or (
        seen_waiting == [PinState.PINNING, PinState.PINNED]  # the worker was quicker
    )


def test_a_pin_of_content_nobody_has_times_out_then_fails_with_kubos_reason(
    service: PinningService,
) -> None:
    nowhere = CID.of(fresh())
    requested = service.add(nowhere, name="nowhere")

    started = time.monotonic()
    with pytest.raises(PinTimeout) as timed_out:
        service.wait(requested, timeout=0.3)
    elapsed = time.monotonic() - started
    with pytest.raises(PinFailed) as failed:
        service.wait(requested, timeout=30)

    assert 0.3 <= elapsed < 1.5
    error = timed_out.value
    assert (error.cid, error.requestid, error.timeout) == (str(nowhere), requested.requestid, 0.3)
    assert error.last_status in ("queued", "pinning")
    assert str(error) == (
        f"pin request {requested.requestid!r} for {str(nowhere)!r} was still "
        f"{error.last_status!r} after 0.3 s; the service may still pin it: wait again, "
        "or remove the request"
    )
    failure = failed.value
    details = f"Kubo could not pin {nowhere}: pin: context deadline exceeded"
    assert (failure.cid, failure.requestid, failure.details) == (
        str(nowhere),
        requested.requestid,
        details,
    )
    assert str(failure) == (
        f"the pinning service could not pin {str(nowhere)!r} (request "
        f"{requested.requestid!r}): {details}; make sure a node that has the content is "
        "reachable, or pass it in origins"
    )


def test_wait_polls_with_backoff(service: PinningService, checker: SpecChecker) -> None:
    requested = service.add(CID.of(fresh()))

    with pytest.raises(PinTimeout):
        service.wait(requested, timeout=1.0, poll_interval=0.05)

    polls = [op for op, _ in checker.seen if op == f"GET /pins/{requested.requestid}"]
    # 0.05, 0.075, 0.11, ... s apart: about 8 polls in a second, not 20.
    assert 5 <= len(polls) <= 10


def test_replace_pins_the_new_dag_then_unpins_the_old(
    service: PinningService, ipfs: KuboClient
) -> None:
    old_cid, new_cid = ipfs.add(fresh(), pin=False), ipfs.add(fresh(), pin=False)
    old = service.wait(service.add(old_cid, name="v1"), timeout=30)

    new = service.replace(old, new_cid, name="v2", meta={"version": "2"})
    service.wait(new, timeout=30)

    assert new.requestid != old.requestid
    assert new.pin == Pin(CID.parse(new_cid), "v2", (), {"version": "2"})
    with pytest.raises(PinningServiceError) as gone:
        service.get(old)
    assert (gone.value.status, gone.value.reason) == (404, "NOT_FOUND")
    pins = ipfs.pins()
    assert new_cid in pins
    assert old_cid not in pins


def test_remove_unpins_in_kubo_and_forgets_the_request(
    service: PinningService, ipfs: KuboClient, pinning_service: PinningServer
) -> None:
    cid = ipfs.add(fresh(), pin=False)
    requested = service.wait(service.add(cid), timeout=30)

    service.remove(requested.requestid)

    assert cid not in ipfs.pins()
    with pytest.raises(PinningServiceError) as caught:
        service.get(requested)
    error = caught.value
    url = f"{pinning_service.url}/pins/{requested.requestid}"
    details = f"no pin request {requested.requestid!r}"
    assert (error.url, error.status, error.reason, error.details) == (
        url,
        404,
        "NOT_FOUND",
        details,
    )
    assert str(error) == f"the pinning service refused {url!r} with HTTP 404 'NOT_FOUND': {details}"
    assert isinstance(error.__cause__, httpx.HTTPStatusError)


def test_removing_an_unknown_request_is_a_404(service: PinningService) -> None:
    with pytest.raises(PinningServiceError) as caught:
        service.remove("no-such-request")

    assert (caught.value.status, caught.value.reason) == (404, "NOT_FOUND")


# -- listing -------------------------------------------------------------------------


@pytest.fixture
def listed(service: PinningService, ipfs: KuboClient) -> dict[str, PinStatus]:
    """Four pinned requests with a run id of their own in ``meta``."""
    run = unique_name("run")
    names = {"a": "Report.PDF", "b": "report.pdf", "c": "photos.zip", "d": "annual report"}
    made = {
        key: service.add(ipfs.add(fresh(), pin=False), name=name, meta={"run": run, "key": key})
        for key, name in names.items()
    }
    return {key: service.wait(status, timeout=30) for key, status in made.items()}


def keys(found: list[PinStatus], listed: dict[str, PinStatus]) -> list[str]:
    by_id = {status.requestid: key for key, status in listed.items()}
    return [by_id[status.requestid] for status in found if status.requestid in by_id]


def test_pins_lists_newest_first_with_every_filter(
    service: PinningService, listed: dict[str, PinStatus]
) -> None:
    run = listed["a"].pin.meta["run"]
    mine = {"run": run}

    assert keys(service.pins(meta=mine), listed) == ["d", "c", "b", "a"]
    assert keys(service.pins(meta=mine, name="report.pdf"), listed) == ["b"]
    assert keys(service.pins(meta=mine, name="report.pdf", match="iexact"), listed) == ["b", "a"]
    assert keys(service.pins(meta=mine, name="report", match="partial"), listed) == ["d", "b"]
    assert keys(service.pins(meta=mine, name="REPORT", match="ipartial"), listed) == [
        "d",
        "b",
        "a",
    ]
    assert keys(service.pins(meta={"run": run, "key": "c"}), listed) == ["c"]
    two = [listed["a"].pin.cid, str(listed["c"].pin.cid)]
    assert keys(service.pins(cid=two, meta=mine), listed) == ["c", "a"]
    assert keys(service.pins(cid=listed["b"].pin.cid), listed) == ["b"]
    assert keys(service.pins(meta=mine, status=PinState.QUEUED), listed) == []
    assert keys(service.pins(meta=mine, status=STATES, limit=2), listed) == ["d", "c"]
    assert keys(service.pins(meta=mine, before=listed["c"].created), listed) == ["b", "a"]
    assert keys(service.pins(meta=mine, after=listed["b"].created), listed) == ["d", "c"]


def test_pins_without_a_status_lists_pinned_ones_only(
    service: PinningService, ipfs: KuboClient
) -> None:
    run = {"run": unique_name("default-status")}
    pinned = service.wait(service.add(ipfs.add(fresh(), pin=False), meta=run), timeout=30)
    waiting = service.add(CID.of(fresh()), meta=run)  # nobody has it: never pinned

    assert [s.requestid for s in service.pins(meta=run)] == [pinned.requestid]
    every = service.pins(meta=run, status=STATES)
    assert [s.requestid for s in every] == [waiting.requestid, pinned.requestid]


def test_pins_pages_through_results_by_created(
    service: PinningService,
    ipfs: KuboClient,
    checker: SpecChecker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = {"run": unique_name("pages")}
    cid = ipfs.add(fresh(), pin=False)
    made = [service.add(cid, meta=run) for _ in range(23)]
    monkeypatch.setattr(_pinning, "_PAGE_SIZE", 5)
    checker.seen.clear()

    every = service.pins(meta=run, status=STATES)
    first_twelve = service.pins(meta=run, status=STATES, limit=12)

    newest_first = [s.requestid for s in reversed(made)]
    assert [s.requestid for s in every] == newest_first
    assert [s.requestid for s in first_twelve] == newest_first[:12]
    lists = [op for op, _ in checker.seen if op == "GET /pins"]
    assert len(lists) == 5 + 3  # 23 in pages of 5; 12 in pages of 5, 5, 2
    for status in made:
        service.remove(status)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"cid": "not-a-cid"}, InvalidCID),
        ({"status": "done"}, ValueError),
        ({"before": datetime(2020, 1, 1)}, ValueError),  # naive: no time zone
        ({"limit": -1}, ValueError),
    ],
)
def test_bad_filters_are_refused_before_anything_is_sent(
    service: PinningService, checker: SpecChecker, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        service.pins(**kwargs)

    assert checker.seen == []


# -- the access token ----------------------------------------------------------------


def test_a_wrong_token_gets_401_with_a_message_that_says_so(
    pinning_service: PinningServer, checker: SpecChecker
) -> None:
    client = httpx.Client(event_hooks={"response": [checker.hook]})
    service = PinningService(pinning_service.url, "not-the-token", client=client)
    with client, pytest.raises(PinningServiceError) as caught:
        service.pins()

    error = caught.value
    url = f"{pinning_service.url}/pins?limit=1000"
    assert (error.status, error.reason, error.details) == (
        401,
        "UNAUTHORIZED",
        "Access token is missing or invalid",
    )
    assert str(error) == (
        f"the pinning service refused the access token at {url!r} (HTTP 401 'UNAUTHORIZED': "
        "Access token is missing or invalid); the token is missing, wrong or revoked: pass a "
        "valid one"
    )
    assert checker.seen == [("GET /pins", 401)]  # and the 401 follows the spec too


def test_the_token_is_never_shown(
    pinning_service: PinningServer, caplog: pytest.LogCaptureFixture
) -> None:
    token = pinning_service.token
    caplog.set_level(logging.DEBUG)
    with PinningService(pinning_service.url, token) as service:
        service.pins(limit=1)
        with pytest.raises(PinningServiceError) as caught:
            service.get("missing")
        shown = [repr(service), str(caught.value), repr(caught.value.__cause__), caplog.text]

    assert caplog.text  # httpx and httpcore did log the exchanges
    assert not [text for text in shown if token in text]


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_is_a_config_error(token: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PinningService("http://127.0.0.1:1", token)

    assert (caught.value.field, caught.value.value) == ("token", "<hidden>")


@pytest.mark.parametrize("endpoint", ["127.0.0.1:5050", "ftp://127.0.0.1", "http://"])
def test_the_endpoint_must_be_http(endpoint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PinningService(endpoint, "token")

    assert (caught.value.field, caught.value.value) == ("endpoint", endpoint)


# -- refusals and faults --------------------------------------------------------------


def test_a_request_the_spec_refuses_gets_the_services_400(
    pinning_service: PinningServer, ipfs: KuboClient
) -> None:
    # Only the answer is checked here: the request breaks the spec on purpose.
    checker = SpecChecker(pinning_service.url, requests=False)
    client = httpx.Client(event_hooks={"response": [checker.hook]})
    service = PinningService(pinning_service.url, pinning_service.token, client=client)
    with client, pytest.raises(PinningServiceError) as caught:
        service.add(ipfs.add(fresh(), pin=False), name="x" * 256)

    error = caught.value
    assert (error.status, error.reason, error.details) == (
        400,
        "BAD_REQUEST",
        "Pin.name must be a string of at most 255 characters",
    )
    assert checker.seen == [("POST /pins", 400)]


def test_an_invalid_cid_is_refused_before_anything_is_sent(
    service: PinningService, checker: SpecChecker
) -> None:
    with pytest.raises(InvalidCID) as caught:
        service.add("QmNotACid")

    assert caught.value.cid == "QmNotACid"
    assert isinstance(caught.value, ValueError)
    assert checker.seen == []


def test_a_closed_port_gives_unavailable_quoting_the_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"

    with PinningService(endpoint, "token") as service, pytest.raises(IPFSUnavailable) as caught:
        service.get("any")

    assert caught.value.url == endpoint
    assert str(caught.value).startswith(
        f"no IPFS pinning service answers at {endpoint!r} (ConnectError: "
    )
    assert str(caught.value).endswith(
        "; check the endpoint URL (the one that ends before /pins) and that the service is up"
    )
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def mock_service(handler: Any) -> PinningService:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return PinningService("http://pins.test", "token", client=client)


def test_fake_service_answering_html_gives_unavailable() -> None:
    service = mock_service(lambda _: httpx.Response(200, text="<html>a login page</html>"))

    with pytest.raises(IPFSUnavailable) as caught:
        service.get("r1")

    assert str(caught.value) == (
        "no IPFS pinning service answers at 'http://pins.test' (http://pins.test/pins/r1 "
        "answered with something other than JSON: '<html>a login page</html>'); check the "
        "endpoint URL (the one that ends before /pins) and that the service is up"
    )


def test_fake_service_answering_a_broken_pin_status_names_every_problem() -> None:
    body = {"requestid": "r1", "status": "done", "created": "yesterday", "pin": {"cid": 7}}
    service = mock_service(lambda _: httpx.Response(202, json=body))

    with pytest.raises(IPFSUnavailable) as caught:
        service.add("bafkqaaa")

    assert "answered with an invalid PinStatus (status: 'done' is not a valid PinState (got " in (
        str(caught.value)
    )
    assert "created: Invalid isoformat string: 'yesterday' (got 'yesterday'); " in str(caught.value)
    assert "delegates: missing; cid: not a string (got 7))" in str(caught.value)


def test_fake_proxy_error_without_a_failure_body_keeps_the_status_line() -> None:
    service = mock_service(lambda _: httpx.Response(502, text="upstream is down"))

    with pytest.raises(PinningServiceError) as caught:
        service.get("r1")

    assert (caught.value.status, caught.value.reason, caught.value.details) == (
        502,
        "BAD_GATEWAY",
        "upstream is down",
    )


def test_fake_service_with_nanosecond_timestamps_pages_by_its_own_text() -> None:
    # Go services (IPFS Cluster) print nanoseconds, which datetime cannot hold;
    # the next page must start before the service's own text, not a rounded copy.
    def status(number: int) -> dict[str, Any]:
        return {
            "requestid": f"r{number}",
            "status": "pinned",
            "created": f"2024-05-01T12:00:00.00000000{number}Z",
            "pin": {"cid": "bafkqaaa"},
            "delegates": ["/dns/pins.test"],
        }

    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        before = request.url.params.get("before")
        asked.append(before)
        if before is None:
            return httpx.Response(200, json={"count": 3, "results": [status(3), status(2)]})
        return httpx.Response(200, json={"count": 1, "results": [status(1)]})

    found = mock_service(handler).pins()

    assert [s.requestid for s in found] == ["r3", "r2", "r1"]
    assert asked == [None, "2024-05-01T12:00:00.000000002Z"]


def test_fake_service_repeating_a_page_does_not_loop_forever() -> None:
    page = {
        "count": 5,
        "results": [
            {
                "requestid": "r1",
                "status": "pinned",
                "created": "2024-05-01T12:00:00Z",
                "pin": {"cid": "bafkqaaa"},
                "delegates": ["/dns/pins.test"],
            }
        ],
    }
    calls: list[int] = []

    def handler(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json=page)

    assert [s.requestid for s in mock_service(handler).pins()] == ["r1"]
    assert len(calls) == 2  # the second page brought nothing new: done


# -- values ------------------------------------------------------------------------


def test_values_are_frozen_and_hashable() -> None:
    status = PinStatus.from_json(
        {
            "requestid": "r1",
            "status": "pinned",
            "created": "2024-05-01T12:00:00+02:00",
            "pin": {"cid": "bafkqaaa", "meta": {"k": "v"}, "origins": ["/dns/a"]},
            "delegates": ["/dns/pins.test"],
            "info": {"dag_size": 42},
        }
    )

    assert status.created == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert status.info == {"dag_size": "42"}  # numbers some services send become text
    assert status.pin.meta == {"k": "v"}
    assert hash(status) == hash(PinStatus.from_json(json.loads(json.dumps(_as_json(status)))))
    with pytest.raises(TypeError):
        status.pin.meta["k"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError):
        status.status = PinState.FAILED  # type: ignore[misc]
    assert repr(status.pin) == (
        "Pin(cid=CID('bafkqaaa'), name=None, origins=('/dns/a',), meta={'k': 'v'})"
    )


def _as_json(status: PinStatus) -> dict[str, Any]:
    return {
        "requestid": status.requestid,
        "status": status.status.value,
        "created": status.created.isoformat(),
        "pin": {
            "cid": str(status.pin.cid),
            "meta": dict(status.pin.meta),
            "origins": list(status.pin.origins),
        },
        "delegates": list(status.delegates),
        "info": dict(status.info),
    }


# -- async ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_add_wait_list_replace_remove(
    async_service: AsyncPinningService, kubo: Any, checker: SpecChecker
) -> None:
    run = {"run": unique_name("async")}
    with KuboClient(kubo.api_url) as ipfs:
        first, second = ipfs.add(fresh(), pin=False), ipfs.add(fresh(), pin=False)

        requested = await async_service.add(first, name="async", meta=run)
        pinned = await async_service.wait(requested, timeout=30)
        listed = await async_service.pins(meta=run)
        replaced = await async_service.replace(pinned, second, meta=run)
        await async_service.wait(replaced.requestid, timeout=30)
        await async_service.remove(replaced)
        remaining = await async_service.pins(meta=run, status=STATES)
        pins = ipfs.pins()

    assert pinned.status is PinState.PINNED
    assert [s.requestid for s in listed] == [requested.requestid]
    assert remaining == []
    assert first not in pins
    assert second not in pins
    assert {op.split(" ")[0] for op, _ in checker.seen} == {"GET", "POST", "DELETE"}


@pytest.mark.anyio
async def test_async_failed_pin_raises_pin_failed(async_service: AsyncPinningService) -> None:
    requested = await async_service.add(CID.of(fresh()))

    with pytest.raises(PinTimeout):
        await async_service.wait(requested, timeout=0.2)
    with pytest.raises(PinFailed) as caught:
        await async_service.wait(requested, timeout=30)

    assert caught.value.requestid == requested.requestid


@pytest.mark.anyio
async def test_async_closed_port_gives_unavailable() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"

    async with AsyncPinningService(endpoint, "token") as service:
        with pytest.raises(IPFSUnavailable) as caught:
            await asyncio.wait_for(service.pins(), timeout=10)

    assert caught.value.url == endpoint
