"""The typed AssetRegistry wrapper: every revert comes back as a specific
AssetError, licence keys are published with the licence, and the history
readers (tokens_of, minted_commitments, key_grants) agree with the chain;
on the embedded EVM and on anvil."""

from __future__ import annotations

import base64
import hashlib

import pytest

from troika import AssetNotFound, AssetPermissionDenied, ContractReverted, InvalidAssetArgument
from troika.assets import MAX_BATCH, AssetKind, AssetRegistry, commitment_cid
from troika.chain import Chain

ZERO = "0x" + "00" * 20


@pytest.fixture
def registry(chain: Chain) -> AssetRegistry:
    return AssetRegistry.deploy(chain)


def digests(*labels: str) -> list[bytes]:
    return [hashlib.sha256(label.encode()).digest() for label in labels]


def cid_by_hand(digest: bytes) -> str:
    """CIDv1 raw sha2-256 in base32, from the CID spec: 'b' + base32(0x01 0x55 0x12 0x20 digest)."""
    return "b" + base64.b32encode(b"\x01\x55\x12\x20" + digest).decode().lower().rstrip("=")


def in_a_year(chain: Chain) -> int:
    latest = chain.block("latest")
    assert latest is not None
    return latest.timestamp + 365 * 24 * 3600


def test_mint_and_read(chain: Chain, registry: AssetRegistry) -> None:
    owner = chain.accounts[1]
    first = registry.mint_batch(owner, AssetKind.DATASET, digests("a", "b"), royalty_bps=300)
    second = registry.mint_batch(
        owner, AssetKind.MODEL, digests("m"), parents=list(first.token_ids)
    )
    assert first.token_ids == (1, 2)
    assert second.token_ids == (3,)
    assert registry.total_minted() == 3
    assert registry.balance_of(owner) == 3
    assert registry.kind_of(3) is AssetKind.MODEL
    assert registry.parents_of(3) == (1, 2)
    assert registry.batch_of(2).first_id == 1
    assert registry.batch_of(2).count == 2
    (b,) = digests("b")
    assert registry.commitment_of(2) == b
    assert str(registry.metadata_cid(2)) == cid_by_hand(b)
    assert registry.token_uri(2) == "ipfs://" + cid_by_hand(b)
    assert str(commitment_cid(b)) == cid_by_hand(b)
    assert registry.royalty_info(1, 1_000_000) == (owner, 30_000)
    assert registry.is_minter(chain.accounts[0])
    assert not registry.is_minter(owner)


def test_reverts_are_asset_errors(chain: Chain, registry: AssetRegistry) -> None:
    owner, stranger = chain.accounts[1], chain.accounts[2]
    registry.mint_batch(owner, AssetKind.DATASET, digests("a"))
    with pytest.raises(AssetNotFound) as missing:
        registry.owner_of(7)
    assert missing.value.token_id == 7
    assert isinstance(missing.value.__cause__, ContractReverted)
    with pytest.raises(AssetPermissionDenied) as denied:
        registry.mint_batch(owner, AssetKind.DATASET, digests("x"), sender=stranger)
    assert denied.value.account == stranger
    with pytest.raises(AssetPermissionDenied):
        registry.grant_license(1, stranger, in_a_year(chain), sender=stranger)
    with pytest.raises(AssetPermissionDenied):
        registry.grant_license(1, stranger, in_a_year(chain), key_grant=bytes(32), sender=stranger)
    with pytest.raises(AssetPermissionDenied):
        registry.transfer(1, stranger, sender=stranger)
    with pytest.raises(AssetPermissionDenied):
        registry.set_royalty(1, stranger, 100, sender=stranger)
    with pytest.raises(InvalidAssetArgument) as past:
        registry.grant_license(1, stranger, 1, sender=owner)
    assert past.value.name == "expiry"
    with pytest.raises(InvalidAssetArgument) as nobody:
        registry.grant_license(1, ZERO, in_a_year(chain), sender=owner)
    assert nobody.value.name == "account"
    with pytest.raises(InvalidAssetArgument) as none:
        registry.revoke_license(1, stranger, sender=owner)
    assert none.value.name == "account"
    # checked before anything is sent
    with pytest.raises(InvalidAssetArgument):
        registry.mint_batch(ZERO, AssetKind.DATASET, digests("z"))
    with pytest.raises(InvalidAssetArgument):
        registry.mint_batch(owner, AssetKind.DATASET, digests("z"), royalty_bps=10_001)
    with pytest.raises(InvalidAssetArgument):
        registry.mint_batch(owner, AssetKind.DATASET, [b"short"])
    # and by the contract
    with pytest.raises(InvalidAssetArgument) as empty:
        registry.mint_batch(owner, AssetKind.DATASET, [])
    assert empty.value.name == "commitments"
    with pytest.raises(InvalidAssetArgument):
        registry.mint_batch(owner, AssetKind.DATASET, [bytes(32)] * (MAX_BATCH + 1))
    with pytest.raises(AssetNotFound):
        registry.mint_batch(owner, AssetKind.MODEL, digests("m"), parents=[99])
    assert registry.total_minted() == 1


