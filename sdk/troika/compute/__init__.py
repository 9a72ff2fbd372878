"""troika.compute: private compute jobs tied to asset ownership.

Not built yet: the on-chain job market, compute nodes, federated training
with secure aggregation and differential privacy land here (see the
project's compute issue).
"""

__all__: list[str] = []
