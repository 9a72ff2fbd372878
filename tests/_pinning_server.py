"""A local IPFS Pinning Service API server, backed by a real Kubo node, for the tests.

IPFS Cluster, the real server the IPFS issue names, cannot be built here (the
module proxy refuses its Go module), so the tests run this one instead. It
follows the spec's OpenAPI document (tests/ipfs/vectors/ipfs-pinning-service.yaml,
version 1.0.0), and the tests check every answer it gives against that
document, so what the client is tested against is the spec, not itself.

What it does for real:

- pins through Kubo's RPC API, on a worker thread, one request at a time: a
  new request is ``queued``, becomes ``pinning`` while Kubo's ``pin/add`` runs
  (which waits for content the node lacks, up to ``--pin-timeout``), then
  ``pinned``, or ``failed`` with Kubo's message in ``info.status_details``;
- replaces a pin by pinning the new CID before it unpins the old one, so blocks
  both share are never left unpinned;
- unpins in Kubo on removal, unless another request still holds the CID or the
  node had pinned it before this service did;
- answers with its node's own loopback multiaddrs as ``delegates``;
- checks ``Authorization: Bearer <token>`` on every request.

``origins`` are stored and echoed but never dialled: nothing here may reach
beyond loopback.

Run by :class:`PinningServer` (a :class:`~tests._services.Service`); by hand::

    TROIKA_PINNING_TOKEN=secret python -m tests._pinning_server --port 5050 \\
        --kubo http://127.0.0.1:5001
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import queue
import secrets
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests._services import REPO_ROOT, Service, free_port

TOKEN_VARIABLE = "TROIKA_PINNING_TOKEN"
STATUSES = ("queued", "pinning", "pinned", "failed")
MATCHES = ("exact", "iexact", "partial", "ipartial")
MAX_NAME = 255
MAX_ORIGINS = 20
MAX_CIDS = 10
MAX_LIMIT = 1000
DEFAULT_LIMIT = 10


class BadRequest(Exception):
    """The request does not follow the spec; answered with 400 BAD_REQUEST."""


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} is not an RFC 3339 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name} has no time zone: {text!r}")
    return moment


# -- the store ------------------------------------------------------------------


@dataclass
class PinRequest:
    """One pin request and where it stands."""

    requestid: str
    created: datetime
    pin: dict[str, Any]
    status: str = "queued"
    info: dict[str, str] = field(default_factory=dict)
    replaces: str | None = None  # the CID to unpin once this one is pinned
    owns_pin: bool = False  # this service added the Kubo pin (so may remove it)

    @property
    def cid(self) -> str:
        return str(self.pin["cid"])

    def as_json(self, delegates: list[str]) -> dict[str, Any]:
        return {
            "requestid": self.requestid,
            "status": self.status,
            "created": rfc3339(self.created),
            "pin": self.pin,
            "delegates": delegates,
            "info": self.info,
        }


class Kubo:
    """The few Kubo RPC calls the service makes."""

    def __init__(self, api_url: str, pin_timeout: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.pin_timeout = pin_timeout
        self.client = httpx.Client(timeout=pin_timeout + 10, trust_env=False)

    def call(self, command: str, *args: str, **params: str) -> dict[str, Any]:
        query = [("arg", arg) for arg in args] + list(params.items())
        answer = self.client.post(f"{self.api_url}/api/v0/{command}", params=query)
        try:
            body = answer.json()
        except ValueError:
            body = {"Message": answer.text.strip()}
        if answer.status_code != 200:
            raise RuntimeError(body.get("Message", answer.text) if isinstance(body, dict) else body)
        return body if isinstance(body, dict) else {}

    def is_cid(self, cid: str) -> bool:
        try:
            answer = self.call("cid/format", cid)
        except RuntimeError:
            return False
        # Kubo answers 200 for a bad CID too, with the reason in ErrorMsg.
        return not answer.get("ErrorMsg")

    def pinned(self, cid: str) -> bool:
        try:
            keys = self.call("pin/ls", cid, type="recursive").get("Keys") or {}
        except RuntimeError:  # "not pinned"
            return False
        return bool(keys)

    def pin(self, cid: str) -> None:
        self.call("pin/add", cid, timeout=f"{round(self.pin_timeout * 1000)}ms")

    def unpin(self, cid: str) -> None:
        try:
            self.call("pin/rm", cid)
        except RuntimeError as exc:
            print(f"pin/rm {cid}: {exc}", file=sys.stderr, flush=True)

    def delegates(self) -> list[str]:
        identity = self.call("id")
        peer = str(identity["ID"])
        loopback = [
            str(address)
            for address in identity.get("Addresses") or []
            if str(address).startswith("/ip4/127.")
        ]
        return sorted(set(loopback))[:MAX_ORIGINS] or [f"/p2p/{peer}"]


class PinningService:
    """The pin requests of one access token, and the worker that pins them in Kubo."""

    def __init__(self, kubo: Kubo) -> None:
        self.kubo = kubo
        self.delegates = kubo.delegates()
        self.requests: dict[str, PinRequest] = {}
        self.lock = threading.Lock()
        self.work: queue.Queue[str] = queue.Queue()
        self.last_created = datetime.fromtimestamp(0, UTC)
        threading.Thread(target=self._pin_forever, name="pinner", daemon=True).start()

    def _created(self) -> datetime:
        # Pagination goes by `created`, so the spec wants every value unique.
        now = datetime.now(UTC)
        if now <= self.last_created:
            now = self.last_created + timedelta(microseconds=1)
        self.last_created = now
        return now

    def _held_elsewhere(self, cid: str, request: PinRequest) -> bool:
        return any(
            other is not request and other.cid == cid and other.status in ("pinning", "pinned")
            for other in self.requests.values()
        )

    # -- the operations -----------------------------------------------------------

    def add(self, pin: dict[str, Any], replaces: str | None = None) -> PinRequest:
        request = PinRequest(uuid.uuid4().hex, self._created(), pin, replaces=replaces)
        with self.lock:
            self.requests[request.requestid] = request
        self.work.put(request.requestid)
        return request

    def get(self, requestid: str) -> PinRequest | None:
        with self.lock:
            return self.requests.get(requestid)

    def replace(self, requestid: str, pin: dict[str, Any]) -> PinRequest | None:
        with self.lock:
            old = self.requests.pop(requestid, None)
        if old is None:
            return None
        # The old pin stays in Kubo until the new one is pinned (see _pin).
        keep = old.cid if old.status in ("pinning", "pinned") and old.owns_pin else None
        return self.add(pin, replaces=keep)

    def remove(self, requestid: str) -> bool:
        with self.lock:
            request = self.requests.pop(requestid, None)
            if request is None:
                return False
            unpin = (
                request.status == "pinned"
                and request.owns_pin
                and not self._held_elsewhere(request.cid, request)
            )
        if unpin:
            self.kubo.unpin(request.cid)
        return True

    def matching(self, filters: dict[str, Any]) -> list[PinRequest]:
        with self.lock:
            found = [r for r in self.requests.values() if _matches(r, filters)]
        return sorted(found, key=lambda r: r.created, reverse=True)

    # -- the worker ----------------------------------------------------------------

    def _pin_forever(self) -> None:
        while True:
            requestid = self.work.get()
            try:
                self._pin(requestid)
            except Exception as exc:  # keep serving whatever happens to one pin
                print(f"pinning {requestid} failed: {exc!r}", file=sys.stderr, flush=True)

    def _pin(self, requestid: str) -> None:
        with self.lock:
            request = self.requests.get(requestid)
            if request is None:  # removed while queued
                return
            request.status = "pinning"
            cid = request.cid
        owned_before = self.kubo.pinned(cid)
        try:
            self.kubo.pin(cid)
        except RuntimeError as exc:
            outcome, details = "failed", str(exc)
        else:
            outcome, details = "pinned", ""
        with self.lock:
            still_wanted = self.requests.get(requestid) is request
            request.status = outcome
            request.owns_pin = outcome == "pinned" and not owned_before
            if details:
                request.info = {"status_details": f"Kubo could not pin {cid}: {details}"}
            orphan = (
                not still_wanted and request.owns_pin and not self._held_elsewhere(cid, request)
            )
            # A replaced pin goes either way: the spec's replace is remove + add.
            old = request.replaces
            unpin_old = old is not None and old != cid and not self._held_elsewhere(old, request)
        if orphan:  # removed while it was being pinned
            self.kubo.unpin(cid)
        if unpin_old and old is not None:
            self.kubo.unpin(old)


def _matches(request: PinRequest, filters: dict[str, Any]) -> bool:
    if request.status not in filters["status"]:
        return False
    if filters["cid"] is not None and request.cid not in filters["cid"]:
        return False
    name = filters["name"]
    if name is not None:
        have = str(request.pin.get("name", ""))
        match = filters["match"]
        if match.startswith("i"):
            have, name = have.casefold(), name.casefold()
        if not (have == name if match.endswith("exact") else name in have):
            return False
    if filters["before"] is not None and not request.created < filters["before"]:
        return False
    if filters["after"] is not None and not request.created > filters["after"]:
        return False
    meta = request.pin.get("meta") or {}
    return all(meta.get(key) == value for key, value in filters["meta"].items())


# -- reading requests -------------------------------------------------------------


def read_pin(body: bytes, kubo: Kubo) -> dict[str, Any]:
    """The ``Pin`` object of a request body, checked against the spec's schema."""
    try:
        pin = json.loads(body)
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(pin, dict):
        raise BadRequest("the body is not a Pin object")
    cid = pin.get("cid")
    if not isinstance(cid, str):
        raise BadRequest("Pin.cid is required and must be a string")
    if "name" in pin and (not isinstance(pin["name"], str) or len(pin["name"]) > MAX_NAME):
        raise BadRequest(f"Pin.name must be a string of at most {MAX_NAME} characters")
    origins = pin.get("origins", [])
    if (
        not isinstance(origins, list)
        or not all(isinstance(o, str) for o in origins)
        or len(set(origins)) != len(origins)
        or len(origins) > MAX_ORIGINS
    ):
        raise BadRequest(f"Pin.origins must be at most {MAX_ORIGINS} distinct strings")
    meta = pin.get("meta", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise BadRequest("Pin.meta must be an object of strings")
    if not kubo.is_cid(cid):
        raise BadRequest(f"Pin.cid is not a valid CID: {cid!r}")
    return pin


def read_filters(query: str) -> dict[str, Any]:
    """The filters of ``GET /pins``, checked against the spec's parameters."""
    params = parse_qs(query, keep_blank_values=True)
    for key, values in params.items():
        if len(values) > 1:
            # cid and status are `style: form, explode: false`: one comma list.
            raise BadRequest(f"{key} is given {len(values)} times; pass one value")

    def one(key: str) -> str | None:
        return params[key][0] if key in params else None

    def csv(key: str) -> list[str] | None:
        text = one(key)
        return None if text is None else text.split(",")

    cids = csv("cid")
    if cids is not None and not (1 <= len(cids) <= MAX_CIDS and len(set(cids)) == len(cids)):
        raise BadRequest(f"cid takes 1 to {MAX_CIDS} distinct CIDs")
    statuses = csv("status")
    if statuses is None:
        statuses = ["pinned"]  # the spec's default: only successful pins
    elif not statuses or any(s not in STATUSES for s in statuses):
        raise BadRequest(f"status takes some of {', '.join(STATUSES)}")
    name = one("name")
    if name is not None and len(name) > MAX_NAME:
        raise BadRequest(f"name is longer than {MAX_NAME} characters")
    match = one("match") or "exact"
    if match not in MATCHES:
        raise BadRequest(f"match is one of {', '.join(MATCHES)}")
    limit_text = one("limit") or str(DEFAULT_LIMIT)
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise BadRequest(f"limit is an integer from 1 to {MAX_LIMIT}")
    meta: dict[str, Any] = {}
    meta_text = one("meta")
    if meta_text is not None:
        try:
            meta = json.loads(meta_text)
        except ValueError:
            raise BadRequest("meta is not a JSON object") from None
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise BadRequest("meta is not a JSON object of strings")
    before, after = one("before"), one("after")
    return {
        "cid": None if cids is None else set(cids),
        "status": set(statuses),
        "name": name,
        "match": match,
        "limit": int(limit_text),
        "before": None if before is None else parse_rfc3339(before, "before"),
        "after": None if after is None else parse_rfc3339(after, "after"),
        "meta": meta,
    }


# -- HTTP ---------------------------------------------------------------------------


def failure(reason: str, details: str) -> dict[str, Any]:
    return {"error": {"reason": reason, "details": details}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "troika-test-pinning-service/1.0"
    service: PinningService
    token: str

    def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.encode(), self.token.encode()
        )

    def _dispatch(self, method: str) -> None:
        body = self._body()  # always read, so the connection stays usable
        if not self._authorized():
            self._answer(401, failure("UNAUTHORIZED", "Access token is missing or invalid"))
            return
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        try:
            if parts == ["pins"] and method == "GET":
                self._list(url.query)
            elif parts == ["pins"] and method == "POST":
                request = self.service.add(read_pin(body, self.service.kubo))
                self._answer(202, request.as_json(self.service.delegates))
            elif len(parts) == 2 and parts[0] == "pins" and method in ("GET", "POST", "DELETE"):
                self._one(method, parts[1], body)
            elif parts and parts[0] == "pins":
                self._answer(405, failure("METHOD_NOT_ALLOWED", f"{method} {url.path}"))
            else:
                self._answer(404, failure("NOT_FOUND", f"no such resource: {url.path}"))
        except BadRequest as exc:
            self._answer(400, failure("BAD_REQUEST", str(exc)))
        except Exception as exc:
            self._answer(500, failure("INTERNAL_SERVER_ERROR", repr(exc)))

    def _list(self, query: str) -> None:
        filters = read_filters(query)
        found = self.service.matching(filters)
        results = [r.as_json(self.service.delegates) for r in found[: filters["limit"]]]
        self._answer(200, {"count": len(found), "results": results})

    def _one(self, method: str, requestid: str, body: bytes) -> None:
        missing = failure("NOT_FOUND", f"no pin request {requestid!r}")
        if method == "GET":
            request = self.service.get(requestid)
            if request is None:
                self._answer(404, missing)
            else:
                self._answer(200, request.as_json(self.service.delegates))
        elif method == "POST":
            pin = read_pin(body, self.service.kubo)
            replaced = self.service.replace(requestid, pin)
            if replaced is None:
                self._answer(404, missing)
            else:
                self._answer(202, replaced.as_json(self.service.delegates))
        elif self.service.remove(requestid):
            self._answer(202)
        else:
            self._answer(404, missing)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")


def serve(port: int, kubo_api_url: str, token: str, pin_timeout: float) -> None:
    Handler.service = PinningService(Kubo(kubo_api_url, pin_timeout))
    Handler.token = token
    with ThreadingHTTPServer(("127.0.0.1", port), Handler) as server:
        server.daemon_threads = True
        print(f"pinning service on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
        server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kubo", required=True, help="Kubo's RPC API URL")
    parser.add_argument("--pin-timeout", type=float, default=30.0, help="seconds per pin/add")
    options = parser.parse_args()
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        parser.error(f"set the access token in ${TOKEN_VARIABLE}")
    serve(options.port, options.kubo, token, options.pin_timeout)


# -- the process, for the fixtures --------------------------------------------------


class PinningServer(Service):
    """This module's server as a process on a free loopback port, pinning into ``kubo_api_url``.

    Args:
        kubo_api_url: The RPC API of the Kubo node that does the pinning.
        token: The access token it accepts; a random one if None.
        pin_timeout: Seconds Kubo may spend on one ``pin/add`` before the
            request is ``failed`` (content the node lacks is waited for that long).
        workdir: Where its logs go; a temporary directory (removed on stop) if None.
    """

    name = "pinning"

    def __init__(
        self,
        kubo_api_url: str,
        *,
        token: str | None = None,
        pin_timeout: float = 2.0,
        workdir: Path | None = None,
    ) -> None:
        self.kubo_api_url = kubo_api_url
        self.token = secrets.token_urlsafe(24) if token is None else token
        self.pin_timeout = pin_timeout
        self.port = free_port()
        super().__init__(workdir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "tests._pinning_server",
            "--port", str(self.port),
            "--kubo", self.kubo_api_url,
            "--pin-timeout", str(self.pin_timeout),
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env[TOKEN_VARIABLE] = self.token
        return env

    def ready(self, client: httpx.Client) -> bool:
        answer = client.get(f"{self.url}/pins", headers={"Authorization": f"Bearer {self.token}"})
        return answer.status_code == 200


if __name__ == "__main__":
    main()
