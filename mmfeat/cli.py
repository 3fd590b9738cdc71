"""The ``mmfeat`` command line: extract, ls, show, read, similar, export-wds, verify, repair, compact, vacuum,
train, evaluate, predict, run.

Exit codes:
  0  success
  1  the job failed (bad spec, unreadable input, store error, …); the message says why
  2  bad command-line usage
  3  extraction finished, but its error rate exceeded --max-error-rate
  4  (run) another run of the same job holds its lock
"""
import argparse
import json
import logging
import sys

from mmfeat.errors import MmfeatError, UsageError
from mmfeat.plugins import load_plugins

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ERROR_RATE, EXIT_LOCKED = 0, 1, 2, 3, 4

EXTRACT_EPILOG = """\
Any other option is passed to Apache Beam unchanged, e.g.
  --runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing
  --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp --setup_file=./setup.py

Rerunning is safe and cheap: ids already stored with the same content are skipped,
identical texts are encoded once, and a killed run resumes where its committed buckets end.
Exit codes: 0 ok, 1 job failed, 2 usage, 3 error rate above --max-error-rate.
"""

RUN_EPILOG = """\
Steps run in dependency order: extract, then the train steps reading those sets, then their
predict steps. A failed step blocks only the steps that depend on it. A rerun of an unchanged
job loads no model: extraction skips stored rows, and a train or predict step is skipped when
its config, labels and input sets (their commit-log heads) are unchanged since its last success
(--force runs them anyway).

Files: STORE/_jobs/JOB/runs/RUN_ID.json  the job report (per step: status, counts, errors,
       seconds, exit status), written at start (running) and finished at the end
       STORE/_jobs/JOB/lock.json          held while a run works; STORE/_jobs/JOB/state.json

Exit codes: 0 ok (every step ok or skipped), 1 a step failed (or the job file is bad),
2 usage, 3 no step failed but a step's error rate was exceeded (its max_error_rate, or every
row failed), 4 another run of this job holds the lock (the message names host, pid and start).
A lock whose process is gone (same host) or whose heartbeat is older than --stale-minutes
(another host) is taken over.
"""

PLUGIN_HELP = ("import MODULE first: a plugin registering encoders, sources or fusions (repeatable; installed "
               "packages with mmfeat.encoders/sources/fusions entry points need no --plugin)")

EXPORT_EPILOG = """\
Each sample: KEY.<feature>.npy (float32 vector) per feature set, KEY.<feature>.chunks.npy
for sets that keep per-window vectors, and KEY.json ({"id": ..., <columns>}).
Load with:  webdataset.WebDataset("OUT/shard-{000000..000009}.tar", shardshuffle=False).decode()
"""


STORAGE_OPTION_HELP = ("fsspec option for an object-store --store (s3://, gs://, az://), e.g. endpoint_url=http://"
                       "minio:9000, profile=prod, anon=true, client_kwargs.region_name=eu-west-1 (dots nest); "
                       "repeatable. Credentials are better left to the backend's environment (AWS_*, "
                       "GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*); values are never logged")


def storage_option(text: str) -> tuple[list[str], object]:
    """argparse type of --storage-option: ``KEY=VALUE``, the value read as a YAML scalar, dotted keys nest."""
    import yaml

    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text.split('=')[0]!r}…")
    try:
        parsed = yaml.safe_load(value) if value else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed if isinstance(parsed, (str, int, float, bool)) else value


def storage_options(args) -> dict:
    """The fsspec storage options of ``--storage-option`` and ``--storage-options FILE``, merged (flags last)."""
    import yaml

    out: dict = {}
    if getattr(args, "storage_options_file", None):
        try:
            with open(args.storage_options_file) as f:
                loaded = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"--storage-options {args.storage_options_file}: cannot read it: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--storage-options {args.storage_options_file}: expected a mapping of option: value")
        out.update(loaded)
    for keys, value in getattr(args, "storage_option", None) or []:
        target = out
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return out


def open_store(args):
    """The FeatureStore of ``--store`` with the command's storage options."""
    from mmfeat.store import FeatureStore

    return FeatureStore(args.store, storage_options=storage_options(args) or None)


