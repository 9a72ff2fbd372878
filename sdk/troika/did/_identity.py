"""Identities for people, devices and AI agents, built only from standard did:ethr features.

The rules (see ``did/PROFILE.md``):

- An identity is one secp256k1 account, kept encrypted in the keystore; its
  DID is ``did:ethr:<chain id>:<address>``.
- Its X25519 key-agreement key is derived from the account key with
  HKDF-SHA256 (so the keystore holds one secret) and published as the
  attribute ``did/pub/X25519/enc/base64``: resolvers list it under
  ``keyAgreement``, and troika encrypts content keys to it.
- Its profile (kind, name, controller, capabilities) is published as the
  service ``did/svc/TroikaProfile`` whose endpoint is a small JSON object.
- A device or an agent may have a controller: a person's identity becomes its
  ERC-1056 owner (``controller`` in its document), and the device or agent
  keeps acting with its own key, which the controller adds as a ``sigAuth``
  delegate.
- Every change is signed by the identity's key and relayed, so a new
  identity needs no coin of its own; the relayer pays the gas.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from troika._errors import DIDError
from troika.chain import AsyncChain, Chain, Keystore, Sender, Signer
from troika.did._did import DID
from troika.did._ethr import ethr_did
from troika.did._registry import (
    AsyncEthrRegistry,
    EthrRegistry,
    _add_delegate,
    _Change,
    _change_owner,
    _set_attribute,
)

__all__ = [
    "IDENTITY_KINDS",
    "KEY_AGREEMENT_ATTRIBUTE",
    "PROFILE_SERVICE",
    "AsyncIdentities",
    "Identities",
    "Identity",
    "IdentityKind",
    "x25519_private_key",
]

IdentityKind: TypeAlias = Literal["person", "device", "agent"]

#: The kinds of account the data economy needs.
IDENTITY_KINDS: tuple[IdentityKind, ...] = ("person", "device", "agent")

#: Where the key-agreement key is published (did:ethr's attribute naming).
KEY_AGREEMENT_ATTRIBUTE = "did/pub/X25519/enc/base64"

#: Where the profile is published.
PROFILE_SERVICE = "did/svc/TroikaProfile"

#: How long published keys, profiles and delegations stay valid: about 10 years.
DEFAULT_VALIDITY = 10 * 365 * 24 * 3600

_HKDF_INFO = b"troika/identity/x25519-key-agreement/v1"


def x25519_private_key(signer: Signer) -> X25519PrivateKey:
    """The X25519 key-agreement key of an identity, derived from its account key.

    HKDF-SHA256 over the account key, no salt,
    ``info = "troika/identity/x25519-key-agreement/v1"``, 32 bytes, used as an
    X25519 scalar (RFC 7748 clamps it). The account key never leaves the signer.
    """
    return X25519PrivateKey.from_private_bytes(signer.derive_secret(_HKDF_INFO))


@dataclass(frozen=True)
class Identity:
    """An unlocked identity: its DID, kind, profile and keys (which it never shows)."""

    name: str
    kind: IdentityKind
    did: DID
    signer: Signer
    controller: DID | None
    capabilities: tuple[str, ...]
    _x25519: X25519PrivateKey

    def __repr__(self) -> str:
        return f"Identity(name={self.name!r}, kind={self.kind!r}, did={str(self.did)!r})"

    @classmethod
    def of(
        cls,
        signer: Signer,
        chain_id: int,
        *,
        name: str,
        kind: IdentityKind = "person",
        controller: DID | None = None,
        capabilities: Sequence[str] = (),
    ) -> Identity:
        """The identity of an unlocked account key on a chain (nothing is sent).

        Example:
            >>> from troika.chain import Chain
            >>> me = Identity.of(Chain.embedded().dev_signers[0], 31337, name="dev")
            >>> str(me.did).startswith("did:ethr:0x7a69:0x")
            True
        """
        return cls(
            name=name,
            kind=kind,
            did=ethr_did(signer.address, chain_id),
            signer=signer,
            controller=controller,
            capabilities=tuple(capabilities),
            _x25519=x25519_private_key(signer),
        )

    @property
    def key_agreement_public(self) -> bytes:
        """The raw X25519 public key published on the DID document."""
        return self._x25519.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def address(self) -> str:
        """The identity's account address."""
        return self.signer.address

    def key_agreement(self) -> X25519PrivateKey:
        """The X25519 private key, for decrypting what was encrypted to this DID."""
        return self._x25519

    def profile(self) -> dict[str, object]:
        """The profile as published in the ``TroikaProfile`` service."""
        profile: dict[str, object] = {"kind": self.kind, "name": self.name}
        if self.controller is not None:
            profile["controller"] = str(self.controller)
        if self.capabilities:
            profile["capabilities"] = list(self.capabilities)
        return profile


def _check_new(name: str, kind: str, controller: Identity | None) -> None:
    if kind not in IDENTITY_KINDS:
        raise DIDError(f"identity kind {kind!r} is not one of {', '.join(IDENTITY_KINDS)}")
    if controller is not None and kind == "person":
        raise DIDError(
            f"{name!r}: a person controls itself; only devices and agents have a controller"
        )


def _publications(
    identity: Identity, controller: Identity | None, validity: int
) -> list[tuple[Signer, _Change]]:
    """The signed registry changes that publish a new identity, in order, and who
    signs each (no I/O): :class:`Identities` and :class:`AsyncIdentities` send the same."""
    profile = json.dumps(identity.profile(), separators=(",", ":")).encode()
    changes = [
        (
            identity.signer,
            _set_attribute(KEY_AGREEMENT_ATTRIBUTE, identity.key_agreement_public, validity),
        ),
        (identity.signer, _set_attribute(PROFILE_SERVICE, profile, validity)),
    ]
    if controller is not None:
        # The controller owns the DID then; the device or agent keeps acting
        # with its own key as the controller's sigAuth delegate.
        changes += [
            (identity.signer, _change_owner(controller.address)),
            (controller.signer, _add_delegate("sigAuth", identity.address, validity)),
        ]
    return changes


