"""The requester's side of compute jobs for asyncio: :class:`AsyncComputeJobs`
and :class:`AsyncCompute`, the twins of :class:`~troika.compute.ComputeJobs` and
:class:`~troika.compute.Compute`.

The same method names, arguments, errors and transactions: both twins build
them with the same no-I/O core (``_jobs._request_tx``, ``_jobs._job_of``,
``_jobs._compute_error``, ``_node._job_spec``, ``_node._trained_model``...),
and only the awaiting differs. A data owner's :class:`~troika.compute.Node`
and the :class:`~troika.compute.Coordinator` stay sync: they are long-running
processes (``troika compute node``), not calls a web service makes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from troika._contracts import DEFAULT_LOG_PAGE, AsyncContractWrapper
from troika._errors import ContractReverted, InvalidJob, PaymentTokenError, TransactionRejected
from troika._json import loads
from troika.assets._registry import commitment_cid
from troika.compute._jobs import (
    _MILLI,
    JOBS_CONTRACT,
    Job,
    JobKind,
    JobStatus,
    Shares,
    _allowance_amount,
    _check_page,
    _compute_error,
    _epsilon_milli,
    _erc20_artifact,
    _job_of,
    _owed_read,
    _request_tx,
    _result_tx,
    _status_needed,
    _token_address,
    _token_error,
    _Tx,
    _withdraw_tx,
)
from troika.compute._node import (
    JobResult,
    _checked_block,
    _completed,
    _default_shares,
    _job_result,
    _job_spec,
    _model_cids,
    _trained_model,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from troika.assets import AsyncAssets
    from troika.chain import AsyncChain, AsyncContract, Receipt, Sender
    from troika.compute._federated import TrainParams
    from troika.compute._models import Model
    from troika.compute._privacy import StatsQuery
    from troika.did import Identity

__all__ = ["AsyncCompute", "AsyncComputeJobs"]


def _address_of(sender: Sender) -> str:
    return sender if isinstance(sender, str) else sender.address


class AsyncComputeJobs(AsyncContractWrapper):
    """:class:`~troika.compute.ComputeJobs` for asyncio, over an
    :class:`~troika.chain.AsyncContract`: the same typed calls and errors, awaited.

    Example:
        >>> import asyncio
        >>> from troika.assets import AssetKind, AsyncAssetRegistry
        >>> from troika.chain import AsyncChain
        >>> async def main() -> tuple[str, int, int]:
        ...     async with AsyncChain.embedded() as chain:
        ...         owner, requester, node = (await chain.accounts())[1:4]
        ...         registry = await AsyncAssetRegistry.deploy(chain)
        ...         minted = await registry.mint_batch(owner, AssetKind.DATASET, [bytes(32)])
        ...         (dataset,) = minted.token_ids
        ...         jobs = await AsyncComputeJobs.deploy(chain, registry.address)
        ...         _ = await jobs.set_budget(dataset, 1.0, sender=owner)
        ...         _ = await registry.grant_license(dataset, requester, 2**40, sender=owner)
        ...         job_id = await jobs.request_job(
        ...             JobKind.STATS, [dataset], params_digest=bytes(32),
        ...             deadline=(await chain.block()).timestamp + 3600, epsilon=0.25,
        ...             payment=10_000, shares=Shares(8000, 0, 2000), sender=requester)
        ...         _ = await jobs.accept(job_id, dataset, sender=owner)
        ...         _ = await jobs.submit_result(job_id, b"r" * 32, b"p" * 32, sender=owner)
        ...         status, owed = (await jobs.job(job_id)).status.label, await jobs.owed(owner)
        ...         return status, owed, await jobs.withdraw(sender=owner)
        >>> asyncio.run(main())
        ('completed', 10000, 10000)
    """

    CONTRACT = JOBS_CONTRACT

    @classmethod
    async def deploy(
        cls, chain: AsyncChain, registry_address: str, *, sender: Sender | None = None
    ) -> AsyncComputeJobs:
        """Deploy a market on the registry at ``registry_address`` and record it
        in the chain's deployments (see :meth:`ComputeJobs.deploy`).

        Raises:
            InvalidJob: no contract at ``registry_address``.
        """
        origin = sender if sender is not None else await chain.default_sender()
        try:
            return cls(await chain.deploy(JOBS_CONTRACT, registry_address, sender=sender))
        except (ContractReverted, TransactionRejected) as exc:
            raise _compute_error(exc, None, _address_of(origin), lambda _: "unknown") from exc

    @classmethod
    async def at(cls, chain: AsyncChain, address: str | None = None) -> AsyncComputeJobs:
        """The market at ``address``, or troika's recorded deployment on this chain.

        Raises:
            DeploymentNotFound: no address given and none recorded.
        """
        if address is not None:
            return cls(chain.contract(JOBS_CONTRACT, address))
        return cls(await chain.deployment(JOBS_CONTRACT))

    @classmethod
    async def at_or_deploy(
        cls, chain: AsyncChain, registry_address: str, *, sender: Sender | None = None
    ) -> AsyncComputeJobs:
        """troika's recorded market on this chain, deployed first if there is none."""
        if (await chain.deployments()).get(JOBS_CONTRACT) is not None:
            return await cls.at(chain)
        return await cls.deploy(chain, registry_address, sender=sender)

    async def _status_label(self, job_id: int) -> str:
        try:
            return JobStatus(int((await self.contract.call("job", job_id))[2])).label
        except ContractReverted:
            return JobStatus.NONE.label

    async def _error(
        self,
        exc: ContractReverted | TransactionRejected,
        job_id: int | None,
        account: str,
        tx: _Tx | None = None,
    ) -> BaseException:
        """:func:`_compute_error` with the job's status read first when it needs it."""
        needed = _status_needed(exc)
        status = await self._status_label(needed) if needed is not None else "unknown"
        error = _compute_error(exc, job_id, account, lambda _: status, tx.function if tx else "")
        if error is exc and tx is not None and tx.token is not None:
            assert isinstance(exc, ContractReverted)
            return _token_error(exc, tx.token, account, self.address)
        return error

    async def _call(self, function: str, *args: Any, job_id: int | None = None) -> Any:
        try:
            return await self.contract.call(function, *args)
        except (ContractReverted, TransactionRejected) as exc:
            error = await self._error(exc, job_id, "(caller)")
            if error is exc:
                raise
            raise error from exc

    async def _send_tx(self, tx: _Tx, sender: Sender | None, job_id: int | None = None) -> Receipt:
        origin = sender if sender is not None else await self.chain.default_sender()
        try:
            return await self.contract.transact(
                tx.function, *tx.args, sender=sender, value=tx.value
            )
        except (ContractReverted, TransactionRejected) as exc:
            error = await self._error(exc, job_id, _address_of(origin), tx)
            if error is exc:
                raise
            raise error from exc

    # -- datasets ---------------------------------------------------------------------

    async def set_budget(self, dataset_id: int, epsilon: float, *, sender: Sender) -> Receipt:
        """Set the dataset's total privacy budget (see :meth:`ComputeJobs.set_budget`)."""
        milli = _epsilon_milli(epsilon, spend=False)
        return await self._send_tx(_Tx("setBudget", (dataset_id, milli)), sender)

    async def budget(self, dataset_id: int) -> tuple[float, float]:
        """The dataset's total privacy budget and what jobs have spent of it."""
        total, spent = await self._call("budget", dataset_id)
        return int(total) / _MILLI, int(spent) / _MILLI

    async def register_node(self, dataset_id: int, node: str, *, sender: Sender) -> Receipt:
        """Name the node that may accept and confirm jobs for the dataset."""
        return await self._send_tx(_Tx("registerNode", (dataset_id, node)), sender)

    async def node_of(self, dataset_id: int) -> str:
        """The dataset's registered node (the zero address if none)."""
        return str(await self._call("nodeOf", dataset_id))

    # -- jobs -------------------------------------------------------------------------

    async def request_job(
        self,
        kind: JobKind,
        datasets: Sequence[int],
        *,
        model: int = 0,
        params_digest: bytes,
        deadline: int,
        epsilon: float,
        payment: int,
        shares: Shares,
        sender: Sender,
        payment_token: str | None = None,
    ) -> int:
        """Request a job, paying ``payment``; its id (see :meth:`ComputeJobs.request_job`)."""
        tx = _request_tx(
            kind, datasets, model, params_digest, deadline, epsilon, payment, shares, payment_token
        )
        receipt = await self._send_tx(tx, sender)
        (event,) = self.contract.events(receipt, "JobRequested")
        return int(event.args["jobId"])

    async def accept(self, job_id: int, dataset_id: int, *, sender: Sender) -> Receipt:
        """Accept the job for the dataset (see :meth:`ComputeJobs.accept`)."""
        return await self._send_tx(_Tx("acceptJob", (job_id, dataset_id)), sender, job_id)

    async def submit_result(
        self, job_id: int, result_digest: bytes, report_digest: bytes, *, sender: Sender
    ) -> Receipt:
        """Confirm the digests of the job's result and report (see
        :meth:`ComputeJobs.submit_result`)."""
        tx = _result_tx(job_id, result_digest, report_digest)
        return await self._send_tx(tx, sender, job_id)

    async def refund(self, job_id: int, *, sender: Sender | None = None) -> Receipt:
        """Credit an unfinished job's payment back to its requester, after its deadline."""
        return await self._send_tx(_Tx("refund", (job_id,)), sender, job_id)

    async def withdraw(self, *, sender: Sender, token: str | None = None) -> int:
        """Pay the sender what it is owed, in the coin or the ERC-20 ``token``."""
        tx, reported = _withdraw_tx(token)
        (event,) = self.contract.events(await self._send_tx(tx, sender), reported)
        return int(event.args["amount"])

    # -- paying in an ERC-20 token -------------------------------------------------------

    def _token(self, token: str) -> AsyncContract:
        return self.chain.contract(_erc20_artifact(), _token_address(token))

    async def approve_payment(self, token: str, amount: int, *, sender: Sender) -> Receipt:
        """Approve the market to pull ``amount`` of the ERC-20 ``token`` (see
        :meth:`ComputeJobs.approve_payment`)."""
        amount, address = _allowance_amount(amount), _token_address(token)
        try:
            return await self._token(address).transact(
                "approve", self.address, amount, sender=sender
            )
        except ContractReverted as exc:
            raise PaymentTokenError(address, f"the token refused the approval ({exc})") from exc

    async def payment_allowance(self, token: str, owner: str) -> int:
        """How much of the ERC-20 ``token`` the market may still pull from ``owner``."""
        return int(await self._token(token).call("allowance", owner, self.address))

    # -- reads ------------------------------------------------------------------------

    async def owed(self, account: str, *, token: str | None = None) -> int:
        """What ``account`` may withdraw, in wei, or in the ERC-20 ``token``."""
        function, args = _owed_read(account, token)
        return int(await self._call(function, *args))

    async def job_count(self) -> int:
        """How many jobs were requested (ids 1 to this)."""
        return int(await self._call("jobCount"))

    async def job(self, job_id: int) -> Job:
        """The job's record.

        Raises:
            JobNotFound: no such job.
        """
        record = await self._call("job", job_id, job_id=job_id)
        return _job_of(job_id, record, await self._call("datasetsOf", job_id, job_id=job_id))

    async def participant_of(self, job_id: int, dataset_id: int) -> str:
        """The node that accepted the job for the dataset (the zero address if none yet)."""
        return str(await self._call("participantOf", job_id, dataset_id, job_id=job_id))

    async def dataset_owners_of(self, job_id: int) -> tuple[str, ...]:
        """The owners of the job's datasets when it was requested, in order."""
        owners = await self._call("datasetOwnersOf", job_id, job_id=job_id)
        return tuple(str(a) for a in owners)

    async def jobs_for_dataset(
        self,
        dataset_id: int,
        *,
        from_block: int | None = None,
        to_block: int | None = None,
        page: int = DEFAULT_LOG_PAGE,
    ) -> list[int]:
        """The ids of the jobs that name the dataset, oldest first (see
        :meth:`ComputeJobs.jobs_for_dataset`)."""
        _check_page(page)
        events = self.events(
            "JobForDataset",
            from_block=from_block,
            to_block=to_block,
            page=page,
            datasetId=dataset_id,
        )
        return [int(event.args["jobId"]) async for event in events]