def _extract(args, beam_args) -> int:
    from mmfeat.beam.extract_job import extract
    from mmfeat.beam.runners import resolve
    from mmfeat.extract.report import error_rate

    resolve(beam_args, also_known=tuple(_options_of(parser(), "extract")))

    report = extract(args.feature, args.store, args.input, beam_args=beam_args, id_column=args.id_column,
                     n_buckets=args.buckets, source=args.source, n_slots=args.slots, chunk_rows=args.chunk_rows,
                     retry_errors=args.retry_errors, sync=args.sync,
                     storage_options=storage_options(args) or None)
    print(json.dumps({k: report[k] for k in ("run_id", "feature_set", "n_input", "n_ok", "n_error", "n_skipped",
                                              "n_encoded", "wall_seconds", "errors_by_reason", "sync")
                      if k in report}, indent=1))
    rate = error_rate(report)
    if report["n_input"] and report["n_error"] == report["n_input"]:
        print(f"every one of the {report['n_input']} input rows failed (see errors_by_reason above, and "
              f"`mmfeat read --errors`); exit {EXIT_ERROR_RATE}", file=sys.stderr)
        return EXIT_ERROR_RATE
    if args.max_error_rate is not None and rate > args.max_error_rate:
        print(f"error rate {rate:.4f} exceeds --max-error-rate {args.max_error_rate}", file=sys.stderr)
        return EXIT_ERROR_RATE
    return EXIT_OK


def _ls(args, _) -> int:
    import time

    from mmfeat.store.summary import human_bytes, set_summary

    store = open_store(args)
    rows = [set_summary(store, name) for name in store.list()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    header = ("NAME", "MODALITY", "DIM", "DTYPE", "ROWS", "ERRORS", "SIZE", "LAST RUN (UTC)", "STATUS", "ERR RATE")
    table = [header] + [(
        r["name"], r["modality"], str(r["dim"] or "-"), r["dtype"] or "-", str(r["rows"]), str(r["errors"]),
        human_bytes(r["bytes"]),
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["last_started_at"])) if r["last_started_at"] else "-",
        r["last_status"] or "-", f"{r['last_error_rate']:.4f}" if r["last_error_rate"] is not None else "-")
        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _show(args, _) -> int:
    from mmfeat.store.summary import error_summary

    store = open_store(args)
    runs = store.runs(args.name)
    shown = runs[-args.runs:] if args.runs > 0 else []
    version = store.version(args.name)
    out = {**store.info(args.name), "version": {"version": version.version, "time": version.to_dict()["time"]},
           "counts": store.counts(args.name), "n_buckets": store.n_buckets,
           "current_errors": error_summary(store, args.name),
           f"runs (last {len(shown)} of {len(runs)})": [
               {k: r.get(k) for k in ("run_id", "status", "error", "n_input", "n_ok", "n_error", "n_skipped",
                                      "n_encoded", "wall_seconds", "error_rate", "sync", "errors_by_reason")
                if k in r} for r in shown]}
    print(json.dumps(out, indent=1))
    return EXIT_OK


def _read(args, _) -> int:
    from mmfeat.export.table_file import write_table_file

    store = open_store(args)
    table = store.errors(args.name) if args.errors else store.read(args.name)
    write_table_file(table, args.out)
    print(f"wrote {table.num_rows} rows to {args.out}")
    return EXIT_OK


def _export_wds(args, _) -> int:
    from mmfeat.export.wds import export_wds
    names = [n for part in args.features for n in part.split(",") if n]
    columns = [c for part in args.columns for c in part.split(",") if c]
    if columns and not args.labels:
        raise MmfeatError("--columns needs --labels (the table that holds them)")
    index = export_wds(open_store(args), names, args.out, labels=args.labels, columns=columns,
                       id_column=args.id_column, how=args.how, maxcount=args.maxcount,
                       maxsize=int(args.maxsize_mb * 1024 * 1024), prefix=args.prefix, overwrite=args.overwrite)
    print(f"wrote {index['n_samples']} samples in {len(index['shards'])} shard(s) to {args.out} (index: index.json)")
    return EXIT_OK


