"""The ``mmfeat`` command line: extract, ls, show, read, export-wds, verify, repair, train, evaluate, predict.

Exit codes:
  0  success
  1  the job failed (bad spec, unreadable input, store error, …); the message says why
  2  bad command-line usage
  3  extraction finished, but its error rate exceeded --max-error-rate
"""
import argparse
import json
import logging
import sys

from mmfeat.errors import MmfeatError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ERROR_RATE = 0, 1, 2, 3

EXTRACT_EPILOG = """\
Any other option is passed to Apache Beam unchanged, e.g.
  --runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing
  --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp --setup_file=./setup.py

Rerunning is safe and cheap: ids already stored with the same content are skipped,
identical texts are encoded once, and a killed run resumes where its committed buckets end.
Exit codes: 0 ok, 1 job failed, 2 usage, 3 error rate above --max-error-rate.
"""


EXPORT_EPILOG = """\
Each sample: KEY.<feature>.npy (float32 vector) per feature set, KEY.<feature>.chunks.npy
for sets that keep per-window vectors, and KEY.json ({"id": ..., <columns>}).
Load with:  webdataset.WebDataset("OUT/shard-{000000..000009}.tar", shardshuffle=False).decode()
"""


def _extract(args, beam_args) -> int:
    from mmfeat.beam.extract_job import extract
    from mmfeat.extract.report import error_rate

    report = extract(args.feature, args.store, args.input, beam_args=beam_args, id_column=args.id_column,
                     n_buckets=args.buckets, source=args.source)
    print(json.dumps({k: report[k] for k in ("run_id", "feature_set", "n_input", "n_ok", "n_error", "n_skipped",
                                              "n_encoded", "wall_seconds", "errors_by_reason")}, indent=1))
    if args.max_error_rate is not None and error_rate(report) > args.max_error_rate:
        print(f"error rate {error_rate(report):.4f} exceeds --max-error-rate {args.max_error_rate}", file=sys.stderr)
        return EXIT_ERROR_RATE
    return EXIT_OK


def _ls(args, _) -> int:
    from mmfeat.store import FeatureStore

    store = FeatureStore(args.store)
    for name in store.list():
        info, counts = store.info(name), store.counts(name)
        print(f"{name}\t{info['modality']}\t{counts['rows']} rows\t{counts['errors']} errors\t{info['fingerprint'][:12]}")
    return EXIT_OK


def _show(args, _) -> int:
    from mmfeat.store import FeatureStore

    store = FeatureStore(args.store)
    runs = store.runs(args.name)
    out = {**store.info(args.name), "counts": store.counts(args.name), "n_buckets": store.n_buckets,
           "runs": [{k: r.get(k) for k in ("run_id", "n_input", "n_ok", "n_error", "n_skipped", "n_encoded",
                                          "wall_seconds", "errors_by_reason")} for r in runs]}
    print(json.dumps(out, indent=1))
    return EXIT_OK


def _read(args, _) -> int:
    from mmfeat.store import FeatureStore

    store = FeatureStore(args.store)
    table = store.errors(args.name) if args.errors else store.read(args.name)
    if args.out.endswith(".parquet"):
        import pyarrow.parquet as pq

        pq.write_table(table, args.out)
    elif args.out.endswith(".csv"):
        frame = table.to_pandas()
        if "embedding" in frame:
            frame["embedding"] = frame["embedding"].map(lambda v: json.dumps([float(x) for x in v]))
        frame.to_csv(args.out, index=False)
    else:
        raise MmfeatError(f"--out {args.out}: use a .parquet or .csv file name")
    print(f"wrote {table.num_rows} rows to {args.out}")
    return EXIT_OK


