"""Training throughput: ``mmfeat train`` reading feature sets from a real store vs a bare PyTorch loop.

    .venv/bin/python benchmarks/train_throughput.py [--n 100000] [--epochs 2]

Three feature sets of 384, 512 and 768 dims (synthetic, class-dependent) are
written into a store. Both sides train the same concat-fusion model (hidden 64,
AdamW, batch 512) for the same epochs on the same training rows. The bare loop
gets the tensors already in memory and does nothing else; mmfeat is timed end to
end: joining the sets from the store, the label table and split, training with
per-epoch validation, temperature scaling, subset evaluation, checkpoint, plots.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

DIMS = {"f384": 384, "f512": 512, "f768": 768}


def make_store(root: Path, n: int, seed: int = 0):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mmfeat.spec import FeatureSpec
    from mmfeat.store import FeatureStore
    from mmfeat.store.vectors import write_vectors

    rng = np.random.default_rng(seed)
    ids = [f"r{k}" for k in range(n)]
    y = rng.integers(0, 10, n)
    store = FeatureStore(root / "store", create=True)
    arrays = {}
    for name, dim in DIMS.items():
        centers = rng.normal(0, 1, (10, dim)).astype(np.float32)
        arrays[name] = centers[y] + rng.normal(0, 12, (n, dim)).astype(np.float32)
        spec = FeatureSpec.from_dict({"name": name, "modality": "derived", "input": {"column": "-"},
                                      "encoder": {"kind": "model-output", "run": "synthetic"}})
        write_vectors(store, spec, ids, arrays[name])
    pq.write_table(pa.table({"id": ids, "label": y}), root / "labels.parquet")
    return ids, y, arrays


def bare_loop(xs, y, epochs, batch=512, hidden=64, seed=0):
    from mmfeat.train.model import JointModel

    torch.manual_seed(seed)
    model = JointModel([x.shape[1] for x in xs], 10, fusion="concat", hidden=hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    xs = [torch.from_numpy(x) for x in xs]
    y = torch.from_numpy(y)
    mask = torch.ones(len(y), len(xs))
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y))
        for s in range(0, len(y), batch):
            idx = order[s:s + batch]
            loss = torch.nn.functional.cross_entropy(model([x[idx] for x in xs], mask[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64, help="branch/head width (64: the default run config)")
    ap.add_argument("--loader", choices=["memory", "stream"], default="memory",
                    help="stream: read the store bucket by bucket every epoch (data larger than memory)")
    args = ap.parse_args()
    from mmfeat.train.config import TrainConfig
    from mmfeat.train.data import SPLITS, assign_split
    from mmfeat.train.run import train

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        ids, y, arrays = make_store(root, args.n)
        print(f"wrote {args.n} rows x {sum(DIMS.values())} dims in 3 feature sets in {time.perf_counter() - t0:.1f} s")
        cfg = TrainConfig.from_dict({
            "store": str(root / "store"), "features": list(DIMS), "out": str(root / "run"),
            "labels": {"path": str(root / "labels.parquet"), "column": "label", "val": 0.1, "test": 0.1},
            "fusion": "concat", "epochs": args.epochs, "patience": 1000, "batch_size": 512, "hidden": args.hidden,
            "baselines": False, "loader": args.loader})
        split = assign_split(np.array(ids, dtype=object), None, cfg.labels)
        train_rows = np.flatnonzero(split == SPLITS.index("train"))
        t_bare = bare_loop([a[train_rows] for a in arrays.values()], y[train_rows], args.epochs, hidden=args.hidden)
        t0 = time.perf_counter()
        metrics = train(cfg, progress=False)
        t_mm = time.perf_counter() - t0
        seen = len(train_rows) * args.epochs
        assert metrics["counts"]["n_train"] == len(train_rows)
        print(f"bare PyTorch loop, tensors in memory: {seen / t_bare:8.0f} samples/s ({t_bare:.1f} s)")
        print(f"mmfeat train, from the store, end to end: {seen / t_mm:8.0f} samples/s ({t_mm:.1f} s); "
              f"test accuracy {metrics['test']['accuracy']:.3f}")
        timing = metrics["timing"]
        t_epochs = timing["train_epoch_seconds"]
        print(f"mmfeat training epochs alone ({args.loader} loader): {seen / t_epochs:8.0f} samples/s "
              f"({t_epochs:.1f} s); loading and joining the store: {timing['load_seconds']:.1f} s")
        print(f"ratio mmfeat / bare, training epochs: {t_bare / t_epochs:.3f} (target >= 0.9)")
        print(f"ratio mmfeat / bare, end to end (incl. store read, validation, subsets, checkpoint, plots): "
              f"{t_bare / t_mm:.3f}; hidden={args.hidden}, loader={args.loader}")


if __name__ == "__main__":
    main()
