"""The text demo behind ``make demo``: extract a small corpus, rerun it, add to it, read it back.

    python pipelines/demo_text.py --out demo_out

Everything is offline: the corpus is Python's own documentation text plus a few
deliberately bad rows, the model is the bundled all-MiniLM-L6-v2.
"""
import argparse
import json
import re
import shutil
from pathlib import Path

from mmfeat.cli import main as mmfeat

FEATURE = Path(__file__).resolve().parents[1] / "features" / "text_minilm.yaml"


def corpus(n: int) -> list[str]:
    """``n`` distinct English sentences from pydoc's topic pages."""
    from pydoc_data.topics import topics

    seen = {}
    for raw in re.split(r"(?<=[.!?])\s+", " ".join(topics.values())):
        s = re.sub(r"\s+", " ", raw).strip()
        if 20 <= len(s) <= 400 and s[0].isupper():
            seen.setdefault(s, None)
    return list(seen)[:n]


def write(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def step(title: str, argv: list[str]) -> None:
    print(f"\n=== {title}\n$ mmfeat {' '.join(argv)}", flush=True)
    code = mmfeat(argv)
    if code not in (0, 3):
        raise SystemExit(code)


def run(out: Path) -> None:
    """Run the demo into ``out`` (recreated)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    texts = corpus(600)
    bad = [{"id": "empty", "text": ""}, {"id": "number", "text": 7}, "{this line is not JSON",
           {"id": "d0", "text": texts[0]}, {"id": "d1", "text": texts[0]}]  # d0, d1: same content, encoded once
    first = write(out / "part1.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(texts[:500])] + bad)
    second = write(out / "part2.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(texts[500:], 500)])
    store = str(out / "store")
    base = ["--store", store, "--feature", str(FEATURE)]
    step("1. extract 505 rows (5 of them bad)", ["extract", "--input", str(first), *base])
    step("2. rerun the same manifest: nothing is recomputed", ["extract", "--input", str(first), *base])
    step("3. add a second manifest: only its 100 new rows are encoded",
         ["extract", "--input", str(out / "part*.jsonl"), *base])
    step("4. what the store holds", ["ls", "--store", store])
    step("5. export to Parquet", ["read", "text_minilm", "--store", store, "--out", str(out / "text_minilm.parquet")])
    import duckdb
    import pandas as pd

    print("\n=== 6. the files open without mmfeat")
    frame = pd.read_parquet(out / "store" / "text_minilm" / "data")
    print(f"pandas: {len(frame)} rows, embedding dim {len(frame['embedding'].iloc[0])}")
    errors = duckdb.sql(f"select id, stage, reason from '{out}/store/text_minilm/errors/*/*.parquet' order by id")
    print("duckdb errors table:")
    print(errors)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_out", help="directory for the manifests and the store")
    run(Path(parser.parse_args().out))
