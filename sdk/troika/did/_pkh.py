"""did:pkh for EVM accounts (W3C CCG did:pkh draft, ``eip155`` namespace).

``did:pkh:eip155:<chain id>:<address>`` names an Ethereum account on one chain
by its CAIP-10 account id. Its document, built with no I/O, holds one
``EcdsaSecp256k1RecoveryMethod2020`` verification method, ``#blockchainAccountId``,
that verifies recoverable secp256k1 signatures (as wallets make them) against
the address. The address is kept as written; a mixed-case address must carry a
valid EIP-55 checksum.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from troika._errors import InvalidDID, MethodNotSupported
from troika.did._did import DID, DIDLike
from troika.did._document import DID_CONTEXT, DIDDocument, VerificationMethod

__all__ = [
    "PKH_CONTEXT",
    "is_checksum_address",
    "pkh_did",
    "pkh_document",
    "resolve_pkh",
    "to_checksum_address",
]

_RECOVERY_METHOD = "EcdsaSecp256k1RecoveryMethod2020"
#: The did:pkh JSON-LD context object, with the terms an eip155 document uses.
PKH_CONTEXT: dict[str, str] = {
    "blockchainAccountId": "https://w3id.org/security#blockchainAccountId",
    _RECOVERY_METHOD: (
        "https://identity.foundation/EcdsaSecp256k1RecoverySignature2020#"
        "EcdsaSecp256k1RecoveryMethod2020"
    ),
}
# CAIP-2 eip155 reference: a decimal EIP-155 chain id, no leading zeros.
_CHAIN_ID = re.compile(r"[1-9][0-9]{0,31}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def to_checksum_address(address: str) -> str:
    """The EIP-55 mixed-case checksum form of a 20-byte hex address.

    Raises:
        ValueError: ``address`` is not ``0x`` and 40 hex digits.

    Example:
        >>> to_checksum_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
        '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'
    """
    from eth_hash.auto import keccak  # loaded on first use: keeps `import troika.did` light

    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise ValueError(f"not a 0x-prefixed 20-byte hex address: {address!r}")
    hex_digits = address[2:].lower()
    digest = keccak(hex_digits.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_digits)
    )


def is_checksum_address(address: str) -> bool:
    """True if ``address`` is 0x-hex and, when it mixes case, its EIP-55 checksum holds.

    All-lowercase and all-uppercase addresses carry no checksum and pass.

    Example:
        >>> is_checksum_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
        True
        >>> is_checksum_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")
        False
    """
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        return False
    digits = address[2:]
    if digits == digits.lower() or digits == digits.upper():
        return True
    return to_checksum_address(address) == address


def pkh_did(address: str, chain_id: int = 1) -> DID:
    """The did:pkh of an EVM account: ``did:pkh:eip155:<chain_id>:<EIP-55 address>``.

    Raises:
        InvalidDID: ``address`` is not an address, or its checksum is wrong, or
            ``chain_id`` is not a positive integer.

    Example:
        >>> str(pkh_did("0xb9c5714089478a327f09197987f16f9e5d936e8a", chain_id=137))
        'did:pkh:eip155:137:0xB9C5714089478a327F09197987f16f9E5d936E8a'
    """
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 1:
        raise InvalidDID(chain_id, "an EIP-155 chain id is a positive integer")
    if not is_checksum_address(address):
        raise InvalidDID(address, "not a 0x address with a valid EIP-55 checksum")
    return DID("pkh", f"eip155:{chain_id}:{to_checksum_address(address)}")


def _parse(did: DID) -> tuple[str, str]:
    shown = str(did)
    if did.method != "pkh":
        raise InvalidDID(shown, "not a did:pkh")
    parts = did.method_specific_id.split(":")
    if len(parts) != 3:
        raise InvalidDID(shown, "a did:pkh is did:pkh:<namespace>:<chain reference>:<address>")
    namespace, chain_id, address = parts
    if namespace != "eip155":
        raise MethodNotSupported(
            shown, "pkh", f"troika resolves did:pkh in the eip155 namespace, not {namespace!r}"
        )
    if not _CHAIN_ID.fullmatch(chain_id):
        raise InvalidDID(shown, f"eip155 chain id {chain_id!r} is not a decimal chain id")
    if not _ADDRESS.fullmatch(address):
        raise InvalidDID(shown, f"{address!r} is not 0x and 40 hex digits")
    if not is_checksum_address(address):
        raise InvalidDID(shown, f"{address!r} mixes case but fails its EIP-55 checksum")
    return chain_id, address


def pkh_document(did: DIDLike) -> DIDDocument:
    """The DID document of an eip155 did:pkh, as the did:pkh specification's vectors show.

    Raises:
        InvalidDID: not a well-formed eip155 did:pkh (a bad checksum included).
        MethodNotSupported: a did:pkh of another namespace (bip122, solana, ...).

    Example:
        >>> doc = pkh_document("did:pkh:eip155:1:0xb9c5714089478a327f09197987f16f9e5d936e8a")
        >>> doc.verification_method[0].blockchain_account_id
        'eip155:1:0xb9c5714089478a327f09197987f16f9e5d936e8a'
    """
    parsed = DID.parse(did)
    chain_id, address = _parse(parsed)
    shown = str(parsed)
    method = VerificationMethod(
        id=f"{shown}#blockchainAccountId",
        type=_RECOVERY_METHOD,
        controller=shown,
        blockchain_account_id=f"eip155:{chain_id}:{address}",
    )
    refs = (method.id,)
    return DIDDocument(
        context=(DID_CONTEXT, PKH_CONTEXT),
        id=shown,
        verification_method=(method,),
        authentication=refs,
        assertion_method=refs,
        capability_invocation=refs,
        capability_delegation=refs,
    )


def resolve_pkh(did: DID, options: Mapping[str, Any]) -> DIDDocument:
    """The resolver's did:pkh method: :func:`pkh_document` (it takes no options)."""
    return pkh_document(did)
