"""The base of troika's typed contract wrappers (EthrRegistry, AssetRegistry,
ComputeJobs and their async twins): the contract handle, its address and
chain, the block it was deployed in, and its events read in pages of blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from troika._errors import InvalidContractCall

if TYPE_CHECKING:
    from troika.chain._async_chain import AsyncChain, AsyncContract
    from troika.chain._chain import Chain, Contract
    from troika.chain._deployments import Deployment
    from troika.chain._types import Event

__all__ = ["DEFAULT_LOG_PAGE", "AsyncContractWrapper", "ContractWrapper", "log_pages"]

#: ``eth_getLogs`` queries span at most this many blocks, so a long history is read in pages.
DEFAULT_LOG_PAGE = 10_000


def log_pages(start: int, end: int, page: int) -> Iterator[tuple[int, int]]:
    """Block ranges of at most ``page`` blocks covering ``start`` to ``end``.

    Example:
        >>> list(log_pages(0, 4, 2))
        [(0, 1), (2, 3), (4, 4)]

    Raises:
        InvalidContractCall: ``page`` is below 1.
    """
    if page < 1:
        raise InvalidContractCall(f"logs(page={page!r})", "a page spans at least one block")
    while start <= end:
        stop = min(start + page - 1, end)
        yield start, stop
        start = stop + 1


def _deployed_block(entry: Deployment | None, address: str) -> int:
    return entry.block_number if entry is not None and entry.address == address else 0


class ContractWrapper:
    """A typed wrapper of one of troika's contracts (subclasses name it in ``CONTRACT``)."""

    #: The compiled contract's name, as recorded in the chain's deployments.
    CONTRACT: ClassVar[str]

    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address!r})"

    @property
    def address(self) -> str:
        """The contract's address."""
        return self.contract.address

    @property
    def chain(self) -> Chain:
        """The chain the contract lives on."""
        return self.contract.chain

    @property
    def deployed_at(self) -> int:
        """The block the contract was deployed in, if troika recorded it (else 0)."""
        return _deployed_block(self.chain.deployments.get(self.CONTRACT), self.address)

    def events(
        self,
        name: str,
        *,
        from_block: int | None = None,
        to_block: int | None = None,
        page: int = DEFAULT_LOG_PAGE,
        **indexed: Any,
    ) -> Iterator[Event]:
        """The contract's ``name`` events, oldest first, read ``page`` blocks at a time.

        ``from_block`` defaults to the recorded deployment block, ``to_block``
        to the latest; ``indexed`` filters on indexed arguments by name.
        """
        start = self.deployed_at if from_block is None else from_block
        end = self.chain.block_number if to_block is None else to_block
        for first, last in log_pages(start, end, page):
            yield from self.contract.logs(name, from_block=first, to_block=last, **indexed)


class AsyncContractWrapper:
    """The asyncio twin of :class:`ContractWrapper`."""

    CONTRACT: ClassVar[str]

    def __init__(self, contract: AsyncContract) -> None:
        self.contract = contract

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address!r})"

    @property
    def address(self) -> str:
        """The contract's address."""
        return self.contract.address

    @property
    def chain(self) -> AsyncChain:
        """The chain the contract lives on."""
        return self.contract.chain

    async def deployed_at(self) -> int:
        """The block the contract was deployed in, if troika recorded it (else 0)."""
        deployments = await self.chain.deployments()
        return _deployed_block(deployments.get(self.CONTRACT), self.address)

    async def events(
        self,
        name: str,
        *,
        from_block: int | None = None,
        to_block: int | None = None,
        page: int = DEFAULT_LOG_PAGE,
        **indexed: Any,
    ) -> AsyncIterator[Event]:
        """The contract's ``name`` events, oldest first, read ``page`` blocks at a
        time (iterate with ``async for``; see :meth:`ContractWrapper.events`)."""
        start = await self.deployed_at() if from_block is None else from_block
        end = await self.chain.block_number() if to_block is None else to_block
        for first, last in log_pages(start, end, page):
            for event in await self.contract.logs(name, from_block=first, to_block=last, **indexed):
                yield event
