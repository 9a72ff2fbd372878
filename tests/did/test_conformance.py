"""The one suite every DID method passes, through both resolvers.

Each method adds its DIDs to ``CASES``; a method that needs I/O (did:ethr on
anvil, did:web on a local server) calls :func:`assert_conformant` on its
results from its own tests: what it checks holds for any conformant method,
per DID Core and DID Resolution.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from troika.did import (
    DID_CONTEXT,
    DIDURL,
    AsyncResolver,
    DIDDocument,
    ResolutionResult,
    Resolver,
    VerificationMethod,
)

VECTORS = Path(__file__).parent / "vectors"


def _cases() -> list[str]:
    dids = list(json.loads((VECTORS / "did-key" / "ed25519-x25519.json").read_text()))
    dids += list(json.loads((VECTORS / "did-key" / "secp256k1.json").read_text()))
    dids += list(json.loads((VECTORS / "did-key" / "x25519.json").read_text())["didDocument"])
    nist = json.loads((VECTORS / "did-key" / "nist-curves.json").read_text())
    dids += [d for d, v in nist.items() if v["publicKey"]["publicKeyJwk"]["crv"] == "P-256"]
    dids += [json.loads(p.read_text())["id"] for p in sorted(VECTORS.glob("did-pkh/*.jsonld"))]
    return dids


CASES = _cases()
Resolve = Callable[[str], ResolutionResult]


@pytest.fixture(params=["sync", "async"])
def resolve(request: pytest.FixtureRequest) -> Resolve:
    if request.param == "sync":
        return Resolver().resolve
    resolver = AsyncResolver()
    return lambda did: asyncio.run(resolver.resolve(did))


@pytest.mark.parametrize("did", CASES)
def test_a_conformant_resolution(resolve: Resolve, did: str) -> None:
    assert_conformant(resolve(did), did)


def assert_conformant(result: ResolutionResult, did: str) -> None:
    """What any conformant resolution of ``did`` holds (methods that need I/O,
    such as did:ethr, call this from their own tests)."""
    assert result.error is None, result.did_resolution_metadata
    assert result.did_resolution_metadata.content_type == "application/did+ld+json"
    document = result.did_document
    assert isinstance(document, DIDDocument)
    assert document.id == did
    context = document.context
    assert context is not None
    assert (context if isinstance(context, str) else context[0]) == DID_CONTEXT
    methods = document.verification_method or ()
    assert methods, "a DID document of these methods holds its keys"
    for method in methods:
        assert DIDURL.parse(document.absolute(method.id)).did.method_specific_id
        assert str(DIDURL.parse(method.controller).did) == method.controller
    for relationship in (
        "authentication",
        "assertionMethod",
        "keyAgreement",
        "capabilityInvocation",
        "capabilityDelegation",
    ):
        entries = document.to_dict().get(relationship, [])
        for entry in entries:
            if isinstance(entry, str):
                assert isinstance(document.dereference(entry), VerificationMethod), entry
    assert ResolutionResult.model_validate_json(result.to_json()) == result


@pytest.mark.parametrize("did", CASES)
def test_a_did_url_resolves_its_did(resolve: Resolve, did: str) -> None:
    assert resolve(f"{did}#frag").did_document == resolve(did).did_document


@pytest.mark.parametrize(
    ("did", "error"),
    [
        ("did:key:z2NcD6", "invalidPublicKeyLength"),  # the ed25519-pub codec, then 1 byte
        ("did:pkh:eip155:1:0x00", "invalidDid"),
        ("did:key:", "invalidDid"),
        ("key", "invalidDid"),
    ],
)
def test_a_broken_did_is_a_result_not_an_exception(resolve: Resolve, did: str, error: str) -> None:
    result = resolve(did)
    assert result.did_document is None
    assert result.error == error
    assert repr(did) in (result.did_resolution_metadata.error_message or "")