def _export_wds(args, _) -> int:
    from mmfeat.export.wds import export_wds
    from mmfeat.store import FeatureStore

    names = [n for part in args.features for n in part.split(",") if n]
    columns = [c for part in args.columns for c in part.split(",") if c]
    if columns and not args.labels:
        raise MmfeatError("--columns needs --labels (the table that holds them)")
    index = export_wds(FeatureStore(args.store), names, args.out, labels=args.labels, columns=columns,
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
    metrics = train(cfg, progress=not args.quiet)
    from mmfeat.train.report import format_table, verdict_line

    print(format_table(metrics))
    print(f"run directory: {cfg.out} (metrics.json, model.safetensors, plots/)")
    print(verdict_line(metrics))
    return EXIT_OK


def _evaluate(args, _) -> int:
    from mmfeat.train.inference import evaluate_run
    from mmfeat.train.report import format_table

    result = evaluate_run(args.run, store=args.store)
    print(format_table({"task": result["task"], "test": result["test"], "subsets": result["subsets"]},
                       f"{args.run} (written to evaluation.json)"))
    return EXIT_OK


def _predict(args, _) -> int:
    from mmfeat.train.inference import predict_to_store

    report = predict_to_store(args.run, args.name, store=args.store, output=args.output)
    print(f"wrote {report['n_rows']} rows of {args.output} to feature set {args.name!r} "
          f"(lineage: {', '.join(report['inputs'])})")
    if report.get("classes") and args.output == "probs":
        print(f"columns are the classes: {', '.join(map(str, report['classes']))}")
    return EXIT_OK


def _verify(args, _) -> int:
    from mmfeat.store import FeatureStore

    problems = FeatureStore(args.store).verify(args.name)
    for path, problem in problems:
        print(f"{path}: {problem}")
    print("ok" if not problems else f"{len(problems)} damaged file(s); `mmfeat repair` drops them")
    return EXIT_OK if not problems else EXIT_FAILED


def _repair(args, _) -> int:
    from mmfeat.store import FeatureStore

    dropped = FeatureStore(args.store).repair(args.name)
    print(f"dropped {len(dropped)} damaged file(s); rerun extract to recompute their rows")
    for path in dropped:
        print(f"  {path}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render --help in the README)."""
    p = argparse.ArgumentParser(prog="mmfeat", description="Multimodal feature extraction into a feature store.")
    p.add_argument("-v", "--verbose", action="store_true", help="log Beam's own progress too")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("extract", help="compute a feature set with Apache Beam", epilog=EXTRACT_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--store", required=True, help="store root directory (created if missing)")
    e.add_argument("--input", required=True, action="append",
                   help="manifest (.csv, .jsonl, .parquet) or WebDataset tar shards (.tar, .tar.gz, brace "
                        "patterns like data-{000..009}.tar); file, glob or URI; repeatable")
    e.add_argument("--feature", required=True, help="feature definition YAML, e.g. features/text_minilm.yaml")
    e.add_argument("--id-column", help="manifest id column (default: the YAML's input.id_column)")
    e.add_argument("--source", choices=["auto", "manifest", "webdataset"],
                   help="how to read --input (default: the YAML's input.source, normally auto: "
                        "tar shards are WebDataset, anything else a manifest)")
    e.add_argument("--buckets", type=int, help="bucket count when creating a new store (default 16)")
    e.add_argument("--max-error-rate", type=float, help="exit 3 if more than this fraction of rows fail")
    e.set_defaults(func=_extract)

    sub.add_parser("ls", help="list feature sets").set_defaults(func=_ls)
    for name, func, text in (("show", _show, "spec, counts, lineage and runs of a feature set"),
                             ("verify", _verify, "check every committed file against its checksum"),
                             ("repair", _repair, "drop damaged files so the next extract recomputes them")):
        s = sub.add_parser(name, help=text)
        s.add_argument("name")
        s.set_defaults(func=func)
    r = sub.add_parser("read", help="export a feature set (or its errors) to Parquet or CSV")
    r.add_argument("name")
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
    ev.set_defaults(func=_evaluate)
    pr = sub.add_parser("predict", help="write a trained run's predictions into the store as a new feature set")
    pr.add_argument("run", help="run directory written by mmfeat train")
    pr.add_argument("--name", required=True, help="name of the feature set to write (created, or replaced in full)")
    pr.add_argument("--store", help="store root (default: the run's)")
    pr.add_argument("--output", choices=["probs", "embedding"], default="probs",
                    help="calibrated class probabilities, or the fused embedding (joint models)")
    pr.set_defaults(func=_predict)
    for s in sub.choices.values():
        if s.prog.split()[-1] not in ("extract", "train", "evaluate", "predict"):  # these find the store themselves
            s.add_argument("--store", required=True, help="store root directory")
    return p


def main(argv=None) -> int:
    """Entry point; returns the exit code."""
    args, rest = parser().parse_known_args(argv)
    if rest and args.command != "extract":
        parser().error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Beam warns at import about optional GCP clients this tool never uses.
    logging.getLogger().handlers[0].addFilter(lambda r: "apitools not found" not in r.getMessage())
    if not args.verbose:
        logging.getLogger("apache_beam").setLevel(logging.WARNING)
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("mmfeat").setLevel(logging.INFO)
    try:
        return args.func(args, rest)
    except MmfeatError as exc:
        print(f"mmfeat: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
