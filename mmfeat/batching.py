"""Cost-budget batching: group items so that padded size stays under a budget.

Text batches are padded to their longest member, so the cost of a batch is
``len(batch) * max(cost)``. Sorting by cost first keeps lengths in a batch close,
which is what keeps padding waste small.
"""


def budget_batches(costs: list[int], *, max_cost: int, max_size: int) -> list[list[int]]:
    """Return index lists, each a batch whose ``len * max(cost)`` is within ``max_cost``.

    An item costlier than the whole budget still gets a batch of its own, so no
    item is ever dropped. Indices come back sorted by cost.
    """
    if max_cost < 1 or max_size < 1:
        raise ValueError(f"max_cost and max_size must be >= 1, got {max_cost} and {max_size}")
    order = sorted(range(len(costs)), key=costs.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    widest = 0
    for i in order:
        wider = max(widest, costs[i])
        if current and (wider * (len(current) + 1) > max_cost or len(current) >= max_size):
            batches.append(current)
            current, wider = [], costs[i]
        current.append(i)
        widest = wider
    if current:
        batches.append(current)
    return batches
