"""Typed access to troika's ``ComputeJobs`` contract: the on-chain market of
compute jobs on datasets and models of the ``AssetRegistry``.

A requester pays for a job, in the native coin or in an ERC-20 token (the
market pulls exactly the amount named, after the requester approved it, and
refuses a token that takes a fee on transfer); each dataset's owner (or its registered node)
accepts it, spending the job's epsilon from the dataset's privacy budget; the
participating nodes confirm the digests of the result and report; the payment
is then credited to the datasets' owners, the model's owner and the nodes, and
each withdraws it, per coin or token. Reverts come back as :class:`~troika.ComputeError`
subclasses that name the job, the token and the account, never as a bare
chain error.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from troika._contracts import DEFAULT_LOG_PAGE as DEFAULT_LOG_PAGE
from troika._contracts import ContractWrapper
from troika._errors import (
    BudgetExhausted,
    ComputeError,
    ContractReverted,
    InvalidJob,
    JobNotFound,
    JobPermissionDenied,
    JobStateError,
    NotLicensed,
    PaymentTokenError,
    TransactionRejected,
)

if TYPE_CHECKING:  # the chain layer loads web3: only when the market is used
    from troika.chain import Artifact, Chain, Contract, Receipt, Sender

__all__ = [
    "BPS",
    "JOBS_CONTRACT",
    "MAX_DATASETS",
    "ComputeJobs",
    "Job",
    "JobKind",
    "JobStatus",
    "Shares",
]

#: The name of troika's compiled job market.
JOBS_CONTRACT = "ComputeJobs"

#: The most datasets one job may name (the contract's ``MAX_DATASETS``).
MAX_DATASETS = 64

#: Shares are basis points: they sum to this.
BPS = 10_000

_MILLI = 1000
_UINT64_MAX = 2**64 - 1
_ZERO_ADDRESS = "0x" + "00" * 20


def _io(name: str, kind: str) -> dict[str, str]:
    return {"name": name, "type": kind, "internalType": kind}


def _function(name: str, inputs: list[dict[str, str]], out: str, mutability: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "inputs": inputs,
        "outputs": [_io("", out)],
        "stateMutability": mutability,
    }


# What the market needs of an ERC-20 token (EIP-20), and OpenZeppelin's
# IERC20Errors (ERC-6093) to name a token's reverts that SafeERC20 bubbles up.
_ERC20_ABI: tuple[dict[str, Any], ...] = (
    _function("allowance", [_io("owner", "address"), _io("spender", "address")], "uint256", "view"),
    _function(
        "approve", [_io("spender", "address"), _io("value", "uint256")], "bool", "nonpayable"
    ),
    _function("balanceOf", [_io("account", "address")], "uint256", "view"),
    {
        "type": "error",
        "name": "ERC20InsufficientAllowance",
        "inputs": [
            _io("spender", "address"),
            _io("allowance", "uint256"),
            _io("needed", "uint256"),
        ],
    },
    {
        "type": "error",
        "name": "ERC20InsufficientBalance",
        "inputs": [_io("sender", "address"), _io("balance", "uint256"), _io("needed", "uint256")],
    },
)


class JobKind(enum.IntEnum):
    """What a job computes (the contract's ``Kind``).

    Example:
        >>> JobKind.parse("federated-train")
        <JobKind.FEDERATED_TRAIN: 0>
        >>> JobKind.STATS.label
        'stats'
    """

    FEDERATED_TRAIN = 0
    EVALUATE = 1
    STATS = 2

    @property
    def label(self) -> str:
        """The kind's name in configuration and on the command line."""
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, label: str) -> JobKind:
        """The kind named ``label`` (``"federated-train"``, ``"evaluate"``, ``"stats"``).

        Raises:
            InvalidJob: no kind of that name.
        """
        for kind in cls:
            if kind.label == label:
                return kind
        known = ", ".join(repr(kind.label) for kind in cls)
        raise InvalidJob("kind", label, f"not a job kind; troika runs {known}")


