"""Manifest read speed: rows/s of ``ManifestSource`` over generated CSV and JSONL files, and the cost of
planning byte-range shards. Prints measurements; no targets.

    python benchmarks/manifest_read.py --rows 1000000 --shard-mb 16
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

from mmfeat.sources.manifest import ManifestSource


def write(directory: Path, rows: int) -> dict[str, Path]:
    texts = [f"sentence number {i} with a few words, some \"quoted\" ones" for i in range(rows)]
    jsonl, csv = directory / "m.jsonl", directory / "m.csv"
    with open(jsonl, "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"r{i}", "text": t}) + "\n")
    with open(csv, "w") as f:
        f.write("id,text\n")
        for i, t in enumerate(texts):
            f.write(f'r{i},"{t.replace(chr(34), chr(34) * 2)}"\n')
    return {"jsonl": jsonl, "csv": csv}


def measure(path: Path, shard_bytes: int) -> dict:
    source = ManifestSource(str(path), column="text", shard_bytes=shard_bytes)
    started = time.perf_counter()
    shards = source.list_shards()
    planned = time.perf_counter()
    n = sum(1 for shard in shards for _ in source.read_shard(shard))
    done = time.perf_counter()
    return {"file": path.name, "mb": round(path.stat().st_size / 2 ** 20, 1), "shards": len(shards), "rows": n,
            "plan_s": round(planned - started, 3), "read_s": round(done - planned, 2),
            "rows_per_s": round(n / (done - planned))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shard-mb", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = write(Path(tmp), args.rows)
        for path in files.values():
            print(json.dumps(measure(path, 2 ** 31)))
            print(json.dumps(measure(path, args.shard_mb * 2 ** 20)))


if __name__ == "__main__":
    main()
