"""Choosing the Beam runner deliberately, and refusing options nobody understands.

``--runner`` takes Beam's names plus short aliases for runners whose class lives
outside Beam's registry (``DaskRunner``). The default, ``DirectRunner``, is run
as Beam's FnApiRunner directly: Beam 2.77's DirectRunner first tries to download
and start its Prism runner, which would make the local runner depend on the
network and on a binary the tests never exercise.
"""
import difflib

from mmfeat.errors import UsageError

ALIASES = {
    "DaskRunner": "apache_beam.runners.dask.dask_runner.DaskRunner",
    "dask": "apache_beam.runners.dask.dask_runner.DaskRunner",
}
LOCAL = {None, "DirectRunner", "direct", "FnApiRunner"}
# Runners without a metrics API: the run report comes from the per-unit stats files alone.
NO_METRICS = {ALIASES["DaskRunner"]}


def _runner_flag(argv: list[str]) -> tuple[str | None, list[str]]:
    """The ``--runner`` value and argv without it."""
    rest, runner, skip = [], None, False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--runner" and i + 1 < len(argv):
            runner, skip = argv[i + 1], True
        elif arg.startswith("--runner="):
            runner = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return runner, rest


def resolve(argv: list[str], also_known: tuple[str, ...] = ()):
    """``(runner, argv)``: a runner instance (or Beam name/path) and the options to build the pipeline with.

    Raises UsageError for an unknown runner or an option neither Beam nor the caller knows.
    """
    runner, rest = _runner_flag(list(argv))
    if runner in LOCAL:
        from apache_beam.runners.portability.fn_api_runner import fn_runner

        _check_options(rest, also_known)
        return fn_runner.FnApiRunner(), rest
    runner = ALIASES.get(runner, runner)
    if runner == ALIASES["DaskRunner"]:
        try:
            import apache_beam.runners.dask.dask_runner  # noqa: F401  (registers DaskOptions)
            import distributed  # noqa: F401
        except ImportError as exc:
            raise UsageError(f"--runner=DaskRunner needs dask and distributed: pip install 'mmfeat[dask]' "
                                   f"({exc})") from None
    from apache_beam.runners.runner import create_runner

    try:
        create_runner(runner)
    except (ValueError, ImportError, AttributeError):
        raise UsageError(f"--runner={runner}: not a Beam runner. Use DirectRunner (the default), DaskRunner, "
                         f"DataflowRunner, FlinkRunner, SparkRunner, PrismRunner or a runner's full class path"
                         ) from None
    _check_options(rest, also_known)
    return runner, [f"--runner={runner}", *rest]


def _check_options(argv: list[str], also_known: tuple[str, ...] = ()) -> None:
    """Raise naming the first option no Beam options class knows (Beam itself would drop it with a log line).

    ``also_known``: the caller's own option names, offered as suggestions too.
    """
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    classes = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 (Beam's own way to collect every option)
    try:
        _, unknown = parser.parse_known_args(argv)
    except SystemExit:
        raise UsageError(f"bad Beam option value in: {' '.join(argv)}") from None
    unknown = [a for a in unknown if a.startswith("-")] or unknown
    if unknown:
        known = [o for action in parser._actions for o in action.option_strings] + list(also_known)  # noqa: SLF001
        name = unknown[0].split("=", 1)[0]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UsageError(f"unknown option {unknown[0]!r}: neither mmfeat nor Beam knows it{hint}")


def with_partitions(runner, argv: list[str], n_shards: int) -> list[str]:
    """For Dask, partition the shard list so reading and the units spread over the workers.

    DaskRunner turns ``beam.Create`` into a dask bag of 128 items a partition and
    keeps that partitioning through the shuffle, so a job with few shards would
    run on one worker. Unless ``--dask_npartitions`` or ``--dask_partition_size``
    is given, each shard gets its own partition (up to 256).
    """
    if runner != ALIASES["DaskRunner"] or any(a.startswith(("--dask_npartitions", "--dask_partition_size"))
                                              for a in argv):
        return argv
    return [*argv, f"--dask_npartitions={max(1, min(n_shards, 256))}"]
