"""What every pinning block store must do, whatever it stores blocks in.

A test class for a store subclasses :class:`PinningStoreContract` and provides
a ``store`` fixture with the synchronous interface (wrap an async store in
:class:`SyncOverAsync`). Expected values come from the CID spec (a block's CID
is the hash of its bytes), not from the store under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from troika import BlockNotFound, IncompleteDAG, VerificationError
from troika.ipfs import CID, PinningStore
from troika.ipfs._dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node


def dag_pb(*links: tuple[CID, int], data: bytes = b"") -> tuple[CID, bytes]:
    """A UnixFS file node linking to ``links`` (CIDv0, as Kubo's default makes them)."""
    unixfs = UnixFSData(UnixFSType.FILE, filesize=sum(size for _, size in links))
    node = encode_node(
        PBNode(data=unixfs.encode() + data, links=tuple(PBLink(c, "", s) for c, s in links))
    )
    return CID.of(node, "dag-pb", version=0), node


def small_dag(tag: bytes = b"") -> tuple[CID, dict[CID, bytes]]:
    """root -> (inner -> leaf one), leaf two: three levels, dag-pb and raw blocks."""
    one, two = b"leaf one" + tag, b"leaf two" + tag
    inner, inner_block = dag_pb((CID.of(one), len(one)))
    root, root_block = dag_pb((inner, len(one)), (CID.of(two), len(two)))
    return root, {root: root_block, inner: inner_block, CID.of(one): one, CID.of(two): two}


class SyncOverAsync:
    """The sync interface of an async store: each call runs in ``asyncio.run``."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._store, name)
        return lambda *args, **kwargs: asyncio.run(method(*args, **kwargs))


class PinningStoreContract:
    """The shared suite; ``store`` is a fixture of the subclass."""

    def test_put_then_get_and_has(self, store: PinningStore) -> None:
        cid = CID.of(b"hello")
        assert not store.has(cid)

        store.put(cid, b"hello")

        assert store.has(cid)
        assert store.get(cid) == b"hello"
        assert store.get(str(cid)) == b"hello"

    def test_get_of_a_missing_block_says_which(self, store: PinningStore) -> None:
        cid = CID.of(b"never put")

        with pytest.raises(BlockNotFound) as caught:
            store.get(cid)

        assert caught.value.cid == cid
        assert isinstance(caught.value, LookupError)

    def test_put_refuses_a_block_that_is_not_the_cids(self, store: PinningStore) -> None:
        cid = CID.of(b"right")

        with pytest.raises(VerificationError) as caught:
            store.put(cid, b"wrong")

        assert caught.value.cid == cid
        assert not store.has(cid)

    def test_put_twice_stores_once(self, store: PinningStore) -> None:
        cid = CID.of(b"twice")

        store.put(cid, b"twice")
        store.put(cid, b"twice")

        assert store.get(cid) == b"twice"

    def test_cidv0_and_cidv1_of_the_same_bytes_are_one_block(self, store: PinningStore) -> None:
        v0, node = dag_pb(data=b"v0 or v1")

        store.put(v0, node)

        assert store.get(v0.to_v1()) == node
        assert store.has(v0.to_v1())

    def test_pin_keeps_a_complete_dag(self, store: PinningStore) -> None:
        root, blocks = small_dag(b"complete")
        for cid, block in blocks.items():
            store.put(cid, block)

        store.pin(root)

        assert root in store.pins()

    def test_pin_of_an_incomplete_dag_is_refused(self, store: PinningStore) -> None:
        root, blocks = small_dag(b"incomplete")
        missing = CID.of(b"leaf one" + b"incomplete")
        for cid, block in blocks.items():
            if cid != missing:
                store.put(cid, block)

        with pytest.raises(IncompleteDAG) as caught:
            store.pin(root)

        assert (caught.value.root, caught.value.cid) == (root, missing)
        assert root not in store.pins()

    def test_pin_and_unpin_are_idempotent(self, store: PinningStore) -> None:
        root, blocks = small_dag(b"idempotent")
        for cid, block in blocks.items():
            store.put(cid, block)
        before = store.pins()

        store.pin(root)
        store.pin(root)
        pinned = store.pins()
        store.unpin(root)
        store.unpin(root)

        assert pinned == before | {root}
        assert store.pins() == before
