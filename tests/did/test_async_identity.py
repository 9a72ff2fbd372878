"""The asyncio twins of the registry and of identities, on a real anvil.

What they publish is checked against two references: the reference did:ethr
resolver (npm ethr-did-resolver, run by node) reads the documents that
``AsyncIdentities`` wrote, and the sync :class:`EthrRegistry` (itself checked
against the reference in test_ethr.py) sends the same changes for a second
identity, whose history must match change for change.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests._services import Anvil
from tests.did.test_ethr import reference
from troika import AsyncTroika, DIDError, InvalidContractCall, Settings
from troika.chain import AsyncChain, Chain, Keystore
from troika.did import AsyncEthrRegistry, EthrRegistry, RegistryEvent
from troika.did._identity import KEY_AGREEMENT_ATTRIBUTE

pytestmark = pytest.mark.anvil

DAY = 86_400
ZERO = "0x0000000000000000000000000000000000000000"


def _settings(anvil: Anvil, home: Path) -> Settings:
    return Settings(home=home, rpc_url=anvil.url, chain_id=anvil.chain_id, ipfs_api=None)


def test_async_identities_publish_what_the_reference_resolver_reads(
    anvil: Anvil, tmp_path: Path
) -> None:
    async def main() -> dict[str, Any]:
        keys = Keystore(tmp_path, scrypt_n=2**10)
        async with AsyncTroika(_settings(anvil, tmp_path), keystore=keys) as t:
            ids = await t.identities()
            alice = await ids.create("alice", "pw", kind="person")
            bot = await ids.create(
                "bot", "pw2", kind="agent", controller=alice, capabilities=["buy-access"]
            )
            registry = await t.did_registry()
            did = await t.did()
            return {
                "alice": alice,
                "bot": bot,
                "registry": registry.address,
                "bot owner": await registry.identity_owner(bot.address),
                "bot delegate": await registry.valid_delegate(bot.address, "sigAuth", bot.address),
                "ours": [(await did.resolve(str(x.did))).to_dict() for x in (alice, bot)],
                "again": await ids.unlock("bot", "pw2", kind="agent", controller=alice),
                "balance": await (await t.chain()).balance(alice.address),
            }

    got = asyncio.run(main())
    alice, bot = got["alice"], got["bot"]
    expected = reference(anvil, got["registry"], [str(alice.did), str(bot.did)])
    for ours, theirs in zip(got["ours"], expected, strict=True):
        assert ours["didDocument"] == theirs["didDocument"]
        assert ours["didDocumentMetadata"] == theirs["didDocumentMetadata"]

    alice_doc, bot_doc = (theirs["didDocument"] for theirs in expected)
    (agreement,) = [
        m for m in alice_doc["verificationMethod"] if m["id"] in set(alice_doc["keyAgreement"])
    ]
    assert base64.b64decode(agreement["publicKeyBase64"]) == alice.key_agreement_public
    (profile,) = [s for s in bot_doc["service"] if s["type"] == "TroikaProfile"]
    endpoint = profile["serviceEndpoint"]
    assert (endpoint if isinstance(endpoint, dict) else json.loads(endpoint)) == {
        "kind": "agent",
        "name": "bot",
        "controller": str(alice.did),
        "capabilities": ["buy-access"],
    }
    (controller,) = [m for m in bot_doc["verificationMethod"] if m["id"].endswith("#controller")]
    assert controller["blockchainAccountId"].endswith(alice.address)  # the person owns it...
    assert got["bot owner"] == alice.address
    assert got["bot delegate"]  # ...and the agent still signs with its own key
    assert got["again"].did == bot.did
    assert got["balance"] == 0  # the relayer paid


def test_async_identities_refuse_what_the_sync_ones_refuse(anvil: Anvil, tmp_path: Path) -> None:
    async def main() -> None:
        keys = Keystore(tmp_path, scrypt_n=2**10)
        async with AsyncTroika(_settings(anvil, tmp_path), keystore=keys) as t:
            ids = await t.identities()
            alice = await ids.create("alice", "pw", kind="person")
            with pytest.raises(DIDError, match="robot"):
                await ids.create("r", "pw", kind="robot")  # type: ignore[arg-type]
            with pytest.raises(DIDError, match="controls itself"):
                await ids.create("bob", "pw", kind="person", controller=alice)
            assert keys.list() == [keys.show("alice")]  # nothing made for a refused identity

    asyncio.run(main())


def _changes(relayer: str) -> list[tuple[str, tuple[Any, ...]]]:
    """The same sequence of changes, as (method, arguments after the identity)."""
    return [
        ("add_delegate", ("veriKey", relayer, DAY)),
        ("set_attribute", ("did/svc/Hub", b"https://hub.example", DAY)),
        ("add_delegate_signed", ("sigAuth", relayer, DAY)),
        ("set_attribute_signed", (KEY_AGREEMENT_ATTRIBUTE, b"\x01" * 32, DAY)),
        ("revoke_delegate", ("veriKey", relayer)),
        ("revoke_attribute_signed", ("did/svc/Hub", b"https://hub.example")),
        ("revoke_delegate_signed", ("sigAuth", relayer)),
        ("revoke_attribute", (KEY_AGREEMENT_ATTRIBUTE, b"\x01" * 32)),
        ("change_owner_signed", (relayer,)),
    ]


def _shape(events: list[RegistryEvent], identity: str) -> list[dict[str, Any]]:
    """An identity's history without what differs between two identities."""
    where = {"block_number", "tx_hash", "previous_change", "log_index", "block_timestamp"}
    shaped = []
    for event in events:
        fields = {k: v for k, v in vars(event).items() if k not in where}
        assert fields.pop("identity") == identity
        if "valid_to" in fields:  # block times differ; an attribute's revocation is 0
            fields["valid_to"] = fields["valid_to"] == 0
        shaped.append({"type": type(event).__name__, **fields})
    return shaped


