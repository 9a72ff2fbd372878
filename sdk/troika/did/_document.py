"""DID documents (W3C DID Core v1.0 §5) and resolution results (W3C DID Resolution §4).

Frozen pydantic models whose JSON is exactly what the specifications show:
camelCase properties, ``@context``, no ``null`` members, the members in the
order of DID Core's sections. Parsing bad data raises pydantic's one
``ValidationError`` that lists every problem with its location.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from troika.did._did import DID, DIDURL

__all__ = [
    "DID_CONTEXT",
    "DID_RESOLUTION_CONTEXT",
    "JWK",
    "DIDDocument",
    "DocumentMetadata",
    "Relationship",
    "ResolutionMetadata",
    "ResolutionResult",
    "Service",
    "VerificationMethod",
]

#: The JSON-LD context every DID document starts with.
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
#: The JSON-LD context of a DID resolution result.
DID_RESOLUTION_CONTEXT = "https://w3id.org/did-resolution/v1"

Relationship: TypeAlias = Literal[
    "authentication",
    "assertionMethod",
    "keyAgreement",
    "capabilityInvocation",
    "capabilityDelegation",
]
"""A verification relationship (DID Core §5.3), named as in the JSON."""

_RELATIONSHIPS: dict[str, str] = {
    "authentication": "authentication",
    "assertionMethod": "assertion_method",
    "keyAgreement": "key_agreement",
    "capabilityInvocation": "capability_invocation",
    "capabilityDelegation": "capability_delegation",
}

JSONContext: TypeAlias = str | tuple[str | dict[str, Any], ...]
ServiceEndpoint: TypeAlias = str | dict[str, Any] | tuple[str | dict[str, Any], ...]


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, populate_by_name=True, alias_generator=to_camel, extra="allow"
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, as plain Python values (no ``None`` members)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self, *, indent: int | None = None) -> str:
        """The JSON text (members in the specification's order)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _did(value: str) -> str:
    DID.parse(value)  # InvalidDID is a ValueError: pydantic reports it with its location
    return value


def _did_url(value: str) -> str:
    # A relative reference ("#key-1") is resolved against the document's id.
    if value.startswith("#"):
        return value
    DIDURL.parse(value)
    return value


class JWK(_Model):
    """A public JSON Web Key (RFC 7517), as in ``publicKeyJwk``.

    Example:
        >>> JWK(kty="OKP", crv="Ed25519", x="11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").to_dict()
        {'kty': 'OKP', 'crv': 'Ed25519', 'x': '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo'}
    """

    kty: str
    crv: str | None = None
    x: str | None = None
    y: str | None = None

    @model_validator(mode="after")
    def _public_only(self) -> JWK:
        if self.model_extra and "d" in self.model_extra:
            raise ValueError("a public JWK must not hold the private key 'd'")
        return self


class VerificationMethod(_Model):
    """A verification method (DID Core §5.2): a key, or a way to verify proofs.

    The key's form depends on ``type``: ``publicKeyMultibase`` (``Multikey``),
    ``publicKeyJwk`` (``JsonWebKey2020``), ``blockchainAccountId`` (CAIP-10, as
    did:pkh and did:ethr use), or the older ``publicKeyBase58`` / ``publicKeyHex``
    / ``publicKeyBase64`` that some methods still publish. Other properties are kept.

    Example:
        >>> method = VerificationMethod(
        ...     id="did:example:123#key-0",
        ...     type="Multikey",
        ...     controller="did:example:123",
        ...     public_key_multibase="z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        ... )
        >>> list(method.to_dict())
        ['id', 'type', 'controller', 'publicKeyMultibase']
    """

    id: str
    type: str
    controller: str
    public_key_multibase: str | None = None
    public_key_jwk: JWK | None = None
    blockchain_account_id: str | None = None
    public_key_base58: str | None = None
    public_key_hex: str | None = None
    public_key_base64: str | None = None

    _id = field_validator("id")(_did_url)
    _controller = field_validator("controller")(_did)


class Service(_Model):
    """A service (DID Core §5.4): a way to reach or use the DID subject.

    Example:
        >>> service = Service(
        ...     id="did:example:123#linked-domain",
        ...     type="LinkedDomains",
        ...     service_endpoint="https://bar.example.com",
        ... )
        >>> print(service.to_json(indent=2))
        {
          "id": "did:example:123#linked-domain",
          "type": "LinkedDomains",
          "serviceEndpoint": "https://bar.example.com"
        }
    """

    id: str
    type: str | tuple[str, ...]
    service_endpoint: ServiceEndpoint


class DIDDocument(_Model):
    """A DID document (DID Core §5), immutable.

    Each verification relationship lists references (DID URLs, or ``#fragment``
    relative to ``id``) or embedded verification methods.
    :meth:`methods_for` resolves both to :class:`VerificationMethod` values.

    Example:
        >>> key = {
        ...     "id": "did:ex:1#key-0",
        ...     "type": "Multikey",
        ...     "controller": "did:ex:1",
        ...     "publicKeyMultibase": "z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p",
        ... }
        >>> doc = DIDDocument.model_validate(
        ...     {"id": "did:ex:1", "verificationMethod": [key], "keyAgreement": ["#key-0"]}
        ... )
        >>> [m.public_key_multibase for m in doc.methods_for("keyAgreement")]
        ['z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p']
        >>> from pydantic import ValidationError
        >>> try:
        ...     DIDDocument.model_validate({"id": "did:example:1", "controller": "alice"})
        ... except ValidationError as exc:
        ...     print([(error["loc"], error["type"]) for error in exc.errors()])
        [(('controller',), 'value_error')]
    """

    context: JSONContext | None = Field(
        default=None, validation_alias="@context", serialization_alias="@context"
    )
    id: str
    also_known_as: tuple[str, ...] | None = None
    controller: str | tuple[str, ...] | None = None
    verification_method: tuple[VerificationMethod, ...] | None = None
    authentication: tuple[str | VerificationMethod, ...] | None = None
    assertion_method: tuple[str | VerificationMethod, ...] | None = None
    key_agreement: tuple[str | VerificationMethod, ...] | None = None
    capability_invocation: tuple[str | VerificationMethod, ...] | None = None
    capability_delegation: tuple[str | VerificationMethod, ...] | None = None
    service: tuple[Service, ...] | None = None

    _id = field_validator("id")(_did)

    @field_validator("controller")
    @classmethod
    def _controllers(cls, value: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        for did in (value,) if isinstance(value, str) else value or ():
            DID.parse(did)
        return value

    @field_validator(
        "authentication",
        "assertion_method",
        "key_agreement",
        "capability_invocation",
        "capability_delegation",
    )
    @classmethod
    def _references(
        cls, value: tuple[str | VerificationMethod, ...] | None
    ) -> tuple[str | VerificationMethod, ...] | None:
        for item in value or ():
            if isinstance(item, str):
                _did_url(item)
        return value

    @classmethod
    def from_json(cls, text: str | bytes) -> DIDDocument:
        """Parse a DID document from its JSON.

        Raises:
            pydantic.ValidationError: the JSON is not a DID document; lists every problem.
        """
        return cls.model_validate_json(text)

    def absolute(self, reference: str) -> str:
        """A DID URL relative to this document (``#key-1``) made absolute."""
        return f"{self.id}{reference}" if reference.startswith(("#", "?", "/")) else reference

    def dereference(self, reference: str) -> VerificationMethod | Service | None:
        """The verification method or service that a DID URL or ``#fragment`` names."""
        wanted = self.absolute(reference)
        for method in self._all_methods():
            if self.absolute(method.id) == wanted:
                return method
        for service in self.service or ():
            if self.absolute(service.id) == wanted:
                return service
        return None

    def methods_for(self, relationship: Relationship) -> tuple[VerificationMethod, ...]:
        """The verification methods of a relationship, references resolved, in order.

        A reference to a method the document does not hold is skipped.
        """
        found: list[VerificationMethod] = []
        entries: tuple[str | VerificationMethod, ...] | None = getattr(
            self, _RELATIONSHIPS[relationship]
        )
        for entry in entries or ():
            if isinstance(entry, VerificationMethod):
                found.append(entry)
                continue
            method = self.dereference(entry)
            if isinstance(method, VerificationMethod):
                found.append(method)
        return tuple(found)

    def _all_methods(self) -> list[VerificationMethod]:
        methods = list(self.verification_method or ())
        for field in _RELATIONSHIPS.values():
            entries: tuple[str | VerificationMethod, ...] | None = getattr(self, field)
            methods.extend(e for e in entries or () if isinstance(e, VerificationMethod))
        return methods


class ResolutionMetadata(_Model):
    """DID resolution metadata (DID Resolution §4.2; DID Core §7.1.2).

    ``error`` is one of the specification's codes (``invalidDid``, ``notFound``,
    ``methodNotSupported``, ``representationNotSupported``, ``internalError``,
    and did:key's ``invalidPublicKey``...); ``error_message`` says why in words.
    """

    content_type: str | None = None
    error: str | None = None
    error_message: str | None = None


class DocumentMetadata(_Model):
    """DID document metadata (DID Core §7.1.3): versions, times, deactivation."""

    created: str | None = None
    updated: str | None = None
    deactivated: bool | None = None
    next_update: str | None = None
    version_id: str | None = None
    next_version_id: str | None = None
    equivalent_id: tuple[str, ...] | None = None
    canonical_id: str | None = None


class ResolutionResult(_Model):
    """The result of resolving a DID (DID Resolution §4): a document or an error.

    ``did_document`` is None exactly when ``did_resolution_metadata.error`` is
    set; the JSON then says ``"didDocument": null`` as the specification does.

    Example:
        >>> ResolutionResult.failure("notFound", "no such DID").to_dict()["didResolutionMetadata"]
        {'error': 'notFound', 'errorMessage': 'no such DID'}
    """

    context: str = Field(
        default=DID_RESOLUTION_CONTEXT,
        validation_alias="@context",
        serialization_alias="@context",
    )
    did_document: DIDDocument | None = None
    did_resolution_metadata: ResolutionMetadata = ResolutionMetadata()
    did_document_metadata: DocumentMetadata = DocumentMetadata()

    @classmethod
    def success(
        cls,
        document: DIDDocument,
        *,
        content_type: str = "application/did+ld+json",
        document_metadata: DocumentMetadata | None = None,
    ) -> ResolutionResult:
        """A successful result: the document, its representation's type, its metadata."""
        return cls(
            did_document=document,
            did_resolution_metadata=ResolutionMetadata(content_type=content_type),
            did_document_metadata=document_metadata or DocumentMetadata(),
        )

    @classmethod
    def failure(cls, error: str, message: str | None = None) -> ResolutionResult:
        """A failed result with the specification's ``error`` code and a message."""
        return cls(did_resolution_metadata=ResolutionMetadata(error=error, error_message=message))

    @property
    def error(self) -> str | None:
        """The resolution error code, or None on success."""
        return self.did_resolution_metadata.error

    def to_dict(self) -> dict[str, Any]:
        """The JSON object; ``didDocument`` is ``null`` (None) on failure."""
        data = super().to_dict()
        return {
            "@context": data.pop("@context"),
            "didDocument": data.pop("didDocument", None),
            **data,
        }