class JobStatus(enum.IntEnum):
    """Where a job is in its life (the contract's ``Status``).

    Example:
        >>> JobStatus.RUNNING.label
        'running'
    """

    NONE = 0
    REQUESTED = 1
    RUNNING = 2
    COMPLETED = 3
    DISPUTED = 4
    REFUNDED = 5

    @property
    def label(self) -> str:
        """The status in lower case, as messages show it."""
        return self.name.lower()


@dataclass(frozen=True)
class Shares:
    """How a job's payment is split, in basis points that sum to 10,000.

    Example:
        >>> Shares(dataset_owners=6000, model_owner=2500, nodes=1500)
        Shares(dataset_owners=6000, model_owner=2500, nodes=1500)
        >>> Shares(5000, 0, 4000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        troika._errors.InvalidJob: shares=(5000, 0, 4000): the shares ... summing to 10000

    Raises:
        InvalidJob: a share outside 0-10000, or a sum other than 10000.
    """

    dataset_owners: int
    model_owner: int
    nodes: int

    def __post_init__(self) -> None:
        values = (self.dataset_owners, self.model_owner, self.nodes)
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= BPS:
                raise InvalidJob("shares", values, f"each share is 0 to {BPS} basis points")
        if sum(values) != BPS:
            raise InvalidJob("shares", values, f"the shares are basis points summing to {BPS}")


@dataclass(frozen=True)
class Job:
    """A job as the chain records it."""

    job_id: int
    requester: str
    kind: JobKind
    status: JobStatus
    #: The model token (0: none).
    model: int
    params_digest: bytes
    #: Unix time: accepting and confirming stop, refunds start.
    deadline: int
    #: In wei.
    payment: int
    #: The differential-privacy epsilon each dataset spends (0.0: no DP).
    epsilon: float
    shares: Shares
    #: Set by the first node that confirmed (zeros until then).
    result_digest: bytes
    report_digest: bytes
    #: Datasets that accepted.
    accepted: int
    #: Participating nodes that confirmed.
    confirmed: int
    #: Distinct participating nodes.
    nodes: int
    datasets: tuple[int, ...]
    #: The ERC-20 token the job is paid in (``payment``, credits and refund
    #: are amounts of it); None: the native coin.
    payment_token: str | None = None


