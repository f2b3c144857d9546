"""Run the benchmarks: ``.venv/bin/python -m benchmarks [--quick] [--only GROUP]``.

A full run of every group rewrites ``docs/benchmarks.md``. A quick run, or a
run of some groups only, writes its report to ``benchmarks/.results/``
unless ``--output`` names a file.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .anchors import anchor_python
from .context import Context, GroupResult
from .report import describe_machine, render_report, render_table
from .workers import REPO_ROOT, Worker, WorkerError

GROUPS = {
    "file_dir": "benchmarks.group_file_dir",
    "layers": "benchmarks.group_layers",
    "s3": "benchmarks.group_s3",
    "import": "benchmarks.group_import",
}

DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS_FOLDER = REPO_ROOT / "benchmarks" / ".results"

METHOD_NOTES = [
    "µs/op is the median, over the timed loops, of the loop's time divided by "
    "its operations. Each case first runs one untimed loop (except in a "
    "`--quick` run and where a group's notes say otherwise), and the garbage "
    "collector runs before every loop, outside the timing.",
    "The cases compared in one table block run round by round, one loop of each "
    "per round in a rotating order, so that machine noise hits all of them. "
    "ours/anchor is the median of the ratios of the two loops of each round; "
    "the interquartile range of those ratios follows in brackets. A ratio "
    "below 1 means ours is faster.",
    "Our package runs in a worker process started from the project's venv; the "
    "public persidict 0.309.0, diskcache, sqlitedict and shelve run in a second "
    "worker started from `benchmarks/.venvs/anchors`, which the run builds with "
    "pip on first use. diskcache and sqlitedict are installed only there, not "
    "in the project's venv. Both workers stay idle while the other is timed.",
    "Stores live in a temporary folder of the system temporary folder, deleted "
    "after the run, with the OS page cache warm: reads do not reach the disk.",
    "Other work on the machine slows the cases unevenly; the load averages "
    "above show how busy it was. Writes that wait on the disk (fsync, a rename "
    "over an existing file) vary most from loop to loop, so their ratios have "
    "the widest ranges.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure persidict against raw floors, the public package "
        "0.309.0 and other stores, and write a Markdown report.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: fewer keys and 3 timed loops per case (about a minute "
        "once the anchors' venv exists)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(GROUPS),
        metavar="GROUP",
        help=f"run only this group; repeatable; one of {', '.join(GROUPS)}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="Markdown report path (default: docs/benchmarks.md for a full run "
        "of every group, benchmarks/.results/ otherwise)",
    )
    return parser.parse_args(argv)


def _default_output(args: argparse.Namespace) -> Path:
    if not args.quick and not args.only:
        return DEFAULT_OUTPUT
    name = "quick" if args.quick else "full"
    if args.only:
        name += "-" + "-".join(args.only)
    return RESULTS_FOLDER / f"benchmarks-{name}.md"


def _command(argv: list[str]) -> str:
    python = Path(sys.executable)
    try:
        python_path = str(python.relative_to(REPO_ROOT))
    except ValueError:
        python_path = str(python)
    return shlex.join([python_path, "-m", "benchmarks", *argv])


def _versions(ours: Worker, anchors: Worker) -> list[tuple[str, str]]:
    """Return the versions of the packages each worker imports, for the report."""
    function = "benchmarks.workers:installed_versions"
    ours_versions = ours.call(function, names=["persidict", "boto3"])
    anchor_versions = anchors.call(
        function, names=["persidict", "diskcache", "sqlitedict", "boto3"]
    )
    return [
        *((f"project venv: {name}", v) for name, v in ours_versions.items()),
        *((f"anchors' venv: {name}", v) for name, v in anchor_versions.items()),
    ]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    selected = [name for name in GROUPS if not args.only or name in args.only]
    output = args.output or _default_output(args)
    started = time.perf_counter()
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")

    anchors_python = anchor_python()
    scratch = Path(tempfile.mkdtemp(prefix="persidict-bench-"))
    machine = describe_machine(scratch, REPO_ROOT)
    ours = Worker("ours", sys.executable, cwd=scratch)
    anchors = Worker("anchors", anchors_python, cwd=scratch)
    ctx = Context(ours=ours, anchors=anchors, scratch=scratch, quick=args.quick)
    results: list[GroupResult] = []
    try:
        versions = _versions(ours, anchors)
        for name in selected:
            print(f"== {name}", file=sys.stderr, flush=True)
            module = importlib.import_module(GROUPS[name])
            result: GroupResult = module.run_group(ctx)
            results.append(result)
            print(render_table(result.rows), file=sys.stderr, flush=True)
    finally:
        for worker in (ours, anchors):
            try:
                worker.call("benchmarks.stores:teardown_stores")
            except WorkerError as err:
                print(
                    f"closing the stores of {worker.name} failed: {err}",
                    file=sys.stderr,
                )
            worker.close()
        shutil.rmtree(scratch, ignore_errors=True)

    report = render_report(
        groups=results,
        machine=machine,
        command=_command(argv),
        date=date,
        seconds=time.perf_counter() - started,
        end_load=os.getloadavg(),
        versions=versions,
        method_notes=METHOD_NOTES,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    print(f"report written to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
