"""Typed access to an ERC-1056 ``EthereumDIDRegistry``: reads, changes (sent
directly or signed by the owner and relayed by anyone), and the event history
that did:ethr resolution replays."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from troika._contracts import AsyncContractWrapper, ContractWrapper
from troika._errors import DeploymentNotFound, DIDError, InvalidContractCall
from troika.did._pkh import to_checksum_address

if TYPE_CHECKING:  # the chain layer loads web3: only when a registry is used
    from troika.chain import (
        AsyncChain,
        Chain,
        Event,
        Receipt,
        Sender,
        Signer,
    )

__all__ = [
    "KNOWN_REGISTRIES",
    "REGISTRY_CONTRACT",
    "AsyncEthrRegistry",
    "AttributeChanged",
    "DelegateChanged",
    "EthrRegistry",
    "OwnerChanged",
    "RegistryChange",
    "RegistryEvent",
    "bytes32",
    "signed_change_digest",
]

#: The name of troika's compiled registry.
REGISTRY_CONTRACT = "EthereumDIDRegistry"

#: The canonical registries, by chain id (ethr-did-registry's deployments).
KNOWN_REGISTRIES: Mapping[int, str] = {
    1: "0xdCa7EF03e98e0DC2B855bE647C39ABe984fcF21B",  # Ethereum mainnet
    137: "0xdCa7EF03e98e0DC2B855bE647C39ABe984fcF21B",  # Polygon
    11155111: "0x03d5003bf0e79C5F5223588F347ebA39AfbC3818",  # Sepolia
}

#: The owner of a deactivated identity.
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

_CHANGES = frozenset(
    {
        f"{name}{suffix}"
        for name in (
            "changeOwner",
            "addDelegate",
            "revokeDelegate",
            "setAttribute",
            "revokeAttribute",
        )
        for suffix in ("", "Signed")
    }
)

#: How many history events one resolution may replay before it gives up.
MAX_HISTORY = 10_000


def bytes32(text: str | bytes) -> bytes:
    """A registry name or delegate type as ``bytes32``: UTF-8, right-padded with zeros.

    Example:
        >>> bytes32("veriKey").hex()[:16]
        '766572694b657900'
    """
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(raw) > 32:
        raise DIDError(f"registry name {text!r} is longer than 32 bytes")
    return raw.ljust(32, b"\0")


def signed_change_digest(
    registry: str, nonce: int, identity: str, action: str, *parts: bytes
) -> bytes:
    """What the owner signs for a relayed change (ERC-1056):
    ``keccak256(0x19 0x00 registry nonce identity action parts...)``.

    ``parts`` are the change's arguments, packed as Solidity's
    ``abi.encodePacked`` packs them (``bytes32`` as is, addresses as 20 bytes,
    ``uint`` as 32 bytes, ``bytes`` as is).
    """
    from eth_hash.auto import keccak

    return keccak(
        b"\x19\x00"
        + bytes.fromhex(registry[2:])
        + nonce.to_bytes(32, "big")
        + bytes.fromhex(identity[2:])
        + action.encode("ascii")
        + b"".join(parts)
    )


def _address(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def _uint(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _check_change(contract: str, change: str) -> None:
    if change not in _CHANGES:
        raise InvalidContractCall(
            f"{contract}.{change}", f"not a registry change; one of {sorted(_CHANGES)}"
        )


def _check_owner(identity: str, owner: Signer, current_owner: str) -> None:
    if owner.address != current_owner:
        raise DIDError(f"{owner.address!r} does not own {identity!r}; it cannot sign its changes")


@dataclass(frozen=True)
class _Change:
    """One registry change, with no I/O: the function, its arguments after the
    identity, and the packed parts that the owner signs for its ``*Signed`` form.
    :class:`EthrRegistry` and :class:`AsyncEthrRegistry` send the same changes."""

    action: str
    args: tuple[Any, ...]
    parts: tuple[bytes, ...]

    def direct(self, identity: str) -> tuple[str, tuple[Any, ...]]:
        return self.action, (identity, *self.args)

    def digest(self, registry: str, nonce: int, identity: str) -> bytes:
        return signed_change_digest(registry, nonce, identity, self.action, *self.parts)

    def signed(self, identity: str, v: int, r: bytes, s: bytes) -> tuple[str, tuple[Any, ...]]:
        return f"{self.action}Signed", (identity, v, r, s, *self.args)


def _change_owner(new_owner: str) -> _Change:
    return _Change("changeOwner", (new_owner,), (_address(new_owner),))


def _add_delegate(delegate_type: str | bytes, delegate: str, validity: int) -> _Change:
    kind = bytes32(delegate_type)
    return _Change(
        "addDelegate", (kind, delegate, validity), (kind, _address(delegate), _uint(validity))
    )


def _revoke_delegate(delegate_type: str | bytes, delegate: str) -> _Change:
    kind = bytes32(delegate_type)
    return _Change("revokeDelegate", (kind, delegate), (kind, _address(delegate)))


def _set_attribute(name: str | bytes, value: bytes, validity: int) -> _Change:
    key = bytes32(name)
    return _Change("setAttribute", (key, value, validity), (key, value, _uint(validity)))


def _revoke_attribute(name: str | bytes, value: bytes) -> _Change:
    key = bytes32(name)
    return _Change("revokeAttribute", (key, value), (key, value))


@dataclass(frozen=True)
class RegistryChange:
    """What every registry event says: whose change, and where it is on chain.

    The location fields are keyword-only, after each event's own fields.
    """

    identity: str
    #: The block of the identity's change before this one (0: none).
    previous_change: int = field(kw_only=True)
    block_number: int = field(kw_only=True)
    tx_hash: str = field(kw_only=True)
    log_index: int = field(kw_only=True)
    #: The block's time, when the node put it in the log (saves a block request).
    block_timestamp: int | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class OwnerChanged(RegistryChange):
    """``DIDOwnerChanged``: the identity's owner became ``owner``."""

    owner: str


