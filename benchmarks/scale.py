"""Scale checks for bounded work units, measured in one run and printed as figures and ratios.

    .venv/bin/python benchmarks/scale.py [--images 20000] [--rows 20000] [--skip wds,dask,rerun]

1. ``wds``: a WebDataset input of generated JPEGs (>= 1 GB of member bytes by
   default) extracted with the weight-free ``pixels`` encoder in a child process;
   prints its peak RSS (the target is < 1.5 GB: member bytes never cross the
   shuffle, a unit reads them back from the tar a chunk at a time).
2. ``dask``: the same text corpus (a tiny BERT) on the DirectRunner in one
   process and on Beam's DaskRunner against a local cluster of 2 worker
   processes; prints rows/s for both and how many rows each worker encoded.
3. ``rerun``: all-MiniLM-L6-v2 on real English sentences plus over-long (bad)
   rows; prints the first run's and an unchanged rerun's wall time and their
   ratio (target <= 5 %: the rerun skips stored rows and unchanged failures and
   loads no model).
"""
import argparse
import io
import json
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from child import peak_rss_mib  # noqa: E402


def write_image_shards(directory: Path, n: int, per_shard: int = 1000) -> tuple[str, int]:
    """``n`` distinct noisy 320x320 JPEGs (~55 KB each) in uncompressed tar shards; (brace pattern, bytes)."""
    import numpy as np
    from PIL import Image

    from media_corpus import photo_like

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = [photo_like(rng, 320, 320) for _ in range(16)]
    total, n_shards = 0, (n + per_shard - 1) // per_shard
    for s in range(n_shards):
        with tarfile.open(directory / f"img-{s:04d}.tar", "w") as tar:
            for k in range(s * per_shard, min(n, (s + 1) * per_shard)):
                noisy = np.clip(base[k % 16].astype(np.int16) + rng.integers(-40, 41, base[0].shape), 0, 255)
                buf = io.BytesIO()
                Image.fromarray(noisy.astype("uint8")).save(buf, format="JPEG", quality=95)
                info = tarfile.TarInfo(f"sample{k:06d}.jpg")
                info.size = buf.tell()
                total += info.size
                buf.seek(0)
                tar.addfile(info, buf)
    return str(directory / f"img-{{0000..{n_shards - 1:04d}}}.tar"), total


def bench_wds(tmp: Path, n: int) -> dict:
    pattern, n_bytes = write_image_shards(tmp / "shards", n)
    spec = tmp / "pixels.yaml"
    spec.write_text(json.dumps({"name": "px", "modality": "image", "input": {"column": "jpg"},
                                "encoder": {"kind": "pixels", "size": 16}}))
    cmd = [sys.executable, "-m", "mmfeat.cli", "extract", "--store", str(tmp / "wds-store"), "--input", pattern,
           "--feature", str(spec)]
    rss, seconds = peak_rss_mib(cmd)
    return {"images": n, "member_bytes_gb": round(n_bytes / 1e9, 3), "peak_rss_mib": round(rss, 1),
            "seconds": round(seconds, 1), "images_per_s": round(n / seconds, 1)}


def tiny_bert(target: Path) -> Path:
    from tests.conftest import make_tiny_bert

    return make_tiny_bert(target)


def text_spec(path: Path, model: Path) -> Path:
    path.write_text(json.dumps({"name": "tiny", "modality": "text", "input": {"column": "text"},
                                "encoder": {"kind": "hf-text", "model": str(model), "max_length": 64}}))
    return path


def bench_dask(tmp: Path, n: int) -> dict:
    from distributed import LocalCluster

    from mmfeat.beam.extract_job import extract
    from tests.conftest import sentences, write_jsonl

    spec = text_spec(tmp / "tiny.yaml", tiny_bert(tmp / "bert"))
    per = n // 8
    for k in range(8):
        write_jsonl(tmp / f"corpus{k}.jsonl", sentences(per, offset=k * per))
    inputs = str(tmp / "corpus*.jsonl")
    out = {}
    t0 = time.perf_counter()
    direct = extract(spec, tmp / "direct-store", inputs)
    out["direct_rows_per_s"] = round(direct["n_ok"] / (time.perf_counter() - t0), 1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        t0 = time.perf_counter()
        dask = extract(spec, tmp / "dask-store", inputs,
                       beam_args=["--runner=DaskRunner", f"--dask_client_address={cluster.scheduler_address}"])
        out["dask_rows_per_s"] = round(dask["n_ok"] / (time.perf_counter() - t0), 1)
    out.update(rows=direct["n_ok"], dask_rows=dask["n_ok"], dask_encoded_by_worker=dask["encoded_by_worker"],
               ratio_dask_to_direct=round(out["dask_rows_per_s"] / out["direct_rows_per_s"], 3))
    return out


def bench_rerun(tmp: Path, n: int) -> dict:
    from corpus import english_sentences

    from mmfeat.beam.extract_job import extract

    rows = [{"id": f"t{k}", "text": t} for k, t in enumerate(english_sentences(n))]
    rows += [{"id": f"long{k}", "text": "overflow " * 400} for k in range(5)]  # over max_length 256
    manifest = tmp / "rerun.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = REPO / "features" / "text_minilm.yaml"
    t0 = time.perf_counter()
    first = extract(spec, tmp / "rerun-store", str(manifest))
    t1 = time.perf_counter()
    again = extract(spec, tmp / "rerun-store", str(manifest))
    t2 = time.perf_counter()
    return {"rows": len(rows), "bad_rows": first["n_error"], "first_s": round(t1 - t0, 2),
            "rerun_s": round(t2 - t1, 2), "rerun_ratio": round((t2 - t1) / (t1 - t0), 4),
            "rerun_encoded": again["n_encoded"], "rerun_model_loaded": "load" in again["unit_seconds"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rerun-rows", type=int, default=2_000)
    parser.add_argument("--skip", default="", help="comma-separated: wds, dask, rerun")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "wds" not in skip:
            results["wds"] = bench_wds(tmp, args.images)
            print("wds:", json.dumps(results["wds"]), flush=True)
        if "dask" not in skip:
            results["dask"] = bench_dask(tmp, args.rows)
            print("dask:", json.dumps(results["dask"]), flush=True)
        if "rerun" not in skip:
            results["rerun"] = bench_rerun(tmp, args.rerun_rows)
            print("rerun:", json.dumps(results["rerun"]), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
