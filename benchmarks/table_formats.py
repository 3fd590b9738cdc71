"""mmfeat's store against deltalake and Lance, measured on one machine in one run.

    /tmp/evalvenv/bin/python benchmarks/table_formats.py [--rows 200000] [--repeat 3] [--trials 6]

with the worktree on PYTHONPATH. It runs in a separate virtual environment,
because deltalake and pylance are what is being judged, not dependencies of
mmfeat: they must not enter the project's venv, setup.py or constraints.txt.
Make it with

    python3 -m venv /tmp/evalvenv
    /tmp/evalvenv/bin/pip install deltalake pylance pyarrow pandas numpy duckdb xxhash pyyaml fsspec

(mmfeat's store needs only pyarrow, numpy, xxhash, fsspec and pyyaml; pandas and
duckdb are the "plain readers" of step 6).

The same ``--rows`` x 384 float32 vectors with string ids, grouped into mmfeat's
16 buckets, go into three tables: an mmfeat feature set, a Delta table
(deltalake) and a Lance dataset (pylance, ``id`` declared its unenforced
primary key, as an optional Lance backend would). Each step is timed on local
disk, page cache warm where it says so:

1. write: 16 commits, one per bucket (mmfeat: a part and a log commit; Delta and
   Lance: an append each).
2. full read into an (N, 384) numpy matrix, best of 3; mmfeat verifying every
   part's checksum (and, for reference, without).
3. upsert of 1,000 existing ids with new vectors. mmfeat has no public row-level
   upsert outside extraction (``store.vectors.write_vectors`` replaces whole
   buckets), so this uses the primitives extraction commits with
   (``mmfeat.extract.unit_commit``): per bucket, one commit that adds a part with
   the new rows and replaces each part holding an old one by a copy without it
   (``store.rewrite.copy_without``); a lost commit race is planned again from the
   new log state. Delta: ``merge`` on id; Lance: ``merge_insert("id")``. Disk
   growth is counted over everything under the table's directory, before and
   after each format's vacuum with zero retention; then the read is timed again,
   and each format's compaction.
4. one byte flipped (xor 0xFF) at 30 %, 50 % and 70 % of a data file (inside the
   vector pages, far from the Parquet footer / Lance metadata), then a full
   read: does it raise, or return wrong vectors?
5. two processes writing at once, ``--trials`` times each: ``upsert`` (both
   upsert the same 2,000 ids, half of them new, into a 2,000-row table) and
   ``append`` (each appends 1,000 ids of its own). A writer retries an error up
   to 20 times, as an application would. Counted: ids lost, rows duplicated.
   Lance is run with and without a declared primary key.
6. plain Parquet readers after the upsert: ``pandas.read_parquet(DIR)`` and
   duckdb ``read_parquet('DIR/**/*.parquet')`` row counts against the true one
   (mmfeat's DIR is the set's ``data/``, as the README says; Delta's is the
   table root).
7. dependency weight: installed size of each library with the dependencies it
   adds beyond what mmfeat already requires (pyarrow, numpy, pandas, xxhash, ...).

Object-store commits are not run here (mmfeat's S3 path is tested against a
local S3 server in tests/ and benchmarks/object_store.py). What each offers:
mmfeat creates each log version with a conditional put (S3 ``If-None-Match: *``,
GCS ``ifGenerationMatch=0``, Azure ``If-None-Match: *``); delta-rs 1.x commits
to S3 with S3's conditional writes (the DynamoDB lock of 0.x is gone), and to
GCS and Azure natively; Lance commits its manifests with a conditional put on
S3, GCS and Azure, or through an external commit lock (``commit_lock``,
DynamoDB via ``s3+ddb://``).
"""
import argparse
import datetime
import glob
import importlib.metadata as md
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DIM = 384
BUCKETS = 16
UPSERT_IDS = 1000
RETRIES = 20
EVENT_TIME = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
PK = {"lance-schema:unenforced-primary-key": "true"}


def rows_table(ids, vectors) -> pa.Table:
    """The rows every format stores: mmfeat's data table (id, fixed-size-list embedding, content_key,
    event_timestamp), built by mmfeat's own ``data_table``."""
    from mmfeat.store.parts import data_table

    return data_table(list(ids), np.asarray(vectors, np.float32), [f"ck:{i}" for i in ids], event_time=EVENT_TIME)