def _epsilon_milli(epsilon: float, field: str = "epsilon", *, spend: bool = True) -> int:
    """Epsilon as the contract counts it: thousandths. What a job spends is
    rounded up and a budget is rounded down, so the chain never lets a
    dataset spend more than its owner allowed."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise InvalidJob(field, epsilon, "an epsilon is a number")
    if not math.isfinite(epsilon) or epsilon < 0:
        raise InvalidJob(field, epsilon, "an epsilon is a finite number >= 0")
    if epsilon == 0:
        return 0
    from troika.compute._privacy import epsilon_milli

    milli = epsilon_milli(epsilon)
    if not spend and Decimal(repr(float(epsilon))) * _MILLI != milli:
        milli -= 1  # rounded up above; a budget rounds down
    if milli > _UINT64_MAX:
        raise InvalidJob(field, epsilon, "too large")
    return milli


def _kind_label(value: object) -> str:
    try:
        return JobKind(int(str(value))).label
    except ValueError:
        return repr(value)


_KIND_NAMES = {0: "dataset", 1: "model"}

# Reverts that do not depend on the call: (error) -> exception from its args.
_INVALID: dict[str, Callable[[tuple[Any, ...]], InvalidJob]] = {
    "UnknownToken": lambda a: InvalidJob("token_id", a[0], "no such token in the registry"),
    "WrongKind": lambda a: InvalidJob(
        "token_id", a[0], f"is not a {_KIND_NAMES.get(int(a[1]), '?')} token"
    ),
    "NoDatasets": lambda a: InvalidJob("datasets", (), "a job needs at least one dataset"),
    "TooManyDatasets": lambda a: InvalidJob(
        "datasets", a[0], f"a job names at most {MAX_DATASETS} datasets"
    ),
    "DuplicateDataset": lambda a: InvalidJob("datasets", a[0], "names this dataset twice"),
    "ModelRequired": lambda a: InvalidJob(
        "model", 0, f"a {_kind_label(a[0])} job needs a model token"
    ),
    "ModelNotAllowed": lambda a: InvalidJob("model", int(a[1]), "a stats job takes no model"),
    "InvalidShares": lambda a: InvalidJob(
        "shares",
        tuple(int(x) for x in a),
        f"the shares sum to {BPS} basis points, and the model's is 0 without a model",
    ),
    "DeadlineInPast": lambda a: InvalidJob(
        "deadline", int(a[0]), "must be after the latest block's time"
    ),
    "EpsilonRequired": lambda a: InvalidJob(
        "epsilon", 0.0, "a stats job needs an epsilon > 0 (its privacy is the point)"
    ),
    "InvalidRegistry": lambda a: InvalidJob(
        "registry_address", a[0], "no contract there: deploy troika's AssetRegistry first"
    ),
    "SafeCastOverflowedUintDowncast": lambda a: InvalidJob(
        "payment", int(a[1]), "too large for the chain's record"
    ),
}


# Why a call is refused in the job's status, by the function called.
_OUT_OF_TURN = {
    "acceptJob": "only a requested job can be accepted",
    "submitResult": "only a running job takes results",
    "refund": "a completed or refunded job is settled",
}


# The reverts whose ComputeError names the job's status (read after the revert).
_NEEDS_STATUS = frozenset(
    {"DeadlinePassed", "DeadlineNotPassed", "AlreadyAccepted", "AlreadyConfirmed"}
)


def _compute_error(
    exc: ContractReverted | TransactionRejected,
    job_id: int | None,
    account: str,
    status_of: Callable[[int], str],
    function: str = "",
) -> BaseException:
    """The ComputeError that the market's revert, or a node refusing the
    transaction, means (the revert itself if none); no I/O but ``status_of``."""
    if isinstance(exc, TransactionRejected):
        return JobPermissionDenied(job_id, account, f"cannot send the transaction: {exc.reason}")
    return _translate(exc, job_id, account, status_of, function)


def _status_needed(exc: ContractReverted | TransactionRejected) -> int | None:
    """The job whose status the error's message needs, if any."""
    if isinstance(exc, ContractReverted) and exc.error in _NEEDS_STATUS:
        return int(exc.error_args[0])
    return None


@contextlib.contextmanager
def _job_errors(
    job_id: int | None,
    account: str,
    status_of: Callable[[int], str],
    function: str = "",
) -> Iterator[None]:
    """Turn the market's reverts, and a node refusing the transaction, into ComputeErrors."""
    try:
        yield
    except (ContractReverted, TransactionRejected) as exc:
        translated = _compute_error(exc, job_id, account, status_of, function)
        if translated is exc:
            raise
        raise translated from exc


def _token_error(exc: ContractReverted, token: str, account: str, market: str) -> BaseException:
    """A token's own revert, bubbled up by the market, as a ComputeError (a
    panic stays what it is). ``market`` is the market's address: a balance
    the token finds short is the market's own when it pays out."""
    from troika.chain._revert import decode_revert

    if exc.error == "Panic":
        return exc
    name, args = decode_revert(exc.data, _ERC20_ABI)
    if name == "ERC20InsufficientAllowance":
        return JobPermissionDenied(
            None,
            account,
            f"approved {int(args[1])!r} of token {token!r} to the market, the job "
            f"pays {int(args[2])!r}: approve it first (approve_payment)",
        )
    if name == "ERC20InsufficientBalance" and str(args[0]).lower() == market.lower():
        return PaymentTokenError(
            token,
            f"the market holds {int(args[1])!r} of it, not the {int(args[2])!r} it owes "
            f"{account!r}: the token took from the market's balance without a transfer "
            "(a seizing, rebasing or burning token); nothing moved and the credit stays",
        )
    if name == "ERC20InsufficientBalance":
        return JobPermissionDenied(
            None, account, f"holds {int(args[1])!r} of token {token!r}, not {int(args[2])!r}"
        )
    return PaymentTokenError(token, f"the token's transfer reverted, nothing moved ({exc})")


