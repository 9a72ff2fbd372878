"""did:ethr: the replay against the method specification's examples (no chain),
resolution on the embedded EVM and anvil, bad input, and the peer check: troika
and the reference resolver (npm ethr-did-resolver, pinned in tests/peers) resolve
the same DIDs on one anvil after the same history, to the same JSON.

The peer check runs on an anvil of its own whose clock starts in 2020: the
reference measures the latest version's validity against the machine's clock,
troika against the latest block's (as the registry's ``validDelegate`` does),
and a chain clock years behind the machine's keeps the two apart only where
this file says so.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from tests._services import Anvil
from tests.did.test_conformance import assert_conformant
from troika import ConfigError, DIDResolutionError, InvalidDID
from troika.chain import AsyncChain, Chain, Signer
from troika.did import (
    ETHR_CONTEXT,
    AsyncEthrResolver,
    AsyncResolver,
    DelegateChanged,
    EthrDID,
    EthrNetwork,
    EthrRegistry,
    EthrResolver,
    OwnerChanged,
    Resolver,
    ethr_did,
    ethr_document,
)
from troika.did._registry import AttributeChanged, RegistryEvent, bytes32

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "peers"
GENESIS = 1_600_000_000  # 2020-09-13: the peer anvil's clock runs years behind the machine's
LONG = 100 * 365 * 86_400  # valid on any clock of this century
SHORT = 1_000
DAY = 86_400

# The method specification's example values.
SECP256K1 = bytes.fromhex("02b97c30de767f084ce3080168ee293053ba33b235d7116a3263d29f1450936b71")
ED25519 = bytes.fromhex("b97c30de767f084ce3080168ee293053ba33b235d7116a3263d29f1450936b71")
ED25519_B = bytes.fromhex("c642b35757cc36906fa75fa0338bf33e5210c5bce4769324801fd64276d69d07")
X25519 = bytes.fromhex("118557777ffb078774371a52b00fed75561dcf975e61c47553e664a617661052")
PEM = (
    b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEAEYVXd3/7B4d0NxpSsA/tdVYdz5deYcR1U+ZkphdmEFI=\n"
    b"-----END PUBLIC KEY-----"
)
# secp256k1's generator point, whose address is 0x7E5F...5Bdf (private key 1).
GENERATOR_KEY = "0x0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
GENERATOR_ADDRESS = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
IDENTITY = "0xf3beac30c498d9e26865f34fcaa57dbb935b0d74"  # the specification's examples'
CHECKSUMMED = "0xF3beAC30C498D9E26865F34fCAa57dBB935b0D74"  # as ethers' getAddress writes it
BAD_CHECKSUM = "did:ethr:dev:0xF3beac30c498d9e26865f34fcaa57dbb935b0d74"
ERRORS = {
    f"did:ethr:sepolia:{IDENTITY}": "unknownNetwork",
    f"did:ethr:0x1:{IDENTITY}": "unknownNetwork",
    "did:ethr:dev:0x12": "invalidDid",
    f"did:ethr:dev:{IDENTITY}?versionId=99999999": "notFound",
}


def at(block: int) -> dict[str, Any]:
    return {"previous_change": 0, "block_number": block, "tx_hash": "0x00", "log_index": 0}


def delegate(kind: str, who: str, valid_to: int, block: int) -> DelegateChanged:
    return DelegateChanged(CHECKSUMMED, bytes32(kind), who, valid_to, **at(block))


def attribute(name: str | bytes, value: bytes, valid_to: int, block: int) -> AttributeChanged:
    return AttributeChanged(CHECKSUMMED, bytes32(name), value, valid_to, **at(block))


def owner(new_owner: str, block: int) -> OwnerChanged:
    return OwnerChanged(CHECKSUMMED, new_owner, **at(block))


# -- the replay, without a chain ------------------------------------------------------------


def test_the_default_document_is_the_specifications() -> None:
    did = f"did:ethr:{IDENTITY}"
    version = ethr_document(did, [], chain_id=1, now=0)
    # The method specification's default document, with the reference's @context.
    assert version.document.to_dict() == {
        "@context": list(ETHR_CONTEXT),
        "id": did,
        "verificationMethod": [
            {
                "id": f"{did}#controller",
                "type": "EcdsaSecp256k1RecoveryMethod2020",
                "controller": did,
                "blockchainAccountId": "eip155:1:0xF3beAC30C498D9E26865F34fCAa57dBB935b0D74",
            }
        ],
        "authentication": [f"{did}#controller"],
        "assertionMethod": [f"{did}#controller"],
    }
    assert (version.deactivated, version.version_id, version.next_version_id) == (
        False,
        None,
        None,
    )


def test_the_public_key_form_adds_its_controller_key() -> None:
    did = f"did:ethr:{GENERATOR_KEY}"
    document = ethr_document(did, [], chain_id=1, now=0).document.to_dict()
    assert document["verificationMethod"] == [
        {
            "id": f"{did}#controller",
            "type": "EcdsaSecp256k1RecoveryMethod2020",
            "controller": did,
            "blockchainAccountId": f"eip155:1:{GENERATOR_ADDRESS}",
        },
        {
            "id": f"{did}#controllerKey",
            "type": "EcdsaSecp256k1VerificationKey2019",
            "controller": did,
            "publicKeyHex": GENERATOR_KEY[2:],
        },
    ]
    assert document["authentication"] == [f"{did}#controller", f"{did}#controllerKey"]
    # Another owner: the key no longer controls the DID, so it is not listed.
    moved = ethr_document(did, [owner(IDENTITY, 5)], chain_id=1, now=0).document
    assert [m.id for m in moved.verification_method or ()] == [f"{did}#controller"]


def test_the_specifications_key_and_service_examples() -> None:
    did = f"did:ethr:{IDENTITY}"
    history: list[RegistryEvent] = [
        attribute("did/pub/Secp256k1/veriKey/hex", SECP256K1, LONG, 1),
        attribute("did/pub/Ed25519/veriKey/base64", ED25519, LONG, 2),
        attribute("did/svc/HubService", b"https://hubs.uport.me", LONG, 3),
    ]
    document = ethr_document(did, history, chain_id=1, now=0).document.to_dict()
    assert document["verificationMethod"][1:] == [
        {
            "id": f"{did}#delegate-1",
            "type": "EcdsaSecp256k1VerificationKey2019",
            "controller": did,
            "publicKeyHex": SECP256K1.hex(),
        },
        {
            "id": f"{did}#delegate-2",
            "type": "Ed25519VerificationKey2018",
            "controller": did,
            "publicKeyBase64": "uXww3nZ/CEzjCAFo7ikwU7ozsjXXEWoyY9KfFFCTa3E=",
        },
    ]
    assert document["service"] == [
        {"id": f"{did}#service-1", "type": "HubService", "serviceEndpoint": "https://hubs.uport.me"}
    ]
    assert document["assertionMethod"] == [
        f"{did}#controller",
        f"{did}#delegate-1",
        f"{did}#delegate-2",
    ]


def test_ids_are_stable_as_the_specification_counts_them() -> None:
    # The specification's example, event by event: revocations and expiries count.
    did = f"did:ethr:{IDENTITY}"
    a, b = "0x" + "11" * 20, "0x" + "22" * 20
    history: list[RegistryEvent] = [
        attribute("did/pub/Ed25519/veriKey/base58", ED25519, LONG, 1),  # delegate-1
        attribute("did/pub/Ed25519/veriKey/base58", ED25519_B, LONG, 2),  # delegate-2
        delegate("veriKey", a, 500, 3),  # delegate-3, expires at 500
        attribute("did/svc/HubService", b"https://hubs.uport.me", LONG, 4),  # service-1
        attribute("did/pub/Ed25519/veriKey/base58", ED25519, 0, 5),  # revokes delegate-1
        delegate("veriKey", b, LONG, 6),  # delegate-5
    ]
    before = ethr_document(did, history, chain_id=1, now=100).document
    after = ethr_document(did, history, chain_id=1, now=500).document
    assert [m.id.split("#")[1] for m in before.verification_method or ()] == [
        "controller",
        "delegate-2",
        "delegate-3",
        "delegate-5",
    ]
    assert [m.id.split("#")[1] for m in after.verification_method or ()] == [
        "controller",
        "delegate-2",
        "delegate-5",
    ]
    assert [s.id.split("#")[1] for s in after.service or ()] == ["service-1"]


def test_key_types_and_encodings_as_the_reference_maps_them() -> None:
    did = f"did:ethr:{IDENTITY}"
    # (attribute name, value) -> (type, key property, value, relationship), per the
    # reference resolver's legacyAttrTypes/legacyAlgoMap and its encodings.
    cases = [
        ("did/pub/Secp256k1/sigAuth/hex", SECP256K1, "EcdsaSecp256k1VerificationKey2019",
         "publicKeyHex", SECP256K1.hex(), "authentication"),
        ("did/pub/Secp256k1/veriKey", SECP256K1, "EcdsaSecp256k1VerificationKey2019",
         "publicKeyHex", SECP256K1.hex(), "assertionMethod"),
        ("did/pub/Ed25519/veriKey/base58", ED25519_B, "Ed25519VerificationKey2018",
         "publicKeyBase58", "ELviSTEBTmqsBNdhRYkKESyy7obu7QuKB6aC9rgcsW2S", "assertionMethod"),
        ("did/pub/Ed25519/sigAuth/base64", ED25519, "Ed25519VerificationKey2018",
         "publicKeyBase64", "uXww3nZ/CEzjCAFo7ikwU7ozsjXXEWoyY9KfFFCTa3E=", "authentication"),
        ("did/pub/X25519/enc/base64", X25519, "X25519KeyAgreementKey2019",
         "publicKeyBase64", "EYVXd3/7B4d0NxpSsA/tdVYdz5deYcR1U+ZkphdmEFI=", "keyAgreement"),
        ("did/pub/RSA/veriKey/pem", PEM, "RSAVerificationKey2018",
         "publicKeyPem", PEM.decode(), "assertionMethod"),
        ("did/pub/X25519/veriKey/hex", X25519, "X25519", "publicKeyHex", X25519.hex(),
         "assertionMethod"),
        ("did/pub/Secp256k1/enc/hex", SECP256K1, "Secp256k1", "publicKeyHex", SECP256K1.hex(),
         "keyAgreement"),
        ("did/pub/Ed25519", ED25519, "Ed25519", "publicKeyHex", ED25519.hex(), "assertionMethod"),
        ("did/pub/Ed25519/veriKey/jwk", ED25519, "Ed25519VerificationKey2018", "value",
         ED25519.hex(), "assertionMethod"),
    ]  # fmt: skip
    for name, value, kind, prop, shown, relationship in cases:
        history = [attribute(name, value, LONG, 1)]
        document = ethr_document(did, history, chain_id=1, now=0).document.to_dict()
        method = document["verificationMethod"][1]
        assert method == {
            "id": f"{did}#delegate-1",
            "type": kind,
            "controller": did,
            prop: shown,
        }, name
        assert document[relationship][-1] == f"{did}#delegate-1", name
        if relationship == "authentication":
            assert document["assertionMethod"][-1] == f"{did}#delegate-1"


def test_services_and_what_is_not_a_did_attribute() -> None:
    did = f"did:ethr:{IDENTITY}"
    history: list[RegistryEvent] = [
        attribute("did/svc/Messaging", b'{"uri":"https://m.example","accept":["didcomm/v2"]}',
                  LONG, 1),
        attribute("did/svc/LinkedDomains", b'["https://a.example","https://b.example"]', LONG, 2),
        attribute("did/svc/Quoted", b'"https://q.example"', LONG, 3),
        attribute("did/svc/Binary", b"\xff\xfe", LONG, 4),  # not UTF-8: counted, not shown
        attribute("did/svc/Last", b"https://last.example", LONG, 5),
        attribute("custom/thing", b"anything", LONG, 6),  # not a did/ attribute: ignored
        attribute(b"\xff" * 4, b"x", LONG, 7),  # a name that is not UTF-8: not an event at all
        attribute("did/pub/RSA/veriKey/pem", b"\xff", LONG, 8),  # counted, not shown
        attribute("did/pub/Ed25519/veriKey/base58", ED25519, LONG, 9),
    ]  # fmt: skip
    version = ethr_document(did, history, chain_id=1, now=0)
    document = version.document.to_dict()
    assert document["service"] == [
        {
            "id": f"{did}#service-1",
            "type": "Messaging",
            "serviceEndpoint": {"uri": "https://m.example", "accept": ["didcomm/v2"]},
        },
        {
            "id": f"{did}#service-2",
            "type": "LinkedDomains",
            "serviceEndpoint": ["https://a.example", "https://b.example"],
        },
        {"id": f"{did}#service-3", "type": "Quoted", "serviceEndpoint": "https://q.example"},
        {"id": f"{did}#service-5", "type": "Last", "serviceEndpoint": "https://last.example"},
    ]
    assert [m["id"] for m in document["verificationMethod"]] == [
        f"{did}#controller",
        f"{did}#delegate-2",
    ]
    assert version.version_id == 9
    # The non-UTF-8 name is no change at all: a version at its block is the one before.
    assert ethr_document(did, history, chain_id=1, now=0, at_block=7).version_id == 6


def test_delegates_of_both_types_and_their_validity() -> None:
    did = f"did:ethr:{IDENTITY}"
    a, b, c = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
    history: list[RegistryEvent] = [
        delegate("veriKey", a, 1_000, 1),
        delegate("sigAuth", b, 1_000, 2),
        delegate("unknownType", c, 1_000, 3),  # counted, not shown
        delegate("sigAuth", c, 1_000, 4),
    ]
    document = ethr_document(did, history, chain_id=5, now=999).document.to_dict()
    assert document["verificationMethod"][1:] == [
        {
            "id": f"{did}#delegate-{n}",
            "type": "EcdsaSecp256k1RecoveryMethod2020",
            "controller": did,
            "blockchainAccountId": f"eip155:5:{who}",
        }
        for n, who in ((1, a), (2, b), (4, c))
    ]
    assert document["authentication"] == [
        f"{did}#controller",
        f"{did}#delegate-2",
        f"{did}#delegate-4",
    ]
    assert document["assertionMethod"] == [
        f"{did}#controller",
        f"{did}#delegate-1",
        f"{did}#delegate-2",
        f"{did}#delegate-4",
    ]
    # validTo is the last second a delegate is valid in the registry's eyes.
    gone = ethr_document(did, history, chain_id=5, now=1_000).document
    assert [m.id for m in gone.verification_method or ()] == [f"{did}#controller"]


def test_a_renewed_delegate_keeps_its_place_with_a_new_id() -> None:
    did = f"did:ethr:{IDENTITY}"
    a, b = "0x" + "11" * 20, "0x" + "22" * 20
    history: list[RegistryEvent] = [delegate("veriKey", a, LONG, 1)]
    history.append(delegate("veriKey", b, LONG, 2))
    history.append(delegate("veriKey", a, LONG, 3))
    document = ethr_document(did, history, chain_id=1, now=0).document
    assert [m.id.split("#")[1] for m in document.verification_method or ()] == [
        "controller",
        "delegate-3",
        "delegate-2",
    ]


def test_deactivation_and_versions() -> None:
    did = f"did:ethr:{IDENTITY}"
    a = "0x" + "11" * 20
    history: list[RegistryEvent] = [
        delegate("veriKey", a, LONG, 3),
        owner("0x" + "22" * 20, 5),
        attribute("did/svc/X", b"https://x.example", LONG, 5),
        owner("0x" + "00" * 20, 9),
    ]
    latest = ethr_document(did, history, chain_id=1, now=0)
    assert latest.deactivated
    assert latest.document.to_dict() == {
        "@context": list(ETHR_CONTEXT),
        "id": did,
        "verificationMethod": [],
        "authentication": [],
        "assertionMethod": [],
    }
    assert (latest.version_id, latest.next_version_id) == (9, None)
    before = ethr_document(did, history, chain_id=1, now=0, at_block=5)
    assert not before.deactivated
    assert (before.version_id, before.next_version_id) == (5, 9)
    controller = (before.document.verification_method or ())[0]
    assert controller.blockchain_account_id == "eip155:1:0x" + "22" * 20
    first = ethr_document(did, history, chain_id=1, now=0, at_block=2)
    assert (first.version_id, first.next_version_id) == (None, 3)


def test_a_revoked_key_agreement_key_leaves_no_reference_behind() -> None:
    # The reference keeps "#delegate-1" in keyAgreement after revoking it (a reference to
    # a key that is no longer in the document); troika removes the reference with the key.
    did = f"did:ethr:{IDENTITY}"
    history: list[RegistryEvent] = [
        attribute("did/pub/X25519/enc/base64", X25519, LONG, 1),
        attribute("did/pub/X25519/enc/base64", X25519, 0, 2),
    ]
    document = ethr_document(did, history, chain_id=1, now=0).document
    assert document.key_agreement is None
    assert len(document.verification_method or ()) == 1


# -- DIDs -----------------------------------------------------------------------------------


def test_parsing_the_did_forms() -> None:
    bare = EthrDID.parse(f"did:ethr:{IDENTITY}")
    assert (bare.network, bare.network_name, bare.chain_id, bare.public_key) == (
        None,
        "mainnet",
        1,
        None,
    )
    assert bare.address == CHECKSUMMED
    named = EthrDID.parse(f"did:ethr:artis:tau1:{IDENTITY}")
    assert (named.network, named.chain_id) == ("artis:tau1", 246785)
    assert EthrDID.parse(f"did:ethr:dev:{IDENTITY}").chain_id is None
    assert EthrDID.parse(f"did:ethr:0xaa36a7:{IDENTITY}").chain_id == 11155111
    key = EthrDID.parse(f"did:ethr:0x5:{GENERATOR_KEY.upper().replace('0X', '0x')}")
    assert key.address == GENERATOR_ADDRESS
    assert str(ethr_did(GENERATOR_KEY, "sepolia")) == f"did:ethr:sepolia:{GENERATOR_KEY}"
    assert str(ethr_did(IDENTITY)) == f"did:ethr:{CHECKSUMMED}"


@pytest.mark.parametrize(
    ("did", "why"),
    [
        ("did:ethr:0x123", "not an address"),
        (f"did:ethr:{IDENTITY}00", "not an address"),
        (f"did:ethr:mainnet:{IDENTITY[2:]}", "not an address"),
        (f"did:ethr::{IDENTITY}", "empty"),
        ("did:ethr:0xF3beac30c498d9e26865f34fcaa57dbb935b0d74", "checksum"),
        ("did:ethr:0x04" + "11" * 32, "compressed"),
        ("did:ethr:0x02" + "ff" * 32, "not a point"),
        (f"did:pkh:eip155:1:{IDENTITY}", "not a did:ethr"),
    ],
)
def test_invalid_dids(did: str, why: str) -> None:
    with pytest.raises(InvalidDID, match=why) as caught:
        EthrDID.parse(did)
    assert caught.value.error == "invalidDid"
    assert repr(did) in str(caught.value)


def test_network_configuration_errors() -> None:
    url = "http://127.0.0.1:1"
    with pytest.raises(ConfigError, match="RPC URL"):
        EthrNetwork("ftp://x")
    with pytest.raises(ConfigError, match="0x-hex"):
        EthrNetwork(url, name="0x7a69")
    with pytest.raises(ConfigError, match="positive"):
        EthrNetwork(url, chain_id=0)
    with pytest.raises(ConfigError, match="checksum"):
        EthrNetwork(url, registry="0xF3beac30c498d9e26865f34fcaa57dbb935b0d74")
    with pytest.raises(ConfigError, match="two different networks"):
        EthrResolver({"mainnet": url, 1: "http://127.0.0.1:2"})
    with pytest.raises(ConfigError, match="configured under"):
        EthrResolver({"dev": EthrNetwork(url, name="other")})
    with pytest.raises(ConfigError, match="configured under"):
        EthrResolver({5: EthrNetwork(url, chain_id=6)})
    assert EthrResolver({"0x5": url}).networks == (EthrNetwork(url, chain_id=5),)
    with pytest.raises(ConfigError, match="takes a Chain"):
        EthrResolver({"dev": AsyncChain.embedded()})
    with pytest.raises(ConfigError, match="takes an AsyncChain"):
        AsyncEthrResolver({"dev": Chain.embedded()})
    with pytest.raises(ConfigError, match="keyed by name or chain id"):
        EthrResolver({1.5: url})
    # Two names for one chain are one network; two chains for one chain id are a mistake.
    chain = Chain.embedded()
    both = EthrResolver({"a": EthrNetwork(chain, chain_id=1), "b": EthrNetwork(chain, chain_id=1)})
    assert [n.name for n in both.networks] == ["a", "b"]


# -- resolution on a chain (the embedded EVM and anvil) ---------------------------------------


def _resolver(networks: Any) -> Resolver:
    resolver = Resolver()
    resolver.register("ethr", EthrResolver(networks))
    return resolver


def test_resolution_on_a_chain(chain: Chain) -> None:
    registry = EthrRegistry.deploy(chain)
    me, other = chain.accounts[4], chain.accounts[5]
    first = registry.add_delegate(me, "sigAuth", other, LONG, sender=me)
    registry.set_attribute(me, "did/pub/X25519/enc/base58", X25519, LONG, sender=me)
    last = registry.set_attribute(me, "did/svc/HubService", b"https://hub.example", LONG, sender=me)
    resolver = _resolver({"dev": chain})
    did = f"did:ethr:dev:{me}"
    result = resolver.resolve(did)
    assert_conformant(result, did)
    document = result.to_dict()["didDocument"]
    assert document["keyAgreement"] == [f"{did}#delegate-2"]
    assert document["verificationMethod"][2]["publicKeyBase58"] == (
        "2BPrpNKuM1Niey9EdfnVTVxM6e7J44MXRb73Zg3g6fbF"
    )
    assert document["authentication"] == [f"{did}#controller", f"{did}#delegate-1"]
    block = chain.block(last.block_number)
    assert block is not None
    metadata = result.to_dict()["didDocumentMetadata"]
    updated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(block.timestamp))
    assert metadata == {"versionId": str(last.block_number), "updated": updated}
    # The same DID by the chain id, and the version after the first change.
    hex_did = f"did:ethr:{hex(chain.chain_id)}:{me}"
    by_chain_id = resolver.resolve(hex_did).to_dict()
    assert json.dumps(by_chain_id).replace(hex_did, did) == json.dumps(result.to_dict())
    old = resolver.resolve(f"{did}?versionId={first.block_number}")
    assert old.did_document is not None
    assert old.did_document.service is None
    assert old.did_document_metadata.next_version_id == str(first.block_number + 1)


def test_version_time_picks_the_version_at_that_time(chain: Chain) -> None:
    registry = EthrRegistry.deploy(chain)
    me = chain.accounts[6]
    first = registry.set_attribute(me, "did/svc/A", b"https://a.example", LONG, sender=me)
    _advance(chain, 100)
    second = registry.set_attribute(me, "did/svc/B", b"https://b.example", LONG, sender=me)
    times = {}
    for receipt in (first, second):
        block = chain.block(receipt.block_number)
        assert block is not None
        times[receipt.block_number] = block.timestamp
    resolver = _resolver({"dev": chain})
    did = f"did:ethr:dev:{me}"

    def at(timestamp: int) -> Any:
        moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
        return resolver.resolve(f"{did}?versionTime={moment}")

    between = at(times[first.block_number] + 50)
    assert [s.type for s in between.did_document.service] == ["A"]
    assert between.did_document_metadata.version_id == str(first.block_number)
    assert between.did_document_metadata.next_version_id == str(second.block_number)
    assert (
        between.did_document
        == resolver.resolve(f"{did}?versionId={first.block_number}").did_document
    )
    before = at(times[first.block_number] - 1)
    assert before.did_document.service is None
    assert before.did_document_metadata.version_id is None
    assert before.did_document_metadata.next_version_id == str(first.block_number)
    after = at(times[second.block_number] + 10)
    assert [s.type for s in after.did_document.service] == ["A", "B"]
    assert after.did_document_metadata.next_version_id is None


def _advance(chain: Chain, seconds: int) -> None:
    latest = chain.block("latest")
    assert latest is not None
    if chain.is_embedded:
        chain.w3.testing.timeTravel(latest.timestamp + seconds)  # type: ignore[attr-defined]
    else:
        chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]


def test_bad_requests_end_in_the_right_error(chain: Chain) -> None:
    registry = EthrRegistry.deploy(chain)
    me = chain.accounts[7]
    registry.set_attribute(me, "did/svc/A", b"https://a.example", LONG, sender=me)
    resolver = _resolver({"dev": chain})
    did = f"did:ethr:dev:{me}"
    for url, error in [
        (f"did:ethr:sepolia:{me}", "unknownNetwork"),
        (f"did:ethr:0x1:{me}", "unknownNetwork"),
        (f"did:ethr:{me}", "unknownNetwork"),
        (f"{did}?versionId=abc", "invalidDid"),
        (f"{did}?versionId={chain.block_number + 1000}", "notFound"),
        (f"{did}?versionId=1&versionTime=2021-01-01T00:00:00Z", "invalidDid"),
        ("did:ethr:dev:0x12", "invalidDid"),
    ]:
        result = resolver.resolve(url)
        assert result.error == error, (url, result.did_resolution_metadata)
        assert result.did_document is None
    with pytest.raises(DIDResolutionError) as caught:
        resolver.resolve_document(f"did:ethr:sepolia:{me}")
    assert caught.value.error == "unknownNetwork"
    assert "'sepolia'" in str(caught.value)


def test_a_network_without_a_registry(chain: Chain) -> None:
    me = chain.accounts[1]
    nowhere = _resolver({"dev": chain}).resolve(f"did:ethr:dev:{me}")
    assert nowhere.error == "internalError"
    assert "EthereumDIDRegistry" in (nowhere.did_resolution_metadata.error_message or "")
    empty = _resolver({"dev": EthrNetwork(chain, registry=me)}).resolve(f"did:ethr:dev:{me}")
    assert empty.error == "internalError"
    assert "no contract" in (empty.did_resolution_metadata.error_message or "")
    other = _resolver({"dev": EthrNetwork(chain, chain_id=5)}).resolve(f"did:ethr:dev:{me}")
    assert other.error == "internalError"
    assert "not the expected 5" in (other.did_resolution_metadata.error_message or "")


def test_an_unreachable_node(free_port: int) -> None:
    resolver = _resolver(
        {"dev": f"http://127.0.0.1:{free_port}", 5: f"http://127.0.0.1:{free_port}"}
    )
    started = time.monotonic()
    result = resolver.resolve(f"did:ethr:dev:{IDENTITY}")
    assert result.error == "internalError"
    assert f"127.0.0.1:{free_port}" in (result.did_resolution_metadata.error_message or "")
    assert resolver.resolve(f"did:ethr:0x5:{IDENTITY}").error == "internalError"
    assert time.monotonic() - started < 10


def test_a_node_that_never_answers() -> None:
    with socket.socket() as listener:  # accepts connections, never reads: a hung node
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        resolver = Resolver()
        resolver.register("ethr", EthrResolver({"dev": url}, rpc_timeout=0.5))
        started = time.monotonic()
        result = resolver.resolve(f"did:ethr:dev:{IDENTITY}")
        assert result.error == "internalError"
        assert "timed out" in (result.did_resolution_metadata.error_message or "")
        assert time.monotonic() - started < 5


def test_a_url_network_on_anvil(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain.connect(anvil.url, home=tmp_path)
    registry = EthrRegistry.deploy(chain)
    me = chain.accounts[8]
    registry.set_attribute(me, "did/svc/A", b"https://a.example", LONG, sender=me)
    network = EthrNetwork(anvil.url, registry=registry.address)
    with EthrResolver([network], home=tmp_path) as ethr:
        resolver = Resolver()
        resolver.register("ethr", ethr)
        # Unnamed and without a chain id: the node is asked for it on the first DID.
        result = resolver.resolve(f"did:ethr:0x7a69:{me}")
        assert result.error is None, result.did_resolution_metadata
        assert result.did_document is not None
        assert result.did_document.service is not None
        # A known name implies its chain id, which this node does not serve.
        with EthrResolver({"sepolia": anvil.url}, home=tmp_path) as sepolia:
            checker = Resolver()
            checker.register("ethr", sepolia)
            wrong = checker.resolve(f"did:ethr:sepolia:{me}")
        assert wrong.error == "internalError"
        assert "11155111" in (wrong.did_resolution_metadata.error_message or "")


def test_the_async_resolver(anvil: Anvil, tmp_path: Path) -> None:
    sync_chain = Chain.connect(anvil.url, home=tmp_path)
    registry = EthrRegistry.deploy(sync_chain)
    me = sync_chain.accounts[9]
    first = registry.add_delegate(me, "veriKey", sync_chain.accounts[1], LONG, sender=me)
    registry.set_attribute(me, "did/svc/A", b"https://a.example", LONG, sender=me)
    did = f"did:ethr:0x7a69:{me}"
    block = sync_chain.block(first.block_number)
    assert block is not None
    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(block.timestamp))
    urls = [
        did,
        f"{did}?versionId={first.block_number}",
        f"{did}?versionTime={moment}",
        f"{did}?versionId={first.block_number + 10_000}",
        f"did:ethr:sepolia:{me}",
    ]
    expected = [_resolver({31337: sync_chain}).resolve(url) for url in urls]
    assert [r.error for r in expected] == [None, None, None, "notFound", "unknownNetwork"]

    async def main() -> tuple[list[Any], list[Any]]:
        chain = await AsyncChain.connect(anvil.url, home=tmp_path)
        async with chain, AsyncEthrResolver({"dev": chain}) as by_chain:
            resolver = AsyncResolver()
            resolver.register("ethr", by_chain)
            first = [await resolver.resolve(url) for url in urls]
        async with AsyncEthrResolver({31337: anvil.url}, home=tmp_path) as by_url:
            resolver = AsyncResolver()
            resolver.register("ethr", by_url)
            second = [await resolver.resolve(url) for url in urls]
        return first, second

    by_chain, by_url = asyncio.run(main())

    def outcome(result: Any) -> tuple[Any, ...]:
        return (result.error, result.did_document, result.did_document_metadata)

    for got in (by_chain, by_url):
        assert [outcome(r) for r in got] == [outcome(r) for r in expected]


def test_the_default_resolver_reads_the_settings(
    anvil: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from troika.did import _resolver

    chain = Chain.connect(anvil.url, home=tmp_path)
    EthrRegistry.deploy(chain)  # recorded in tmp_path, the settings' home
    monkeypatch.setenv("TROIKA_HOME", str(tmp_path))
    monkeypatch.setenv("TROIKA_RPC_URL", anvil.url)
    _resolver._settings_ethr.cache_clear()
    try:
        from troika.did import resolve

        result = resolve(f"did:ethr:0x7a69:{chain.accounts[3]}")
        assert result.error is None, result.did_resolution_metadata
    finally:
        _resolver._settings_ethr().close()
        _resolver._settings_ethr.cache_clear()


# -- the peer check: the reference resolver on the same anvil -------------------------------


def reference(anvil: Anvil, registry: str, dids: list[str]) -> list[dict[str, Any]]:
    """The reference resolver's results for ``dids`` ("dev" and "mainnet" name the anvil)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; the peer check runs the reference resolver with it")
    if not (PEERS / "node_modules" / "ethr-did-resolver").is_dir():
        pytest.fail(
            "the reference resolver is not installed: run tools/setup.sh dev "
            "(npm ci --prefix tests/peers)",
            pytrace=False,
        )
    request = {
        "rpcUrl": anvil.url,
        "registry": registry,
        "chainId": anvil.chain_id,
        "names": ["dev", "mainnet"],
        "dids": dids,
    }
    done = subprocess.run(
        [node, str(PEERS / "resolve-ethr.mjs")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


@dataclass
class Scenario:
    """One history on the peer anvil, and the DID URLs to compare, by case name."""

    anvil: Anvil
    chain: Chain
    registry: EthrRegistry
    cases: dict[str, str] = field(default_factory=dict)
    others: list[str] = field(default_factory=list)  # DID URLs of the other peer tests
    blocks: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def peer_anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """An anvil of its own, its clock in 2020 (see the module's docstring)."""
    workdir = tmp_path_factory.mktemp("peer-anvil")
    with Anvil(extra_args=["--timestamp", str(GENESIS)], workdir=workdir) as node:
        yield node


def _compressed_key(private: int) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = ec.derive_private_key(private, ec.SECP256K1()).public_key()
    return "0x" + public.public_bytes(Encoding.X962, PublicFormat.CompressedPoint).hex()


def _signer(chain: Chain, key: int) -> Signer:
    signer = Signer(Account.from_key(key.to_bytes(32, "big")))
    chain.transfer(signer.address, 10**18)
    return signer


@pytest.fixture(scope="module")
def scenario(peer_anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    chain = Chain.connect(peer_anvil.url, home=tmp_path_factory.mktemp("home"))
    # One second between blocks: no two blocks share a time (where they do, the two
    # differ as test_a_version_at_the_block_of_a_revocation shows).
    chain.w3.provider.make_request("anvil_setBlockTimestampInterval", [1])  # type: ignore[arg-type]
    registry = EthrRegistry.deploy(chain)
    s = Scenario(peer_anvil, chain, registry)
    accounts = chain.accounts
    alice, bob, erin, frank, gina, dave, hank = accounts[1:8]
    delegates = [Account.create().address for _ in range(6)]
    s.accounts.update(alice=alice, bob=bob, d3=delegates[2], d4=delegates[3])
    s.blocks["start"] = chain.block_number

    def alice_sets(name: str | bytes, value: bytes, validity: int = LONG) -> int:
        return registry.set_attribute(alice, name, value, validity, sender=alice).block_number

    registry.add_delegate(alice, "veriKey", delegates[0], LONG, sender=alice)
    registry.add_delegate(alice, "sigAuth", delegates[1], LONG, sender=alice)
    registry.add_delegate(alice, "veriKey", delegates[2], SHORT, sender=alice)  # expires
    registry.add_delegate(alice, "sigAuth", delegates[3], LONG, sender=alice)
    s.blocks["revoked"] = registry.revoke_delegate(
        alice, "sigAuth", delegates[3], sender=alice
    ).block_number
    registry.add_delegate(alice, "custom", delegates[4], LONG, sender=alice)
    alice_sets("did/pub/Secp256k1/veriKey/hex", SECP256K1)
    s.blocks["keys"] = alice_sets("did/pub/Secp256k1/sigAuth/hex", SECP256K1)
    alice_sets("did/pub/Ed25519/veriKey/base58", ED25519)
    alice_sets("did/pub/Ed25519/veriKey/base64", ED25519_B)
    alice_sets("did/pub/X25519/enc/base64", X25519)
    alice_sets("did/pub/X25519/enc/base58", X25519)
    alice_sets("did/pub/RSA/veriKey/pem", PEM)
    alice_sets("did/pub/Secp256k1/veriKey", SECP256K1)
    alice_sets("did/pub/Ed25519", ED25519_B)
    alice_sets("did/pub/Ed25519/veriKey/jwk", ED25519)
    alice_sets("did/pub/Secp256k1/enc/hex", SECP256K1)
    alice_sets("did/pub/RSA/veriKey/pem", b"\xff\xfe")
    alice_sets("did/pub/Ed25519/veriKey/hex", ED25519, SHORT)  # expires
    alice_sets("did/svc/HubService", b"https://hubs.uport.me")
    alice_sets("did/svc/Messaging", b'{"uri":"https://m.example","accept":["didcomm/v2"]}')
    alice_sets("did/svc/LinkedDomains", b'["https://a.example","https://b.example"]')
    alice_sets("did/svc/Old", b"https://old.example")
    registry.revoke_attribute(alice, "did/svc/Old", b"https://old.example", sender=alice)
    alice_sets("did/svc/Binary", b"\xff")
    alice_sets("custom/attribute", b"anything")
    alice_sets(b"\xff\xff\xff", b"not a did:ethr change")
    s.blocks["renewed"] = registry.add_delegate(
        alice, "veriKey", delegates[0], LONG, sender=alice
    ).block_number
    warp = chain.block("latest").timestamp + SHORT * 5  # type: ignore[union-attr]
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [warp])  # type: ignore[arg-type]
    s.blocks["moved"] = registry.change_owner(alice, bob, sender=alice).block_number
    s.blocks["quiet"] = chain.transfer(frank, 1).block_number  # a block without alice's changes
    registry.set_attribute(alice, "did/svc/Profile", b'"https://bob.example"', LONG, sender=bob)

    carol = _signer(chain, 0xC0C0)
    carol_hex = _compressed_key(0xC0C0)
    s.blocks["carol"] = registry.set_attribute(
        carol.address, "did/svc/Inbox", b"https://carol.example", LONG, sender=carol
    ).block_number
    registry.add_delegate(carol.address, "sigAuth", delegates[5], LONG, sender=carol)
    ivan = _signer(chain, 0x1F00)
    ivan_hex = _compressed_key(0x1F00)
    registry.change_owner(ivan.address, bob, sender=ivan)

    registry.add_delegate(erin, "veriKey", delegates[0], LONG, sender=erin)
    s.blocks["erin"] = registry.set_attribute(
        erin, "did/svc/X", b"https://x.example", LONG, sender=erin
    ).block_number
    registry.change_owner(erin, "0x" + "00" * 20, sender=erin)

    # Where the two differ (see the tests below).
    registry.set_attribute(dave, "did/pub/X25519/enc/base64", X25519, LONG, sender=dave)
    registry.revoke_attribute(dave, "did/pub/X25519/enc/base64", X25519, sender=dave)
    registry.set_attribute(gina, "did/svc/Number", b"42", LONG, sender=gina)
    registry.add_delegate(hank, "veriKey", delegates[2], DAY, sender=hank)
    s.accounts.update(dave=dave, gina=gina, hank=hank)
    s.blocks["latest"] = chain.block_number

    unused_key = "0x03" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    s.cases.update(
        {
            "alice by name": f"did:ethr:dev:{alice}",
            "alice by chain id, lowercase": f"did:ethr:0x7a69:{alice.lower()}",
            "alice on the default network": f"did:ethr:{alice}",
            "alice before her first change": f"did:ethr:dev:{alice}?versionId={s.blocks['start']}",
            "alice with her first keys": f"did:ethr:dev:{alice}?versionId={s.blocks['keys']}",
            "alice renewed a delegate": f"did:ethr:dev:{alice}?versionId={s.blocks['renewed']}",
            "alice's new owner": f"did:ethr:dev:{alice}?versionId={s.blocks['moved']}",
            "alice between changes": f"did:ethr:dev:{alice}?versionId={s.blocks['quiet']}",
            "alice at the latest block": f"did:ethr:dev:{alice}?versionId={s.blocks['latest']}",
            "bob, who owns alice": f"did:ethr:dev:{bob}",
            "frank, never changed": f"did:ethr:dev:{frank}",
            "carol by public key": f"did:ethr:0x7a69:{carol_hex}",
            "carol before her changes": (
                f"did:ethr:dev:{carol_hex}?versionId={s.blocks['carol'] - 1}"
            ),
            "ivan's key no longer controls": f"did:ethr:dev:{ivan_hex}",
            "an unused public key": f"did:ethr:dev:{unused_key}",
            "erin deactivated": f"did:ethr:dev:{erin}",
            "erin before": f"did:ethr:dev:{erin}?versionId={s.blocks['erin']}",
        }
    )
    did = f"did:ethr:dev:{alice}"
    s.others += [f"did:ethr:dev:{dave}", f"did:ethr:dev:{gina}", f"did:ethr:dev:{hank}"]
    s.others += [f"did:ethr:dev:{hank}?versionId={s.blocks['latest']}"]
    s.others += [f"{did}?versionId={s.blocks['revoked']}", BAD_CHECKSUM, *ERRORS]
    return s


@pytest.fixture(scope="module")
def troika_resolver(scenario: Scenario) -> Resolver:
    # As the reference is configured: "dev" and "mainnet" are the anvil, chain id 31337.
    mainnet = EthrNetwork(scenario.chain, chain_id=scenario.anvil.chain_id)
    return _resolver({"dev": scenario.chain, "mainnet": mainnet})


@pytest.fixture(scope="module")
def reference_results(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The reference's result for each DID URL of the scenario, from one node process."""
    urls = [*scenario.cases.values(), *scenario.others]
    results = reference(scenario.anvil, scenario.registry.address, urls)
    return dict(zip(urls, results, strict=True))


@pytest.fixture
def by_reference(reference_results: dict[str, dict[str, Any]]) -> Any:
    """The reference's result for a DID URL, a copy to change at will."""
    return lambda url: copy.deepcopy(reference_results[url])


CASES = [
    "alice by name",
    "alice by chain id, lowercase",
    "alice on the default network",
    "alice before her first change",
    "alice with her first keys",
    "alice renewed a delegate",
    "alice's new owner",
    "alice between changes",
    "alice at the latest block",
    "bob, who owns alice",
    "frank, never changed",
    "carol by public key",
    "carol before her changes",
    "ivan's key no longer controls",
    "an unused public key",
    "erin deactivated",
    "erin before",
]


@pytest.mark.parametrize("case", CASES)
def test_troika_resolves_as_the_reference_does(
    case: str,
    scenario: Scenario,
    troika_resolver: Resolver,
    reference_results: dict[str, dict[str, Any]],
) -> None:
    expected = reference_results[scenario.cases[case]]
    assert expected["didResolutionMetadata"] == {"contentType": "application/did+ld+json"}
    result = troika_resolver.resolve(scenario.cases[case])
    got = result.to_dict()
    assert got["didDocument"] == expected["didDocument"]
    assert got["didDocumentMetadata"] == expected["didDocumentMetadata"]
    assert got["didResolutionMetadata"] == expected["didResolutionMetadata"]
    if not result.did_document_metadata.deactivated:
        assert_conformant(result, str(EthrDID.parse(scenario.cases[case].split("?")[0]).did))


def test_the_scenario_covers_what_it_claims(
    scenario: Scenario, reference_results: dict[str, dict[str, Any]]
) -> None:
    def reference_of(case: str) -> dict[str, Any]:
        return reference_results[scenario.cases[case]]

    alice = reference_of("alice by name")["didDocument"]
    types = {m["type"] for m in alice["verificationMethod"]}
    assert types >= {
        "EcdsaSecp256k1RecoveryMethod2020",
        "EcdsaSecp256k1VerificationKey2019",
        "Ed25519VerificationKey2018",
        "X25519KeyAgreementKey2019",
        "RSAVerificationKey2018",
        "Secp256k1",
        "Ed25519",
    }
    keys = {k for m in alice["verificationMethod"] for k in m}
    assert keys >= {"publicKeyHex", "publicKeyBase58", "publicKeyBase64", "publicKeyPem", "value"}
    assert len(alice["service"]) == 4
    assert alice["keyAgreement"]
    assert reference_of("erin deactivated")["didDocumentMetadata"]["deactivated"] is True
    # The short-lived delegate is there before the clock moves on, and gone after.
    d3 = f"eip155:31337:{scenario.accounts['d3']}"

    def accounts(case: str) -> list[str]:
        document = reference_of(case)["didDocument"]
        return [m.get("blockchainAccountId") for m in document["verificationMethod"]]

    assert d3 in accounts("alice renewed a delegate")
    assert d3 not in accounts("alice by name")
    assert accounts("alice's new owner")[0] == f"eip155:31337:{scenario.accounts['bob']}"
    assert "nextVersionId" in reference_of("alice with her first keys")["didDocumentMetadata"]


@pytest.mark.parametrize(("did", "error"), ERRORS.items())
def test_errors_as_the_reference_reports_them(
    did: str, error: str, troika_resolver: Resolver, by_reference: Any
) -> None:
    expected = by_reference(did)
    assert expected["didResolutionMetadata"]["error"] == error
    assert expected["didDocument"] is None
    result = troika_resolver.resolve(did)
    assert (result.error, result.did_document) == (error, None)


# -- where troika and the reference differ, on purpose ----------------------------------------


def test_a_revoked_key_agreement_key(
    scenario: Scenario, troika_resolver: Resolver, by_reference: Any
) -> None:
    did = f"did:ethr:dev:{scenario.accounts['dave']}"
    expected = by_reference(did)
    # The reference keeps a reference to the revoked key; troika does not.
    document = expected["didDocument"]
    assert document.pop("keyAgreement") == [f"{did}#delegate-1"]
    assert troika_resolver.resolve(did).to_dict()["didDocument"] == document


def test_a_service_value_that_did_core_does_not_allow(
    scenario: Scenario, troika_resolver: Resolver, by_reference: Any
) -> None:
    did = f"did:ethr:dev:{scenario.accounts['gina']}"
    expected = by_reference(did)
    # JSON that is no service endpoint (a number): the reference shows it, troika the text.
    document = expected["didDocument"]
    assert document["service"][0]["serviceEndpoint"] == 42
    document["service"][0]["serviceEndpoint"] = "42"
    assert troika_resolver.resolve(did).to_dict()["didDocument"] == document


def test_validity_is_measured_against_the_chain_not_the_machine(
    scenario: Scenario, troika_resolver: Resolver, by_reference: Any
) -> None:
    # hank's delegate is valid for a day of chain time, which is years behind the
    # machine's clock: the reference drops it from the latest version, troika keeps it,
    # as the registry's validDelegate does. At the latest block the two agree.
    hank = scenario.accounts["hank"]
    assert scenario.registry.valid_delegate(hank, "veriKey", scenario.accounts["d3"]) is True
    did = f"did:ethr:dev:{hank}"
    latest = by_reference(did)
    at_block = by_reference(f"{did}?versionId={scenario.blocks['latest']}")
    assert len(latest["didDocument"]["verificationMethod"]) == 1
    assert len(at_block["didDocument"]["verificationMethod"]) == 2
    assert troika_resolver.resolve(did).to_dict()["didDocument"] == at_block["didDocument"]


def test_a_version_at_the_block_of_a_revocation(
    scenario: Scenario, troika_resolver: Resolver, by_reference: Any
) -> None:
    # A revocation sets validTo to its block's time. The reference compares validTo >= the
    # version's time, so at that block the revoked delegate is back (as a new #delegate-5);
    # troika compares as the registry does (validTo > time): revoked is revoked.
    alice, d4 = scenario.accounts["alice"], scenario.accounts["d4"]
    did = f"did:ethr:dev:{alice}"
    url = f"{did}?versionId={scenario.blocks['revoked']}"
    expected = by_reference(url)
    document = expected["didDocument"]
    revived = [
        m for m in document["verificationMethod"] if m.get("blockchainAccountId", "").endswith(d4)
    ]
    assert [m["id"] for m in revived] == [f"{did}#delegate-5"]
    document["verificationMethod"].remove(revived[0])
    document["authentication"].remove(f"{did}#delegate-5")
    document["assertionMethod"].remove(f"{did}#delegate-5")
    got = troika_resolver.resolve(url).to_dict()
    assert got["didDocument"] == document
    assert got["didDocumentMetadata"] == expected["didDocumentMetadata"]


def test_a_mixed_case_address_with_a_bad_checksum(
    troika_resolver: Resolver, by_reference: Any
) -> None:
    # The reference's getAddress throws inside its try: notFound. It is not a valid DID.
    assert by_reference(BAD_CHECKSUM)["didResolutionMetadata"]["error"] == "notFound"
    assert troika_resolver.resolve(BAD_CHECKSUM).error == "invalidDid"