class AsyncCompute:
    """:class:`~troika.compute.Compute` for asyncio: request jobs, follow them and
    fetch their results as the requester.

    Decrypting a trained model runs in a worker thread.

    Args:
        jobs: The market.
        assets: The requester's :class:`~troika.assets.AsyncAssets` (its identity
            pays, and decrypts the results).
    """

    def __init__(self, jobs: AsyncComputeJobs, assets: AsyncAssets) -> None:
        if assets.identity is None:
            raise InvalidJob(
                "assets", assets, "the requester needs an identity (it decrypts results)"
            )
        self.jobs = jobs
        self.assets = assets
        self.identity: Identity = assets.identity

    async def request(
        self,
        kind: str | JobKind,
        datasets: Sequence[int],
        *,
        model: int = 0,
        params: TrainParams | StatsQuery | Mapping[str, Any] | None = None,
        payment: int,
        deadline: int,
        epsilon: float | None = None,
        shares: Shares | None = None,
        label: str = "label",
        payment_token: str | None = None,
    ) -> int:
        """Pin the job's spec and request it on chain; its id (see :meth:`Compute.request`).

        Raises:
            InvalidJob: a bad kind or parameters.
            NotLicensed: the requester may not use a token.
            JobPermissionDenied: the requester cannot pay.
            PaymentTokenError: the token failed or shortchanged the transfer.
        """
        job_kind, spec, epsilon = _job_spec(kind, params, self.identity, label, epsilon)
        await self.assets.pin_block(spec.to_json())
        payer = self.assets.sender
        if payment_token is not None and payer is not None:
            allowed = await self.jobs.payment_allowance(payment_token, _address_of(payer))
            if allowed < payment:
                await self.jobs.approve_payment(payment_token, payment, sender=payer)
        return await self.jobs.request_job(
            job_kind,
            datasets,
            model=model,
            params_digest=spec.digest(),
            deadline=deadline,
            epsilon=epsilon,
            payment=payment,
            shares=shares or _default_shares(model),
            sender=payer if payer is not None else await self.jobs.chain.default_sender(),
            payment_token=payment_token,
        )

    async def status(self, job_id: int) -> Job:
        """The job as the chain records it."""
        return await self.jobs.job(job_id)

    async def result(self, job_id: int) -> JobResult:
        """The job's result, verified against the digest on chain; a trained model
        is decrypted with the requester's key (see :meth:`Compute.result`).

        Raises:
            JobStateError: the job is not completed.
            ResultMismatch: the store's result is not the one confirmed on chain.
        """
        job = _completed(await self.jobs.job(job_id))
        block = await self.assets.store.get(commitment_cid(job.result_digest))
        document = loads(_checked_block(block, job.result_digest, job_id))
        model: Model | None = None
        if job.kind is JobKind.FEDERATED_TRAIN:
            envelope, content = _model_cids(document)
            sealed, weights = await asyncio.gather(
                self.assets.read_bytes(envelope), self.assets.read_bytes(content)
            )
            model = await asyncio.to_thread(
                _trained_model, job_id, document, sealed, weights, self.identity
            )
        return _job_result(job, document, model)

    async def refund(self, job_id: int) -> None:
        """Credit an unfinished job's payment back, once its deadline has passed."""
        await self.jobs.refund(job_id, sender=self.assets.sender)

    async def withdraw(self, *, token: str | None = None) -> int:
        """Collect what the market owes the requester, in the coin or the ERC-20 ``token``."""
        sender = self.assets.sender
        return await self.jobs.withdraw(
            sender=sender if sender is not None else await self.jobs.chain.default_sender(),
            token=token,
        )