@functools.cache
def _erc20_artifact() -> Artifact:
    from troika.chain import Artifact

    return Artifact(
        name="ERC20",
        source="EIP-20",
        abi=_ERC20_ABI,
        bytecode=b"",
        deployed_bytecode=b"",
        compiler_version="unknown",
        settings={},
    )


@dataclass(frozen=True)
class _Tx:
    """A market transaction built with no I/O: what both wrappers send."""

    function: str
    args: tuple[Any, ...]
    value: int = 0
    #: The ERC-20 token whose own reverts may come back from this call.
    token: str | None = None


def _request_tx(
    kind: JobKind,
    datasets: Sequence[int],
    model: int,
    params_digest: bytes,
    deadline: int,
    epsilon: float,
    payment: int,
    shares: Shares,
    payment_token: str | None,
) -> _Tx:
    if len(params_digest) != 32:
        raise InvalidJob("params_digest", params_digest, "a digest is 32 bytes")
    if isinstance(payment, bool) or not isinstance(payment, int) or payment < 0:
        raise InvalidJob("payment", payment, "a payment is a whole number of wei >= 0")
    args = (
        int(kind),
        [int(d) for d in datasets],
        model,
        bytes(params_digest),
        deadline,
        _epsilon_milli(epsilon),
        (shares.dataset_owners, shares.model_owner, shares.nodes),
    )
    if payment_token is None:
        return _Tx("requestJob", args, value=payment)
    token = _token_address(payment_token)
    return _Tx("requestJobWithToken", (*args, token, payment), token=token)


def _result_tx(job_id: int, result_digest: bytes, report_digest: bytes) -> _Tx:
    for field, digest in (("result_digest", result_digest), ("report_digest", report_digest)):
        if len(digest) != 32:
            raise InvalidJob(field, digest, "a digest is 32 bytes")
    return _Tx("submitResult", (job_id, bytes(result_digest), bytes(report_digest)))


def _withdraw_tx(token: str | None) -> tuple[_Tx, str]:
    """The withdrawal and the event that reports its amount."""
    if token is None:
        return _Tx("withdraw", ()), "Withdrawn"
    address = _token_address(token)
    return _Tx("withdrawToken", (address,), token=address), "TokenWithdrawn"


def _allowance_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < 2**256:
        raise InvalidJob("amount", amount, "an allowance is a whole number >= 0")
    return amount


def _owed_read(account: str, token: str | None) -> tuple[str, tuple[Any, ...]]:
    if token is None:
        return "owed", (account,)
    return "owedToken", (_token_address(token), account)


def _job_of(job_id: int, record: Sequence[Any], datasets: Sequence[Any]) -> Job:
    """A job from the market's ``job`` and ``datasetsOf`` answers."""
    shares = record[8]
    return Job(
        job_id=job_id,
        requester=str(record[0]),
        kind=JobKind(int(record[1])),
        status=JobStatus(int(record[2])),
        model=int(record[3]),
        params_digest=bytes(record[4]),
        deadline=int(record[5]),
        payment=int(record[6]),
        epsilon=int(record[7]) / _MILLI,
        shares=Shares(int(shares[0]), int(shares[1]), int(shares[2])),
        result_digest=bytes(record[9]),
        report_digest=bytes(record[10]),
        accepted=int(record[11]),
        confirmed=int(record[12]),
        nodes=int(record[13]),
        datasets=tuple(int(d) for d in datasets),
        payment_token=None if str(record[14]) == _ZERO_ADDRESS else str(record[14]),
    )


def _check_page(page: int) -> None:
    if page < 1:
        raise InvalidJob("page", page, "a page spans at least one block")


