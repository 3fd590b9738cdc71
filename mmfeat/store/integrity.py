"""Damage a feature set's layout can show beyond checksums: a bucket count that changed,
bucket directories out of range, and visible files no commit references (strays).

Each check returns ``(path relative to the set, problem)`` pairs, so ``verify``
can list them and ``read`` can refuse with the first one.
"""
import json
from pathlib import Path

from mmfeat.store.bucket_log import BucketState
from mmfeat.store.layout import KINDS, STORE_FILE, bucket_dir, bucket_number, is_visible
from mmfeat.store.lifecycle import trash


def set_problems(set_dir: Path, n_buckets: int, meta: dict | None = None) -> list[tuple[str, str]]:
    """Problems with the set as a whole: its recorded bucket count, and what sits beside the bucket dirs.
    ``meta``: the set's ``feature_set.json`` if the caller has read it."""
    problems = []
    try:
        if meta is None:
            meta = json.loads((set_dir / "feature_set.json").read_text())
        recorded = meta.get("n_buckets")
    except FileNotFoundError:
        recorded = None
    if recorded is not None and recorded != n_buckets:
        problems.append((f"../{STORE_FILE}", f"the store says {n_buckets} buckets but this feature set was "
                                             f"written with {recorded}, so ids would be looked up in the wrong "
                                             f"bucket"))
    for top in (*KINDS, "_log"):
        try:
            children = sorted((set_dir / top).iterdir())
        except FileNotFoundError:
            continue
        for child in children:
            number = bucket_number(child.name)
            if not is_visible(child.name):
                continue
            if number is None or not child.is_dir():
                problems.append((f"{top}/{child.name}", "not a bucket directory (stray file)"))
            elif number >= n_buckets:
                problems.append((f"{top}/{child.name}", f"bucket {number} is out of range for a store of "
                                                        f"{n_buckets} buckets"))
    return problems


def visible_files(set_dir: Path, bucket: int) -> set[str]:
    """Paths (relative to the set) of everything a directory reader sees in one bucket."""
    out = set()
    for kind in KINDS:
        directory = bucket_dir(set_dir, kind, bucket)
        try:
            out.update(f"{kind}/{directory.name}/{p.name}" for p in directory.iterdir() if is_visible(p.name))
        except FileNotFoundError:
            continue
    return out


def strays(set_dir: Path, listed: set[str], state: BucketState) -> list[tuple[str, str]]:
    """Visible files listed before ``state`` was read that it does not reference.

    List first, read the log second: a commit publishes its parts only after
    its record exists, so a part a concurrent writer just published is in the
    later-read log, and is never reported as a stray. A part the log says was
    removed, but that is still visible (its commit died before moving it to
    ``_trash``), is moved there now: that finishes the commit.
    """
    out = []
    for rel in sorted(listed - state.live.keys()):
        if rel in state.removed:
            trash(set_dir, rel)
        else:
            out.append((rel, "not referenced by the commit log (stray file; directory readers would count its rows)"))
    return out
