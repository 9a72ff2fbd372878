"""troika.compute: private compute jobs tied to asset ownership.

An on-chain job market (:class:`ComputeJobs`) tied to the asset registry;
data owners' :class:`Node` s that accept jobs on their datasets by policy,
budget and licence; a :class:`Coordinator` that runs federated training and
evaluation on Flower with SecAgg+ and differentially private statistics;
and the requester's :class:`Compute`. numpy and Flower load on first use.

Example:
    >>> from troika.compute import JobKind, Shares
    >>> JobKind.parse("federated-train").label, sum(vars(Shares(6000, 2500, 1500)).values())
    ('federated-train', 10000)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troika.compute._async import AsyncCompute, AsyncComputeJobs
    from troika.compute._federated import (
        FlowerDeployment,
        RoundMetrics,
        SuperNode,
        TrainParams,
        TrainResult,
        evaluate_federated,
        train_federated,
    )
    from troika.compute._functions import request, result, status
    from troika.compute._jobs import (
        JOBS_CONTRACT,
        MAX_DATASETS,
        ComputeJobs,
        Job,
        JobKind,
        JobStatus,
        Shares,
    )
    from troika.compute._models import (
        LogisticRegressionModel,
        MLPModel,
        model_from_bytes,
    )
    from troika.compute._node import (
        DEFAULT_SHARES,
        Compute,
        Coordinator,
        DatasetPolicy,
        FlowerSettings,
        JobResult,
        JobSpec,
        Node,
        NodeDecision,
    )
    from troika.compute._privacy import (
        MAX_BINS,
        LocalRelease,
        StatsQuery,
        StatsResult,
        combine,
        epsilon_from_milli,
        epsilon_milli,
        gaussian_rounds_epsilon,
        gaussian_sigma,
        laplace_scale,
        local_release,
        noise_for_epsilon,
    )

__all__ = [
    "DEFAULT_SHARES",
    "JOBS_CONTRACT",
    "MAX_BINS",
    "MAX_DATASETS",
    "AsyncCompute",
    "AsyncComputeJobs",
    "Compute",
    "ComputeJobs",
    "Coordinator",
    "DatasetPolicy",
    "FlowerDeployment",
    "FlowerSettings",
    "Job",
    "JobKind",
    "JobResult",
    "JobSpec",
    "JobStatus",
    "LocalRelease",
    "LogisticRegressionModel",
    "MLPModel",
    "Node",
    "NodeDecision",
    "RoundMetrics",
    "Shares",
    "StatsQuery",
    "StatsResult",
    "SuperNode",
    "TrainParams",
    "TrainResult",
    "combine",
    "epsilon_from_milli",
    "epsilon_milli",
    "evaluate_federated",
    "gaussian_rounds_epsilon",
    "gaussian_sigma",
    "laplace_scale",
    "local_release",
    "model_from_bytes",
    "noise_for_epsilon",
    "request",
    "result",
    "status",
    "train_federated",
]

# Where each public name lives: loaded on first use (numpy, web3 and Flower are heavy).
_HOMES = {
    "AsyncCompute": "_async",
    "AsyncComputeJobs": "_async",
    "model_from_bytes": "_models",
    "MLPModel": "_models",
    "DEFAULT_SHARES": "_node",
    "JOBS_CONTRACT": "_jobs",
    "MAX_BINS": "_privacy",
    "MAX_DATASETS": "_jobs",
    "Compute": "_node",
    "ComputeJobs": "_jobs",
    "Coordinator": "_node",
    "DatasetPolicy": "_node",
    "FlowerDeployment": "_federated",
    "FlowerSettings": "_node",
    "SuperNode": "_federated",
    "Job": "_jobs",
    "JobKind": "_jobs",
    "JobResult": "_node",
    "JobSpec": "_node",
    "JobStatus": "_jobs",
    "LocalRelease": "_privacy",
    "LogisticRegressionModel": "_models",
    "Node": "_node",
    "NodeDecision": "_node",
    "RoundMetrics": "_federated",
    "Shares": "_jobs",
    "StatsQuery": "_privacy",
    "StatsResult": "_privacy",
    "TrainParams": "_federated",
    "TrainResult": "_federated",
    "combine": "_privacy",
    "epsilon_from_milli": "_privacy",
    "epsilon_milli": "_privacy",
    "evaluate_federated": "_federated",
    "gaussian_rounds_epsilon": "_privacy",
    "gaussian_sigma": "_privacy",
    "laplace_scale": "_privacy",
    "local_release": "_privacy",
    "noise_for_epsilon": "_privacy",
    "request": "_functions",
    "result": "_functions",
    "status": "_functions",
    "train_federated": "_federated",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'troika.compute' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"troika.compute.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