def _translate(
    exc: ContractReverted,
    job_id: int | None,
    account: str,
    status_of: Callable[[int], str],
    function: str = "",
) -> Exception:
    """The ComputeError that a revert of the market means (the revert itself if none)."""
    name, args = exc.error or "", exc.error_args
    if name in _INVALID:
        return _INVALID[name](args)
    if name == "UnknownJob":
        return JobNotFound(int(args[0]))
    if name == "NoAccess":
        return NotLicensed(int(args[0]), str(args[1]))
    if name == "BudgetExceeded":
        return BudgetExhausted(int(args[0]), int(args[1]) / _MILLI, int(args[2]) / _MILLI)
    if name == "BudgetBelowSpent":
        return InvalidJob(
            "epsilon",
            int(args[1]) / _MILLI,
            f"dataset {int(args[0])} has spent {int(args[2]) / _MILLI} already; "
            "its budget cannot go below that",
        )
    if name == "DatasetNotInJob":
        return InvalidJob("dataset_id", int(args[1]), f"job {int(args[0])} does not name it")
    if name == "InvalidStatus":
        return JobStateError(
            int(args[0]),
            JobStatus(int(args[1])).label,
            _OUT_OF_TURN.get(function, f"{function or 'the call'} is not possible now"),
        )
    if name == "DeadlinePassed":
        return JobStateError(
            int(args[0]), status_of(int(args[0])), f"its deadline {int(args[1])} has passed"
        )
    if name == "DeadlineNotPassed":
        return JobStateError(
            int(args[0]),
            status_of(int(args[0])),
            f"it can be refunded only from its deadline {int(args[1])} on",
        )
    if name == "AlreadyAccepted":
        return JobStateError(
            int(args[0]), status_of(int(args[0])), f"dataset {int(args[1])} accepted it already"
        )
    if name == "AlreadyConfirmed":
        return JobStateError(
            int(args[0]), status_of(int(args[0])), f"{str(args[1])!r} confirmed it already"
        )
    if name == "NotOwnerOrNode":
        return JobPermissionDenied(
            job_id,
            str(args[1]),
            f"is neither the owner of dataset {int(args[0])} nor its registered node",
        )
    if name == "NotParticipant":
        return JobPermissionDenied(
            int(args[0]), str(args[1]), "is not a participating node of the job"
        )
    if name == "NotDatasetOwner":
        return JobPermissionDenied(None, str(args[1]), f"does not own dataset {int(args[0])}")
    if name == "NothingOwed":
        return JobPermissionDenied(None, str(args[0]), "is owed nothing to withdraw")
    if name == "PaymentFailed":
        return ComputeError(
            f"paying {int(args[1])!r} wei to {str(args[0])!r} failed: the account "
            "refused the native coin; withdraw from an account that accepts it"
        )
    if name == "InvalidPaymentToken":
        return PaymentTokenError(
            str(args[0]), "no contract at this address: an ERC-20 token is one"
        )
    if name == "TokenAmountMismatch":
        return PaymentTokenError(
            str(args[0]),
            f"the market received {int(args[2])!r} of the {int(args[1])!r} named: a token "
            "that charges a fee on transfer (or moves another amount) is refused",
        )
    if name == "NothingOwedInToken":
        return JobPermissionDenied(
            None, str(args[1]), f"is owed nothing in token {str(args[0])!r} to withdraw"
        )
    if name == "SafeERC20FailedOperation":
        return PaymentTokenError(
            str(args[0]), f"the token refused the transfer for {account!r} (it returned false)"
        )
    if name == "ReentrancyGuardReentrantCall":
        return ComputeError(f"{account!r} re-entered the job market while it was paying")
    return exc