def by_bucket(ids) -> dict[int, np.ndarray]:
    from mmfeat.buckets import bucket_of

    buckets = np.array([bucket_of(i, BUCKETS) for i in ids])
    return {b: np.flatnonzero(buckets == b) for b in range(BUCKETS) if (buckets == b).any()}


def matrix(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(ids, (n, 384) float32) from a table's ``id`` and ``embedding`` (list or fixed-size list)."""
    emb = table["embedding"].combine_chunks()
    flat = emb.flatten() if pa.types.is_fixed_size_list(emb.type) else emb.values[emb.offsets[0].as_py():]
    return table["id"].to_numpy(), flat.to_numpy(zero_copy_only=False)[:len(emb) * DIM].reshape(-1, DIM)


def tree_bytes(path: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# -- the three formats, behind one small interface ------------------------------------------------

class Mmfeat:
    label = "mmfeat"
    name = "vectors"

    def __init__(self, path: Path):
        from mmfeat import FeatureStore

        self.path = Path(path)
        self.store = FeatureStore(self.path, create=True, n_buckets=BUCKETS)
        self.set_dir = self.store.set_dir(self.name)

    def create(self):
        from mmfeat.spec import FeatureSpec
        from mmfeat.store import feature_set

        spec = FeatureSpec.from_dict({"name": self.name, "modality": "image", "input": {"column": "image"},
                                      "encoder": {"kind": "pixels", "size": 4}})
        feature_set.ensure(self.set_dir, spec, spec.fingerprint({}), {})
        return self

    def _commit(self, bucket: int, table: pa.Table, replace: set | None, errors: dict) -> None:
        """One commit in ``bucket``: add ``table`` as a part, and drop ``replace`` ids from the parts holding them."""
        from mmfeat.errors import CommitConflictError
        from mmfeat.store.bucket_log import BucketLog
        from mmfeat.store.layout import bucket_dir
        from mmfeat.store.parts import discard, write_part
        from mmfeat.store.rewrite import copy_without, holds_any

        log = BucketLog(self.set_dir, bucket)
        for attempt in range(1, RETRIES + 1):
            state = log.state()
            add, remove = [], []
            try:
                for entry in state.files("data") if replace else []:
                    if holds_any(self.set_dir, entry, replace):
                        copy, _ = copy_without(self.set_dir, bucket, entry, replace, f"part-{uuid.uuid4().hex}.parquet")
                        add += [copy] if copy else []
                        remove.append(entry["path"])
                final = bucket_dir(self.set_dir, "data", bucket) / f"part-{uuid.uuid4().hex}.parquet"
                add.append(write_part(table, final, "data", self.set_dir))
                log.commit(state, add=add, remove=remove, info={})
                return
            except CommitConflictError as exc:
                discard(self.set_dir, add)
                note(errors, exc)
                time.sleep(random.uniform(0.005, 0.02) * attempt)
        raise RuntimeError(f"bucket {bucket}: no commit after {RETRIES} attempts")

    def append(self, table: pa.Table, errors=None, bucket: int | None = None) -> None:
        """Append ``table`` (all of ``bucket``'s rows if given, else rows of any buckets) in a commit per bucket."""
        if bucket is not None:
            self._commit(bucket, table, None, {} if errors is None else errors)
            return
        ids = table["id"].to_pylist()
        for b, rows in by_bucket(ids).items():
            self._commit(b, table.take(rows), None, {} if errors is None else errors)

    def upsert(self, table: pa.Table, errors=None) -> None:
        ids = table["id"].to_pylist()
        for bucket, rows in by_bucket(ids).items():
            self._commit(bucket, table.take(rows), {ids[k] for k in rows}, {} if errors is None else errors)

    def read(self, verify=True):
        return matrix(self.store.read(self.name, columns=["id", "embedding"], verify=verify))

    def data_files(self) -> list[Path]:
        states = [self.store.bucket_state(self.name, b) for b in range(BUCKETS)]
        return sorted(self.set_dir / e["path"] for state in states for e in state.files("data"))

    def plain_dir(self) -> Path:
        return self.set_dir / "data"

    def live_files(self) -> int:
        return len(self.data_files())

    def vacuum(self):
        self.store.vacuum(self.name, min_age_s=0, older_than_s=0)

    def compact(self):
        self.store.compact(self.name)


class Delta:
    label = "deltalake"

    def __init__(self, path: Path):
        self.path = Path(path)

    def create(self):
        return self

    def table(self):
        from deltalake import DeltaTable

        return DeltaTable(str(self.path))

    def append(self, table, errors=None, bucket=None):
        from deltalake import write_deltalake

        retried(lambda: write_deltalake(str(self.path), table, mode="append"), errors)

    def upsert(self, table, errors=None):
        retried(lambda: self.table().merge(table, predicate="t.id = s.id", source_alias="s", target_alias="t")
                .when_matched_update_all().when_not_matched_insert_all().execute(), errors)

    def read(self, verify=True):
        return matrix(self.table().to_pyarrow_table(columns=["id", "embedding"]))

    def data_files(self):
        return sorted(Path(u.removeprefix("file://")) for u in self.table().file_uris())

    def plain_dir(self):
        return self.path

    def live_files(self):
        return len(self.table().file_uris())

    def vacuum(self):
        self.table().vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)

    def compact(self):
        self.table().optimize.compact()


class Lance:
    def __init__(self, path: Path, primary_key: bool = True):
        self.path, self.primary_key = Path(path), primary_key
        self.label = "lance" if primary_key else "lance, no primary key"

    def create(self):
        return self

    def _schema(self, table):
        fields = [f.with_metadata(PK).with_nullable(False) if f.name == "id" and self.primary_key else f
                  for f in table.schema]
        return pa.Table.from_arrays(table.columns, schema=pa.schema(fields))

    def append(self, table, errors=None, bucket=None):
        import lance

        mode = "append" if (self.path / "_versions").exists() else "create"
        retried(lambda: lance.write_dataset(self._schema(table), str(self.path), mode=mode), errors)

    def upsert(self, table, errors=None):
        import lance

        retried(lambda: lance.dataset(str(self.path)).merge_insert("id").when_matched_update_all()
                .when_not_matched_insert_all().execute(self._schema(table)), errors)

    def read(self, verify=True):
        import lance

        return matrix(lance.dataset(str(self.path)).to_table(columns=["id", "embedding"]))

    def data_files(self):
        return sorted(Path(p) for p in glob.glob(str(self.path / "data" / "*.lance")))

    def plain_dir(self):
        return None

    def live_files(self):
        import lance

        return len(lance.dataset(str(self.path)).get_fragments())

    def vacuum(self):
        import lance

        lance.dataset(str(self.path)).cleanup_old_versions(older_than=datetime.timedelta(0))

    def compact(self):
        import lance

        lance.dataset(str(self.path)).optimize.compact_files()


FORMATS = {"mmfeat": Mmfeat, "deltalake": Delta, "lance": Lance,
           "lance-nopk": lambda path: Lance(path, primary_key=False)}


def note(errors: dict, exc: BaseException) -> None:
    key = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}" if str(exc) else type(exc).__name__
    errors[key] = errors.get(key, 0) + 1