def test_a_licence_with_its_key(chain: Chain, registry: AssetRegistry) -> None:
    owner, licensee = chain.accounts[1], chain.accounts[2]
    registry.mint_batch(owner, AssetKind.DATASET, digests("a"))
    expiry = in_a_year(chain)
    receipt = registry.grant_license(1, licensee, expiry, key_grant=b"\x07" * 32, sender=owner)
    granted = registry.contract.events(receipt, "LicenseGranted")
    keyed = registry.contract.events(receipt, "LicenseKeyGranted")
    assert [dict(e.args) for e in granted] == [
        {"tokenId": 1, "account": licensee, "expiry": expiry}
    ]
    assert [dict(e.args) for e in keyed] == [
        {"tokenId": 1, "account": licensee, "keyGrant": b"\x07" * 32}
    ]
    registry.grant_license(1, licensee, expiry + 1, key_grant=b"\x08" * 32, sender=owner)
    assert registry.key_grants(1, licensee) == [b"\x07" * 32, b"\x08" * 32]
    assert registry.key_grants(1, owner) == []
    assert registry.license_expiry(1, licensee) == expiry + 1
    assert registry.has_access(1, licensee)
    # an approved account may license too, and its licence without a key publishes none
    operator = chain.accounts[3]
    registry.approve(1, operator, sender=owner)
    registry.grant_license(1, chain.accounts[4], expiry, sender=operator)
    assert registry.key_grants(1, chain.accounts[4]) == []
    assert registry.has_access(1, chain.accounts[4])


def test_history_readers(chain: Chain, registry: AssetRegistry) -> None:
    alice, bob = chain.accounts[1], chain.accounts[2]
    a = registry.mint_batch(alice, AssetKind.DATASET, digests("1", "2", "3"))
    b = registry.mint_batch(bob, AssetKind.DATASET, digests("4"))
    c = registry.mint_batch(alice, AssetKind.MODEL, digests("5", "1"))
    registry.transfer(2, bob, sender=alice)
    registry.transfer(4, alice, sender=bob, safe=False)
    registry.transfer(2, alice, sender=bob)
    held = [1, 2, 3, 4, 5, 6]
    assert registry.tokens_of(alice) == held
    assert registry.tokens_of(alice, page=1) == held  # one block a page
    assert registry.tokens_of(bob) == []
    assert [registry.owner_of(t) for t in held] == [alice] * 6
    found = registry.minted_commitments(alice)
    one, two, three, five = digests("1", "2", "3", "5")
    # the first token of a repeated commitment wins; bob's batch is not alice's
    assert found == {one: 1, two: 2, three: 3, five: 5}
    assert registry.minted_commitments(bob) == dict(zip(digests("4"), b.token_ids, strict=True))
    assert a.gas_used > 0
    assert c.token_ids == (5, 6)
    assert registry.batches_minted_to(alice)[1][0] == 5


def test_at_and_deployed_at(chain: Chain) -> None:
    deployed = AssetRegistry.at_or_deploy(chain)
    assert AssetRegistry.at(chain).address == deployed.address
    assert AssetRegistry.at_or_deploy(chain).address == deployed.address
    assert AssetRegistry.at(chain, deployed.address).deployed_at == deployed.deployed_at
    assert deployed.deployed_at <= chain.block_number
    assert repr(deployed) == f"AssetRegistry({deployed.address!r})"
