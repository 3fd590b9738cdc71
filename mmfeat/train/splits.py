"""Train/val/test assignment, group-aware when ``labels.group_column`` is set.

A group (speaker, patient, camera, document) lies entirely within one split:
hash-fraction splits and the val carved out of train move whole groups, and a
split column that puts one group in two splits is refused. This module sits
below both loaders (``data`` and ``stream``), so neither imports the other.
"""
import hashlib

import numpy as np

from mmfeat.errors import MmfeatError

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": 0, "val": 1, "valid": 1, "validation": 1, "dev": 1, "test": 2}


def hash_unit(key: str, seed: int) -> float:
    """A deterministic uniform number in [0, 1) for ``key`` (an id, or a group)."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def take_groups(groups: np.ndarray, candidates: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask over ``groups``: whole groups among ``candidates`` rows, in hash order, until they
    hold ``fraction`` of those rows (at least one group when ``fraction`` > 0 and two or more groups exist)."""
    chosen = np.zeros(len(groups), bool)
    names = sorted(set(groups[candidates].tolist()), key=lambda g: hash_unit(g, seed))
    if fraction <= 0 or len(names) < 2:
        return chosen
    sizes = {g: 0 for g in names}
    for g in groups[candidates]:
        sizes[g] += 1
    target, taken = fraction * len(candidates), 0
    picked = set()
    for g in names[:-1]:  # never every group: the rest must keep some
        if taken >= target:
            break
        picked.add(g)
        taken += sizes[g]
    chosen[candidates] = np.array([g in picked for g in groups[candidates]])
    return chosen


def assign_split(ids, values, labels_cfg, groups=None) -> np.ndarray:
    """0/1/2 per row from the split column, or by hash; val carved from train when there is none.

    With ``groups`` (the ``group_column`` values, as strings) every hash decision is
    taken per group, and the result is checked: no group in two splits.
    """
    ids = np.asarray(ids, dtype=object)
    seed = labels_cfg.seed
    if labels_cfg.split_column:
        bad = sorted({str(v) for v in values if str(v).lower() not in SPLIT_NAMES})
        if bad:
            raise MmfeatError(f"{labels_cfg.path}: column {labels_cfg.split_column!r} has values "
                              f"{', '.join(bad[:5])}; use train, val or test")
        split = np.array([SPLIT_NAMES[str(v).lower()] for v in values], dtype=np.int64)
        if groups is not None:
            check_disjoint(split, groups, labels_cfg)
        if not (split == 1).any():  # no val rows: carve them out of train, deterministically
            train = np.flatnonzero(split == 0)
            if groups is not None:
                split[take_groups(groups, train, labels_cfg.val, seed)] = 1
            else:
                carve = np.array([hash_unit(i, seed) < labels_cfg.val for i in ids], bool)
                split[(split == 0) & carve] = 1
        return split
    if groups is None:
        u = np.array([hash_unit(i, seed) for i in ids])
        return np.where(u < labels_cfg.test, 2, np.where(u < labels_cfg.test + labels_cfg.val, 1, 0))
    split = np.zeros(len(ids), np.int64)
    split[take_groups(groups, np.arange(len(ids)), labels_cfg.test, seed)] = 2
    rest = np.flatnonzero(split == 0)
    split[take_groups(groups, rest, labels_cfg.val / max(1 - labels_cfg.test, 1e-9), seed + 1)] = 1
    return split


def check_disjoint(split: np.ndarray, groups: np.ndarray, labels_cfg) -> None:
    """Refuse a split that puts one group in two splits (the leakage group splits exist to prevent)."""
    seen = {}
    for g, s in zip(groups.tolist(), split.tolist()):
        seen.setdefault(g, set()).add(s)
    shared = sorted(g for g, s in seen.items() if len(s) > 1)
    if shared:
        raise MmfeatError(
            f"{labels_cfg.path}: {len(shared)} group(s) of {labels_cfg.group_column!r} lie in two splits of "
            f"{labels_cfg.split_column!r} (e.g. {', '.join(map(repr, shared[:3]))}); put each group in one split, "
            f"or drop split_column to let mmfeat split by group")


def group_counts(split: np.ndarray, groups) -> dict:
    """Distinct groups per split and how many lie in more than one (0 after a group-aware split)."""
    if groups is None:
        return {}
    per = {s: set(np.asarray(groups)[split == i].tolist()) for i, s in enumerate(SPLITS)}
    shared = (per["train"] & per["val"]) | (per["train"] & per["test"]) | (per["val"] & per["test"])
    return {"groups": {s: len(g) for s, g in per.items()}, "groups_in_two_splits": len(shared)}


def group_values(table, labels_cfg):
    """The ``group_column`` as an array of strings (None without one); a row without a group is refused."""
    if not labels_cfg.group_column:
        return None
    column = table[labels_cfg.group_column]
    if column.null_count:
        raise MmfeatError(f"{labels_cfg.path}: {column.null_count} row(s) have no {labels_cfg.group_column!r} "
                          f"(labels.group_column); give every row a group")
    return np.array([str(v) for v in column.to_pylist()], dtype=object)
