"""Training data served from the store bucket by bucket, for data larger than memory.

``StoreStream`` keeps only the small per-row arrays in memory (label, split,
presence mask: a few bytes a row). Vectors are read one bucket at a time, the
next bucket on a background thread while the model trains on the current one,
so memory is bounded by a bucket (the store's ``n_buckets`` sets its size) and
the model is not left waiting on Parquet reads.

It offers what training needs from a Dataset (``names``, ``y``, ``mask``,
``split``, ``rows(part)``, ``classes``, ``counts``, ``dims``) plus ``part``
(a batch source for ``fit``) and ``logits`` (streamed inference).
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from mmfeat.errors import MmfeatError
from mmfeat.train.columns import column_arrays, label_columns
from mmfeat.train.splits import SPLITS, assign_split, group_counts, group_values
from mmfeat.train.targets import encode_targets


class StoreStream:
    """Labelled rows of ``names`` in ``store``, numbered bucket by bucket in the store's join order."""

    def __init__(self, store, names, labels_cfg, task: str, complete_cases: bool = False):
        from mmfeat.tables import read_table

        self.store, self.names, self.task = store, list(names), task
        self.how = "inner" if complete_cases else "outer"
        labels = read_table(labels_cfg.path, id_column=labels_cfg.id_column, columns=label_columns(labels_cfg),
                            where="labels")
        labels = labels.filter(labels[labels_cfg.column].is_valid())
        label_ids = labels[labels_cfg.id_column].combine_chunks()
        y_all, self.classes = encode_targets(labels[labels_cfg.column].to_pylist(), task,
                                             f"{labels_cfg.path}: labels.column {labels_cfg.column!r}",
                                             label_ids.to_pylist())
        split_values = labels[labels_cfg.split_column].to_pylist() if labels_cfg.split_column else None
        groups_all = group_values(labels, labels_cfg)
        split_all = assign_split(np.array(label_ids.to_pylist(), dtype=object), split_values, labels_cfg, groups_all)
        # One pass over the id columns only: which labelled ids each bucket holds, and their presence.
        self.bucket_take, self.bucket_span, ys, masks, splits, groups, start = [], [], [], [], [], [], 0
        for bucket, ids in enumerate(store.join_buckets(self.names, how=self.how, ids_only=True)):
            label_row = pc.index_in(ids["id"], value_set=label_ids)
            keep = label_row.is_valid()
            label_row = label_row.filter(keep).to_numpy(zero_copy_only=False)
            self.bucket_take.append(np.flatnonzero(keep.to_numpy(zero_copy_only=False)))
            self.bucket_span.append((start, start + len(label_row)))
            start += len(label_row)
            ys.append(y_all[label_row]), splits.append(split_all[label_row])
            groups.append(groups_all[label_row] if groups_all is not None else label_row)
            masks.append(np.stack([ids[n].filter(keep).to_numpy(zero_copy_only=False) for n in self.names], 1)
                         .astype(np.float32) if len(label_row) else np.zeros((0, len(self.names)), np.float32))
        if not start:
            raise MmfeatError(f"{labels_cfg.path}: no labelled id has features in {', '.join(names)}")
        self.y, self.mask, self.split = np.concatenate(ys), np.concatenate(masks), np.concatenate(splits)
        self.groups = np.concatenate(groups) if groups_all is not None else None
        self.dims = {n: self._dim(n) for n in self.names}
        self.counts = {"labelled": labels.num_rows, "used": start, "no_features": labels.num_rows - start,
                       **{f"n_{s}": int((self.split == i).sum()) for i, s in enumerate(SPLITS)},
                       "present": {n: int(self.mask[:, m].sum()) for m, n in enumerate(self.names)},
                       "loader": "stream", **group_counts(self.split, self.groups)}

    def _dim(self, name) -> int:
        for b in range(self.store.n_buckets):
            if self.store.bucket_state(name, b).files("data"):
                return self.store.read_bucket(name, b, columns=["embedding"])["embedding"].type.list_size
        raise MmfeatError(f"feature set {name!r} has no rows")

    def rows(self, part: str) -> np.ndarray:
        return np.flatnonzero(self.split == SPLITS.index(part))

    def load(self, bucket: int, names) -> list:
        """The vectors of ``names`` for the bucket's labelled rows, in row order."""
        table = self.store.join_bucket(self.names, bucket, how=self.how)
        take = pa.array(self.bucket_take[bucket])
        return [column_arrays(table.take(take), n)[0] for n in names]

    def buckets(self, order, names):
        """``(bucket, xs)`` for buckets in ``order``, each read while the previous one is used."""
        order = [b for b in order if self.bucket_span[b][1] > self.bucket_span[b][0]]
        with ThreadPoolExecutor(1, thread_name_prefix="mmfeat-bucket") as pool, self.store.one_pass():
            pending = pool.submit(self.load, order[0], names) if order else None
            for k, bucket in enumerate(order):
                xs = pending.result()
                if k + 1 < len(order):
                    pending = pool.submit(self.load, order[k + 1], names)
                yield bucket, xs

    def part(self, rows, names) -> "StreamPart":
        return StreamPart(self, np.asarray(rows), list(names))

    def logits(self, model_fn, rows, masks, names) -> list:
        """``model_fn(xs, mask)`` (numpy in, numpy out) over ``rows`` (sorted global row numbers), once per
        mask in ``masks`` (each gives those rows' modality mask), in a single pass over the store."""
        rows = np.asarray(rows)
        out = [None] * len(masks)
        for bucket, xs in self.buckets(range(self.store.n_buckets), names):
            lo, hi = self.bucket_span[bucket]
            sel = np.flatnonzero((rows >= lo) & (rows < hi))
            if not len(sel):
                continue
            local = [x[rows[sel] - lo] for x in xs]
            for k, mask in enumerate(masks):
                z = model_fn(local, mask[sel])
                if out[k] is None:
                    out[k] = np.zeros((len(rows), z.shape[1]), np.float32)
                out[k][sel] = z
        return [o if o is not None else np.zeros((0, 1), np.float32) for o in out]


