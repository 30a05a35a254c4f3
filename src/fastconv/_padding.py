"""Padding as index tables, shared by the backends (NumPy only, so it loads without numba).

A table maps every padded coordinate of an axis to the input coordinate it
reads, in one of ``_validate``'s internal boundary modes.  Kernels read the
input through a row table and a column table instead of a padded copy.
"""

from __future__ import annotations

import numpy as np

FILL, SKIP = -1, -2  # table entries outside the input: the fill value, and no term at all ("overlap")


def source_index(size: int, before: int, length: int, mode: str) -> np.ndarray:
    """Input coordinate of each of ``length`` padded positions starting at ``-before``.

    Examples
    --------
    >>> source_index(3, 2, 7, "reflect").tolist()
    [2, 1, 0, 1, 2, 1, 0]
    >>> source_index(3, 1, 5, "constant").tolist()
    [-1, 0, 1, 2, -1]
    """
    pos = np.arange(length, dtype=np.int64) - before
    inside = (pos >= 0) & (pos < size)
    if mode in ("constant", "overlap") or size == 0:
        return np.where(inside, pos, SKIP if mode == "overlap" else FILL)
    if mode == "edge":
        return np.clip(pos, 0, size - 1)
    if mode == "wrap":
        return pos % size
    if mode == "reflect":
        period = max(2 * size - 2, 1)
        folded = pos % period
        return np.where(folded < size, folded, period - folded)
    folded = pos % (2 * size)  # symmetric
    return np.where(folded < size, folded, 2 * size - 1 - folded)