def retried(fn, errors):
    """Call ``fn``, retrying any error up to RETRIES times (what an application does on a commit conflict)."""
    for attempt in range(1, RETRIES + 1):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - every error is recorded, and re-raised after the last try
            if errors is None or attempt == RETRIES:
                raise
            note(errors, exc)
            time.sleep(random.uniform(0.005, 0.02) * attempt)


# -- steps -----------------------------------------------------------------------------------------

def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def same_rows(got, ids_sorted, vecs_sorted) -> int:
    """How many rows of ``got`` (ids, matrix) differ from the expected ones (or -1 if the ids differ)."""
    ids, mat = got
    order = np.argsort(ids)
    if len(ids) != len(ids_sorted) or not np.array_equal(ids[order], ids_sorted):
        return -1
    return int((mat[order] != vecs_sorted).any(axis=1).sum())


def flip_trials(fmt, ids_sorted, vecs_sorted) -> list[str]:
    outcomes = []
    files = fmt.data_files()
    for k, where in enumerate((0.3, 0.5, 0.7)):
        path = files[(k * 5) % len(files)]
        offset = int(path.stat().st_size * where)
        with open(path, "r+b") as f:
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0xFF]))
        try:
            wrong = same_rows(fmt.read(verify=True), ids_sorted, vecs_sorted)
            outcomes.append("unchanged" if wrong == 0 else "SILENT (ids differ)" if wrong < 0
                            else f"SILENT ({wrong} row wrong)")
        except Exception as exc:  # noqa: BLE001 - which error a format raises is the measurement
            outcomes.append(f"raised {type(exc).__name__}")
        finally:
            with open(path, "r+b") as f:
                f.seek(offset)
                f.write(byte)
    return outcomes


