"""A data owner's local table: a numeric CSV with a header (no heavy imports).

Both the node (in-process jobs, statistics) and the ClientApp a node's Flower
SuperNode starts for each message read datasets through here, so the ClientApp
process stays quick to start (it imports neither web3 nor scipy).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import numpy.typing as npt

from troika._errors import InvalidJob

__all__ = ["features_and_labels", "load_table"]


def load_table(path: Path) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    """A numeric CSV with a header: its column names and its values.

    Raises:
        InvalidJob: not numeric, ragged, or empty.

    Example:
        >>> _ = (tmp_path / "t.csv").write_text("a,label\\n1,0\\n2,1\\n")
        >>> load_table(tmp_path / "t.csv")[0]
        ('a', 'label')
    """
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if len(rows) < 2:
        raise InvalidJob("data", str(path), "a CSV with a header and at least one row")
    header = tuple(name.strip() for name in rows[0])
    try:
        values = np.array([[float(cell) for cell in row] for row in rows[1:]], dtype=np.float64)
    except ValueError as exc:
        raise InvalidJob("data", str(path), f"not numeric: {exc}") from exc
    if values.ndim != 2 or values.shape[1] != len(header):
        raise InvalidJob("data", str(path), "every row needs a value for every column")
    return header, values


def features_and_labels(
    path: Path, label: str, dataset_id: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A dataset's features (every column but ``label``) and its labels.

    Raises:
        InvalidJob: ``label`` is not a column, or the table is bad.

    Example:
        >>> _ = (tmp_path / "t.csv").write_text("a,label\\n1,0\\n2,1\\n")
        >>> x, y = features_and_labels(tmp_path / "t.csv", "label", 1)
        >>> x.tolist(), y.tolist()
        ([[1.0], [2.0]], [0.0, 1.0])
    """
    header, values = load_table(path)
    if label not in header:
        raise InvalidJob("label", label, f"not a column of dataset {dataset_id}: {header}")
    index = header.index(label)
    return np.delete(values, index, axis=1), values[:, index]
