"""What time travel costs: resolving versions, and reading a pinned (old) version vs the current one.

    .venv/bin/python benchmarks/store_snapshots.py [--rows 200000] [--dim 384] [--buckets 16] [--commits 20]

Writes ``--rows`` random float32 vectors into one feature set, then replaces
them ``--commits`` times (one commit per bucket each time, so the set's log
has buckets x (commits + 1) versions and every old version's parts sit in
``_trash``). Times, best of ``--repeat``: ``store.version`` (the current
version), ``store.at(time)`` resolved for the set (reads every record's time),
a full read of the current data, the same through ``store.at(current)``, and a
full read of the first version (every part from ``_trash``).
"""
import argparse
import tempfile
import time

import numpy as np


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--buckets", type=int, default=16)
    p.add_argument("--commits", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    from mmfeat.store import FeatureStore
    from tests.store_factory import put

    rng = np.random.default_rng(0)
    ids = [f"id{k}" for k in range(args.rows)]
    vectors = rng.standard_normal((args.rows, args.dim), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(tmp, create=True, n_buckets=args.buckets)
        put(store, "v", ids, vectors)
        first = store.version("v")
        for k in range(args.commits):
            put(store, "v", ids, vectors + k + 1)
        now = store.version("v")
        print(f"{args.rows} rows x {args.dim} float32, {args.buckets} buckets, {now.version} commits "
              f"(best of {args.repeat})")
        figures = {
            "store.version(name)": best(lambda: store.version("v"), args.repeat),
            "store.at(time).version(name)": best(lambda: store.at(first.time).version("v"), args.repeat),
            "read current": best(lambda: store.read("v"), args.repeat),
            "read store.at(current)": best(lambda: store.at(now).read("v"), args.repeat),
            "read store.at(first version), from _trash": best(lambda: store.at(first).read("v"), args.repeat),
        }
        for label, seconds in figures.items():
            print(f"  {label:<45}{seconds:8.3f} s")


if __name__ == "__main__":
    main()
