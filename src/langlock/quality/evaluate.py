"""Evaluating the validity judge on a labelled set: valid rate per (language, kind) and ROC AUC."""

from __future__ import annotations

from collections.abc import Sequence


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a positive scores higher than a negative), ties counting one half (Mann-Whitney U / n1 n2);
    None when a side is empty. Here positives are invalid answers and the score is their NLL."""
    if not positives or not negatives:
        return None
    order = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum, i = 0.0, 0
    while i < len(order):
        j = i
        while j < len(order) and order[j][0] == order[i][0]:
            j += 1
        mid = (i + 1 + j) / 2  # average 1-based rank of the tie block
        rank_sum += mid * sum(1 for k in range(i, j) if order[k][1] == 1)
        i = j
    n1, n0 = len(positives), len(negatives)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


def valid_rates(rows: Sequence[dict], verdicts: Sequence) -> dict[tuple[str, str], tuple[int, int]]:
    """(language, kind) -> (valid answers, answers with a verdict)."""
    out: dict[tuple[str, str], list[int]] = {}
    for row, v in zip(rows, verdicts):
        if v.valid is None:
            continue
        cell = out.setdefault((row["language"], row["kind"]), [0, 0])
        cell[0] += bool(v.valid)
        cell[1] += 1
    return {k: (a, b) for k, (a, b) in out.items()}
