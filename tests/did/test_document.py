"""DID documents and resolution results: the specs' JSON in, the same JSON out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from troika.did import (
    JWK,
    DIDDocument,
    DocumentMetadata,
    ResolutionResult,
    Service,
    VerificationMethod,
)

VECTORS = Path(__file__).parent / "vectors"


def spec_documents() -> list[dict[str, Any]]:
    """Every whole DID document in the vector files."""
    documents = []
    for name in ("ed25519-x25519.json", "secp256k1.json"):
        for vector in json.loads((VECTORS / "did-key" / name).read_text()).values():
            documents.append(vector["didDocument"])
    x25519 = json.loads((VECTORS / "did-key" / "x25519.json").read_text())
    documents.extend(x25519["didDocument"].values())
    documents.extend(json.loads(p.read_text()) for p in sorted(VECTORS.glob("did-pkh/*.jsonld")))
    return documents


@pytest.mark.parametrize("document", spec_documents(), ids=lambda d: d["id"][:40])
def test_spec_documents_round_trip_to_the_same_json(document: dict[str, Any]) -> None:
    parsed = DIDDocument.model_validate(document)
    assert parsed.to_dict() == document
    assert json.loads(parsed.to_json()) == document
    assert DIDDocument.from_json(json.dumps(document)) == parsed


def test_members_come_in_the_order_of_did_core() -> None:
    document = DIDDocument.model_validate(
        {
            "service": [{"id": "#s", "type": "X", "serviceEndpoint": "https://x.example"}],
            "keyAgreement": ["#k"],
            "verificationMethod": [
                {"publicKeyMultibase": "z6Mk", "controller": "did:ex:1", "type": "T", "id": "#k"}
            ],
            "id": "did:ex:1",
            "@context": "https://www.w3.org/ns/did/v1",
            "alsoKnownAs": ["https://example.com/alice"],
        }
    )
    data = document.to_dict()
    assert list(data) == [
        "@context",
        "id",
        "alsoKnownAs",
        "verificationMethod",
        "keyAgreement",
        "service",
    ]
    assert list(data["verificationMethod"][0]) == ["id", "type", "controller", "publicKeyMultibase"]


def test_service_endpoints_may_be_a_string_a_map_or_a_list() -> None:
    endpoints: list[Any] = [
        "https://hub.example.com",
        {"uri": "https://hub.example.com", "accept": ["didcomm/v2"]},
        ["https://a.example.com", {"uri": "https://b.example.com"}],
    ]
    for endpoint in endpoints:
        service = Service.model_validate(
            {"id": "did:ex:1#hub", "type": ["Hub", "Other"], "serviceEndpoint": endpoint}
        )
        assert service.to_dict()["serviceEndpoint"] == endpoint


def test_unknown_properties_are_kept() -> None:
    data = {"id": "did:ex:1", "publicKey": [], "ethereumAddress": "0x0"}
    assert DIDDocument.model_validate(data).to_dict() == data


def test_one_validation_error_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        DIDDocument.model_validate(
            {
                "id": "not-a-did",
                "controller": ["did:ex:ok", "did:BAD:1"],
                "verificationMethod": [{"id": "did:ex:1#k", "type": "Multikey"}],
                "authentication": ["nonsense"],
                "service": [{"id": "#s", "type": "X"}],
            }
        )
    problems = [(e["loc"], e["type"]) for e in caught.value.errors()]
    assert problems == [
        (("id",), "value_error"),
        (("controller",), "value_error"),
        (("verificationMethod", 0, "controller"), "missing"),
        (("authentication",), "value_error"),
        (("service", 0, "serviceEndpoint"), "missing"),
    ]
    messages = {e["loc"][0]: e["msg"] for e in caught.value.errors()}
    assert "invalid DID 'not-a-did'" in messages["id"]
    assert "invalid DID 'nonsense'" in messages["authentication"]
    assert "invalid DID 'did:BAD:1'" in messages["controller"]


def test_documents_are_frozen() -> None:
    document = DIDDocument(id="did:ex:1", also_known_as=("https://a.example",))
    with pytest.raises(ValidationError):
        document.id = "did:ex:2"
    assert isinstance(document.also_known_as, tuple)


def test_a_public_jwk_never_holds_a_private_key() -> None:
    with pytest.raises(ValidationError, match="private key 'd'"):
        JWK.model_validate({"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"})


def test_references_resolve_relative_and_absolute_and_embedded() -> None:
    key = {"id": "did:ex:1#k1", "type": "Multikey", "controller": "did:ex:1"}
    embedded = {"id": "#k2", "type": "Multikey", "controller": "did:ex:1"}
    document = DIDDocument.model_validate(
        {
            "id": "did:ex:1",
            "verificationMethod": [key],
            "authentication": ["#k1", embedded, "did:ex:1#missing"],
            "assertionMethod": ["did:ex:1#k1"],
        }
    )
    assert [m.id for m in document.methods_for("authentication")] == ["did:ex:1#k1", "#k2"]
    assert [m.id for m in document.methods_for("assertionMethod")] == ["did:ex:1#k1"]
    assert document.methods_for("keyAgreement") == ()
    found = document.dereference("did:ex:1#k2")
    assert isinstance(found, VerificationMethod)
    assert found.id == "#k2"
    assert document.dereference("#nothing") is None


def test_resolution_result_json_is_the_did_resolution_shape() -> None:
    document = DIDDocument(id="did:ex:1")
    result = ResolutionResult.success(
        document, document_metadata=DocumentMetadata(version_id="3", deactivated=False)
    )
    assert result.to_dict() == {
        "@context": "https://w3id.org/did-resolution/v1",
        "didDocument": {"id": "did:ex:1"},
        "didResolutionMetadata": {"contentType": "application/did+ld+json"},
        "didDocumentMetadata": {"deactivated": False, "versionId": "3"},
    }
    failed = ResolutionResult.failure("notFound", "no such DID")
    assert failed.to_dict() == {
        "@context": "https://w3id.org/did-resolution/v1",
        "didDocument": None,
        "didResolutionMetadata": {"error": "notFound", "errorMessage": "no such DID"},
        "didDocumentMetadata": {},
    }
    assert failed.error == "notFound"
    assert ResolutionResult.model_validate(failed.to_dict()) == failed
    assert ResolutionResult.model_validate_json(result.to_json()) == result
