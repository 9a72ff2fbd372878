"""Following a DAG's links: which blocks a root needs, in the order CAR files list them.

Pure: the walk takes a callback that reads a block and names its children, so
that stores (which read files) and the Kubo client (which reads a CAR it was
sent) share one traversal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from troika._errors import UnreadableBlock
from troika.ipfs._cid import CID
from troika.ipfs._dagpb import decode_node

__all__ = ["LEAF_CODECS", "links_of_block", "readable_links", "walk_dag"]

#: Codecs whose blocks never link to other blocks.
LEAF_CODECS = frozenset({0x55})  # raw
_DAG_PB = 0x70


def links_of_block(cid: CID, block: bytes | memoryview) -> tuple[CID, ...]:
    """The CIDs that ``block`` (addressed by ``cid``) links to, in order.

    Raises:
        UnreadableBlock: the codec is neither dag-pb nor raw, or the block is not
            valid dag-pb.

    Example:
        >>> from troika.ipfs._dagpb import PBLink, PBNode, encode_node
        >>> leaf = CID.of(b"leaf")
        >>> node = encode_node(PBNode(data=b"", links=(PBLink(leaf, "a", 4),)))
        >>> links_of_block(CID.of(node, "dag-pb"), node) == (leaf,)
        True
    """
    if cid.codec_code in LEAF_CODECS:
        return ()
    if cid.codec_code != _DAG_PB:
        raise UnreadableBlock(
            cid, f"troika follows links in dag-pb and raw blocks only, not {cid.codec!r}"
        )
    try:
        return tuple(link.cid for link in decode_node(block).links)
    except ValueError as exc:  # InvalidCID is a ValueError too
        raise UnreadableBlock(cid, f"not valid dag-pb ({exc})") from exc


def readable_links(cid: CID, block: bytes | memoryview) -> tuple[CID, ...]:
    """:func:`links_of_block`, or no links for a block troika cannot read.

    For checks that follow what they can: the links of a codec other than
    dag-pb are not followed, so such a block is verified against its CID but
    the DAG below it is not checked.

    Example:
        >>> readable_links(CID.of(b"{}", "dag-json"), b"{}")
        ()
    """
    try:
        return links_of_block(cid, block)
    except UnreadableBlock:
        return ()


def walk_dag(roots: Iterable[CID], visit: Callable[[CID], Sequence[CID]]) -> int:
    """Call ``visit`` once per block under ``roots``, depth first, parents first.

    ``visit(cid)`` does the caller's work for one block (read it, write it,
    record it) and returns the CIDs it links to. Each CID is visited once, when
    it is first met: the order in which Kubo's ``dag export`` (go-car with
    "traverse links only once") writes a DAG's blocks. The walk keeps its own
    stack, so a deep DAG cannot exhaust Python's recursion limit.

    Returns:
        The number of blocks visited.

    Example:
        >>> a, b, c = (CID.of(bytes([n])) for n in range(3))
        >>> children = {a: [b, c], b: [c], c: []}
        >>> seen = []
        >>> walk_dag([a], lambda cid: seen.append(cid) or children[cid])
        3
        >>> seen == [a, b, c]
        True
    """
    stack = list(reversed(list(roots)))
    seen: set[CID] = set()
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        stack.extend(reversed(visit(cid)))
    return len(seen)
