"""troika.did: decentralized identifiers for people, devices and AI agents.

DIDs and DID URLs as values, DID documents and resolution results as frozen
models, did:key and did:pkh (no I/O), did:ethr on ERC-1056 registries, did:web
over HTTPS, and one resolver for every method (with an optional TTL cache).

Example:
    >>> from troika.did import KeyPair, resolve
    >>> pair = KeyPair.generate("Ed25519")
    >>> document = resolve(pair.did).did_document
    >>> document.methods_for("authentication")[0].id == f"{pair.did}#{pair.public.multibase}"
    True
    >>> document.methods_for("keyAgreement")[0].public_key_multibase[:4]
    'z6LS'
"""

from typing import Any

from troika.did._cache import ResolutionCache
from troika.did._did import DID, DIDURL, DIDLike, DIDURLLike
from troika.did._document import (
    DID_CONTEXT,
    DID_RESOLUTION_CONTEXT,
    JWK,
    DIDDocument,
    DocumentMetadata,
    Relationship,
    ResolutionMetadata,
    ResolutionResult,
    Service,
    VerificationMethod,
)
from troika.did._ethr import (
    ETHR_CONTEXT,
    NETWORK_CHAIN_IDS,
    AsyncEthrResolver,
    EthrDID,
    EthrDocumentVersion,
    EthrNetwork,
    EthrResolver,
    ethr_did,
    ethr_document,
)
from troika.did._identity import (
    IDENTITY_KINDS,
    KEY_AGREEMENT_ATTRIBUTE,
    PROFILE_SERVICE,
    AsyncIdentities,
    Identities,
    Identity,
    IdentityKind,
)
from troika.did._key import DIDKey, KeyPair, KeyType, PublicKeyFormat, ed25519_to_x25519
from troika.did._pkh import is_checksum_address, pkh_did, pkh_document, to_checksum_address
from troika.did._registry import (
    AsyncEthrRegistry,
    AttributeChanged,
    DelegateChanged,
    EthrRegistry,
    OwnerChanged,
    RegistryEvent,
)
from troika.did._resolver import (
    AsyncMethodResolver,
    AsyncResolver,
    MethodResolver,
    Resolver,
    resolve,
    resolve_document,
)
from troika.did._siwe import SIWEMessage, siwe_nonce, verify_siwe
from troika.did._web import (
    MAX_DOCUMENT_BYTES,
    AsyncWebResolver,
    WebResolver,
    web_document,
    web_url,
)

__all__ = [
    "DID",
    "DIDURL",
    "DID_CONTEXT",
    "DID_RESOLUTION_CONTEXT",
    "ETHR_CONTEXT",
    "IDENTITY_KINDS",
    "JWK",
    "KEY_AGREEMENT_ATTRIBUTE",
    "MAX_DOCUMENT_BYTES",
    "NETWORK_CHAIN_IDS",
    "PROFILE_SERVICE",
    "AsyncEthrRegistry",
    "AsyncEthrResolver",
    "AsyncIdentities",
    "AsyncMethodResolver",
    "AsyncResolver",
    "AsyncWebResolver",
    "AttributeChanged",
    "DIDDocument",
    "DIDKey",
    "DIDLike",
    "DIDURLLike",
    "DelegateChanged",
    "DocumentMetadata",
    "EthrDID",
    "EthrDocumentVersion",
    "EthrNetwork",
    "EthrRegistry",
    "EthrResolver",
    "Identities",
    "Identity",
    "IdentityKind",
    "KeyPair",
    "KeyType",
    "MethodResolver",
    "OwnerChanged",
    "PublicKeyFormat",
    "RegistryEvent",
    "Relationship",
    "ResolutionCache",
    "ResolutionMetadata",
    "ResolutionResult",
    "Resolver",
    "SIWEMessage",
    "Service",
    "VerificationMethod",
    "WebResolver",
    "create_app",
    "ed25519_to_x25519",
    "ethr_did",
    "ethr_document",
    "is_checksum_address",
    "pkh_did",
    "pkh_document",
    "resolve",
    "resolve_document",
    "siwe_nonce",
    "to_checksum_address",
    "verify_siwe",
    "web_document",
    "web_url",
]


def __getattr__(name: str) -> Any:
    # The resolver service needs Starlette (the service extra): loaded on first use.
    if name == "create_app":
        from troika.did._service import create_app

        globals()[name] = create_app
        return create_app
    raise AttributeError(f"module 'troika.did' has no attribute {name!r}")
