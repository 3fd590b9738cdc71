"""Train a fusion model on feature sets from the store: ``python pipelines/train.py CONFIG.yaml``.

The same as ``mmfeat train``; see ``mmfeat train --help`` and the README's Training section.
"""
import sys

from mmfeat.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
