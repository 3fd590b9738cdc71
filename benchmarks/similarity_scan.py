"""Exact top-k search speed and memory: ``mmfeat.similarity.similar`` against an in-memory numpy scan.

Writes N random 384-d vectors into a store of B buckets (through the store's own
writer), then times ``similar(store, name, query, k)`` (streamed bucket by bucket,
checksums verified) in a fresh child process, which reports its peak RSS before and
after the search, and the same search on a matrix already in memory.

    .venv/bin/python benchmarks/similarity_scan.py [--rows 200000] [--buckets 16] [--dim 384] [-k 10]
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM; unlike ru_maxrss it does not carry the parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def search(root: str, k: int, query: list) -> None:
    """Child mode: open the store, search, print seconds and peak RSS (MiB) before/after as JSON."""
    from mmfeat import FeatureStore
    from mmfeat.similarity import similar

    store = FeatureStore(root)
    before = peak_rss_mib()
    t0 = time.perf_counter()
    found = similar(store, "vec", np.asarray(query, np.float32), k)
    seconds = time.perf_counter() - t0
    after = peak_rss_mib()
    print(json.dumps({"seconds": seconds, "rss_before": before, "rss_after": after, "ids": [m.id for m in found]}))


def main():
    if sys.argv[1:2] == ["--search"]:
        return search(sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4]))
    from mmfeat import FeatureStore
    from tests.store_factory import put

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--buckets", type=int, default=16)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("-k", type=int, default=10)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.rows, args.dim)).astype(np.float32)
    ids = [f"r{i}" for i in range(args.rows)]
    query = rng.normal(size=args.dim).astype(np.float32)
    with tempfile.TemporaryDirectory() as root:
        store = FeatureStore(root, create=True, n_buckets=args.buckets)
        put(store, "vec", ids, vectors)
        t0 = time.perf_counter()
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        top = np.argpartition(-(unit @ (query / np.linalg.norm(query))), args.k)[:args.k]
        in_memory = time.perf_counter() - t0
        del unit
        child = subprocess.run([sys.executable, __file__, "--search", root, str(args.k), json.dumps(query.tolist())],
                               check=True, capture_output=True, text=True)
        run = json.loads(child.stdout.strip().splitlines()[-1])
    found, streamed = run["ids"], run["seconds"]
    assert set(found) == {ids[i] for i in top}
    size_mb = vectors.nbytes / 2**20
    print(f"{args.rows} x {args.dim} float32 ({size_mb:.0f} MiB) in {args.buckets} buckets, k={args.k}")
    print(f"streamed similar(): {streamed:.2f} s ({args.rows / streamed:,.0f} rows/s), "
          f"child peak RSS {run['rss_before']:.0f} MiB before the search, {run['rss_after']:.0f} MiB after")
    print(f"in-memory numpy:    {in_memory:.2f} s ({args.rows / in_memory:,.0f} rows/s)")


if __name__ == "__main__":
    main()