@dataclass(frozen=True)
class DelegateChanged(RegistryChange):
    """``DIDDelegateChanged``: ``delegate`` may act as ``delegate_type`` until ``valid_to``."""

    delegate_type: bytes
    delegate: str
    valid_to: int


@dataclass(frozen=True)
class AttributeChanged(RegistryChange):
    """``DIDAttributeChanged``: attribute ``name`` = ``value`` until ``valid_to`` (0: revoked)."""

    name: bytes
    value: bytes
    valid_to: int


RegistryEvent: TypeAlias = OwnerChanged | DelegateChanged | AttributeChanged


# A history names the same few addresses again and again; each checksum is a keccak.
_checksum = functools.lru_cache(maxsize=4096)(to_checksum_address)


def _typed(event: Event) -> RegistryEvent:
    a = event.args
    identity = _checksum(a["identity"])
    where = {
        "previous_change": a["previousChange"],
        "block_number": event.block_number,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "block_timestamp": event.block_timestamp,
    }
    if event.name == "DIDOwnerChanged":
        return OwnerChanged(identity, _checksum(a["owner"]), **where)
    if event.name == "DIDDelegateChanged":
        return DelegateChanged(
            identity, bytes(a["delegateType"]), _checksum(a["delegate"]), a["validTo"], **where
        )
    return AttributeChanged(identity, bytes(a["name"]), bytes(a["value"]), a["validTo"], **where)