def _train(args, _) -> int:
    from mmfeat.train.config import load_config
    from mmfeat.train.run import train

    cfg = load_config(args.config)
    if args.out:
        import dataclasses

        cfg = dataclasses.replace(cfg, out=args.out)
    metrics = train(cfg, progress=not args.quiet, storage_options=storage_options(args) or None)
    from mmfeat.train.report import format_table, verdict_line

    print(format_table(metrics))
    print(f"run directory: {cfg.out} (metrics.json, model.safetensors, plots/)")
    print(verdict_line(metrics))
    return EXIT_OK


def _run(args, _) -> int:
    from mmfeat.jobs.lock import LockHeldError
    from mmfeat.jobs.spec import load_job

    job = load_job(args.job)
    if args.dry_run:
        from mmfeat.jobs.dry_run import dry_run, format_plan

        plan = dry_run(job, force=args.force)
        print(json.dumps(plan, indent=1) if args.json else format_plan(plan))
        return EXIT_OK
    from mmfeat.jobs.runner import run_job

    try:
        report, code = run_job(job, force=args.force, wait_s=args.wait, stale_after_s=args.stale_minutes * 60)
    except LockHeldError as exc:
        print(f"mmfeat: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    if args.json:
        print(json.dumps(report, indent=1))
    for step in report["steps"]:
        counts = ", ".join(f"{k} {v}" for k, v in (step.get("counts") or {}).items() if isinstance(v, int))
        detail = step.get("error") or step.get("reason") or counts
        print(f"{step['kind']:<8} {step['name']}: {step['status']} ({step.get('seconds', 0)} s) {detail}",
              file=sys.stderr)
    print(f"job {report['job']} run {report['run_id']}: {report['status']}, exit {code} "
          f"(report: {report['report']})", file=sys.stderr)
    return code


def _evaluate(args, _) -> int:
    from mmfeat.train.inference import data_note, evaluate_run
    from mmfeat.train.report import format_table

    result = evaluate_run(args.run, store=args.store, latest=args.latest,
                          storage_options=storage_options(args) or None)
    if data_note(result["data"]):
        print(f"mmfeat: warning: {data_note(result['data'])}", file=sys.stderr)
    print(format_table({"task": result["task"], "test": result["test"], "subsets": result["subsets"]},
                       f"{args.run} (written to evaluation.json)"))
    return EXIT_OK


def _predict(args, _) -> int:
    from mmfeat.train.inference import data_note, predict_to_store

    report = predict_to_store(args.run, args.name, store=args.store, output=args.output, latest=args.latest,
                              storage_options=storage_options(args) or None)
    if data_note(report["data"]):
        print(f"mmfeat: warning: {data_note(report['data'])}", file=sys.stderr)
    print(f"wrote {report['n_rows']} rows of {args.output} to feature set {args.name!r} "
          f"(lineage: {', '.join(report['inputs'])})")
    if report.get("classes") and args.output == "probs":
        print(f"columns are the classes: {', '.join(map(str, report['classes']))}")
    return EXIT_OK


def _similar(args, _) -> int:
    from mmfeat.similarity import encode_query, similar
    store = open_store(args)
    if args.id is not None:
        query = args.id
    else:
        value, modality = (args.text, "text") if args.text is not None else (args.image, "image")
        query = encode_query(store, args.name, value, modality)
    matches = similar(store, args.name, query, args.k)
    if args.json:
        print(json.dumps([m._asdict() for m in matches], indent=1))
    else:
        for rank, match in enumerate(matches, 1):
            print(f"{rank}\t{match.score:.6f}\t{match.id}")
    return EXIT_OK


def _verify(args, _) -> int:
    problems = open_store(args).verify(args.name)
    for path, problem in problems:
        print(f"{path}: {problem}")
    print("ok" if not problems else f"{len(problems)} problem(s); `mmfeat repair --store {args.store} {args.name}` "
                                    f"takes them out, then rerun the extract to recompute their rows")
    return EXIT_OK if not problems else EXIT_FAILED


def _repair(args, _) -> int:
    dropped = open_store(args).repair(args.name)
    print(f"took {len(dropped)} damaged or stray item(s) out of the store (moved to {args.name}/_quarantine/); "
          f"rerun extract to recompute their rows")
    for path in dropped:
        print(f"  {path}")
    return EXIT_OK


def _compact(args, _) -> int:
    result = open_store(args).compact(args.name, target_bytes=int(args.target_mb * 1024 * 1024),
                                              min_files=args.min_files)
    print(f"merged {result['merged']} part(s) into {result['written']} in {result['buckets']} bucket(s)")
    if result["skipped"]:
        print(f"skipped buckets {result['skipped']}: writers kept committing; run compact again later")
    return EXIT_OK


def _vacuum(args, _) -> int:
    import time

    from mmfeat.store.snapshots import iso_time

    removed = open_store(args).vacuum(args.name, min_age_s=args.older_than_hours * 3600,
                                              older_than_s=args.older_than)
    print(f"deleted {len(removed)} file(s) no commit needs: parts replaced before "
          f"{iso_time(time.time() - args.older_than)} (this ends time travel before then) and abandoned files "
          f"older than {args.older_than_hours:g} h")
    return EXIT_OK


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration(text: str) -> float:
    """argparse type of durations: ``90s``, ``30m``, ``12h``, ``7d``, ``2w``; a bare number is hours."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: use e.g. 90s, 30m, 12h, 7d or 2w")
    return float(match.group(1)) * DURATION_UNITS[match.group(2) or "h"]


LATEST_HELP = ("read the feature sets as they are now, not at the versions the run was trained on (the default; "
               "a warning names the sets that changed since)")


def set_name(text: str) -> str:
    """argparse type of NAME arguments: a plain feature-set name, never a path."""
    from mmfeat.errors import StoreError
    from mmfeat.store.layout import check_name

    try:
        return check_name(text)
    except StoreError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render --help in the README)."""
    from mmfeat.extract.units import DEFAULT_SLOTS

    p = argparse.ArgumentParser(prog="mmfeat", description="Multimodal feature extraction into a feature store.")
    p.add_argument("-v", "--verbose", action="store_true", help="log Beam's own progress too")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE", dest="plugins", help=PLUGIN_HELP)
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("extract", help="compute a feature set with Apache Beam", epilog=EXTRACT_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--store", required=True, help="store root directory (created if missing)")
    e.add_argument("--input", required=True, action="append",
                   help="manifest (.csv, .jsonl, .parquet, optionally .gz/.bz2/.xz/.zst), WebDataset tar shards "
                        "(.tar, .tar.gz, brace patterns like data-{000..009}.tar), or for media a directory or "
                        "a glob of files ('photos/**/*.jpg'); file, glob or URI; repeatable")
    e.add_argument("--feature", required=True, help="feature definition YAML, e.g. features/text_minilm.yaml")
    e.add_argument("--id-column", help="manifest id column (default: the YAML's input.id_column)")
    e.add_argument("--source",
                   help="how to read --input: auto, manifest, webdataset, folder or a plugin source "
                        "(default: the YAML's input.source, normally auto: "
                        "tar shards are WebDataset, directories and globs of media files a folder, "
                        "anything else a manifest)")
    e.add_argument("--buckets", type=int, help="bucket count when creating a new store (default 16)")
    e.add_argument("--max-error-rate", type=float,
                   help="exit 3 if more than this fraction of rows fail (default: none, but a run in which "
                        "every row failed always exits 3)")
    e.add_argument("--slots", type=int, default=DEFAULT_SLOTS,
                   help=f"units of work per bucket (default {DEFAULT_SLOTS}): up to buckets x slots units encode "
                        f"in parallel; raise it for clusters with more workers than that")
    e.add_argument("--chunk-rows", type=int, default=8192,
                   help="the most rows a unit holds and commits at once (default 8192); bounds worker memory")
    e.add_argument("--sync", action="store_true",
                   help="also remove stored ids (vectors and error rows) that the inputs no longer have; "
                        "nothing is removed if any input row could not be read")
    e.add_argument("--retry-errors", action="store_true",
                   help="encode again rows that failed before for their content (by default an unchanged row "
                        "that failed decoding or preprocessing is kept as an error without loading the model)")
    e.set_defaults(func=_extract)

    ls = sub.add_parser("ls", help="list feature sets: shape, rows, errors, size, last run and its status")
    ls.add_argument("--json", action="store_true", help="one JSON object per set instead of a table")
    ls.set_defaults(func=_ls)
    store_commands = {}
    for name, func, text in (("show", _show, "spec, counts, lineage and runs of a feature set"),
                             ("verify", _verify, "check the commit log, every committed file's checksum, and "
                                                 "for stray files; exit 1 on any damage"),
                             ("repair", _repair, "take damaged and stray files out (to _quarantine/) and rebuild "
                                                 "damaged logs, so the next extract recomputes them"),
                             ("compact", _compact, "merge each bucket's small parts into target-size files"),
                             ("vacuum", _vacuum, "delete replaced, uncommitted and temp files past a minimum age")):
        s = store_commands[name] = sub.add_parser(name, help=text)
        s.add_argument("name", type=set_name)
        s.set_defaults(func=func)
    store_commands["show"].add_argument("--runs", type=int, default=5,
                                        help="how many of the newest run reports to include (default 5)")
    store_commands["compact"].add_argument("--target-mb", type=float, default=128,
                                           help="size of the merged files in MiB (default 128)")
    store_commands["compact"].add_argument("--min-files", type=int, default=2,
                                           help="leave a bucket alone with fewer small parts (default 2)")
    store_commands["vacuum"].add_argument("--older-than", type=duration, default="7d", metavar="DURATION",
                                          help="delete parts replaced longer ago than this (90s, 12h, 7d, ...; "
                                               "default 7d): time travel to versions before then ends")
    store_commands["vacuum"].add_argument("--older-than-hours", type=float, default=1.0,
                                          help="delete staged and temp files no commit references once this many "
                                               "hours old (default 1; a writer still running may need them)")
    r = sub.add_parser("read", help="export a feature set (or its errors) to Parquet or CSV")
    r.add_argument("name", type=set_name)
    r.add_argument("--out", required=True, help="output file: .parquet or .csv")
    r.add_argument("--errors", action="store_true", help="export the errors table instead of the vectors")
    r.set_defaults(func=_read)
    w = sub.add_parser("export-wds", help="write feature sets (joined by id) and labels as WebDataset shards",
                       epilog=EXPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("features", nargs="+", help="feature-set names (space or comma separated)")
    w.add_argument("--out", required=True, help="output directory (must be empty unless --overwrite)")
    w.add_argument("--labels", help="table with ids and label/metadata columns (.csv, .jsonl, .parquet); "
                                    "the extraction manifest works; ids missing from it are left out")
    w.add_argument("--columns", action="append", default=[], help="columns of --labels to put in KEY.json")
    w.add_argument("--id-column", default="id", help="id column of --labels (default: id)")
    w.add_argument("--how", choices=["inner", "outer"], default="inner",
                   help="inner: ids in every feature set; outer: all ids, absent members for missing modalities")
    w.add_argument("--maxcount", type=int, default=10_000, help="samples per shard (default 10000)")
    w.add_argument("--maxsize-mb", type=float, default=1024, help="start a new shard past this size (default 1024)")
    w.add_argument("--prefix", default="shard", help="shard file prefix (default: shard → shard-000000.tar)")
    w.add_argument("--overwrite", action="store_true", help="replace the contents of --out")
    w.set_defaults(func=_export_wds)
    sim = sub.add_parser("similar", help="the k rows most cosine-similar to an id, a text or an image (exact)")
    sim.add_argument("name", help="feature set to search")
    query = sim.add_mutually_exclusive_group(required=True)
    query.add_argument("--id", help="a stored row's id (the row itself is left out)")
    query.add_argument("--text", help="a text, encoded with the set's own spec (hf-clip: its text tower)")
    query.add_argument("--image", help="an image path or URI, encoded with the set's own spec")
    sim.add_argument("-k", type=int, default=10, help="how many neighbours (default 10)")
    sim.add_argument("--json", action="store_true", help="print a JSON list of {id, score} instead of lines")
    sim.set_defaults(func=_similar)
    from mmfeat.train.options import help_text

    t = sub.add_parser("train", help="train a joint or sequential fusion model on feature sets (run YAML)",
                       epilog=help_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("config", help="run config YAML: store, features, labels, task, mode, fusion, out, …")
    t.add_argument("--out", help="run directory (overrides the YAML's out)")
    t.add_argument("--quiet", action="store_true", help="no per-epoch progress bars")
    t.set_defaults(func=_train)
    ev = sub.add_parser("evaluate", help="recompute a training run's metrics from its checkpoint and the store")
    ev.add_argument("run", help="run directory written by mmfeat train")
    ev.add_argument("--store", help="store root (default: the run's)")
    ev.add_argument("--latest", action="store_true", help=LATEST_HELP)
    ev.set_defaults(func=_evaluate)
    pr = sub.add_parser("predict", help="write a trained run's predictions into the store as a new feature set")
    pr.add_argument("run", help="run directory written by mmfeat train")
    pr.add_argument("--name", required=True, type=set_name,
                    help="name of the feature set to write (created, or replaced in full)")
    pr.add_argument("--store", help="store root (default: the run's)")
    pr.add_argument("--output", choices=["probs", "embedding"], default="probs",
                    help="calibrated class probabilities, or the fused embedding (joint models)")
    pr.add_argument("--latest", action="store_true", help=LATEST_HELP)
    pr.set_defaults(func=_predict)
    rn = sub.add_parser("run", help="run a job file: extract, train and predict steps, under a per-job lock",
                        epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    rn.add_argument("job", help="job YAML: store, features (feature YAML + inputs), train, predict, beam_args")
    rn.add_argument("--dry-run", action="store_true",
                    help="load no model, run no Beam pipeline, write nothing: print per feature set how many "
                         "input rows are new, changed, stored and bad, and which steps would run")
    rn.add_argument("--force", action="store_true", help="run train and predict steps even if unchanged")
    rn.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                    help="if another run of this job holds the lock, wait up to this long (default 0: exit 4)")
    rn.add_argument("--stale-minutes", type=float, default=10.0,
                    help="take over a lock from another host whose heartbeat is older than this (default 10; "
                         "a lock on this host is taken over as soon as its process is gone)")
    rn.add_argument("--json", action="store_true", help="print the job report (or the dry-run plan) as JSON")
    rn.set_defaults(func=_run)
    for s in sub.choices.values():
        if s.prog.split()[-1] not in ("extract", "train", "evaluate", "predict", "run"):  # these find the store themselves
            s.add_argument("--store", required=True, help="store root directory")
        # Also after the command; a separate dest, as a subcommand's values replace the main parser's.
        s.add_argument("--storage-option", action="append", type=storage_option, metavar="KEY=VALUE",
                       help=STORAGE_OPTION_HELP)
        s.add_argument("--storage-options", dest="storage_options_file", metavar="FILE",
                       help="YAML mapping of fsspec storage options (merged under --storage-option)")
        s.add_argument("--plugin", action="append", default=argparse.SUPPRESS, metavar="MODULE",
                       dest="more_plugins", help=PLUGIN_HELP)
    return p


def _options_of(p: argparse.ArgumentParser, command: str | None = None) -> set[str]:
    """The option strings of one subcommand, or of all of them."""
    subs = p._subparsers._group_actions[0].choices  # noqa: SLF001 (argparse has no public accessor)
    chosen = [subs[command]] if command else list(subs.values())
    return {o for sub in chosen for action in sub._actions for o in action.option_strings}  # noqa: SLF001


def dashed_options(argv: list[str], p: argparse.ArgumentParser) -> list[str]:
    """Accept ``--max_error_rate`` for ``--max-error-rate`` (Airflow and other schedulers write snake_case).

    Only mmfeat's own options are rewritten; Beam's options keep their underscores.
    """
    known = _options_of(p)
    out = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        dashed = name.replace("_", "-")
        out.append(dashed + eq + value if name.startswith("--") and "_" in name and dashed in known else arg)
    return out


def main(argv=None) -> int:
    """Entry point; returns the exit code."""
    p = parser()
    argv = dashed_options(list(sys.argv[1:] if argv is None else argv), p)
    args, rest = p.parse_known_args(argv)
    if rest and args.command != "extract":
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Beam warns at import about optional GCP clients this tool never uses.
    logging.getLogger().handlers[0].addFilter(lambda r: "apitools not found" not in r.getMessage())
    if not args.verbose:
        # CRITICAL, not WARNING: Beam logs a failing worker's whole traceback at ERROR before the job
        # fails; mmfeat then prints the one line that says what happened (--verbose shows it all).
        logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("mmfeat").setLevel(logging.INFO)
    try:
        load_plugins([*args.plugins, *getattr(args, "more_plugins", [])])
        return args.func(args, rest)
    except UsageError as exc:
        print(f"mmfeat: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MmfeatError as exc:
        print(f"mmfeat: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
