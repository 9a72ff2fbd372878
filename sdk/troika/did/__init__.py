"""troika.did: decentralized identifiers for people, devices and AI agents.

DIDs and DID URLs as values, DID documents and resolution results as frozen
models, did:key and did:pkh (no I/O), did:ethr on ERC-1056 registries, and
one resolver for every method.

Example:
    >>> from troika.did import KeyPair, resolve
    >>> pair = KeyPair.generate("Ed25519")
    >>> document = resolve(pair.did).did_document
    >>> document.methods_for("authentication")[0].id == f"{pair.did}#{pair.public.multibase}"
    True
    >>> document.methods_for("keyAgreement")[0].public_key_multibase[:4]
    'z6LS'
"""

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

__all__ = [
    "DID",
    "DIDURL",
    "DID_CONTEXT",
    "DID_RESOLUTION_CONTEXT",
    "ETHR_CONTEXT",
    "JWK",
    "NETWORK_CHAIN_IDS",
    "AsyncEthrRegistry",
    "AsyncEthrResolver",
    "AsyncMethodResolver",
    "AsyncResolver",
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
    "KeyPair",
    "KeyType",
    "MethodResolver",
    "OwnerChanged",
    "PublicKeyFormat",
    "RegistryEvent",
    "Relationship",
    "ResolutionMetadata",
    "ResolutionResult",
    "Resolver",
    "Service",
    "VerificationMethod",
    "ed25519_to_x25519",
    "ethr_did",
    "ethr_document",
    "is_checksum_address",
    "pkh_did",
    "pkh_document",
    "resolve",
    "resolve_document",
    "to_checksum_address",
]
