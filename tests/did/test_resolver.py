"""The resolver: registry, DID Resolution error codes, typed errors, sync and async twins."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from troika import (
    DIDNotFound,
    DIDResolutionError,
    InvalidDID,
    InvalidPublicKey,
    MethodNotSupported,
)
from troika.did import (
    DID,
    AsyncResolver,
    DIDDocument,
    DocumentMetadata,
    ResolutionResult,
    Resolver,
    resolve,
    resolve_document,
)

VECTORS = Path(__file__).parent / "vectors"
PKH = json.loads(
    (VECTORS / "did-pkh" / "eip155-1-0xb9c5714089478a327f09197987f16f9e5d936e8a.jsonld").read_text()
)
ED25519 = json.loads((VECTORS / "did-key" / "ed25519-x25519.json").read_text())
ED_DID, ED_VECTOR = next(iter(ED25519.items()))


def example_method(did: DID, options: Mapping[str, Any]) -> DIDDocument | ResolutionResult:
    """A method for tests: did:example:<n> exists for n < 10, with a version."""
    if did.method_specific_id == "gone":
        return ResolutionResult.failure("notFound", "gone for good")
    if not did.method_specific_id.isdigit() or int(did.method_specific_id) >= 10:
        raise DIDNotFound(str(did))
    return ResolutionResult.success(
        DIDDocument(id=str(did)),
        document_metadata=DocumentMetadata(version_id=options.get("version_id", "latest")),
    )


def test_the_module_resolver_knows_key_and_pkh() -> None:
    assert resolve(PKH["id"]).did_document == DIDDocument.model_validate(PKH)
    assert (
        resolve_document(ED_DID, public_key_format="Ed25519VerificationKey2018").to_dict()
        == (ED_VECTOR["didDocument"])
    )
    assert Resolver().methods == ("key", "pkh")


@pytest.mark.parametrize(
    ("did", "error", "raised"),
    [
        ("not a did", "invalidDid", InvalidDID),
        ("did:example:123", "methodNotSupported", MethodNotSupported),
        ("did:key:z2NcD6", "invalidPublicKeyLength", InvalidPublicKey),
        (
            "did:pkh:bip122:000000000019d6689c085ae165831e93:128Lkh3S7CkDTBZ8W7BbpsN3YYizJMp8p6",
            "methodNotSupported",
            MethodNotSupported,
        ),
    ],
)
def test_errors_are_results_and_typed_exceptions(
    did: str, error: str, raised: type[Exception]
) -> None:
    resolver = Resolver()
    result = resolver.resolve(did)
    assert result.did_document is None
    assert result.error == error
    assert result.to_dict()["didDocument"] is None
    with pytest.raises(raised) as caught:
        resolver.resolve_document(did)
    assert caught.value.error == error  # type: ignore[attr-defined]
    assert repr(did) in str(caught.value)


def test_representations_other_than_json_ld_are_not_supported() -> None:
    result = Resolver().resolve(ED_DID, accept="application/cbor")
    assert result.error == "representationNotSupported"
    assert Resolver().resolve(ED_DID, accept="application/did+ld+json").error is None
    with pytest.raises(DIDResolutionError) as caught:
        Resolver().resolve_document(ED_DID, accept="text/html")
    assert caught.value.error == "representationNotSupported"


def test_registered_methods_get_the_did_and_the_options() -> None:
    resolver = Resolver()
    resolver.register("example", example_method)
    assert resolver.methods == ("example", "key", "pkh")
    result = resolver.resolve("did:example:3?versionId=7#key-1")
    assert result.did_document == DIDDocument(id="did:example:3")
    assert result.did_document_metadata.version_id == "7"
    assert resolver.resolve("did:example:3").did_document_metadata.version_id == "latest"
    assert resolver.resolve("did:example:3", version_id="2").did_document_metadata.version_id == "2"


def test_not_found_raised_or_returned_by_a_method() -> None:
    resolver = Resolver()
    resolver.register("example", example_method)
    for did in ("did:example:99", "did:example:gone"):
        assert resolver.resolve(did).error == "notFound"
        with pytest.raises(DIDNotFound) as caught:
            resolver.resolve_document(did)
        assert caught.value.did == did
        assert isinstance(caught.value, LookupError)


def test_a_crashing_method_is_an_internal_error() -> None:
    def broken(did: DID, options: Mapping[str, Any]) -> DIDDocument:
        raise RuntimeError("boom")

    def wrong(did: DID, options: Mapping[str, Any]) -> DIDDocument:
        return "a string"  # type: ignore[return-value]

    resolver = Resolver()
    resolver.register("broken", broken)
    resolver.register("wrong", wrong)
    result = resolver.resolve("did:broken:1")
    assert result.error == "internalError"
    assert "boom" in (result.did_resolution_metadata.error_message or "")
    with pytest.raises(DIDResolutionError) as caught:
        resolver.resolve_document("did:broken:1")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert resolver.resolve("did:wrong:1").error == "internalError"


def test_registering_misuse_is_a_programming_error() -> None:
    async def later(did: DID, options: Mapping[str, Any]) -> DIDDocument:
        return DIDDocument(id=str(did))

    with pytest.raises(TypeError, match="AsyncResolver"):
        Resolver().register("later", later)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method name"):
        Resolver().register("Bad", example_method)
    with pytest.raises(TypeError, match="callable"):
        Resolver().register("x", "not callable")  # type: ignore[arg-type]


def test_the_async_twin_takes_async_and_plain_methods() -> None:
    async def later(did: DID, options: Mapping[str, Any]) -> DIDDocument:
        await asyncio.sleep(0)
        return DIDDocument(id=str(did))

    async def main() -> None:
        resolver = AsyncResolver()
        resolver.register("later", later)
        resolver.register("example", example_method)
        assert (await resolver.resolve_document("did:later:1")).id == "did:later:1"
        assert (await resolver.resolve("did:example:4")).did_document == DIDDocument(
            id="did:example:4"
        )
        assert (await resolver.resolve("did:example:40")).error == "notFound"
        with pytest.raises(MethodNotSupported):
            await resolver.resolve_document("did:nobody:1")
        document = await resolver.resolve_document(PKH["id"])
        assert document.to_dict() == PKH

    asyncio.run(main())


@given(text=st.text(max_size=80))
def test_resolve_never_raises_for_any_text(text: str) -> None:
    result = Resolver().resolve(text)
    assert (result.did_document is None) == (result.error is not None)