class StreamPart:
    """A batch source (``mmfeat.train.batches``) over some rows of a StoreStream."""

    def __init__(self, stream: StoreStream, rows: np.ndarray, names: list):
        self.stream, self.rows, self.names = stream, rows, names
        self.columns = [stream.names.index(n) for n in names]
        self.member = np.zeros(len(stream.y), bool)
        self.member[rows] = True

    def __len__(self):
        return len(self.rows)

    def _local(self, bucket):
        lo, hi = self.stream.bucket_span[bucket]
        return np.flatnonzero(self.member[lo:hi]), lo

    def input_stats(self):
        """Mean and std per feature over the part's rows that have each modality (one streamed pass)."""
        sums = [None] * len(self.names)
        for bucket, xs in self.stream.buckets(range(self.stream.store.n_buckets), self.names):
            local, lo = self._local(bucket)
            for m, x in enumerate(xs):
                present = self.stream.mask[lo + local, self.columns[m]] > 0
                v = x[local][present].astype(np.float64)
                s = (len(v), v.sum(0), (v ** 2).sum(0))
                sums[m] = s if sums[m] is None else tuple(a + b for a, b in zip(sums[m], s))
        stats = []
        for m, s in enumerate(sums):
            if s is None or not s[0]:
                d = self.stream.dims[self.names[m]]
                stats.append((torch.zeros(d), torch.ones(d)))
                continue
            mean = s[1] / s[0]
            std = np.sqrt(np.maximum(s[2] / s[0] - mean ** 2, 0))
            stats.append((torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32))))
        return stats

    def epoch(self, generator, batch_size: int):
        """Buckets in a shuffled order, rows shuffled within each; batches carry over bucket edges."""
        order = torch.randperm(self.stream.store.n_buckets, generator=generator).tolist()
        carry = None
        for bucket, xs in self.stream.buckets(order, self.names):
            local, lo = self._local(bucket)
            if not len(local):
                continue
            perm = local[torch.randperm(len(local), generator=generator).numpy()]
            chunk = ([torch.from_numpy(np.ascontiguousarray(x[perm])) for x in xs],
                     torch.from_numpy(self.stream.mask[lo + perm][:, self.columns]),
                     torch.from_numpy(self.stream.y[lo + perm]))
            if carry is not None:
                chunk = ([torch.cat([a, b]) for a, b in zip(carry[0], chunk[0])],
                         torch.cat([carry[1], chunk[1]]), torch.cat([carry[2], chunk[2]]))
            n_full = len(chunk[2]) // batch_size * batch_size
            for s in range(0, n_full, batch_size):
                yield [x[s:s + batch_size] for x in chunk[0]], chunk[1][s:s + batch_size], chunk[2][s:s + batch_size]
            carry = ([x[n_full:] for x in chunk[0]], chunk[1][n_full:], chunk[2][n_full:])
        if carry is not None and len(carry[2]):
            yield carry

    def loss(self, model, criterion) -> float:
        model.eval()
        total, n = 0.0, 0
        with torch.inference_mode():
            for bucket, xs in self.stream.buckets(range(self.stream.store.n_buckets), self.names):
                local, lo = self._local(bucket)
                if not len(local):
                    continue
                y = torch.from_numpy(self.stream.y[lo + local])
                out = model([torch.from_numpy(np.ascontiguousarray(x[local])) for x in xs],
                            torch.from_numpy(self.stream.mask[lo + local][:, self.columns]))
                total, n = total + float(criterion(out, y).item()) * len(y), n + len(y)
        return total / max(n, 1)