def plain_counts(directory: Path | None) -> tuple:
    if directory is None:
        return None, None
    import duckdb
    import pandas as pd

    n_pandas = len(pd.read_parquet(directory, columns=["id"]))
    n_duck = duckdb.sql(f"select count(*) from read_parquet('{directory}/**/*.parquet')").fetchall()[0][0]
    return n_pandas, n_duck


def bench_format(fmt, ids, vectors, upsert_rows, new_vectors, groups, repeat: int) -> dict:
    r = {}
    t0 = time.perf_counter()
    for bucket, table in groups:
        fmt.append(table, bucket=bucket)
    r["write"] = time.perf_counter() - t0
    r["bytes"] = tree_bytes(fmt.path)
    fmt.read()  # warm the page cache
    r["read"], got = best(lambda: fmt.read(verify=True), repeat)
    assert got[1].shape == (len(ids), DIM), got[1].shape
    if isinstance(fmt, Mmfeat):
        r["read_unverified"], _ = best(lambda: fmt.read(verify=False), repeat)
    order = np.argsort(ids)
    ids_sorted, vecs_sorted = ids[order], vectors[order]
    r["flip"] = flip_trials(fmt, ids_sorted, vecs_sorted)

    source = rows_table(ids[upsert_rows], new_vectors)
    before = tree_bytes(fmt.path)
    t0 = time.perf_counter()
    fmt.upsert(source)
    r["upsert"] = time.perf_counter() - t0
    r["upsert_growth"] = tree_bytes(fmt.path) - before
    expected = vecs_sorted.copy()
    expected[np.searchsorted(ids_sorted, ids[upsert_rows])] = new_vectors
    r["upsert_wrong"] = same_rows(fmt.read(), ids_sorted, expected)
    fmt.read()
    r["read_after_upsert"], _ = best(lambda: fmt.read(verify=True), repeat)
    r["plain"] = plain_counts(fmt.plain_dir())
    r["files_before_compact"] = fmt.live_files()
    t0 = time.perf_counter()
    fmt.compact()
    r["compact"] = time.perf_counter() - t0
    r["files_after_compact"] = fmt.live_files()
    r["compact_wrong"] = same_rows(fmt.read(), ids_sorted, expected)
    fmt.vacuum()
    r["after_vacuum"] = tree_bytes(fmt.path) - before
    r["plain_after_vacuum"] = plain_counts(fmt.plain_dir())
    return r


# -- two writers at once ---------------------------------------------------------------------------

def worker_rows(mode: str, writer: int) -> pa.Table:
    rng = np.random.default_rng(writer + 1)
    ids = [f"b{k}" for k in range(1000, 3000)] if mode == "upsert" else [f"w{writer}-{k}" for k in range(1000)]
    return rows_table(np.array(ids, dtype=object), rng.standard_normal((len(ids), DIM), dtype=np.float32))


def worker(kind: str, mode: str, path: str, writer: int, start_at: float) -> None:
    """One concurrent writer (a child process): wait for ``start_at``, write, print what happened as JSON."""
    fmt = FORMATS[kind](Path(path)) if kind != "mmfeat" else _open_mmfeat(Path(path))
    table = worker_rows(mode, writer)
    time.sleep(max(0.0, start_at - time.time()))
    errors, t0 = {}, time.time()
    try:
        (fmt.upsert if mode == "upsert" else fmt.append)(table, errors)
        failed = None
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        failed = f"{type(exc).__name__}: {exc}"[:200]
    print(json.dumps({"t0": t0, "t1": time.time(), "late": t0 - start_at, "errors": errors, "failed": failed}))


def _open_mmfeat(path: Path) -> Mmfeat:
    fmt = Mmfeat.__new__(Mmfeat)
    from mmfeat import FeatureStore

    fmt.path, fmt.store = path, FeatureStore(path)
    fmt.set_dir = fmt.store.set_dir(Mmfeat.name)
    return fmt


