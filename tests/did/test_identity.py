"""Identities for people, devices and agents: created, published, resolved as did:ethr."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from troika import DIDError
from troika.chain import Chain, Keystore
from troika.did import EthrRegistry, EthrResolver, Resolver
from troika.did._identity import Identities, Identity


@pytest.fixture
def identities(chain: Chain, tmp_path: Path) -> Identities:
    return Identities(chain, Keystore(tmp_path, scrypt_n=2**10), EthrRegistry.deploy(chain))


def resolve(chain: Chain, identity: Identity) -> dict:  # type: ignore[type-arg]
    resolver = Resolver()
    resolver.register("ethr", EthrResolver({chain.chain_id: chain}))
    result = resolver.resolve(str(identity.did))
    assert result.error is None, result
    document: dict = json.loads(
        result.did_document.model_dump_json(by_alias=True, exclude_none=True)
    )  # type: ignore[type-arg,union-attr]
    return document


def key_agreement_methods(document: dict) -> list[dict]:  # type: ignore[type-arg]
    ids = set(document.get("keyAgreement", []))
    return [m for m in document["verificationMethod"] if m["id"] in ids]


def profile_of(document: dict) -> dict:  # type: ignore[type-arg]
    (service,) = [s for s in document.get("service", []) if s["type"] == "TroikaProfile"]
    endpoint = service["serviceEndpoint"]
    return endpoint if isinstance(endpoint, dict) else json.loads(endpoint)


def test_a_person(chain: Chain, identities: Identities) -> None:
    alice = identities.create("alice", "pw", kind="person")
    assert chain.balance(alice.address) == 0  # the relayer paid
    document = resolve(chain, alice)
    assert document["id"] == str(alice.did)
    (method,) = key_agreement_methods(document)
    published = base64.b64decode(method["publicKeyBase64"])
    assert published == alice.key_agreement_public
    # the published key works: a stranger's ECDH with it equals alice's with the stranger's
    stranger = X25519PrivateKey.generate()
    stranger_public = stranger.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    theirs = stranger.exchange(X25519PublicKey.from_public_bytes(published))
    ours = alice.key_agreement().exchange(X25519PublicKey.from_public_bytes(stranger_public))
    assert theirs == ours
    assert profile_of(document) == {"kind": "person", "name": "alice"}
    controller = next(m for m in document["verificationMethod"] if m["id"].endswith("#controller"))
    assert controller["blockchainAccountId"].endswith(alice.address)


def test_a_device_controlled_by_a_person(chain: Chain, identities: Identities) -> None:
    alice = identities.create("alice", "pw", kind="person")
    sensor = identities.create(
        "sensor-7", "pw", kind="device", controller=alice, capabilities=["temperature"]
    )
    assert identities.registry.identity_owner(sensor.address) == alice.address
    assert identities.registry.valid_delegate(sensor.address, "sigAuth", sensor.address)
    document = resolve(chain, sensor)
    controller = next(m for m in document["verificationMethod"] if m["id"].endswith("#controller"))
    assert controller["blockchainAccountId"].endswith(alice.address)  # the person owns it
    # ...and the device still authenticates with its own key, as a delegate
    authenticators = {
        m.get("blockchainAccountId", "").rsplit(":", 1)[-1]
        for m in document["verificationMethod"]
        if m["id"] in set(document["authentication"])
    }
    assert sensor.address in authenticators
    assert profile_of(document) == {
        "kind": "device",
        "name": "sensor-7",
        "controller": str(alice.did),
        "capabilities": ["temperature"],
    }


def test_unlock_gives_the_same_identity(identities: Identities) -> None:
    bot = identities.create("bot", "pw", kind="agent")
    again = identities.unlock("bot", "pw", kind="agent")
    assert (again.did, again.key_agreement_public) == (bot.did, bot.key_agreement_public)


def test_rules(identities: Identities) -> None:
    alice = identities.create("alice", "pw", kind="person")
    with pytest.raises(DIDError, match="robot"):
        identities.create("r", "pw", kind="robot")  # type: ignore[arg-type]
    with pytest.raises(DIDError, match="controls itself"):
        identities.create("bob", "pw", kind="person", controller=alice)


def test_keys_are_never_shown(identities: Identities) -> None:
    alice = identities.create("alice", "pw", kind="person")
    secret = alice.key_agreement().private_bytes_raw().hex()
    assert secret not in repr(alice)
    assert "pw" not in repr(alice)