class ComputeJobs(ContractWrapper):
    """troika's ``ComputeJobs`` market on one chain, with typed calls.

    Example:
        >>> from troika.assets import AssetKind, AssetRegistry
        >>> from troika.chain import Chain
        >>> chain = Chain.embedded()
        >>> owner, requester, node = chain.accounts[1:4]
        >>> registry = AssetRegistry.deploy(chain)
        >>> (dataset,) = registry.mint_batch(owner, AssetKind.DATASET, [bytes(32)]).token_ids
        >>> jobs = ComputeJobs.deploy(chain, registry.address)
        >>> jobs.set_budget(dataset, 1.0, sender=owner).status
        True
        >>> _ = jobs.register_node(dataset, node, sender=owner)
        >>> registry.grant_license(dataset, requester, 2**40, sender=owner).status
        True
        >>> job_id = jobs.request_job(
        ...     JobKind.STATS, [dataset], params_digest=bytes(32),
        ...     deadline=chain.block().timestamp + 3600, epsilon=0.25, payment=10_000,
        ...     shares=Shares(dataset_owners=8000, model_owner=0, nodes=2000), sender=requester)
        >>> _ = jobs.accept(job_id, dataset, sender=node)
        >>> jobs.budget(dataset)
        (1.0, 0.25)
        >>> _ = jobs.submit_result(job_id, b"r" * 32, b"p" * 32, sender=node)
        >>> jobs.job(job_id).status.label, jobs.owed(owner), jobs.owed(node)
        ('completed', 8000, 2000)
        >>> jobs.withdraw(sender=node)
        2000
        >>> jobs.jobs_for_dataset(dataset)
        [1]
    """

    CONTRACT = JOBS_CONTRACT

    @classmethod
    def deploy(
        cls, chain: Chain, registry_address: str, *, sender: Sender | None = None
    ) -> ComputeJobs:
        """Deploy a market on the registry at ``registry_address`` and record it
        in the chain's deployments.

        Raises:
            InvalidJob: no contract at ``registry_address``.
        """
        origin = sender if sender is not None else chain.default_sender
        account = origin if isinstance(origin, str) else origin.address
        with _job_errors(None, account, lambda _: "unknown"):
            return cls(chain.deploy(JOBS_CONTRACT, registry_address, sender=sender))

    @classmethod
    def at(cls, chain: Chain, address: str | None = None) -> ComputeJobs:
        """The market at ``address``, or troika's recorded deployment on this chain.

        Raises:
            DeploymentNotFound: no address given and none recorded.
        """
        if address is not None:
            return cls(chain.contract(JOBS_CONTRACT, address))
        return cls(chain.deployment(JOBS_CONTRACT))

    @classmethod
    def at_or_deploy(
        cls, chain: Chain, registry_address: str, *, sender: Sender | None = None
    ) -> ComputeJobs:
        """troika's recorded market on this chain, deployed first if there is none."""
        if chain.deployments.get(JOBS_CONTRACT) is not None:
            return cls.at(chain)
        return cls.deploy(chain, registry_address, sender=sender)

    def _status_label(self, job_id: int) -> str:
        try:
            return JobStatus(int(self.contract.call("job", job_id)[2])).label
        except ContractReverted:
            return JobStatus.NONE.label

    def _call(self, function: str, *args: Any, job_id: int | None = None) -> Any:
        with _job_errors(job_id, "(caller)", self._status_label, function):
            return self.contract.call(function, *args)

    def _send(
        self,
        function: str,
        *args: Any,
        sender: Sender | None,
        job_id: int | None = None,
        value: int = 0,
    ) -> Receipt:
        return self._send_tx(_Tx(function, args, value), sender, job_id)

    def _send_tx(self, tx: _Tx, sender: Sender | None, job_id: int | None = None) -> Receipt:
        origin = sender if sender is not None else self.chain.default_sender
        account = origin if isinstance(origin, str) else origin.address
        try:
            with _job_errors(job_id, account, self._status_label, tx.function):
                return self.contract.transact(tx.function, *tx.args, sender=sender, value=tx.value)
        except ContractReverted as exc:  # the market's own reverts are translated above
            if tx.token is None:
                raise
            error = _token_error(exc, tx.token, account, self.address)
            if error is exc:
                raise
            raise error from exc

    # -- datasets ---------------------------------------------------------------------

    def set_budget(self, dataset_id: int, epsilon: float, *, sender: Sender) -> Receipt:
        """Set the dataset's total privacy budget (sent by its owner).

        Raises:
            InvalidJob: not a dataset, or below what jobs have spent already.
            JobPermissionDenied: the sender does not own the dataset.
        """
        return self._send(
            "setBudget", dataset_id, _epsilon_milli(epsilon, spend=False), sender=sender
        )

    def budget(self, dataset_id: int) -> tuple[float, float]:
        """The dataset's total privacy budget and what jobs have spent of it."""
        total, spent = self._call("budget", dataset_id)
        return int(total) / _MILLI, int(spent) / _MILLI

    def register_node(self, dataset_id: int, node: str, *, sender: Sender) -> Receipt:
        """Name the node that may accept and confirm jobs for the dataset (sent by
        its owner); the zero address unregisters it.

        Raises:
            JobPermissionDenied: the sender does not own the dataset.
        """
        return self._send("registerNode", dataset_id, node, sender=sender)

    def node_of(self, dataset_id: int) -> str:
        """The dataset's registered node (the zero address if none)."""
        return str(self._call("nodeOf", dataset_id))

    # -- jobs -------------------------------------------------------------------------

    def request_job(
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
        """Request a job, paying ``payment`` wei (or ``payment`` of the ERC-20
        ``payment_token``); returns its id.

        Args:
            kind: what to compute; federated training and evaluation need a
                ``model``, statistics take none and need an ``epsilon`` > 0.
            datasets: the dataset tokens (1 to 64, no repeats).
            model: the model token (0: none).
            params_digest: the sha2-256 digest of the job's parameters.
            deadline: unix time after which the job is refunded if unfinished.
            epsilon: the differential-privacy epsilon each dataset spends (0: no DP).
            payment: in wei (or the token's smallest unit), split by ``shares``
                at completion.
            shares: how the payment is split.
            sender: the requester, who must own or hold a licence for every token.
            payment_token: the address of an ERC-20 token to pay in (None: the
                native coin). The sender must have approved the market for
                ``payment`` first (:meth:`approve_payment`); the market pulls
                it into escrow and must receive exactly that amount.

        Returns:
            The job's id.

        Raises:
            InvalidJob: a malformed job (see the rules above; a token that does
                not exist or is of the wrong kind).
            NotLicensed: the requester may not use one of the tokens.
            JobPermissionDenied: the sender cannot pay (too little coin, or too
                small a token balance or allowance).
            PaymentTokenError: the token is no contract, fails the transfer,
                or delivers another amount (a fee on transfer).
        """
        tx = _request_tx(
            kind, datasets, model, params_digest, deadline, epsilon, payment, shares, payment_token
        )
        receipt = self._send_tx(tx, sender)
        (event,) = self.contract.events(receipt, "JobRequested")
        return int(event.args["jobId"])

    def accept(self, job_id: int, dataset_id: int, *, sender: Sender) -> Receipt:
        """Accept the job for the dataset (sent by its owner or registered node),
        spending the job's epsilon from the dataset's budget for good.

        Raises:
            JobNotFound: no such job.
            InvalidJob: the job does not name the dataset.
            JobStateError: the job is not requested any more, its deadline
                passed, or the dataset accepted already.
            JobPermissionDenied: the sender is neither the dataset's owner nor its node.
            BudgetExhausted: the job's epsilon exceeds what is left of the budget.
        """
        return self._send("acceptJob", job_id, dataset_id, sender=sender, job_id=job_id)

    def submit_result(
        self,
        job_id: int,
        result_digest: bytes,
        report_digest: bytes,
        *,
        sender: Sender,
    ) -> Receipt:
        """Confirm the digests of the job's result and report (sent by a
        participating node). A pair that differs from the first disputes the job.

        Raises:
            JobNotFound: no such job.
            JobStateError: the job is not running, its deadline passed, or the
                node confirmed already.
            JobPermissionDenied: the sender is not a participating node.
        """
        return self._send_tx(_result_tx(job_id, result_digest, report_digest), sender, job_id)

    def refund(self, job_id: int, *, sender: Sender | None = None) -> Receipt:
        """Credit an unfinished job's payment back to its requester, after its
        deadline (anyone may send it).

        Raises:
            JobNotFound: no such job.
            JobStateError: completed or refunded already, or before the deadline.
        """
        return self._send("refund", job_id, sender=sender, job_id=job_id)

    def withdraw(self, *, sender: Sender, token: str | None = None) -> int:
        """Pay the sender everything credited to it in the native coin, or in
        the ERC-20 ``token``; returns the amount (wei, or the token's unit).

        Raises:
            JobPermissionDenied: nothing is owed to the sender (in that coin or token).
            PaymentTokenError: the token failed the transfer (the credit stays).
        """
        tx, reported = _withdraw_tx(token)
        (event,) = self.contract.events(self._send_tx(tx, sender), reported)
        return int(event.args["amount"])

    # -- paying in an ERC-20 token -------------------------------------------------------

    def _token(self, token: str) -> Contract:
        return self.chain.contract(_erc20_artifact(), _token_address(token))

    def approve_payment(self, token: str, amount: int, *, sender: Sender) -> Receipt:
        """Approve the market to pull ``amount`` of the ERC-20 ``token`` from the
        sender: what :meth:`request_job` with ``payment_token`` needs first.

        Raises:
            InvalidJob: a malformed address or amount.
            PaymentTokenError: the token refused the approval.
        """
        amount, address = _allowance_amount(amount), _token_address(token)
        try:
            return self._token(address).transact("approve", self.address, amount, sender=sender)
        except ContractReverted as exc:
            raise PaymentTokenError(address, f"the token refused the approval ({exc})") from exc

    def payment_allowance(self, token: str, owner: str) -> int:
        """How much of the ERC-20 ``token`` the market may still pull from ``owner``."""
        return int(self._token(token).call("allowance", owner, self.address))

    # -- reads ------------------------------------------------------------------------

    def owed(self, account: str, *, token: str | None = None) -> int:
        """What ``account`` may withdraw, in wei, or in the ERC-20 ``token``."""
        function, args = _owed_read(account, token)
        return int(self._call(function, *args))

    def job_count(self) -> int:
        """How many jobs were requested (ids 1 to this)."""
        return int(self._call("jobCount"))

    def job(self, job_id: int) -> Job:
        """The job's record.

        Raises:
            JobNotFound: no such job.
        """
        record = self._call("job", job_id, job_id=job_id)
        return _job_of(job_id, record, self._call("datasetsOf", job_id, job_id=job_id))

    def participant_of(self, job_id: int, dataset_id: int) -> str:
        """The node that accepted the job for the dataset (the zero address if none yet).

        Raises:
            JobNotFound: no such job.
            InvalidJob: the job does not name the dataset.
        """
        return str(self._call("participantOf", job_id, dataset_id, job_id=job_id))

    def dataset_owners_of(self, job_id: int) -> tuple[str, ...]:
        """The owners of the job's datasets when it was requested (who are paid), in order."""
        return tuple(str(a) for a in self._call("datasetOwnersOf", job_id, job_id=job_id))

    # -- history ----------------------------------------------------------------------

    def jobs_for_dataset(
        self,
        dataset_id: int,
        *,
        from_block: int | None = None,
        to_block: int | None = None,
        page: int = DEFAULT_LOG_PAGE,
    ) -> list[int]:
        """The ids of the jobs that name the dataset, oldest first (from the
        ``JobForDataset`` logs, read ``page`` blocks at a time): what a node
        watches for."""
        _check_page(page)
        return [
            int(event.args["jobId"])
            for event in self.events(
                "JobForDataset",
                from_block=from_block,
                to_block=to_block,
                page=page,
                datasetId=dataset_id,
            )
        ]


def _token_address(token: str) -> str:
    """The checksummed address of a token, or InvalidJob quoting it."""
    from eth_utils.address import is_address, to_checksum_address

    if not isinstance(token, str) or not is_address(token) or int(token, 16) == 0:
        raise InvalidJob("payment_token", token, "a token is a non-zero 0x-prefixed address")
    return str(to_checksum_address(token))
