"""Typed access to troika's ``AssetRegistry`` contract: batch mints with
per-token metadata commitments, ownership, licences and royalties.

Reverts come back as :class:`~troika.AssetError` subclasses that name the
token and the account, never as a bare chain error.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from troika._contracts import DEFAULT_LOG_PAGE as DEFAULT_LOG_PAGE
from troika._contracts import ContractWrapper
from troika._errors import (
    AssetNotFound,
    AssetPermissionDenied,
    ContractReverted,
    InvalidAssetArgument,
    MintPending,
    TransactionRejected,
)
from troika.ipfs import CID, Multihash

if TYPE_CHECKING:  # the chain layer loads web3: only when a registry is used
    from troika.chain import Chain, Event, Receipt, Sender
    from troika.chain._core import ContractCore

__all__ = [
    "MAX_BATCH",
    "REGISTRY_CONTRACT",
    "AssetKind",
    "AssetRegistry",
    "BatchInfo",
    "MintedBatch",
    "commitment_cid",
]

#: The name of troika's compiled registry.
REGISTRY_CONTRACT = "AssetRegistry"

#: The most tokens one ``mintBatch`` transaction takes (the contract's ``MAX_BATCH``).
MAX_BATCH = 767

_ZERO = "0x" + "00" * 20


class AssetKind(enum.IntEnum):
    """What a token stands for (the contract's ``Kind``)."""

    DATASET = 0
    MODEL = 1


def commitment_cid(commitment: bytes) -> CID:
    """The CIDv1 (raw codec, sha2-256) of a block whose digest is ``commitment``.

    This is what ``tokenURI`` computes on chain.

    Example:
        >>> import hashlib
        >>> str(commitment_cid(hashlib.sha256(b"").digest()))
        'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
    """
    return CID(1, 0x55, Multihash(0x12, bytes(commitment)))


@dataclass(frozen=True)
class BatchInfo:
    """The batch a token was minted in."""

    first_id: int
    count: int


@dataclass(frozen=True)
class MintedBatch:
    """A batch just minted: its token ids (in the order of the commitments) and receipt."""

    token_ids: tuple[int, ...]
    tx_hash: str
    block_number: int
    gas_used: int


# Custom errors of the contract, by what they mean for the caller.
_NOT_FOUND = frozenset({"ERC721NonexistentToken"})
_DENIED = {
    "NotOwnerOrApproved": "is not the token's owner or approved by it",
    "ERC721InsufficientApproval": "is not the token's owner or approved by it",
    "ERC721IncorrectOwner": "does not own the token",
    "AccessControlUnauthorizedAccount": "may not mint in this registry (no MINTER_ROLE)",
    "NotRoyaltyReceiver": "is not the token's royalty receiver",
}
_INVALID = {
    "EmptyBatch": ("commitments", "a batch needs at least one token"),
    "BatchTooLarge": ("commitments", f"a batch holds at most {MAX_BATCH} tokens"),
    "RoyaltyTooHigh": ("royalty_bps", "a royalty is at most 10000 basis points (100 %)"),
    "InvalidRoyaltyReceiver": ("receiver", "the royalty receiver cannot be the zero address"),
    "ERC721InvalidReceiver": ("to", "tokens cannot go to the zero address"),
    "InvalidLicensee": ("account", "a licence cannot go to the zero address"),
    "LicenseExpiryInPast": ("expiry", "a licence must end after the latest block's time"),
    "NoLicense": ("account", "holds no unexpired licence to revoke"),
}


def _unmined(pending: int, latest: int) -> int:
    """How many of an account's transactions are sent but not yet mined."""
    return max(int(pending) - int(latest), 0)


def _sent_by(owner: str) -> dict[str, Any]:
    """The indexed-argument filter on ``from`` (a keyword Python reserves)."""
    return {"from": owner}


# -- the no-I/O core that AssetRegistry and AsyncAssetRegistry share ----------------------


def _address_of(sender: Sender) -> str:
    return sender if isinstance(sender, str) else sender.address


def _mint_arguments(
    to: str,
    kind: AssetKind,
    commitments: Sequence[bytes],
    royalty_bps: int,
    parents: Sequence[int],
) -> tuple[Any, ...]:
    """``mintBatch``'s arguments, in its order, checked before anything is sent."""
    if to == _ZERO:
        raise InvalidAssetArgument("to", to, "tokens cannot go to the zero address")
    if not 0 <= royalty_bps <= 10_000:
        raise InvalidAssetArgument(
            "royalty_bps", royalty_bps, "a royalty is 0 to 10000 basis points"
        )
    for commitment in commitments:
        if len(commitment) != 32:
            raise InvalidAssetArgument(
                "commitments", commitment, "a commitment is a 32-byte sha2-256 digest"
            )
    return to, int(kind), royalty_bps, list(parents), [bytes(c) for c in commitments]


def _minted_batch(contract: ContractCore, receipt: Receipt) -> MintedBatch:
    """The batch a ``mintBatch`` receipt reports."""
    (event,) = contract.events(receipt, "BatchMinted")
    first, count = int(event.args["firstId"]), int(event.args["count"])
    return MintedBatch(
        token_ids=tuple(range(first, first + count)),
        tx_hash=receipt.tx_hash,
        block_number=receipt.block_number,
        gas_used=receipt.gas_used,
    )


def _transfer_call(owner: str, to: str, token_id: int, safe: bool) -> tuple[str, tuple[Any, ...]]:
    return ("safeTransferFrom" if safe else "transferFrom"), (owner, to, token_id)


def _license_call(
    token_id: int, account: str, expiry: int, key_grant: bytes | None
) -> tuple[str, tuple[Any, ...]]:
    if key_grant is None:
        return "grantLicense", (token_id, account, expiry)
    return "grantLicenseWithKey", (token_id, account, expiry, bytes(key_grant))


def _held_tokens(owner: str, moves: Iterable[Event]) -> list[int]:
    """The tokens ``owner`` holds after the Transfer events to and from it, sorted."""
    held: set[int] = set()
    owner_key = owner.lower()
    for event in sorted(moves, key=lambda event: (event.block_number, event.log_index)):
        token = int(event.args["tokenId"])
        if str(event.args["to"]).lower() == owner_key:
            held.add(token)
        else:
            held.discard(token)
    return sorted(held)


def _add_commitments(found: dict[bytes, int], first: int, code: bytes) -> None:
    """Add the commitments a batch's data contract stores (its code after a STOP byte)."""
    for index in range((len(code) - 1) // 32):
        commitment = code[1 + 32 * index : 33 + 32 * index]
        found.setdefault(commitment, first + index)


@contextlib.contextmanager
def _asset_errors(token_id: int | None, account: str) -> Iterator[None]:
    """Turn the registry's reverts, and a node refusing the transaction, into AssetErrors."""
    try:
        yield
    except ContractReverted as exc:
        name = exc.error or ""
        if name in _NOT_FOUND:
            missing = int(exc.error_args[0]) if exc.error_args else token_id
            raise AssetNotFound(missing if missing is not None else -1) from exc
        if name in _DENIED:
            raise AssetPermissionDenied(token_id, account, _DENIED[name]) from exc
        if name in _INVALID:
            argument, reason = _INVALID[name]
            value = exc.error_args[-1] if exc.error_args else None
            raise InvalidAssetArgument(argument, value, reason) from exc
        raise
    except TransactionRejected as exc:
        raise AssetPermissionDenied(
            token_id, account, f"cannot send the transaction: {exc.reason}"
        ) from exc


class AssetRegistry(ContractWrapper):
    """troika's ``AssetRegistry`` on one chain, with typed calls.

    Example:
        >>> from troika.chain import Chain
        >>> chain = Chain.embedded()
        >>> registry = AssetRegistry.deploy(chain)
        >>> owner = chain.accounts[1]
        >>> minted = registry.mint_batch(owner, AssetKind.DATASET, [bytes(32), b"\\x01" * 32])
        >>> minted.token_ids, registry.owner_of(2) == owner
        ((1, 2), True)
        >>> registry.token_uri(1)
        'ipfs://bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
    """

    CONTRACT = REGISTRY_CONTRACT

    @classmethod
    def deploy(
        cls, chain: Chain, *, admin: str | None = None, sender: Sender | None = None
    ) -> AssetRegistry:
        """Deploy a registry whose admin (and first minter) is ``admin`` (the
        sender by default), and record it in the chain's deployments."""
        origin = sender if sender is not None else chain.default_sender
        owner = admin or _address_of(origin)
        return cls(chain.deploy(REGISTRY_CONTRACT, owner, sender=sender))

    @classmethod
    def at(cls, chain: Chain, address: str | None = None) -> AssetRegistry:
        """The registry at ``address``, or troika's recorded deployment on this chain.

        Raises:
            DeploymentNotFound: no address given and none recorded.
        """
        if address is not None:
            return cls(chain.contract(REGISTRY_CONTRACT, address))
        return cls(chain.deployment(REGISTRY_CONTRACT))

    @classmethod
    def at_or_deploy(cls, chain: Chain, *, sender: Sender | None = None) -> AssetRegistry:
        """troika's recorded registry on this chain, deployed first if there is none."""
        if chain.deployments.get(REGISTRY_CONTRACT) is not None:
            return cls.at(chain)
        return cls.deploy(chain, sender=sender)

    def _call(self, function: str, *args: Any, token_id: int | None = None) -> Any:
        with _asset_errors(token_id, "(caller)"):
            return self.contract.call(function, *args)

    def _send(
        self, function: str, *args: Any, sender: Sender | None, token_id: int | None = None
    ) -> Receipt:
        origin = sender if sender is not None else self.chain.default_sender
        with _asset_errors(token_id, _address_of(origin)):
            return self.contract.transact(function, *args, sender=sender)

    # -- minting ------------------------------------------------------------------

    def mint_batch(
        self,
        to: str,
        kind: AssetKind,
        commitments: Sequence[bytes],
        *,
        royalty_bps: int = 0,
        parents: Sequence[int] = (),
        sender: Sender | None = None,
    ) -> MintedBatch:
        """Mint one token per metadata commitment (sha2-256 digests) to ``to``.

        Raises:
            InvalidAssetArgument: an empty or oversized batch, a zero
                address, a royalty over 10000 bps, a commitment not 32 bytes.
            AssetNotFound: a parent token does not exist.
            AssetPermissionDenied: the sender may not mint, or cannot pay.
        """
        arguments = _mint_arguments(to, kind, commitments, royalty_bps, parents)
        receipt = self._send("mintBatch", *arguments, sender=sender)
        return _minted_batch(self.contract, receipt)

    # -- reads --------------------------------------------------------------------

    def total_minted(self) -> int:
        """How many tokens exist (ids 1 to this)."""
        return int(self._call("totalMinted"))

    def owner_of(self, token_id: int) -> str:
        """The token's owner.

        Raises:
            AssetNotFound: no such token.
        """
        return str(self._call("ownerOf", token_id, token_id=token_id))

    def balance_of(self, account: str) -> int:
        """How many tokens ``account`` holds."""
        return int(self._call("balanceOf", account))

    def commitment_of(self, token_id: int) -> bytes:
        """The sha2-256 digest of the token's metadata JSON."""
        return bytes(self._call("commitmentOf", token_id, token_id=token_id))

    def metadata_cid(self, token_id: int) -> CID:
        """The CID of the token's metadata block, from its commitment."""
        return commitment_cid(self.commitment_of(token_id))

    def token_uri(self, token_id: int) -> str:
        """``ipfs://`` + the metadata CID, as the contract computes it."""
        return str(self._call("tokenURI", token_id, token_id=token_id))

    def kind_of(self, token_id: int) -> AssetKind:
        """Dataset or model."""
        return AssetKind(int(self._call("kindOf", token_id, token_id=token_id)))

    def parents_of(self, token_id: int) -> tuple[int, ...]:
        """The tokens this one derives from."""
        return tuple(int(p) for p in self._call("parentsOf", token_id, token_id=token_id))

    def batch_of(self, token_id: int) -> BatchInfo:
        """The batch the token was minted in."""
        first, count = self._call("batchOf", token_id, token_id=token_id)
        return BatchInfo(int(first), int(count))

    def royalty_info(self, token_id: int, sale_price: int) -> tuple[str, int]:
        """ERC-2981: who gets the royalty of a sale at ``sale_price``, and how much."""
        receiver, amount = self._call("royaltyInfo", token_id, sale_price, token_id=token_id)
        return str(receiver), int(amount)

    def license_expiry(self, token_id: int, account: str) -> int:
        """When ``account``'s licence ends (unix time; 0: none)."""
        return int(self._call("licenseExpiry", token_id, account, token_id=token_id))

    def has_access(self, token_id: int, account: str) -> bool:
        """True if ``account`` owns the token or holds an unexpired licence."""
        return bool(self._call("hasAccess", token_id, account, token_id=token_id))

    def is_minter(self, account: str) -> bool:
        """True if ``account`` may mint."""
        role = bytes(self._call("MINTER_ROLE"))
        return bool(self._call("hasRole", role, account))

    def wait_settled(self, account: str, *, timeout: float | None = None) -> None:
        """Wait until ``account`` has no unmined transactions, at most ``timeout``
        seconds (the chain's receipt timeout by default).

        A mint looks on chain for what an earlier attempt minted; a transaction
        of that attempt still unmined would be missed, and its content minted
        twice. So a mint first waits for the minter's transactions to settle.
        Once they have, the minter's next nonce is asked of the node afresh.

        Raises:
            MintPending: some are still unmined after ``timeout``.
        """
        limit = self.chain.receipt_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            pending = _unmined(
                self.chain.w3.eth.get_transaction_count(account, "pending"),  # type: ignore[arg-type]
                self.chain.w3.eth.get_transaction_count(account, "latest"),  # type: ignore[arg-type]
            )
            if pending == 0:
                # Nothing in flight: the node's count is exact, and a local one
                # above it counts transactions the node lost (it restarted
                # from older state, a reorg): the mint's nonce comes from the node.
                self.chain.nonces.forget(account)
                return
            if time.monotonic() >= deadline:
                raise MintPending(account, pending, limit)
            time.sleep(self.chain.poll_interval)

    # -- changes --------------------------------------------------------------------

    def grant_minter(self, account: str, *, sender: Sender | None = None) -> Receipt:
        """Let ``account`` mint (sent by an admin)."""
        role = bytes(self._call("MINTER_ROLE"))
        return self._send("grantRole", role, account, sender=sender)

    def transfer(
        self, token_id: int, to: str, *, sender: Sender | None = None, safe: bool = True
    ) -> Receipt:
        """Move the token from its owner to ``to`` (sent by the owner or an approved account).

        With ``safe``, a contract receiver must accept it (``safeTransferFrom``).
        """
        function, arguments = _transfer_call(self.owner_of(token_id), to, token_id, safe)
        return self._send(function, *arguments, sender=sender, token_id=token_id)

    def approve(self, token_id: int, account: str, *, sender: Sender | None = None) -> Receipt:
        """Let ``account`` transfer the token and manage its licences."""
        return self._send("approve", account, token_id, sender=sender, token_id=token_id)

    def grant_license(
        self,
        token_id: int,
        account: str,
        expiry: int,
        *,
        key_grant: bytes | None = None,
        sender: Sender | None = None,
    ) -> Receipt:
        """Let ``account`` use the token until ``expiry`` (unix time, exclusive);
        with ``key_grant``, publish the digest of its wrapped content key too."""
        function, arguments = _license_call(token_id, account, expiry, key_grant)
        return self._send(function, *arguments, sender=sender, token_id=token_id)

    def revoke_license(
        self, token_id: int, account: str, *, sender: Sender | None = None
    ) -> Receipt:
        """End ``account``'s licence now."""
        return self._send("revokeLicense", token_id, account, sender=sender, token_id=token_id)

    def set_royalty(
        self, token_id: int, receiver: str, royalty_bps: int, *, sender: Sender | None = None
    ) -> Receipt:
        """Change the token's royalty (sent by its current receiver)."""
        return self._send(
            "setRoyalty", token_id, receiver, royalty_bps, sender=sender, token_id=token_id
        )

    # -- history ----------------------------------------------------------------------

    def tokens_of(self, owner: str, *, page: int = DEFAULT_LOG_PAGE) -> list[int]:
        """The tokens ``owner`` holds now, from the Transfer events to and from it.

        Reads the logs in pages of ``page`` blocks, never a scan of every
        token; the result is sorted.
        """
        return _held_tokens(
            owner,
            [
                *self.events("Transfer", page=page, to=owner),
                *self.events("Transfer", page=page, **_sent_by(owner)),
            ],
        )

    def batches_minted_to(
        self, owner: str, *, page: int = DEFAULT_LOG_PAGE
    ) -> list[tuple[int, str]]:
        """Every batch minted to ``owner``: (first id, data contract address), oldest first."""
        return [
            (int(event.args["firstId"]), str(event.args["data"]))
            for event in self.events("BatchMinted", page=page, owner=owner)
        ]

    def minted_commitments(self, owner: str, *, page: int = DEFAULT_LOG_PAGE) -> dict[bytes, int]:
        """Every commitment minted to ``owner``, with its token id (the first if repeated).

        Read from each batch's data contract (one ``eth_getCode`` a batch), so a
        retried mint can find what a lost receipt already minted.
        """
        found: dict[bytes, int] = {}
        for first, data in self.batches_minted_to(owner, page=page):
            _add_commitments(found, first, self.chain.code(data))
        return found

    def key_grants(self, token_id: int, account: str) -> list[bytes]:
        """The digests of the content keys wrapped for ``account`` on ``token_id``, newest last."""
        return [
            bytes(event.args["keyGrant"])
            for event in self.events("LicenseKeyGranted", tokenId=token_id, account=account)
        ]
