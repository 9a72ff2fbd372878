"""troika's ERC-1056 registry against the reference one (npm ``ethr-did-registry``,
pinned in contracts/package.json): the same ABI, and the same behaviour when the
same operations run on both, side by side, on the embedded EVM and on anvil."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from troika import ContractReverted
from troika.chain import Artifact, Chain, Contract, Keystore, Signer

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (
    ROOT
    / "contracts/node_modules/ethr-did-registry/artifacts/contracts"
    / "EthereumDIDRegistry.sol/EthereumDIDRegistry.json"
)
DAY = 86_400


def reference_artifact() -> Artifact:
    if not REFERENCE.is_file():
        pytest.fail("the reference registry is missing: run the README's test command")
    # Renamed so that it never takes the place of troika's own in a deployments record.
    return replace(Artifact.from_file(REFERENCE), name="ReferenceEthereumDIDRegistry")


def without_internal_types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_internal_types(v) for k, v in value.items() if k != "internalType"}
    if isinstance(value, list):
        return [without_internal_types(v) for v in value]
    return value


def test_abi_is_exactly_the_reference_abi() -> None:
    ours = Artifact.from_file(ROOT / "sdk/troika/contracts/EthereumDIDRegistry.json")
    key = lambda entry: json.dumps(without_internal_types(entry), sort_keys=True)  # noqa: E731
    assert sorted(map(key, ours.abi)) == sorted(map(key, reference_artifact().abi))


def b32(text: str) -> bytes:
    return text.encode().ljust(32, b"\0")


def sign(
    key: bytes, registry: str, nonce: int, identity: str, *parts: bytes
) -> tuple[int, bytes, bytes]:
    """ERC-1056's signed change: keccak256(0x19 0x00 registry nonce identity parts...),
    laid out here from the ERC's text, independently of both contracts."""
    digest = keccak(
        b"\x19\x00"
        + bytes.fromhex(registry[2:])
        + nonce.to_bytes(32, "big")
        + bytes.fromhex(identity[2:])
        + b"".join(parts)
    )
    signed = Account.unsafe_sign_hash(digest, key)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def addr(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def u256(value: int) -> bytes:
    return value.to_bytes(32, "big")


class Script:
    """Runs one scenario on one registry and records what an observer sees,
    with block numbers and times made relative so that two runs compare."""

    def __init__(self, chain: Chain, registry: Contract) -> None:
        self.chain = chain
        self.registry = registry
        self.seen: list[Any] = []
        self.blocks: list[int] = []
        self.valid_to: list[int] = []  # absolute validTo of each delegate event

    def tx(self, function: str, *args: Any, sender: Any = None) -> None:
        try:
            receipt = self.registry.transact(function, *args, sender=sender)
        except ContractReverted as reverted:
            self.seen.append(("revert", function, reverted.error, reverted.error_args))
            return
        block = self.chain.w3.eth.get_block(receipt.block_number)
        for event in self.registry.events(receipt):
            args = dict(event.args)
            previous = args.pop("previousChange")
            args["previousChange"] = self.blocks.index(previous) if previous else None
            if event.name == "DIDDelegateChanged":
                self.valid_to.append(args["validTo"])
            if args.get("validTo"):
                args["validTo"] -= block["timestamp"]
            self.seen.append((event.name, args))
        self.blocks.append(receipt.block_number)

    def view(self, function: str, *args: Any) -> None:
        value = self.registry.call(function, *args)
        if function == "delegates":  # a time: say which event's validTo it is
            value = ("validTo of delegate event", self.valid_to.index(value))
        self.seen.append((function, value))


def scenario(
    owner_key: bytes, owner: Signer, stranger: Signer, new_key: bytes
) -> Callable[[Script], None]:
    identity = owner.address
    new_owner = Account.from_key(new_key).address
    delegate = stranger.address
    registry_address: dict[str, str] = {}

    def run(s: Script) -> None:
        registry = s.registry.address
        registry_address["a"] = registry
        s.view("identityOwner", identity)
        s.view("changed", identity)
        s.tx("changeOwner", identity, delegate, sender=stranger)  # not the owner
        s.tx("addDelegate", identity, b32("veriKey"), delegate, DAY, sender=owner)
        s.view("validDelegate", identity, b32("veriKey"), delegate)
        s.view("validDelegate", identity, b32("sigAuth"), delegate)
        s.view("delegates", identity, keccak(b32("veriKey")), delegate)
        s.tx(
            "setAttribute",
            identity,
            b32("did/pub/Ed25519/veriKey/base64"),
            b"\x01\x02",
            DAY,
            sender=owner,
        )
        s.tx(
            "setAttribute",
            identity,
            b32("did/svc/HubService"),
            b"https://hub.example",
            10,
            sender=owner,
        )
        s.tx(
            "revokeAttribute",
            identity,
            b32("did/svc/HubService"),
            b"https://hub.example",
            sender=owner,
        )
        s.tx("revokeDelegate", identity, b32("veriKey"), delegate, sender=owner)
        s.view("validDelegate", identity, b32("veriKey"), delegate)
        # signed changes, relayed by the stranger who pays the gas
        nonce = s.registry.call("nonce", identity)
        s.seen.append(("nonce", nonce))
        v, r, sig_s = sign(
            owner_key,
            registry,
            nonce,
            identity,
            b"addDelegate",
            b32("sigAuth"),
            addr(delegate),
            u256(DAY),
        )
        s.tx(
            "addDelegateSigned",
            identity,
            v,
            r,
            sig_s,
            b32("sigAuth"),
            delegate,
            DAY,
            sender=stranger,
        )
        s.tx(
            "addDelegateSigned",
            identity,
            v,
            r,
            sig_s,
            b32("sigAuth"),
            delegate,
            DAY,
            sender=stranger,
        )  # replay
        nonce += 1
        v, r, sig_s = sign(
            owner_key, registry, nonce, identity, b"setAttribute", b32("did/svc/X"), b"x", u256(5)
        )
        s.tx(
            "setAttributeSigned", identity, v, r, sig_s, b32("did/svc/X"), b"x", 5, sender=stranger
        )
        nonce += 1
        v, r, sig_s = sign(
            owner_key, registry, nonce, identity, b"revokeAttribute", b32("did/svc/X"), b"x"
        )
        s.tx(
            "revokeAttributeSigned", identity, v, r, sig_s, b32("did/svc/X"), b"x", sender=stranger
        )
        nonce += 1
        v, r, sig_s = sign(
            owner_key, registry, nonce, identity, b"revokeDelegate", b32("sigAuth"), addr(delegate)
        )
        s.tx(
            "revokeDelegateSigned", identity, v, r, sig_s, b32("sigAuth"), delegate, sender=stranger
        )
        nonce += 1
        wrong = sign(new_key, registry, nonce, identity, b"changeOwner", addr(new_owner))
        s.tx(
            "changeOwnerSigned", identity, *wrong, new_owner, sender=stranger
        )  # not the owner's key
        v, r, sig_s = sign(owner_key, registry, nonce, identity, b"changeOwner", addr(new_owner))
        s.tx("changeOwnerSigned", identity, v, r, sig_s, new_owner, sender=stranger)
        s.view("identityOwner", identity)
        s.view("owners", identity)
        s.view("nonce", identity)
        s.tx("changeOwner", identity, identity, sender=owner)  # no longer the owner
        s.tx("changeOwner", identity, "0x0000000000000000000000000000000000000000", sender=stranger)

    return run


@pytest.fixture
def people(chain: Chain, tmp_path: Path) -> tuple[bytes, Signer, Signer, bytes]:
    store = Keystore(tmp_path, scrypt_n=2**10)
    owner_key, stranger_key, new_key = (Account.create().key for _ in range(3))
    store.import_key("owner", owner_key, "pw")
    store.import_key("stranger", stranger_key, "pw")
    owner, stranger = store.unlock("owner", "pw"), store.unlock("stranger", "pw")
    for signer in (owner, stranger):
        chain.transfer(signer.address, 10**18)
    return owner_key, owner, stranger, new_key


def test_behaves_like_the_reference(
    chain: Chain, people: tuple[bytes, Signer, Signer, bytes]
) -> None:
    run = scenario(*people)
    ours = Script(chain, chain.deploy("EthereumDIDRegistry"))
    reference = Script(chain, chain.deploy(reference_artifact()))
    run(ours)
    run(reference)
    assert ours.seen == reference.seen
    # and the run saw what ERC-1056 says it should, not merely the same thing twice
    kinds = [entry[0] for entry in ours.seen]
    assert kinds.count("DIDDelegateChanged") == 4
    assert kinds.count("DIDAttributeChanged") == 5  # 2 set, 1 revoke, 1 signed set, 1 signed revoke
    assert kinds.count("DIDOwnerChanged") == 1
    reverts = [entry for entry in ours.seen if entry[0] == "revert"]
    assert [(r[1], r[3]) for r in reverts] == [
        ("changeOwner", ("bad_actor",)),
        ("addDelegateSigned", ("bad_signature",)),
        ("changeOwnerSigned", ("bad_signature",)),
        ("changeOwner", ("bad_actor",)),
        ("changeOwner", ("bad_actor",)),
    ]


def test_gas_next_to_the_reference(
    chain: Chain, people: tuple[bytes, Signer, Signer, bytes]
) -> None:
    """Not a benchmark: gas is exact, so it is reported (see bench/) and bounded here
    only loosely, to catch a change that makes the registry much dearer."""
    _, owner, _, _ = people
    gas: dict[str, int] = {}
    for label, artifact in (("ours", "EthereumDIDRegistry"), ("reference", reference_artifact())):
        registry = chain.deploy(artifact)
        receipt = registry.transact(
            "setAttribute",
            owner.address,
            b32("did/svc/Hub"),
            b"https://hub.example",
            DAY,
            sender=owner,
        )
        gas[label] = receipt.gas_used
    assert gas["ours"] <= gas["reference"] * 1.05
