"""The embedded EVM: no node, no set-up; a local key, transfers, a refusal.

Run: python examples/chain_quickstart.py
"""

from __future__ import annotations

import tempfile

from troika import TransactionRejected
from troika.chain import Chain, Keystore


def main() -> None:
    chain = Chain.embedded()
    print(f"chain {chain.chain_id} at block {chain.block_number}")

    with tempfile.TemporaryDirectory() as home:
        store = Keystore(home, scrypt_n=2**14)  # a throwaway key: lighter scrypt
        store.new("alice", "correct horse battery staple")
        alice = store.unlock("alice", "correct horse battery staple")

        funder = chain.dev_signers[0]
        receipt = chain.transfer(alice.address, 10**18, sender=funder)
        print(f"funded {alice.address} in block {receipt.block_number}")

        back = chain.transfer(funder.address, 10**17, sender=alice)
        print(f"alice paid {back.fee} wei in fees; balance {chain.balance(alice.address)}")

    try:
        chain.transfer(funder.address, 10**30, sender=chain.dev_signers[1])
    except TransactionRejected as exc:  # nothing was broadcast
        print(f"refused: {exc.reason}")


if __name__ == "__main__":
    main()