def concurrency(kind: str, mode: str, tmp: Path, trials: int) -> dict:
    out = {"lost": 0, "dup": 0, "overlapped": 0, "errors": {}, "failed": [], "trials": trials}
    base_ids = np.array([f"b{k}" for k in range(2000)], dtype=object)
    base = rows_table(base_ids, np.random.default_rng(0).standard_normal((2000, DIM), dtype=np.float32))
    expected = set(base_ids) | ({f"b{k}" for k in range(2000, 3000)} if mode == "upsert"
                                else {f"w{w}-{k}" for w in (0, 1) for k in range(1000)})
    for trial in range(trials):
        path = tmp / f"conc-{kind}-{mode}-{trial}"
        fmt = FORMATS[kind](path).create()
        fmt.append(base)
        start_at = time.time() + 4.0
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", kind, mode, str(path), str(w), repr(start_at)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in (0, 1)]
        reports = []
        for p in procs:
            stdout, stderr = p.communicate(timeout=600)
            if p.returncode:
                raise SystemExit(f"worker failed ({p.returncode}):\n{stderr[-3000:]}")
            reports.append(json.loads(stdout.strip().splitlines()[-1]))
        if reports[0]["t0"] < reports[1]["t1"] and reports[1]["t0"] < reports[0]["t1"]:
            out["overlapped"] += 1
        for rep in reports:
            for key, n in rep["errors"].items():
                out["errors"][key] = out["errors"].get(key, 0) + n
            if rep["failed"]:
                out["failed"].append(rep["failed"])
        got_ids = fmt.read()[0]
        out["lost"] += len(expected - set(got_ids))
        out["dup"] += len(got_ids) - len(set(got_ids))
        shutil.rmtree(path)
    return out


# -- dependency weight -----------------------------------------------------------------------------

