"""Slot tags on log entries: which work-unit slots a part's rows can belong to.

A part written by the unit (bucket, slot) of a run with ``n_slots`` slots per
bucket carries ``"slot": [slot, n_slots]``; a compacted part carries
``"slots": [...]`` and ``"n_slots"`` when every part it merged was tagged with
the same ``n_slots``. A unit reads only parts that may hold its slot. A part
without tags (older stores, merges of mixed tags) may hold any slot.
"""
SLOT_KEY, SLOTS_KEY, N_SLOTS_KEY = "slot", "slots", "n_slots"
TAG_KEYS = (SLOT_KEY, SLOTS_KEY, N_SLOTS_KEY)


def tag_entry(entry: dict, slot: int, n_slots: int) -> dict:
    """Mark a log entry as holding only rows of ``slot`` (out of ``n_slots``)."""
    entry[SLOT_KEY] = [slot, n_slots]
    return entry


def slots_of(entry: dict) -> tuple[set[int], int] | None:
    """``(slots, n_slots)`` a part is tagged with, or None when it may hold any slot."""
    tag = entry.get(SLOT_KEY)
    if isinstance(tag, list) and len(tag) == 2:
        return {tag[0]}, tag[1]
    if SLOTS_KEY in entry and N_SLOTS_KEY in entry:
        return set(entry[SLOTS_KEY]), entry[N_SLOTS_KEY]
    return None


def may_hold(entry: dict, slot: int, n_slots: int) -> bool:
    """Whether a part can hold rows of ``slot``: false only when its tags say it cannot."""
    tags = slots_of(entry)
    return tags is None or tags[1] != n_slots or slot in tags[0]


def merged_tags(entries: list[dict]) -> dict:
    """The tags of a part holding the rows of ``entries``: their union, or none if any is untagged."""
    tags = [slots_of(e) for e in entries]
    if not tags or any(t is None for t in tags) or len({t[1] for t in tags}) != 1:
        return {}
    return {SLOTS_KEY: sorted(set().union(*(t[0] for t in tags))), N_SLOTS_KEY: tags[0][1]}