def test_async_registry_sends_the_changes_the_sync_one_sends(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain.connect(anvil.url, chain_id=anvil.chain_id, home=tmp_path)
    keys = Keystore(tmp_path, scrypt_n=2**10)
    signers = []
    for name in ("sync", "async"):
        keys.new(name, "pw")
        signers.append(keys.unlock(name, "pw"))
        chain.transfer(signers[-1].address, 10**18)
    relayer = chain.accounts[4]
    sync_owner, async_owner = signers
    registry = EthrRegistry.deploy(chain)

    for method, args in _changes(relayer):
        signed = method.endswith("_signed")
        keyword = {"owner": sync_owner, "relayer": relayer} if signed else {"sender": sync_owner}
        getattr(registry, method)(sync_owner.address, *args, **keyword)

    async def run_async() -> tuple[list[RegistryEvent], str, bool]:
        async with await AsyncChain.connect(
            anvil.url, chain_id=anvil.chain_id, home=tmp_path
        ) as achain:
            twin = await AsyncEthrRegistry.at(achain, registry.address)
            me = async_owner.address
            for method, args in _changes(relayer):
                signed = method.endswith("_signed")
                keyword = (
                    {"owner": async_owner, "relayer": relayer}
                    if signed
                    else {"sender": async_owner}
                )
                await getattr(twin, method)(me, *args, **keyword)
            with pytest.raises(DIDError, match="does not own"):
                await twin.set_attribute_signed(me, "x", b"x", DAY, owner=async_owner)
            with pytest.raises(InvalidContractCall):
                await twin.prepare("identityOwner", me, sender=me)
            unsigned = await twin.prepare(
                "setAttribute", relayer, b"did/svc/Y".ljust(32, b"\0"), b"y", DAY, sender=relayer
            )
            assert unsigned["to"] == registry.address
            assert "from" not in unsigned
            history = await twin.history(me)
            await twin.deactivate(me, sender=relayer)  # the relayer owns it now
            return (
                history,
                await twin.identity_owner(me),
                await twin.valid_delegate(me, "sigAuth", relayer),
            )

    async_history, owner_after, delegate_after = asyncio.run(run_async())
    sync_history = registry.history(sync_owner.address)
    assert _shape(async_history, async_owner.address) == _shape(sync_history, sync_owner.address)
    assert len(async_history) == len(_changes(relayer))
    assert registry.identity_owner(sync_owner.address) == relayer
    # deactivated: owner zero, and ERC-1056 then falls back to the identity itself
    assert registry.history(async_owner.address)[-1].owner == ZERO  # type: ignore[attr-defined]
    assert owner_after == async_owner.address
    assert not delegate_after
    chain.close()
