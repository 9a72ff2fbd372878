"""Contract.decode_logs decodes elementary events with eth-abi directly: its
arguments must equal web3's ``process_log`` (the reference) on the same logs."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

from troika.chain import Chain
from troika.chain._core import _decode_elementary
from troika.chain._types import Log
from troika.did import EthrRegistry


def web3_args(chain: Chain, registry: EthrRegistry, log: Log, name: str) -> dict[str, Any]:
    abi = list(registry.contract.artifact.abi)
    contract = chain.w3.eth.contract(address=to_checksum_address(registry.address), abi=abi)
    decoded = contract.events[name]().process_log(
        {
            "address": log.address,
            "topics": list(log.topics),
            "data": log.data,
            "logIndex": log.log_index,
            "transactionHash": bytes.fromhex(log.tx_hash[2:]),
            "transactionIndex": 0,
            "blockHash": b"\x00" * 32,
            "blockNumber": log.block_number,
        }
    )
    return dict(decoded["args"])


def test_the_fast_decoder_agrees_with_web3() -> None:
    chain = Chain.embedded()
    registry = EthrRegistry.deploy(chain)
    me = chain.dev_signers[1]
    delegate = Account.create().address
    receipts = [
        registry.set_attribute(
            me.address, "did/svc/Hub", b"https://hub.example", 86_400, sender=me
        ),
        registry.set_attribute(
            me.address, "did/pub/Ed25519/veriKey/hex", b"\x01" * 32, 1, sender=me
        ),
        registry.add_delegate(me.address, "sigAuth", delegate, 86_400, sender=me),
        registry.revoke_delegate(me.address, "sigAuth", delegate, sender=me),
        registry.change_owner(me.address, delegate, sender=me),
    ]
    seen = set()
    for receipt in receipts:
        for event in registry.contract.events(receipt):
            log = next(x for x in receipt.logs if x.log_index == event.log_index)
            assert dict(event.args) == web3_args(chain, registry, log, event.name)
            seen.add(event.name)
    assert seen == {"DIDAttributeChanged", "DIDDelegateChanged", "DIDOwnerChanged"}


def test_what_it_cannot_decode_goes_to_web3() -> None:
    log = Log("0x" + "00" * 20, (b"\x00" * 32,), b"", 0, "0x" + "00" * 32, 1)
    tuple_event = {"name": "T", "inputs": [{"name": "t", "type": "tuple", "indexed": False}]}
    assert _decode_elementary(tuple_event, log) is None
    indexed = {"name": "I", "inputs": [{"name": "a", "type": "address", "indexed": True}]}
    assert _decode_elementary(indexed, log) is None  # one topic short
    short_data = {"name": "D", "inputs": [{"name": "x", "type": "uint256", "indexed": False}]}
    assert _decode_elementary(short_data, log) is None  # no data to decode
