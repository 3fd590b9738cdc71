"""Beam job entry point: the same as ``mmfeat extract``.

    python pipelines/extract.py --store DIR --input MANIFEST --feature features/NAME.yaml [beam options]

Use this file as the main module when submitting to a cluster runner
(Dataflow, Flink, Spark) together with ``--setup_file ./setup.py``.
"""
import sys

from mmfeat.cli import main

if __name__ == "__main__":
    sys.exit(main(["extract", *sys.argv[1:]]))
