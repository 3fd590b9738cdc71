"""What checksum verification costs in a full store read: sha256 parts vs xxh3-128 parts.

    .venv/bin/python benchmarks/store_checksums.py [--rows 200000] [--dim 384] [--buckets 16] [--repeat 3]

Writes the same random float32 vectors twice into one store, as two feature
sets whose parts carry sha256 and xxh3-128 checksums, then times
``FeatureStore.read`` with and without verification (best of ``--repeat``,
page cache warm), and a bare hash of the part files. The figure that matters is
the verified read's extra time as a share of the verified read.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def fill(store, name, ids, vectors, checksum):
    from mmfeat.buckets import bucket_of
    from mmfeat.spec import FeatureSpec
    from mmfeat.store import feature_set
    from mmfeat.store.bucket_log import BucketLog
    from mmfeat.store.layout import bucket_dir
    from mmfeat.store.parts import data_table, write_part

    spec = FeatureSpec.from_dict({"name": name, "modality": "image", "input": {"column": "image"},
                                  "encoder": {"kind": "pixels", "size": 4}})
    set_dir = store.set_dir(name)
    feature_set.ensure(set_dir, spec, spec.fingerprint({}), {})
    buckets = np.array([bucket_of(i, store.n_buckets) for i in ids])
    for b in range(store.n_buckets):
        rows = np.flatnonzero(buckets == b)
        table = data_table([ids[k] for k in rows], vectors[rows], [f"ck{k}" for k in rows])
        entry = write_part(table, bucket_dir(set_dir, "data", b) / "part-bench.parquet", "data", set_dir,
                           checksum=checksum)
        log = BucketLog(set_dir, b)
        log.commit(log.state(), add=[entry], remove=[], info={})


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--buckets", type=int, default=16)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    from mmfeat import FeatureStore
    from mmfeat.store.checksums import digest_file

    rng = np.random.default_rng(0)
    ids = [f"id{k}" for k in range(args.rows)]
    vectors = rng.standard_normal((args.rows, args.dim), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(Path(tmp) / "store", create=True, n_buckets=args.buckets)
        print(f"{args.rows} rows x {args.dim} float32 in {args.buckets} buckets "
              f"({vectors.nbytes / 2**20:.0f} MiB of vectors)")
        for algorithm in ("sha256", "xxh3_128"):
            fill(store, algorithm, ids, vectors, algorithm)
            store.read(algorithm)  # warm the page cache
            plain = best(lambda: store.read(algorithm, verify=False), args.repeat)
            verified = best(lambda: store.read(algorithm), args.repeat)
            files = sorted((store.set_dir(algorithm) / "data").rglob("*.parquet"))
            hashing = best(lambda: [digest_file(f, algorithm) for f in files], args.repeat)
            share = (verified - plain) / verified
            print(f"{algorithm:9s} read unverified {plain:6.3f} s   verified {verified:6.3f} s   "
                  f"hash alone {hashing:6.3f} s   verification = {100 * share:5.1f} % of the verified read")


if __name__ == "__main__":
    main()
