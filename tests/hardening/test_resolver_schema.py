"""schemathesis probes the resolver service against its own OpenAPI document.

The service (``troika.did.create_app``) runs in-process as the ASGI app it is,
with troika's did:key and did:pkh resolvers and a cache, exactly as ``troika did
serve`` builds it minus the network methods (did:web and did:ethr would reach
outside loopback). schemathesis reads ``/openapi.json`` from the app, generates
requests for every operation from it (the document's examples, its coverage
phase, then hypothesis-generated paths and headers, valid and invalid) and runs
all of its checks on every response: no server error, a documented status, the
documented content type and headers, a body that conforms to the response
schema, invalid requests rejected, valid ones accepted.

Two expectations are the DID Resolution HTTP(S) binding's, not schemathesis'
defaults: a resolver answers an identifier its methods do not serve with 501
``methodNotSupported`` (so 501 is not a "server error" here, while 500 still
is), and an identifier that matches the document's pattern but is not a valid
DID of its method (``did:key:z...`` with a bad key) is a 400 ``invalidDid``,
and an Accept header the service cannot serve is a 406, both documented.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests._report import record
from troika.did import ResolutionCache, Resolver, create_app
from troika.did._service import RESULT_MEDIA_TYPE

# "2xx", "3xx", "4xx" are schemathesis' defaults for not_a_server_error; see the module doc.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "checks": {
            "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "501"]},
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "404", "406", "410", "501"]
            },
        }
    }
)

app = create_app(Resolver(cache=ResolutionCache()))
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)

EXAMPLES = 1000  # per operation and phase; the whole file takes some 15 s on 2 cores
calls: Counter[str] = Counter()
statuses: dict[str, Counter[int]] = {}
failures: dict[str, str] = {}  # operation -> the first check that failed


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    """One ``schema`` record per operation: requests made and statuses seen."""
    yield
    refused = sorted(op for op, seen in statuses.items() if set(seen) == {405})
    if refused:
        record(
            "schema",
            "undocumented HTTP methods",
            "survived",
            f"{len(refused)} method and path pairs, each a 405: {', '.join(refused)}",
            examples=sum(calls[op] for op in refused),
            statuses={405: sum(calls[op] for op in refused)},
        )
    for operation, count in sorted(calls.items()):
        if operation in refused:
            continue
        seen = dict(sorted(statuses.get(operation, Counter()).items()))
        failed = failures.get(operation)
        verdict = f"a check failed: {failed}" if failed else "every schemathesis check passed"
        record(
            "schema",
            operation,
            "failed" if failed else "survived",
            f"{count} requests, {verdict}; statuses {seen}",
            examples=count,
            statuses=seen,
            checks="all (schemathesis defaults)",
        )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_response_conforms_to_the_openapi_document(case: schemathesis.Case) -> None:
    operation = f"{case.method.upper()} {case.path}"
    calls[operation] += 1
    try:
        response = case.call_and_validate()
    except Exception as exc:  # recorded as failed, then fails the test as it is
        failures.setdefault(operation, str(exc).splitlines()[0] if str(exc) else repr(exc))
        raise
    statuses.setdefault(operation, Counter())[response.status_code] += 1


def test_an_identifier_with_a_line_break_is_an_invalid_did_not_a_bare_404() -> None:
    # What schemathesis found: Starlette's {identifier:path} does not match across a
    # line break, so "%0A" in an identifier got Starlette's text/plain 404.
    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.get("/1.0/identifiers/did:key:z6Mk%0Aab")

    response = asyncio.run(main())
    assert response.status_code == 400
    assert response.headers["content-type"] == RESULT_MEDIA_TYPE
    metadata = response.json()["didResolutionMetadata"]
    assert metadata["error"] == "invalidDid"
    assert "did:key:z6Mk\\nab" in metadata["errorMessage"]  # the identifier, quoted with !r