def _identity(
    signer: Signer,
    chain_id: int,
    name: str,
    kind: IdentityKind,
    controller: Identity | None,
    capabilities: Sequence[str],
) -> Identity:
    return Identity.of(
        signer,
        chain_id,
        name=name,
        kind=kind,
        controller=controller.did if controller is not None else None,
        capabilities=capabilities,
    )


class Identities:
    """Creates and unlocks identities on one chain, with keys in one keystore.

    Args:
        chain: the chain whose ERC-1056 registry holds the DID documents.
        keystore: where the account keys live, encrypted.
        registry: the registry; the chain's recorded one (or the canonical
            one of its chain id) if None.
        relayer: who pays the gas of the signed changes; the chain's default
            sender if None.

    Example:
        >>> chain = Chain.embedded()
        >>> registry = EthrRegistry.deploy(chain)
        >>> ids = Identities(chain, Keystore(tmp_path, scrypt_n=2**10), registry)
        >>> alice = ids.create("alice", "pw", kind="person")
        >>> sensor = ids.create("sensor-7", "pw2", kind="device", controller=alice)
        >>> registry.identity_owner(sensor.address) == alice.address
        True
    """

    def __init__(
        self,
        chain: Chain,
        keystore: Keystore,
        registry: EthrRegistry | None = None,
        *,
        relayer: Sender | None = None,
    ) -> None:
        self.chain = chain
        self.keystore = keystore
        self.registry = registry or EthrRegistry.at(chain)
        self.relayer = relayer

    def create(
        self,
        name: str,
        password: str,
        *,
        kind: IdentityKind,
        controller: Identity | None = None,
        capabilities: Sequence[str] = (),
        validity: int = DEFAULT_VALIDITY,
    ) -> Identity:
        """Create an identity: a new key in the keystore, its key-agreement key
        and profile published on its DID document, and its controller set.

        Raises:
            DIDError: an unknown kind, or a person given a controller.
            KeyExists: the keystore has a key of that name already.
        """
        _check_new(name, kind, controller)
        self.keystore.new(name, password)
        signer = self.keystore.unlock(name, password)
        identity = _identity(signer, self.chain.chain_id, name, kind, controller, capabilities)
        for owner, change in _publications(identity, controller, validity):
            self.registry._send_signed(identity.address, change, owner, self.relayer)
        return identity

    def unlock(
        self,
        name: str,
        password: str,
        *,
        kind: IdentityKind,
        controller: Identity | None = None,
        capabilities: Sequence[str] = (),
    ) -> Identity:
        """Unlock an identity made by :meth:`create` (nothing is sent)."""
        signer = self.keystore.unlock(name, password)
        return _identity(signer, self.chain.chain_id, name, kind, controller, capabilities)


class AsyncIdentities:
    """:class:`Identities` for asyncio: the same changes, sent through an
    :class:`~troika.chain.AsyncChain`; the keystore's scrypt runs in a worker thread.

    Args:
        chain: the chain whose ERC-1056 registry holds the DID documents.
        keystore: where the account keys live, encrypted.
        registry: the registry (see :meth:`AsyncEthrRegistry.at` and ``deploy``).
        relayer: who pays the gas of the signed changes; the chain's default
            sender if None.

    Example:
        >>> import asyncio
        >>> from troika.chain import AsyncChain
        >>> async def main() -> bool:
        ...     chain = AsyncChain.embedded()
        ...     registry = await AsyncEthrRegistry.deploy(chain)
        ...     ids = AsyncIdentities(chain, Keystore(tmp_path, scrypt_n=2**10), registry)
        ...     alice = await ids.create("alice", "pw", kind="person")
        ...     bot = await ids.create("bot", "pw2", kind="agent", controller=alice)
        ...     return await registry.identity_owner(bot.address) == alice.address
        >>> asyncio.run(main())
        True
    """

    def __init__(
        self,
        chain: AsyncChain,
        keystore: Keystore,
        registry: AsyncEthrRegistry,
        *,
        relayer: Sender | None = None,
    ) -> None:
        self.chain = chain
        self.keystore = keystore
        self.registry = registry
        self.relayer = relayer

    async def create(
        self,
        name: str,
        password: str,
        *,
        kind: IdentityKind,
        controller: Identity | None = None,
        capabilities: Sequence[str] = (),
        validity: int = DEFAULT_VALIDITY,
    ) -> Identity:
        """Create an identity; see :meth:`Identities.create`.

        Raises:
            DIDError: an unknown kind, or a person given a controller.
            KeyExists: the keystore has a key of that name already.
        """
        _check_new(name, kind, controller)
        await asyncio.to_thread(self.keystore.new, name, password)
        identity = await self.unlock(
            name, password, kind=kind, controller=controller, capabilities=capabilities
        )
        for owner, change in _publications(identity, controller, validity):
            await self.registry._send_signed(identity.address, change, owner, self.relayer)
        return identity

    async def unlock(
        self,
        name: str,
        password: str,
        *,
        kind: IdentityKind,
        controller: Identity | None = None,
        capabilities: Sequence[str] = (),
    ) -> Identity:
        """Unlock an identity made by :meth:`create` (nothing is sent)."""
        signer = await asyncio.to_thread(self.keystore.unlock, name, password)
        chain_id = await self.chain.chain_id()
        return _identity(signer, chain_id, name, kind, controller, capabilities)
