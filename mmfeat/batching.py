"""Cost-budget batching: group items so that padding waste stays small.

A batch is padded to its longest member, so its cost is ``len(batch) * max(cost)``.
Items are sorted by cost and the sorted run is cut where it minimises the total
padded cost plus a fixed overhead per forward call: a greedy fill would put the
long tail of a small group into one batch padded to its longest item, which on
a few hundred texts doubles the work.
"""
import numpy as np

# The fixed cost of one forward call, in padded-item units (tokens for text):
# what an extra batch must save in padding to be worth it.
BATCH_OVERHEAD = 64


def budget_batches(costs: list[int], *, max_cost: int, max_size: int,
                   overhead: int = BATCH_OVERHEAD) -> list[list[int]]:
    """Return index lists, each a batch whose ``len * max(cost)`` is within ``max_cost``.

    The split of the cost-sorted items is optimal for ``sum(len * max + overhead)``
    (dynamic programming, O(n * max_size)). An item costlier than the whole budget
    still gets a batch of its own, so no item is ever dropped.
    """
    if max_cost < 1 or max_size < 1:
        raise ValueError(f"max_cost and max_size must be >= 1, got {max_cost} and {max_size}")
    order = sorted(range(len(costs)), key=costs.__getitem__)
    sorted_costs = np.array([costs[i] for i in order], dtype=np.float64)
    n = len(order)
    best = np.zeros(n + 1)  # best[j]: cheapest split of the first j items
    cut = np.zeros(n + 1, dtype=np.int64)
    for j in range(1, n + 1):
        # The batch ending at item j-1 is padded to sorted_costs[j-1]; it may start at i.
        widest = sorted_costs[j - 1]
        longest = max(1, min(max_size, int(max_cost // widest)))
        starts = np.arange(max(0, j - longest), j)
        totals = best[starts] + (j - starts) * widest + overhead
        k = int(np.argmin(totals))
        best[j], cut[j] = totals[k], starts[k]
    batches, j = [], n
    while j > 0:
        batches.append(order[cut[j]:j])
        j = int(cut[j])
    return batches[::-1]
