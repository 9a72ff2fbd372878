"""The AssetRegistry against a Python model of it, driven by hypothesis.

A ``RuleBasedStateMachine`` on the embedded EVM mints batches, transfers
(by the owner, by an approved account, by a stranger), approves, grants and
revokes licences, changes royalties and moves block time, and expects every
call to succeed or to revert with the custom error the model predicts. A
reverted call leaves the model unchanged, so the checks that follow also
prove it left the contract unchanged.

A view call costs milliseconds on py-evm, so the checks after each step cover
``totalMinted``, every holder's balance, the tokens the step touched and
every licence after time moves; a token's static
views (commitment, ``tokenURI``, kind, batch, parents) are checked when it is
minted. Each run ends with a sweep of every token, account and view.

Each run starts with a batch that ends a few ids short of 128, the tokens
one word of the contract's batch marks covers; the rules act on its tail and
on the batches minted after it, which straddle the word boundary.

Time: the chain starts far ahead of the wall clock, so every block is its
parent's time + 1: a transaction runs at ``latest + 1``, a call at ``latest``.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from troika import ContractReverted
from troika.chain import Chain, Contract

DATASET, MODEL = 0, 1
WORD = 128  # token ids per word of the contract's batch marks
MAX_NEW = 20  # tokens minted by the rules: keeps steps cheap
ACTIVE = 24  # the rules act on the newest tokens: the first batch's tail and what follows it
PRICE = 1_000_003  # a sale price whose royalty rounds down
MINTER_ROLE = keccak(b"MINTER_ROLE")
USERS = range(1, 5)  # account indices of the four holders; 0 is the admin (the minter)


def cid_of(digest: bytes) -> str:
    """CIDv1, raw codec, sha2-256, base32: the multiformats specs by hand."""
    return "b" + base64.b32encode(b"\x01\x55\x12\x20" + digest).decode().lower().rstrip("=")


class Views:
    """Calls the registry's views straight on the embedded EVM's backend.

    Three times faster than ``Contract.call`` through web3's middleware, which
    the checks after every step need; reverts still go through ``Contract.call``.
    """

    def __init__(self, registry: Contract) -> None:
        self.backend = registry.chain.w3.provider.ethereum_tester.backend  # type: ignore[attr-defined]
        self.to = bytes.fromhex(registry.address[2:])
        self.caller = bytes.fromhex(registry.chain.accounts[0][2:])  # funded, for the gas
        self.functions = {
            entry["name"]: entry for entry in registry.artifact.abi if entry["type"] == "function"
        }

    def __call__(self, function: str, *args: Any) -> Any:
        abi = self.functions[function]
        inputs = [argument["type"] for argument in abi["inputs"]]
        outputs = [argument["type"] for argument in abi["outputs"]]
        selector = keccak(f"{function}({','.join(inputs)})".encode())[:4]
        transaction = {"from": self.caller, "to": self.to, "data": selector + encode(inputs, args)}
        values = [
            to_checksum_address(value) if kind == "address" else value
            for kind, value in zip(
                outputs, decode(outputs, self.backend.call(transaction)), strict=True
            )
        ]
        return values[0] if len(values) == 1 else values


@dataclass
class Token:
    owner: str
    kind: int
    digest: bytes
    first: int
    count: int
    parents: list[int]
    royalty: tuple[str, int]  # receiver, bps
    approved: str | None = None
    licences: dict[str, int] = field(default_factory=dict)  # account -> expiry, 0 if revoked


class AssetRegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.chain = Chain.embedded()
        self.admin = self.chain.accounts[0]
        self.users = [self.chain.accounts[i] for i in USERS]
        self.registry: Contract = self.chain.deploy("AssetRegistry", self.admin, record=False)
        self.view = Views(self.registry)
        # far ahead of the wall clock, so block times are parent + 1 (see the module's doc)
        self.now = 0  # the latest block's time: what a call sees
        self.travel_to(int(time.time()) + 10**7)
        self.tokens: dict[int, Token] = {}
        self.touched: set[int] = set()
        self.start = 0  # the size of the first batch
        self.licences_to_check: set[tuple[int, str]] = set()

    # -- helpers ---------------------------------------------------------------------------------

    def latest(self) -> int:
        block = self.chain.block("latest")
        assert block is not None
        return block.timestamp

    def travel_to(self, latest: int) -> None:
        """Makes ``latest`` the latest block's time (eth-tester mines one at ``to - 1``)."""
        self.chain.w3.testing.timeTravel(latest + 1)  # type: ignore[attr-defined]
        self.now = self.latest()
        assert self.now == latest

    def send(self, function: str, *args: Any, sender: str) -> None:
        self.registry.transact(function, *args, sender=sender)
        before, self.now = self.now, self.latest()
        assert self.now == before + 1  # it ran at latest + 1, as the model assumes

    def reverts(
        self, error: str, expected: tuple[Any, ...], function: str, *args: Any, sender: str
    ) -> None:
        try:
            self.registry.transact(function, *args, sender=sender)
        except ContractReverted as reverted:
            outcome: tuple[Any, ...] | None = (reverted.error, reverted.error_args)
        else:
            outcome = None
        # one that passes its gas estimate (at the boundary of a licence) reverts in a block
        self.now = self.latest()
        assert outcome == (error, expected), f"{function}{args} by {sender}"

    def pick(self, data: st.DataObject) -> int:
        newest = len(self.tokens)
        return data.draw(st.integers(max(1, newest - ACTIVE + 1), newest), label="token")

    def user(self, data: st.DataObject, label: str, *, besides: tuple[str | None, ...] = ()) -> str:
        choices = [u for u in self.users if u not in besides]
        return data.draw(st.sampled_from(choices), label=label)

    def balance(self, account: str) -> int:
        return sum(token.owner == account for token in self.tokens.values())

    # -- minting ---------------------------------------------------------------------------------

    @initialize(data=st.data())
    def first_batch(self, data: st.DataObject) -> None:
        """Ends a few ids short of the first word's end, so the batches the rules mint
        start mid-word and span into the next: the contract's batch lookup is per word."""
        count = data.draw(st.integers(WORD - 8, WORD - 1), label="first batch")
        self.mint_batch(data, [i.to_bytes(32, "big") for i in range(count)], DATASET, 250, [])
        self.start = count

    def mint_batch(
        self, data: st.DataObject, digests: list[bytes], kind: int, bps: int, parents: list[int]
    ) -> None:
        to = self.user(data, "to")
        self.send("mintBatch", to, kind, bps, parents, digests, sender=self.admin)
        first = len(self.tokens) + 1
        for offset, digest in enumerate(digests):
            token = Token(to, kind, digest, first, len(digests), parents, (to, bps))
            self.tokens[first + offset] = token
        last = first + len(digests) - 1
        for token_id in {first, *range(max(first, last - 4), last + 1)}:
            self.check_static(token_id)
            self.touched.add(token_id)

    @precondition(lambda self: len(self.tokens) < self.start + MAX_NEW)
    @rule(
        data=st.data(),
        digests=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=5),
        kind=st.sampled_from([DATASET, MODEL]),
        bps=st.sampled_from([0, 1, 9_999, 10_000]) | st.integers(0, 10_000),
        how=st.sampled_from(["ok"] * 5 + ["missing parent", "royalty too high", "stranger"]),
    )
    def mint(
        self, data: st.DataObject, digests: list[bytes], kind: int, bps: int, how: str
    ) -> None:
        parents = data.draw(st.lists(st.sampled_from(sorted(self.tokens)), max_size=3), "parents")
        if how == "ok":
            self.mint_batch(data, digests, kind, bps, parents)
        elif how == "missing parent":
            beyond = len(self.tokens) + 1
            missing = data.draw(st.sampled_from([0, beyond, beyond + 7]), label="missing")
            parents = [*parents, missing]
            error: tuple[Any, ...] = ("ERC721NonexistentToken", (missing,))
            self.reverts(
                *error, "mintBatch", self.admin, kind, bps, parents, digests, sender=self.admin
            )
        elif how == "royalty too high":
            high = data.draw(st.integers(10_001, 2**16 - 1), label="bps")
            error = ("RoyaltyTooHigh", (high,))
            self.reverts(
                *error, "mintBatch", self.admin, kind, high, parents, digests, sender=self.admin
            )
        else:
            stranger = self.user(data, "stranger")
            error = ("AccessControlUnauthorizedAccount", (stranger, MINTER_ROLE))
            self.reverts(
                *error, "mintBatch", stranger, kind, bps, parents, digests, sender=stranger
            )

    # -- transfers and approvals -----------------------------------------------------------------

    @rule(data=st.data(), by=st.sampled_from(["owner", "approved", "stranger"]))
    def transfer(self, data: st.DataObject, by: str) -> None:
        token_id = self.pick(data)
        token = self.tokens[token_id]
        to = self.user(data, "to")
        self.touched.add(token_id)
        if by == "stranger":
            stranger = self.user(data, "stranger", besides=(token.owner, token.approved))
            error = ("ERC721InsufficientApproval", (stranger, token_id))
            self.reverts(*error, "transferFrom", token.owner, to, token_id, sender=stranger)
            return
        sender = token.approved if by == "approved" and token.approved else token.owner
        self.send("transferFrom", token.owner, to, token_id, sender=sender)
        token.owner, token.approved = to, None  # an approval ends with the transfer

    @rule(data=st.data(), by=st.sampled_from(["owner", "owner", "stranger"]))
    def approve(self, data: st.DataObject, by: str) -> None:
        token_id = self.pick(data)
        token = self.tokens[token_id]
        spender = self.user(data, "spender")
        self.touched.add(token_id)
        if by == "stranger":
            stranger = self.user(data, "stranger", besides=(token.owner,))
            error = ("ERC721InvalidApprover", (stranger,))
            self.reverts(*error, "approve", spender, token_id, sender=stranger)
            return
        self.send("approve", spender, token_id, sender=token.owner)
        token.approved = spender

    # -- licences ----------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        ahead=st.sampled_from([-1, 0, 1, 2]) | st.integers(3, 3_600),
        by=st.sampled_from(["owner", "approved", "stranger"]),
    )
    def grant_license(self, data: st.DataObject, ahead: int, by: str) -> None:
        """``ahead`` near 0 probes the boundary: the transaction runs at latest + 1."""
        token_id = self.pick(data)
        token = self.tokens[token_id]
        licensee = self.user(data, "licensee")
        expiry = self.now + ahead
        self.touched.add(token_id)
        if by == "stranger":
            stranger = self.user(data, "stranger", besides=(token.owner, token.approved))
            error: tuple[Any, ...] = ("NotOwnerOrApproved", (token_id, stranger))
            self.reverts(*error, "grantLicense", token_id, licensee, expiry, sender=stranger)
            return
        sender = token.approved if by == "approved" and token.approved else token.owner
        if expiry <= self.now + 1:
            error = ("LicenseExpiryInPast", (expiry,))
            self.reverts(*error, "grantLicense", token_id, licensee, expiry, sender=sender)
            return
        self.send("grantLicense", token_id, licensee, expiry, sender=sender)
        token.licences[licensee] = expiry

    @rule(data=st.data(), by=st.sampled_from(["owner", "approved", "stranger"]))
    def revoke_license(self, data: st.DataObject, by: str) -> None:
        """Mostly a licence still running (maybe in its last second), else any pair."""
        running = sorted(
            (token_id, account)
            for token_id, token in self.tokens.items()
            for account, expiry in token.licences.items()
            if expiry > self.now
        )
        if running and data.draw(st.integers(0, 3), label="any pair") > 0:
            token_id, licensee = data.draw(st.sampled_from(running), label="licence")
        else:
            token_id, licensee = self.pick(data), self.user(data, "licensee")
        token = self.tokens[token_id]
        self.touched.add(token_id)
        if by == "stranger":
            stranger = self.user(data, "stranger", besides=(token.owner, token.approved))
            error: tuple[Any, ...] = ("NotOwnerOrApproved", (token_id, stranger))
            self.reverts(*error, "revokeLicense", token_id, licensee, sender=stranger)
            return
        sender = token.approved if by == "approved" and token.approved else token.owner
        if token.licences.get(licensee, 0) <= self.now + 1:  # none, or over by then
            error = ("NoLicense", (token_id, licensee))
            self.reverts(*error, "revokeLicense", token_id, licensee, sender=sender)
            return
        self.send("revokeLicense", token_id, licensee, sender=sender)
        token.licences[licensee] = 0

    @precondition(
        lambda self: any(
            e > self.now + 1 for t in self.tokens.values() for e in t.licences.values()
        )
    )
    @rule(data=st.data())
    def revoke_license_as_it_ends(self, data: st.DataObject) -> None:
        """In a licence's last second a revocation would run at its expiry: NoLicense."""
        ending = sorted(
            (token_id, account)
            for token_id, token in self.tokens.items()
            for account, expiry in token.licences.items()
            if expiry > self.now + 1
        )
        token_id, licensee = data.draw(st.sampled_from(ending), label="licence")
        token = self.tokens[token_id]
        self.travel_to(token.licences[licensee] - 1)
        self.licences_to_check = self.licensed()
        error = ("NoLicense", (token_id, licensee))
        self.reverts(*error, "revokeLicense", token_id, licensee, sender=token.owner)

    # -- royalties ---------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        bps=st.integers(0, 10_000) | st.integers(10_001, 2**16 - 1),
        by=st.sampled_from(["receiver", "receiver", "stranger"]),
    )
    def set_royalty(self, data: st.DataObject, bps: int, by: str) -> None:
        token_id = self.pick(data)
        token = self.tokens[token_id]
        receiver = token.royalty[0]
        to = self.user(data, "new receiver")
        self.touched.add(token_id)
        if by == "stranger":
            stranger = self.user(data, "stranger", besides=(receiver,))
            error: tuple[Any, ...] = ("NotRoyaltyReceiver", (token_id, stranger))
            self.reverts(*error, "setRoyalty", token_id, to, bps, sender=stranger)
        elif bps > 10_000:
            error = ("RoyaltyTooHigh", (bps,))
            self.reverts(*error, "setRoyalty", token_id, to, bps, sender=receiver)
        else:
            self.send("setRoyalty", token_id, to, bps, sender=receiver)
            token.royalty = (to, bps)

    # -- time --------------------------------------------------------------------------------------

    def licensed(self) -> set[tuple[int, str]]:
        return {
            (token_id, account)
            for token_id, token in self.tokens.items()
            for account, expiry in token.licences.items()
            if expiry
        }

    @rule(data=st.data())
    def advance_time(self, data: st.DataObject) -> None:
        """By up to an hour, or to a licence's last second or to its expiry, when it ends."""
        expiries = sorted(
            {e for t in self.tokens.values() for e in t.licences.values() if e > self.now + 1}
        )
        if expiries and data.draw(st.booleans(), label="to an expiry"):
            expiry = data.draw(st.sampled_from(expiries), label="expiry")
            self.travel_to(expiry + data.draw(st.sampled_from([-1, 0]), label="offset"))
        else:
            self.travel_to(self.now + data.draw(st.integers(1, 3_600), label="seconds"))
        self.licences_to_check = self.licensed()

    # -- checks ------------------------------------------------------------------------------------

    def check_static(self, token_id: int) -> None:
        """What a token keeps for ever: its commitment, CID, kind, batch and parents."""
        token = self.tokens[token_id]
        assert self.view("commitmentOf", token_id) == token.digest
        assert self.view("tokenURI", token_id) == "ipfs://" + cid_of(token.digest)
        assert self.view("kindOf", token_id) == token.kind
        assert self.view("batchOf", token_id) == [token.first, token.count]
        assert list(self.view("parentsOf", token_id)) == token.parents

    def check_token(self, token_id: int, now: int, *, every_expiry: bool = False) -> None:
        """Its owner, approval, royalty, and every account's access; the expiry
        of every licence the model knows (of every account, with ``every_expiry``)."""
        token = self.tokens[token_id]
        call = self.view
        assert call("ownerOf", token_id) == token.owner
        assert call("getApproved", token_id) == (token.approved or "0x" + "00" * 20)
        receiver, bps = token.royalty
        assert call("royaltyInfo", token_id, PRICE) == [receiver, PRICE * bps // 10_000]
        for account in self.users:
            expiry = token.licences.get(account, 0)
            if every_expiry or account in token.licences:
                assert call("licenseExpiry", token_id, account) == expiry
            assert call("hasAccess", token_id, account) == self.access(token, account, now)

    @staticmethod
    def access(token: Token, account: str, now: int) -> bool:
        """The owner always has access; a licence never outlives its expiry."""
        return account == token.owner or now < token.licences.get(account, 0)

    @invariant()
    def matches_the_model(self) -> None:
        now = self.now
        assert self.view("totalMinted") == len(self.tokens)
        for account in self.users:
            assert self.view("balanceOf", account) == self.balance(account)
        for token_id in sorted(self.touched):
            self.check_token(token_id, now)
        for token_id, account in sorted(self.licences_to_check):  # after time moved
            expected = self.access(self.tokens[token_id], account, now)
            assert self.view("hasAccess", token_id, account) == expected
        self.touched.clear()
        self.licences_to_check.clear()

    def teardown(self) -> None:
        try:
            newest = len(self.tokens)
            for token_id, token in self.tokens.items():
                if token_id > newest - ACTIVE:
                    self.check_static(token_id)
                    self.check_token(token_id, self.now, every_expiry=True)
                else:  # never acted on: one call each shows its batch is still found
                    assert self.view("ownerOf", token_id) == token.owner
            assert self.view("balanceOf", self.admin) == self.balance(self.admin)
            beyond = len(self.tokens) + 1
            with pytest.raises(ContractReverted) as caught:
                self.registry.call("ownerOf", beyond)
            assert (caught.value.error, caught.value.error_args) == (
                "ERC721NonexistentToken",
                (beyond,),
            )
        finally:
            self.chain.close()


TestAssetRegistryState = AssetRegistryMachine.TestCase
TestAssetRegistryState.settings = settings(
    max_examples=10,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
