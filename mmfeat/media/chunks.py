"""Split a long sequence into fixed windows with a hop, covering it to the end."""


def windows(length: int, size: int, hop: int) -> list[tuple[int, int]]:
    """``(start, end)`` windows of ``size`` every ``hop`` covering ``range(length)``.

    An input no longer than ``size`` is one window. Otherwise every window is
    full length; the last one is aligned to the end so the tail is covered
    without a short, mostly-padding window.
    """
    if size < 1 or hop < 1:
        raise ValueError(f"window size and hop must be >= 1, got {size} and {hop}")
    if length <= size:
        return [(0, length)]
    starts = list(range(0, length - size + 1, hop))
    if starts[-1] + size < length:
        starts.append(length - size)
    return [(s, s + size) for s in starts]
