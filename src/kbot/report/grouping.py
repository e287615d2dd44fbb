"""Grouping similar questions: average-linkage agglomerative clustering on cosine distance (SciPy's), the largest
group first. The largest groups of unanswered questions are the articles to write next."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.cluster.hierarchy import fcluster, linkage

MAX_DISTANCE = 0.35  # cosine distance under which two groups merge: about a cosine of 0.65 with the model kbot uses


def group(
    texts: Sequence[str], vectors: npt.NDArray[np.floating], max_distance: float = MAX_DISTANCE
) -> list[list[str]]:
    """``texts`` grouped by the cosine of their ``vectors``; the largest group first, each in its given order."""
    if len(texts) == 0:
        return []
    if len(texts) == 1:
        return [[texts[0]]]
    tree = linkage(np.asarray(vectors, dtype=np.float64), method="average", metric="cosine")
    labels = fcluster(tree, t=max_distance, criterion="distance")
    groups: dict[int, list[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        groups.setdefault(int(label), []).append(text)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))
