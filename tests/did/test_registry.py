"""The typed ERC-1056 registry: changes direct and relayed, and the history that
did:ethr resolution replays, on the embedded EVM and on anvil."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from eth_account import Account

from troika import DeploymentNotFound, DIDError, InvalidContractCall
from troika.chain import Chain, Keystore, Signer
from troika.did._registry import (
    KNOWN_REGISTRIES,
    AttributeChanged,
    DelegateChanged,
    EthrRegistry,
    OwnerChanged,
    bytes32,
)

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400


@pytest.fixture
def owner(chain: Chain, tmp_path: Path) -> Signer:
    store = Keystore(tmp_path, scrypt_n=2**10)
    store.new("owner", "pw")
    signer = store.unlock("owner", "pw")
    chain.transfer(signer.address, 10**18)
    return signer


def test_changes_and_history(chain: Chain, owner: Signer) -> None:
    registry = EthrRegistry.deploy(chain)
    me, delegate, heir = owner.address, chain.accounts[1], chain.accounts[2]
    assert registry.identity_owner(me) == me
    assert registry.history(me) == []

    registry.add_delegate(me, "veriKey", delegate, DAY, sender=owner)
    assert registry.valid_delegate(me, "veriKey", delegate)
    assert not registry.valid_delegate(me, "sigAuth", delegate)
    registry.set_attribute(me, "did/svc/HubService", b"https://hub.example", DAY, sender=owner)
    registry.revoke_delegate(me, "veriKey", delegate, sender=owner)
    assert not registry.valid_delegate(me, "veriKey", delegate)
    registry.change_owner(me, heir, sender=owner)
    assert registry.identity_owner(me) == heir

    walked = registry._walk(me, registry.changed(me), 100)
    queried = registry.history(me)  # troika knows its deployment block: one query
    assert walked == queried
    assert [type(e) for e in queried] == [
        DelegateChanged,
        AttributeChanged,
        DelegateChanged,
        OwnerChanged,
    ]
    first, attribute, revoked, moved = queried
    assert isinstance(first, DelegateChanged)
    assert (first.delegate, first.delegate_type, first.previous_change) == (
        delegate,
        bytes32("veriKey"),
        0,
    )
    assert isinstance(attribute, AttributeChanged)
    assert attribute.value == b"https://hub.example"
    assert attribute.previous_change == first.block_number
    assert isinstance(revoked, DelegateChanged)
    assert revoked.previous_change == attribute.block_number
    assert isinstance(moved, OwnerChanged)
    assert moved.owner == heir
    assert registry.changed(me) == moved.block_number
    # someone else's changes are not in this identity's history
    registry.set_attribute(delegate, "x", b"y", DAY, sender=delegate)
    assert registry.history(me) == queried


def test_signed_changes_are_relayed(chain: Chain, owner: Signer) -> None:
    registry = EthrRegistry.deploy(chain)
    me, relayer = owner.address, chain.accounts[3]
    before = chain.balance(me)
    registry.add_delegate_signed(me, "sigAuth", relayer, DAY, owner=owner, relayer=relayer)
    registry.set_attribute_signed(me, "did/svc/X", b"x", DAY, owner=owner, relayer=relayer)
    assert registry.valid_delegate(me, "sigAuth", relayer)
    assert registry.nonce(me) == 2
    heir = Account.create().address
    receipt = registry.change_owner_signed(me, heir, owner=owner, relayer=relayer)
    assert receipt.sender == relayer
    assert registry.identity_owner(me) == heir
    assert chain.balance(me) == before  # the owner paid nothing
    with pytest.raises(DIDError, match="does not own"):
        registry.change_owner_signed(me, me, owner=owner, relayer=relayer)


def test_finding_the_registry(chain: Chain) -> None:
    with pytest.raises(DeploymentNotFound):
        EthrRegistry.at(chain)
    deployed = EthrRegistry.deploy(chain)
    assert EthrRegistry.at(chain).address == deployed.address
    assert EthrRegistry.at(chain, deployed.address).address == deployed.address


def test_history_is_bounded(chain: Chain, owner: Signer) -> None:
    registry = EthrRegistry.deploy(chain)
    for index in range(3):
        registry.set_attribute(owner.address, f"a{index}", b"v", DAY, sender=owner)
    with pytest.raises(DIDError, match="more than 2"):
        registry.history(owner.address, max_events=2)
    with pytest.raises(DIDError, match="more than 2"):
        registry._walk(owner.address, registry.changed(owner.address), 2)


def test_known_registries_match_the_reference_deployments() -> None:
    source = (ROOT / "contracts/node_modules/ethr-did-registry/dist/deployments.js").read_text()
    reference = {
        int(chain_id): address.lower()
        for chain_id, address in re.findall(
            r"chainId: (\d+), registry: '(0x[0-9a-fA-F]{40})'", source
        )
    }
    for chain_id in (1, 137):
        assert KNOWN_REGISTRIES[chain_id].lower() == reference[chain_id]


def test_names_longer_than_32_bytes() -> None:
    with pytest.raises(DIDError):
        bytes32("did/pub/Secp256k1/veriKey/hex/and-far-too-long")


def test_signed_revocations_and_deactivation(chain: Chain, owner: Signer) -> None:
    from troika.did import EthrResolver, Resolver, ethr_did

    registry = EthrRegistry.deploy(chain)
    me, relayer = owner.address, chain.accounts[3]
    registry.add_delegate_signed(me, "veriKey", relayer, DAY, owner=owner, relayer=relayer)
    registry.set_attribute_signed(me, "did/svc/X", b"x", DAY, owner=owner, relayer=relayer)
    registry.revoke_delegate_signed(me, "veriKey", relayer, owner=owner, relayer=relayer)
    registry.revoke_attribute_signed(me, "did/svc/X", b"x", owner=owner, relayer=relayer)
    assert not registry.valid_delegate(me, "veriKey", relayer)
    kinds = [(type(e).__name__, getattr(e, "valid_to", None) == 0) for e in registry.history(me)]
    assert kinds[-1] == ("AttributeChanged", True)  # validTo 0: revoked
    registry.deactivate_signed(me, owner=owner, relayer=relayer)
    last = registry.history(me)[-1]
    assert isinstance(last, OwnerChanged)
    assert last.owner == "0x0000000000000000000000000000000000000000"
    # ERC-1056 falls back to the identity's own address when no owner is set
    assert registry.identity_owner(me) == me
    resolver = Resolver()
    resolver.register("ethr", EthrResolver({chain.chain_id: chain}))
    result = resolver.resolve(str(ethr_did(me, chain.chain_id)))
    assert result.did_document_metadata.deactivated is True


def test_a_wallet_that_only_signs(chain: Chain, tmp_path: Path) -> None:
    wallet = Account.create()  # the key stays in the "wallet"
    chain.transfer(wallet.address, 10**18)
    registry = EthrRegistry.deploy(chain)
    unsigned = registry.prepare(
        "setAttribute",
        wallet.address,
        bytes32("did/svc/Hub"),
        b"https://hub.example",
        DAY,
        sender=wallet.address,
    )
    assert unsigned["chainId"] == chain.chain_id
    assert unsigned["nonce"] == 0
    assert "from" not in unsigned
    signed = wallet.sign_transaction(unsigned)
    receipt = chain.send_raw(bytes(signed.raw_transaction))
    assert receipt.sender == wallet.address
    (event,) = registry.history(wallet.address)
    assert isinstance(event, AttributeChanged)
    assert event.value == b"https://hub.example"
    with pytest.raises(InvalidContractCall):
        registry.prepare("identityOwner", wallet.address, sender=wallet.address)