class EthrRegistry(ContractWrapper):
    """An ERC-1056 registry on one chain.

    Example:
        >>> from troika.chain import Chain
        >>> chain = Chain.embedded()
        >>> registry = EthrRegistry.deploy(chain)
        >>> alice = chain.accounts[0]
        >>> registry.identity_owner(alice) == alice
        True
    """

    CONTRACT = REGISTRY_CONTRACT

    @classmethod
    def deploy(cls, chain: Chain, *, sender: Sender | None = None) -> EthrRegistry:
        """Deploy troika's registry (and record it in the chain's deployments)."""
        return cls(chain.deploy(REGISTRY_CONTRACT, sender=sender))

    @classmethod
    def at(cls, chain: Chain, address: str | None = None) -> EthrRegistry:
        """The registry at ``address``; else troika's recorded deployment; else
        the canonical registry of the chain id.

        Raises:
            DeploymentNotFound: none of those exists on this chain.
        """
        if address is not None:
            return cls(chain.contract(REGISTRY_CONTRACT, address))
        try:
            return cls(chain.deployment(REGISTRY_CONTRACT))
        except DeploymentNotFound:
            known = KNOWN_REGISTRIES.get(chain.chain_id)
            if known is None or not chain.code(known):
                raise
            return cls(chain.contract(REGISTRY_CONTRACT, known))

    # -- reads ------------------------------------------------------------------

    def identity_owner(self, identity: str) -> str:
        """The identity's current owner (the identity itself until it changes)."""
        return str(self.contract.call("identityOwner", identity))

    def changed(self, identity: str) -> int:
        """The block of the identity's latest change (0: never changed)."""
        return int(self.contract.call("changed", identity))

    def nonce(self, signer: str) -> int:
        """The nonce the next change signed by ``signer`` must carry."""
        return int(self.contract.call("nonce", signer))

    def valid_delegate(self, identity: str, delegate_type: str | bytes, delegate: str) -> bool:
        """True while ``delegate`` is a valid ``delegate_type`` delegate of ``identity``."""
        return bool(self.contract.call("validDelegate", identity, bytes32(delegate_type), delegate))

    # -- changes sent by the owner --------------------------------------------------

    def _send(self, identity: str, change: _Change, sender: Sender | None) -> Receipt:
        function, args = change.direct(identity)
        return self.contract.transact(function, *args, sender=sender)

    def change_owner(self, identity: str, new_owner: str, *, sender: Sender) -> Receipt:
        """Make ``new_owner`` the owner of ``identity`` (sent by the current owner)."""
        return self._send(identity, _change_owner(new_owner), sender)

    def add_delegate(
        self,
        identity: str,
        delegate_type: str | bytes,
        delegate: str,
        validity: int,
        *,
        sender: Sender,
    ) -> Receipt:
        """Let ``delegate`` act as ``delegate_type`` for ``validity`` seconds."""
        return self._send(identity, _add_delegate(delegate_type, delegate, validity), sender)

    def revoke_delegate(
        self, identity: str, delegate_type: str | bytes, delegate: str, *, sender: Sender
    ) -> Receipt:
        """End a delegation now."""
        return self._send(identity, _revoke_delegate(delegate_type, delegate), sender)

    def set_attribute(
        self,
        identity: str,
        name: str | bytes,
        value: bytes,
        validity: int,
        *,
        sender: Sender,
    ) -> Receipt:
        """Publish attribute ``name`` = ``value`` for ``validity`` seconds."""
        return self._send(identity, _set_attribute(name, value, validity), sender)

    def revoke_attribute(
        self, identity: str, name: str | bytes, value: bytes, *, sender: Sender
    ) -> Receipt:
        """Revoke attribute ``name`` = ``value``."""
        return self._send(identity, _revoke_attribute(name, value), sender)

    # -- changes signed by the owner, sent by anyone ---------------------------------

    def _send_signed(
        self, identity: str, change: _Change, owner: Signer, relayer: Sender | None
    ) -> Receipt:
        _check_owner(identity, owner, self.identity_owner(identity))
        digest = change.digest(self.address, self.nonce(owner.address), identity)
        function, args = change.signed(identity, *owner.sign_digest(digest))
        return self.contract.transact(function, *args, sender=relayer)

    def change_owner_signed(
        self, identity: str, new_owner: str, *, owner: Signer, relayer: Sender | None = None
    ) -> Receipt:
        """Change the owner with the owner's signature; ``relayer`` pays the gas."""
        return self._send_signed(identity, _change_owner(new_owner), owner, relayer)

    def add_delegate_signed(
        self,
        identity: str,
        delegate_type: str | bytes,
        delegate: str,
        validity: int,
        *,
        owner: Signer,
        relayer: Sender | None = None,
    ) -> Receipt:
        """Add a delegate with the owner's signature; ``relayer`` pays the gas."""
        change = _add_delegate(delegate_type, delegate, validity)
        return self._send_signed(identity, change, owner, relayer)

    def set_attribute_signed(
        self,
        identity: str,
        name: str | bytes,
        value: bytes,
        validity: int,
        *,
        owner: Signer,
        relayer: Sender | None = None,
    ) -> Receipt:
        """Publish an attribute with the owner's signature; ``relayer`` pays the gas."""
        change = _set_attribute(name, value, validity)
        return self._send_signed(identity, change, owner, relayer)

    def revoke_delegate_signed(
        self,
        identity: str,
        delegate_type: str | bytes,
        delegate: str,
        *,
        owner: Signer,
        relayer: Sender | None = None,
    ) -> Receipt:
        """End a delegation with the owner's signature; ``relayer`` pays the gas."""
        change = _revoke_delegate(delegate_type, delegate)
        return self._send_signed(identity, change, owner, relayer)

    def revoke_attribute_signed(
        self,
        identity: str,
        name: str | bytes,
        value: bytes,
        *,
        owner: Signer,
        relayer: Sender | None = None,
    ) -> Receipt:
        """Revoke an attribute with the owner's signature; ``relayer`` pays the gas."""
        return self._send_signed(identity, _revoke_attribute(name, value), owner, relayer)

    # -- deactivation -----------------------------------------------------------------

    def deactivate(self, identity: str, *, sender: Sender) -> Receipt:
        """Deactivate the DID: its owner becomes the zero address, and did:ethr
        resolvers report it ``deactivated`` with an empty document.

        What ERC-1056 cannot undo: with no owner set, ``identityOwner`` falls
        back to the identity's own address, so the identity's original key
        could still sign changes afterwards. Deactivation is final only if
        that key is destroyed (or was never the owner's).
        """
        return self.change_owner(identity, ZERO_ADDRESS, sender=sender)

    def deactivate_signed(
        self, identity: str, *, owner: Signer, relayer: Sender | None = None
    ) -> Receipt:
        """:meth:`deactivate` with the owner's signature; ``relayer`` pays the gas."""
        return self.change_owner_signed(identity, ZERO_ADDRESS, owner=owner, relayer=relayer)

    # -- for wallets that only sign -------------------------------------------------------

    def prepare(self, change: str, *args: Any, sender: str) -> dict[str, Any]:
        """An unsigned transaction of a registry change, for a wallet to sign.

        ``change`` is one of the registry's functions (``"changeOwner"``,
        ``"addDelegate"``, ``"setAttribute"``, ... and their ``*Signed``
        forms) with its arguments as the contract takes them (``bytes32``
        names from :func:`bytes32`). Gas, fees, chain id and the sender's next
        nonce are filled in; nothing is sent. Submit what the wallet signed
        with ``chain.send_raw(signed)``.

        Raises:
            InvalidContractCall: not a registry change, or arguments it does not take.
        """
        _check_change(self.contract.name, change)
        return self.contract.prepare(change, *args, sender=sender)

    # -- history -----------------------------------------------------------------

    def history(
        self, identity: str, *, from_block: int | None = None, max_events: int = MAX_HISTORY
    ) -> list[RegistryEvent]:
        """Every change of ``identity``, oldest first.

        With ``from_block`` (the registry's deployment block, which troika
        knows for its own deployments) one log query bounded by
        ``[from_block, changed(identity)]`` fetches them all, and the result
        is checked against the ``previousChange`` links. Without it, or when
        the node refuses the query, the walk that works on every node reads
        one block per change, from ``changed(identity)`` back to 0.

        Raises:
            DIDError: more than ``max_events`` changes, or a history whose
                links do not hold together.
        """
        head = self.changed(identity)
        if head == 0:
            return []
        if from_block is None:
            entry = self.chain.deployments.get(REGISTRY_CONTRACT)
            if entry is not None and entry.address == self.address:
                from_block = entry.block_number
        if from_block is not None:
            events = self._query(identity, from_block, head)
            if len(events) > max_events:
                raise DIDError(f"{identity!r} has more than {max_events} changes")
            self._check_links(identity, events, head)
            return events
        return self._walk(identity, head, max_events)

    def _query(self, identity: str, from_block: int, to_block: int) -> list[RegistryEvent]:
        found = self.contract.logs(from_block=from_block, to_block=to_block, identity=identity)
        return [_typed(event) for event in found]

    def _walk(self, identity: str, head: int, max_events: int) -> list[RegistryEvent]:
        collected: list[RegistryEvent] = []
        block = head
        while block:
            events = self._query(identity, block, block)
            if not events:
                raise DIDError(f"{identity!r}: no registry event in block {block} that it links to")
            collected.extend(reversed(events))
            if len(collected) > max_events:
                raise DIDError(f"{identity!r} has more than {max_events} changes")
            earlier = [e.previous_change for e in events if e.previous_change < block]
            block = min(earlier) if earlier else 0
        collected.reverse()
        return collected

    @staticmethod
    def _check_links(identity: str, events: list[RegistryEvent], head: int) -> None:
        blocks = {event.block_number for event in events}
        expected: set[int] = set()
        block = head
        by_block: dict[int, list[RegistryEvent]] = {}
        for event in events:
            by_block.setdefault(event.block_number, []).append(event)
        while block:
            if block not in by_block:
                raise DIDError(f"{identity!r}: the log query missed block {block}")
            expected.add(block)
            earlier = [e.previous_change for e in by_block[block] if e.previous_change < block]
            block = min(earlier) if earlier else 0
        if blocks != expected:
            raise DIDError(f"{identity!r}: events outside the previousChange chain")


