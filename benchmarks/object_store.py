"""The store on S3 against the store on local disk: full reads, and extraction throughput.

    .venv/bin/python benchmarks/object_store.py [--rows 200000] [--texts 2900 8700] [--rounds 2] [--share-cores]

S3 is a moto server on 127.0.0.1 (``moto[server]``, started here and stopped at
the end), so the figures measure mmfeat's requests and its client-side cost per
request, not a network; on a real bucket each request costs more latency and
the request counts printed here are what to multiply it by.

A real bucket's server does not run on the worker's cores, so by default the
moto server gets a core of its own (the last one) and the extraction the others
(torch uses that many threads, in both the local and the S3 runs). With
``--share-cores`` the server runs on the extraction's cores instead: every
request it serves then takes CPU from the encoder, a worst case no cloud
bucket has.

1. Reads: ``--rows`` × 384 float32 vectors in 16 buckets, written once locally and
   once to S3 through the same store code; ``FeatureStore.read`` verified, best of
   ``--repeat``.
2. Extraction: ``--texts`` real English sentences encoded with all-MiniLM-L6-v2 into
   a local store and into an S3 store, alternately for ``--rounds`` rounds (each
   round a fresh store) after one uncounted warm-up extraction, DirectRunner in one
   process; rows/s and the ratio per round, with the S3 requests each run made.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]

from corpus import english_sentences, write_manifest  # noqa: E402
from store_checksums import best, fill  # noqa: E402
from tests.s3_server import S3Server  # noqa: E402


def requests_during(server, fn):
    """Run ``fn``; return (its result, seconds, requests it made by method)."""
    before = server.requests()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    after = server.requests()
    return result, seconds, {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}


def bench_reads(server, tmp: Path, rows: int, repeat: int):
    from mmfeat import FeatureStore

    rng = np.random.default_rng(0)
    ids = [f"id{k}" for k in range(rows)]
    vectors = rng.standard_normal((rows, 384), dtype=np.float32)
    local = FeatureStore(tmp / "store", create=True, n_buckets=16)
    remote = FeatureStore(f"s3://{server.bucket()}/store", create=True, n_buckets=16)
    print(f"reads: {rows} rows x 384 float32 in 16 buckets ({vectors.nbytes / 2**20:.0f} MiB of vectors)")
    for name, store in (("local", local), ("s3", remote)):
        t0 = time.perf_counter()
        fill(store, "vectors", ids, vectors, "xxh3_128")
        written = time.perf_counter() - t0
        store.read("vectors")  # warm: page cache locally, moto's in-memory objects on S3
        seconds = best(lambda: store.read("vectors"), repeat)
        _, _, made = requests_during(server, lambda: store.read("vectors"))
        table = store.read("vectors")
        assert table.num_rows == rows
        print(f"  {name:5s}: write {written:5.2f} s   full verified read {seconds:5.2f} s "
              f"({rows / seconds:,.0f} rows/s)" + (f"   requests per read {made}" if name == "s3" else ""))
        yield name, seconds


def texts(n: int) -> list[str]:
    """``n`` distinct texts: the corpus's sentences, then each again with a variant number, as needed."""
    base = english_sentences(min(n, 2900))
    return [base[k % len(base)] + (f" (variant {k // len(base)})" if k >= len(base) else "") for k in range(n)]


def bench_extract(server, tmp: Path, n: int, rounds: int):
    from mmfeat.beam.extract_job import extract

    manifest = write_manifest(tmp / f"texts{n}.jsonl", texts(n))
    spec = REPO / "features" / "text_minilm.yaml"
    print(f"extract: {n} English sentences, all-MiniLM-L6-v2, DirectRunner in one process, "
          f"16 buckets x 4 slots (about {n / 64:.0f} rows a unit)")
    # Warm-up, not counted: the first extraction in a process loads the model files and libraries cold.
    extract(spec, tmp / f"extract-warmup-{n}", [str(manifest)], progress_interval=3600)
    ratios = []
    for k in range(rounds):
        local_report = extract(spec, tmp / f"extract-local-{n}-{k}", [str(manifest)], progress_interval=3600)
        url = f"s3://{server.bucket()}/store"
        remote_report, _, made = requests_during(
            server, lambda: extract(spec, url, [str(manifest)], progress_interval=3600))
        for report in (local_report, remote_report):
            assert report["n_ok"] == n, report
        local_rate, remote_rate = (r["n_input"] / r["wall_seconds"] for r in (local_report, remote_report))
        ratios.append(remote_rate / local_rate)
        print(f"  round {k + 1}: local {local_rate:6.1f} rows/s ({local_report['wall_seconds']:.1f} s)   "
              f"s3 {remote_rate:6.1f} rows/s ({remote_report['wall_seconds']:.1f} s)   ratio s3/local "
              f"{ratios[-1]:.3f}   s3 requests {made} ({sum(made.values())} in all, "
              f"{local_report['n_commits']} commits)")
    return ratios


def give_server_its_own_core(server) -> str:
    """Pin the S3 server to the last CPU and this process (and the threads it starts) to the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return f"cores shared (only {len(cpus)} CPU)"
    for thread in os.listdir("/proc/self/task"):  # the threads running already (BLAS) and, by inheritance, later ones
        os.sched_setaffinity(int(thread), cpus[:-1])
    os.sched_setaffinity(server.proc.pid, cpus[-1:])
    return f"S3 server on CPU {cpus[-1]}, extraction on CPU {','.join(map(str, cpus[:-1]))}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--texts", type=int, nargs="+", default=[2900, 8700],
                   help="corpus sizes (a unit holds about 1/64 of the corpus)")
    p.add_argument("--skip-reads", action="store_true")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--share-cores", action="store_true",
                   help="run the S3 server on the extraction's cores (worst case) instead of a core of its own")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = S3Server(request_log=tmp / "requests.log")
        try:
            import torch

            placement = "cores shared with the S3 server" if args.share_cores else give_server_its_own_core(server)
            torch.set_num_threads(len(os.sched_getaffinity(0)))
            print(f"{placement}; torch threads: {torch.get_num_threads()}")
            os.environ.update(server.env())
            if not args.skip_reads:
                reads = dict(bench_reads(server, tmp, args.rows, args.repeat))
                print(f"  read time s3/local: {reads['s3'] / reads['local']:.2f}x")
            for n in args.texts:
                ratios = bench_extract(server, tmp, n, args.rounds)
                print(f"extract throughput s3/local, {n} texts: median {float(np.median(ratios)):.3f}, "
                      f"min {min(ratios):.3f} (target >= 0.9)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