def _closure(names) -> set[str]:
    seen, todo = set(), [n for n in names]
    while todo:
        name = re.split(r"[ ;<>=!~\[(]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [r for r in (dist.requires or []) if "extra ==" not in r]
    return seen


def dist_bytes(name: str) -> int:
    total = 0
    for f in md.distribution(name).files or []:
        p = f.locate()
        if os.path.isfile(p):
            total += os.path.getsize(p)
    return total


def weights() -> dict:
    """Installed bytes each format adds to an environment that already has what mmfeat requires (setup.py:
    pyarrow, numpy, pandas, xxhash, fsspec, PyYAML; its other requirements are not installed here)."""
    base = _closure(["pyarrow", "numpy", "pandas", "xxhash", "fsspec", "pyyaml"])
    store_code = sum(p.stat().st_size for p in (REPO / "mmfeat" / "store").glob("*.py"))
    out = {"mmfeat": ([f"none (mmfeat/store/*.py is {store_code / 1024:.0f} kB of Python)"], 0)}
    for label, top in (("deltalake", "deltalake"), ("lance", "pylance")):
        extra = sorted(_closure([top]) - base)
        out[label] = (extra, sum(dist_bytes(n) for n in extra))
    return out


# -- the report ------------------------------------------------------------------------------------

def mb(n):
    return f"{n / 2**20:+.1f} MB" if n else "+0 MB"


def plain(counts, true):
    if counts[0] is None:
        return "n/a: not Parquet (needs pylance)"
    return "exact" if counts == (true, true) else f"pandas {counts[0]:,}, duckdb {counts[1]:,} (true {true:,})"


def conc_cell(c: dict) -> str:
    errs = sum(c["errors"].values())
    text = f"lost {c['lost']}, dup {c['dup']} in {c['trials']} ({c['overlapped']} overlapped)"
    text += f"; {errs} errors retried" if errs else "; no errors"
    return text + (f"; {len(c['failed'])} writers gave up" if c["failed"] else "")


def print_table(n: int, res: dict, conc: dict, weight: dict, repeat: int) -> None:
    labels = list(res)
    rows = [
        ("write, 16 commits", lambda k, r: f"{r['write']:.2f} s"),
        ("size on disk", lambda k, r: f"{r['bytes'] / 2**20:.0f} MB"),
        (f"full read -> numpy (best of {repeat})",
         lambda k, r: f"{r['read']:.2f} s" + (f" ({r['read_unverified']:.2f} s unverified)"
                                               if "read_unverified" in r else "")),
        (f"upsert {UPSERT_IDS:,} ids", lambda k, r: f"{r['upsert']:.3f} s"),
        ("  disk growth", lambda k, r: mb(r["upsert_growth"])),
        ("  result correct", lambda k, r: "yes" if r["upsert_wrong"] == 0 else f"NO ({r['upsert_wrong']})"),
        ("  full read after it", lambda k, r: f"{r['read_after_upsert']:.2f} s"),
        ("  compaction", lambda k, r: f"{r['compact']:.2f} s, {r['files_before_compact']} -> "
         f"{r['files_after_compact']} files" + ("" if r["compact_wrong"] == 0 else " WRONG")),
        ("  growth after vacuum(0)", lambda k, r: mb(r["after_vacuum"])),
        ("one byte flipped (3 trials)", lambda k, r: ", ".join(r["flip"])),
        ("plain readers after upsert", lambda k, r: plain(r["plain"], n)),
        ("  ... after vacuum(0)", lambda k, r: plain(r["plain_after_vacuum"], n)),
        ("2 writers: upsert same ids", lambda k, r: conc_cell(conc[(k, "upsert")])),
        ("2 writers: append own ids", lambda k, r: conc_cell(conc[(k, "append")])),
        ("extra weight (installed)", lambda k, r: f"{weight[k][1] / 2**20:.0f} MB"),
    ]
    cells = [[name] + [fn(k, res[k]) for k in labels] for name, fn in rows]
    if ("lance-nopk", "upsert") in conc:
        cells.insert(13, ["  lance without primary key"] + ["", "",
                     "upsert: " + conc_cell(conc[("lance-nopk", "upsert")])])
    widths = [max(len(str(c[i])) for c in cells + [[""] + labels]) for i in range(len(labels) + 1)]
    line = lambda c: "| " + " | ".join(str(x).ljust(w) for x, w in zip(c, widths)) + " |"  # noqa: E731
    print(line([""] + labels))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print(line(c))
    print()
    for label, (deps, size) in weight.items():
        print(f"extra weight {label}: {size / 2**20:.1f} MB: {', '.join(deps)}")
    for (kind, mode), c in conc.items():
        for key, count in sorted(c["errors"].items()):
            print(f"2 writers {mode:6s} {kind}: {count} x {key}")
        for failed in c["failed"]:
            print(f"2 writers {mode:6s} {kind}: gave up: {failed}")


def versions() -> str:
    names = ("deltalake", "pylance", "pyarrow", "numpy", "pandas", "duckdb", "xxhash")
    return ", ".join(f"{n} {md.version(n)}" for n in names)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=3, help="reads timed, the best one reported")
    p.add_argument("--trials", type=int, default=6, help="concurrent-writer trials per format and mode")
    p.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        kind, mode, path, writer, start_at = args.worker
        worker(kind, mode, path, int(writer), float(start_at))
        return

    print(f"{args.rows:,} rows x {DIM} float32, string ids, {BUCKETS} buckets; {versions()}; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    rng = np.random.default_rng(0)
    ids = np.array([f"id{k:07d}" for k in range(args.rows)], dtype=object)
    vectors = rng.standard_normal((args.rows, DIM), dtype=np.float32)
    upsert_rows = np.sort(rng.choice(args.rows, UPSERT_IDS, replace=False))
    new_vectors = rng.standard_normal((UPSERT_IDS, DIM), dtype=np.float32)
    groups = [(b, rows_table(ids[rows], vectors[rows])) for b, rows in by_bucket(list(ids)).items()]
    res, conc = {}, {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        for kind in ("mmfeat", "deltalake", "lance"):
            fmt = FORMATS[kind](tmp / kind).create()
            t0 = time.perf_counter()
            res[fmt.label] = bench_format(fmt, ids, vectors, upsert_rows, new_vectors, groups, args.repeat)
            print(f"  {fmt.label}: steps 1-4, 6 done in {time.perf_counter() - t0:.0f} s", flush=True)
            shutil.rmtree(tmp / kind)
        for kind in ("mmfeat", "deltalake", "lance", "lance-nopk"):
            for mode in ("upsert", "append") if kind != "lance-nopk" else ("upsert",):
                conc[(kind, mode)] = concurrency(kind, mode, tmp, args.trials)
            print(f"  {kind}: two-writer trials done", flush=True)
    print()
    print_table(args.rows, res, conc, weights(), args.repeat)


if __name__ == "__main__":
    main()
