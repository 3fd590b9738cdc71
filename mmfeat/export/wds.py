"""Export feature sets (joined by id) and label columns as WebDataset tar shards.

Each sample holds ``<key>.<feature>.npy`` per feature set (float32 vector),
``<key>.<feature>.chunks.npy`` for sets that keep per-window vectors, and
``<key>.json`` with the original id and the chosen label columns. Keys are the
ids made safe for tar grouping (no dots or slashes; a short hash is added when
that changed the id). Shards are written under a hidden directory and renamed
into place as each one closes; ``index.json`` (shards, counts, sha256) is
written last, so a reader that trusts the index never sees a partial shard.
"""
import hashlib
import io
import json
import re
import shutil
import uuid
from pathlib import Path

import numpy as np

from mmfeat.errors import MmfeatError
from mmfeat.hashing import sha256_file
from mmfeat.store.files import replace_json
from mmfeat.store.store import embedding_matrix

INDEX = "index.json"


def sample_key(id_: str) -> str:
    """A tar-safe key for ``id_``: unchanged if already safe, else sanitised plus an 8-hex digest."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", id_)
    if safe == id_ and id_:
        return id_
    return f"{safe[:80]}_{hashlib.blake2b(id_.encode(), digest_size=4).hexdigest()}"


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def _json_value(v):
    return v.item() if isinstance(v, np.generic) else v


def _remove_previous_export(out: Path) -> None:
    """``--overwrite`` replaces an earlier export, and nothing else: refuse if ``out`` holds other files."""
    if out.is_symlink() or not out.is_dir():
        raise MmfeatError(f"{out}: --out must be a directory (not a symlink or a file)")
    if not (out / "index.json").is_file():
        raise MmfeatError(f"{out}: not an mmfeat export (no index.json); --overwrite only replaces an earlier "
                          f"export. Choose an empty or new --out")
    index = json.loads((out / "index.json").read_text())
    ours = {"index.json", *(Path(s["name"] if isinstance(s, dict) else s).name for s in index.get("shards", []))}
    others = sorted(p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith(".tmp-"))
    if others:
        raise MmfeatError(f"{out}: holds files this export did not write ({', '.join(others[:5])}); --overwrite "
                          f"never deletes them. Move them away or choose another --out")
    shutil.rmtree(out)


def export_wds(store, names: list[str], out_dir, *, labels: str | None = None, columns=(), id_column: str = "id",
               how: str = "inner", maxcount: int = 10_000, maxsize: int = 1 << 30, prefix: str = "shard",
               overwrite: bool = False) -> dict:
    """Write the shards and ``index.json`` into ``out_dir``; return the index."""
    import webdataset as wds

    from mmfeat.tables import read_table

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise MmfeatError(f"{out}: directory is not empty; choose another --out or pass --overwrite")
        _remove_previous_export(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    if labels:
        table = read_table(labels, id_column=id_column, columns=list(columns))
        ids = table[id_column].to_pylist()
        values = {c: table[c].to_pylist() for c in columns}
        meta = {i: {c: values[c][k] for c in columns} for k, i in enumerate(ids)}
    tmp = out / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    shards, writer = [], {}

    def publish(fname):  # ShardWriter calls this as each shard closes, before its counters reset
        path = Path(fname)
        final = out / path.name
        path.rename(final)
        shards.append({"name": final.name, "samples": writer["sink"].count, "sha256": sha256_file(final),
                       "bytes": final.stat().st_size})

    n_samples, n_unlabelled = 0, 0
    try:
        with wds.ShardWriter(str(tmp / f"{prefix}-%06d.tar"), maxcount=maxcount, maxsize=maxsize,
                             post=publish, verbose=0) as sink:
            writer["sink"] = sink
            for piece in store.join_buckets(names, how=how, chunks=True):
                vectors = {n: piece[n] for n in piece.column_names if n != "id"}
                for row, id_ in enumerate(piece["id"].to_pylist()):
                    if labels and id_ not in meta:
                        n_unlabelled += 1
                        continue
                    sample = {"__key__": sample_key(id_),
                              "json": json.dumps({"id": id_, **meta.get(id_, {})}, default=_json_value).encode()}
                    for column, array in vectors.items():
                        cell = array[row]
                        if not cell.is_valid:
                            continue  # a missing modality (outer join): the member is absent
                        value = embedding_matrix(cell.values) if column.endswith(".chunks") else np.asarray(
                            cell.values.to_numpy(zero_copy_only=False))
                        sample[f"{column}.npy"] = _npy(value)
                    sink.write(sample)
                    n_samples += 1
    finally:
        for leftover in tmp.glob("*"):
            leftover.unlink()
        tmp.rmdir()
    if n_samples == 0:  # ShardWriter opens its first shard eagerly; an empty export has no shards
        for s in shards:
            (out / s["name"]).unlink()
        shards = []
    index = {"format": "webdataset", "feature_sets": list(names), "how": how, "label_columns": list(columns),
             "n_samples": n_samples, "n_skipped_unlabelled": n_unlabelled, "shards": shards,
             "members": [f"{n}.npy" for n in names] + ["json"]}
    replace_json(out / INDEX, index)
    return index
