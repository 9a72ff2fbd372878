"""``troika.compute.request``, ``status`` and ``result``: the job verbs as functions.

Each takes the client to act through (``client=``); without one it makes a
:class:`~troika.Troika` from the settings (arguments, ``TROIKA_*`` variables,
``troika.toml``) for the call and closes it after. A job must outlive the call
that requests it, so that fallback needs a node (``rpc_url``): on the embedded
EVM, which lives only inside its client, pass the client.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from troika._errors import ConfigError

if TYPE_CHECKING:
    from troika._client import Troika
    from troika.compute._federated import TrainParams
    from troika.compute._jobs import Job, JobKind
    from troika.compute._node import JobResult
    from troika.compute._privacy import StatsQuery
    from troika.did import Identity

__all__ = ["request", "result", "status"]


@contextlib.contextmanager
def _client(client: Troika | None) -> Iterator[Troika]:
    if client is not None:
        yield client
        return
    from troika._client import Troika

    made = Troika()
    if made.settings.rpc_url is None:
        made.close()
        raise ConfigError(
            "rpc_url",
            None,
            "a job outlives the call that requests it: set rpc_url (or TROIKA_RPC_URL), "
            "or pass client= (the embedded EVM lives only inside its client)",
        )
    with made:
        yield made


def request(
    kind: JobKind | str,
    datasets: Sequence[int],
    model: int,
    params: TrainParams | StatsQuery | Mapping[str, Any] | None,
    payment: int,
    deadline: int,
    *,
    identity: Identity,
    client: Troika | None = None,
    **options: Any,
) -> int:
    """Request a compute job as ``identity``, paying ``payment`` wei; its id.

    The job's spec is pinned, then ``requestJob`` is sent; see
    :meth:`troika.compute.Compute.request` for ``options`` (``epsilon``,
    ``shares``, ``label``).

    Args:
        kind: ``"federated-train"``, ``"evaluate"`` or ``"stats"``.
        datasets: The dataset tokens (``identity`` needs a licence for each).
        model: The model token; 0 for a stats job.
        params: :class:`TrainParams`, :class:`StatsQuery` or their fields.
        payment: In wei, escrowed until the result is confirmed or refunded.
        deadline: Unix time; past it, an unfinished job is refunded.
        identity: Who requests and pays (and decrypts a trained model).
        client: The client to act through; see the module's docstring.

    Raises:
        ConfigError: no ``client`` and no ``rpc_url`` configured.
        InvalidJob: a bad kind or parameters.
        NotLicensed: ``identity`` may not use a token.

    Example:
        >>> import troika.compute
        >>> from troika import Troika
        >>> from troika.assets import DatasetMetadata
        >>> with Troika.embedded(tmp_path, scrypt_n=2**10) as t:
        ...     clinic = t.identities.create("clinic", "pw", kind="person")
        ...     _ = t.fund(clinic, 10**18)
        ...     _ = (tmp_path / "ages.csv").write_text("age\\n41\\n")
        ...     metadata = DatasetMetadata(name="ages", properties={"media_type": "text/csv"})
        ...     minted = t.assets(clinic).mint_dataset(tmp_path / "ages.csv", metadata)
        ...     query = {"column": "age", "statistic": "count", "epsilon": 0.5}
        ...     deadline = t.chain.block().timestamp + 3600
        ...     job_id = troika.compute.request("stats", [minted.token_id], 0, query,
        ...         payment=10**15, deadline=deadline, identity=clinic, client=t)
        ...     troika.compute.status(job_id, client=t).status.label
        'requested'
    """
    with _client(client) as t:
        compute = t.compute(identity)
        return compute.request(
            kind,
            datasets,
            model=model,
            params=params,
            payment=payment,
            deadline=deadline,
            **options,
        )


def status(job_id: int, *, client: Troika | None = None) -> Job:
    """The job as the chain records it (see :meth:`troika.compute.Compute.status`).

    Raises:
        ConfigError: no ``client`` and no ``rpc_url`` configured.
        JobNotFound: no such job.
    """
    with _client(client) as t:
        return t.jobs.job(job_id)


def result(job_id: int, *, identity: Identity, client: Troika | None = None) -> JobResult:
    """The job's result, verified against the digest confirmed on chain; a trained
    model is decrypted with ``identity``'s key (see :meth:`troika.compute.Compute.result`).

    Raises:
        ConfigError: no ``client`` and no ``rpc_url`` configured.
        JobStateError: the job is not completed.
        ResultMismatch: the stored result is not the one confirmed on chain.
    """
    with _client(client) as t:
        return t.compute(identity).result(job_id)
