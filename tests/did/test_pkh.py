"""did:pkh (eip155) against the did:pkh specification's vectors, and EIP-55."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from troika import InvalidDID, MethodNotSupported
from troika.did import is_checksum_address, pkh_did, pkh_document, to_checksum_address

VECTORS = Path(__file__).parent / "vectors"
DOCUMENTS = sorted((VECTORS / "did-pkh").glob("*.jsonld"))
EIP55 = json.loads((VECTORS / "eip55.json").read_text())["checksummed"]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.stem)
def test_spec_vectors(path: Path) -> None:
    expected = json.loads(path.read_text())
    assert pkh_document(expected["id"]).to_dict() == expected


@pytest.mark.parametrize("address", EIP55)
def test_eip55_vectors(address: str) -> None:
    assert to_checksum_address(address.lower()) == address
    assert to_checksum_address(address.upper().replace("0X", "0x")) == address
    assert is_checksum_address(address)


def test_a_broken_checksum_is_refused() -> None:
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    broken = good[:-1] + "D"  # the last letter's case flipped
    assert not is_checksum_address(broken)
    with pytest.raises(InvalidDID, match="EIP-55") as caught:
        pkh_document(f"did:pkh:eip155:1:{broken}")
    assert caught.value.error == "invalidDid"
    assert pkh_document(f"did:pkh:eip155:1:{good}").id == f"did:pkh:eip155:1:{good}"


def test_pkh_did_writes_the_checksummed_address() -> None:
    did = pkh_did("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", chain_id=10)
    assert str(did) == "did:pkh:eip155:10:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    for bad_chain in (0, -1, True):
        with pytest.raises(InvalidDID, match="chain id"):
            pkh_did(EIP55[0], chain_id=bad_chain)
    with pytest.raises(InvalidDID):
        pkh_did("0x1234")


@pytest.mark.parametrize(
    "did",
    [
        "did:pkh:eip155:1",
        "did:pkh:eip155:01:0xb9c5714089478a327f09197987f16f9e5d936e8a",
        "did:pkh:eip155:x:0xb9c5714089478a327f09197987f16f9e5d936e8a",
        "did:pkh:eip155:1:b9c5714089478a327f09197987f16f9e5d936e8a",
        "did:pkh:eip155:1:0xb9c5714089478a327f09197987f16f9e5d936e8",
        "did:pkh:eip155:1:0xb9c5714089478a327f09197987f16f9e5d936e8a:extra",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    ],
)
def test_malformed_eip155_dids(did: str) -> None:
    with pytest.raises(InvalidDID) as caught:
        pkh_document(did)
    assert caught.value.did == did


def test_other_namespaces_are_not_supported() -> None:
    did = (
        "did:pkh:solana:4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZ:"
        "CKg5d12Jhpej1JqtmxLJgaFqqeYjxgPqToJ4LBdvG9Ev"
    )
    with pytest.raises(MethodNotSupported, match="'solana'") as caught:
        pkh_document(did)
    assert (caught.value.error, caught.value.method) == ("methodNotSupported", "pkh")
