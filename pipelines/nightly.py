"""The scheduled form of ``pipelines/demo.py``: the same data, then one ``mmfeat run`` of a job file.

    python pipelines/nightly.py [--fresh] [--dry-run]

Generates the digits manifest, images and audio into ``out/nightly/`` (once, or again
with ``--fresh``), then runs ``pipelines/jobs/demo.yaml``: three extract steps, two
train steps and a predict step, in dependency order, under the job's lock. Run it twice:
the second run encodes nothing, loads no model and skips both trainings. The exit code is
``mmfeat run``'s (0 ok, 1 failed, 3 error rate exceeded, 4 another run holds the lock).
"""
import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "pipelines" / "jobs" / "demo.yaml"
DATA = REPO / "out" / "nightly"  # the job file's inputs, store and runs point here


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fresh", action="store_true", help="delete out/nightly/ (data, store, runs) first")
    ap.add_argument("--dry-run", action="store_true", help="print what the run would do, and do nothing")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "pipelines"))
    from demo import generate

    from mmfeat.cli import main as mmfeat

    if args.fresh and DATA.exists():
        shutil.rmtree(DATA)
    if not (DATA / "manifest.jsonl").exists():
        generate(DATA)
    return mmfeat(["run", str(JOB), *(["--dry-run"] if args.dry_run else [])])


if __name__ == "__main__":
    sys.exit(main())