class AsyncEthrRegistry(AsyncContractWrapper):
    """:class:`EthrRegistry` for asyncio: the same reads, changes (direct and
    signed), history and method names; both send the same changes, built with no I/O.

    Example:
        >>> import asyncio
        >>> from troika.chain import AsyncChain
        >>> async def main() -> tuple[bool, list[RegistryEvent]]:
        ...     chain = AsyncChain.embedded()
        ...     registry = await AsyncEthrRegistry.deploy(chain)
        ...     alice = chain.dev_signers[0].address
        ...     return await registry.identity_owner(alice) == alice, await registry.history(alice)
        >>> asyncio.run(main())
        (True, [])
    """

    CONTRACT = REGISTRY_CONTRACT

    @classmethod
    async def deploy(cls, chain: AsyncChain, *, sender: Sender | None = None) -> AsyncEthrRegistry:
        """Deploy troika's registry (and record it in the chain's deployments)."""
        return cls(await chain.deploy(REGISTRY_CONTRACT, sender=sender))

    @classmethod
    async def at(cls, chain: AsyncChain, address: str | None = None) -> AsyncEthrRegistry:
        """The registry at ``address``, else troika's recorded deployment, else the
        canonical one of the chain id (see :meth:`EthrRegistry.at`).

        Raises:
            DeploymentNotFound: none of those exists on this chain.
        """
        if address is not None:
            return cls(chain.contract(REGISTRY_CONTRACT, address))
        try:
            return cls(await chain.deployment(REGISTRY_CONTRACT))
        except DeploymentNotFound:
            known = KNOWN_REGISTRIES.get(await chain.chain_id())
            if known is None or not await chain.code(known):
                raise
            return cls(chain.contract(REGISTRY_CONTRACT, known))

    async def identity_owner(self, identity: str) -> str:
        """The identity's current owner (the identity itself until it changes)."""
        return str(await self.contract.call("identityOwner", identity))

    async def changed(self, identity: str) -> int:
        """The block of the identity's latest change (0: never changed)."""
        return int(await self.contract.call("changed", identity))

    async def nonce(self, signer: str) -> int:
        """The nonce the next change signed by ``signer`` must carry."""
        return int(await self.contract.call("nonce", signer))

    async def valid_delegate(
        self, identity: str, delegate_type: str | bytes, delegate: str
    ) -> bool:
        """True while ``delegate`` is a valid ``delegate_type`` delegate of ``identity``."""
        return bool(
            await self.contract.call("validDelegate", identity, bytes32(delegate_type), delegate)
        )

    # -- changes sent by the owner (see EthrRegistry) --------------------------------

    async def _send(self, identity: str, change: _Change, sender: Sender | None) -> Receipt:
        function, args = change.direct(identity)
        return await self.contract.transact(function, *args, sender=sender)

    async def change_owner(self, identity: str, new_owner: str, *, sender: Sender) -> Receipt:
        """Make ``new_owner`` the owner of ``identity`` (sent by the current owner)."""
        return await self._send(identity, _change_owner(new_owner), sender)

    async def add_delegate(
        self,
        identity: str,
        delegate_type: str | bytes,
        delegate: str,
        validity: int,
        *,
        sender: Sender,
    ) -> Receipt:
        """Let ``delegate`` act as ``delegate_type`` for ``validity`` seconds."""
        return await self._send(identity, _add_delegate(delegate_type, delegate, validity), sender)

    async def revoke_delegate(
        self, identity: str, delegate_type: str | bytes, delegate: str, *, sender: Sender
    ) -> Receipt:
        """End a delegation now."""
        return await self._send(identity, _revoke_delegate(delegate_type, delegate), sender)

    async def set_attribute(
        self,
        identity: str,
        name: str | bytes,
        value: bytes,
        validity: int,
        *,
        sender: Sender,
    ) -> Receipt:
        """Publish attribute ``name`` = ``value`` for ``validity`` seconds."""
        return await self._send(identity, _set_attribute(name, value, validity), sender)

    async def revoke_attribute(
        self, identity: str, name: str | bytes, value: bytes, *, sender: Sender
    ) -> Receipt:
        """Revoke attribute ``name`` = ``value``."""
        return await self._send(identity, _revoke_attribute(name, value), sender)

    # -- changes signed by the owner, sent by anyone ---------------------------------

    async def _send_signed(
        self, identity: str, change: _Change, owner: Signer, relayer: Sender | None
    ) -> Receipt:
        _check_owner(identity, owner, await self.identity_owner(identity))
        digest = change.digest(self.address, await self.nonce(owner.address), identity)
        function, args = change.signed(identity, *owner.sign_digest(digest))
        return await self.contract.transact(function, *args, sender=relayer)

    async def change_owner_signed(
        self, identity: str, new_owner: str, *, owner: Signer, relayer: Sender | None = None
    ) -> Receipt:
        """Change the owner with the owner's signature; ``relayer`` pays the gas."""
        return await self._send_signed(identity, _change_owner(new_owner), owner, relayer)

    async def add_delegate_signed(
        self,
        identity: str,
        delegate_type: str | bytes,
        delegate: str,
        validity: int,
        *,
        owner: Signer,
        relayer: Sender | None = None,
    ) -> Receipt:
        """Add a delegate with the owner's signature; ``relayer`` pays the gas."""
        change = _add_delegate(delegate_type, delegate, validity)
        return await self._send_signed(identity, change, owner, relayer)

    async def set_attribute_signed(
        self,
        identity: str,
        name: str | bytes,
        value: bytes,
        validity: int,
        *,
        owner: Signer,
        relayer: Sender | None = None,
    ) -> Receipt:
        """Publish an attribute with the owner's signature; ``relayer`` pays the gas."""
        change = _set_attribute(name, value, validity)
        return await self._send_signed(identity, change, owner, relayer)

    async def revoke_delegate_signed(
        self,
        identity: str,
        delegate_type: str | bytes,
        delegate: str,
        *,
        owner: Signer,
        relayer: Sender | None = None,
    ) -> Receipt:
        """End a delegation with the owner's signature; ``relayer`` pays the gas."""
        change = _revoke_delegate(delegate_type, delegate)
        return await self._send_signed(identity, change, owner, relayer)

    async def revoke_attribute_signed(
        self,
        identity: str,
        name: str | bytes,
        value: bytes,
        *,
        owner: Signer,
        relayer: Sender | None = None,
    ) -> Receipt:
        """Revoke an attribute with the owner's signature; ``relayer`` pays the gas."""
        return await self._send_signed(identity, _revoke_attribute(name, value), owner, relayer)

    async def deactivate(self, identity: str, *, sender: Sender) -> Receipt:
        """Deactivate the DID (see :meth:`EthrRegistry.deactivate` for what it cannot undo)."""
        return await self.change_owner(identity, ZERO_ADDRESS, sender=sender)

    async def deactivate_signed(
        self, identity: str, *, owner: Signer, relayer: Sender | None = None
    ) -> Receipt:
        """:meth:`deactivate` with the owner's signature; ``relayer`` pays the gas."""
        return await self.change_owner_signed(identity, ZERO_ADDRESS, owner=owner, relayer=relayer)

    async def prepare(self, change: str, *args: Any, sender: str) -> dict[str, Any]:
        """An unsigned transaction of a registry change (see :meth:`EthrRegistry.prepare`).

        Raises:
            InvalidContractCall: not a registry change, or arguments it does not take.
        """
        _check_change(self.contract.name, change)
        return await self.contract.prepare(change, *args, sender=sender)

    async def history(
        self, identity: str, *, from_block: int | None = None, max_events: int = MAX_HISTORY
    ) -> list[RegistryEvent]:
        """Every change of ``identity``, oldest first (see :meth:`EthrRegistry.history`).

        Raises:
            DIDError: more than ``max_events`` changes, or a history whose
                links do not hold together.
        """
        head = await self.changed(identity)
        if head == 0:
            return []
        if from_block is None:
            entry = (await self.chain.deployments()).get(REGISTRY_CONTRACT)
            if entry is not None and entry.address == self.address:
                from_block = entry.block_number
        if from_block is not None:
            events = await self._query(identity, from_block, head)
            if len(events) > max_events:
                raise DIDError(f"{identity!r} has more than {max_events} changes")
            EthrRegistry._check_links(identity, events, head)
            return events
        collected: list[RegistryEvent] = []
        block = head
        while block:
            found = await self._query(identity, block, block)
            if not found:
                raise DIDError(f"{identity!r}: no registry event in block {block} that it links to")
            collected.extend(reversed(found))
            if len(collected) > max_events:
                raise DIDError(f"{identity!r} has more than {max_events} changes")
            earlier = [e.previous_change for e in found if e.previous_change < block]
            block = min(earlier) if earlier else 0
        collected.reverse()
        return collected

    async def _query(self, identity: str, from_block: int, to_block: int) -> list[RegistryEvent]:
        found = await self.contract.logs(
            from_block=from_block, to_block=to_block, identity=identity
        )
        return [_typed(event) for event in found]
