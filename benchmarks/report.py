"""Machine description and the Markdown report of a run."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .context import GroupResult
from .timing import Row, format_us

__all__ = ["describe_machine", "render_report", "render_table"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    kib = int(line.split()[1])
                    return f"{kib / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _file_system(path: Path) -> str:
    """Return the type and device of the mount that contains ``path``."""
    best = ("", "unknown", "unknown")
    resolved = str(path.resolve())
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                device, mount_point, fs_type = line.split()[:3]
                inside = resolved == mount_point or resolved.startswith(
                    mount_point.rstrip("/") + "/"
                )
                if inside and len(mount_point) > len(best[0]):
                    best = (mount_point, fs_type, device)
    except OSError:
        pass
    mount_point, fs_type, device = best
    return f"{fs_type} ({device} mounted on {mount_point})"


def _git_commit(repo: Path) -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    suffix = " with uncommitted changes" if dirty.stdout.strip() else ""
    return result.stdout.strip() + suffix


def describe_machine(scratch: Path, repo: Path) -> list[tuple[str, str]]:
    load = os.getloadavg()
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", _memory()),
        ("kernel", platform.release()),
        ("Python", sys.version.split()[0]),
        ("temp folder", f"{scratch.parent}: {_file_system(scratch)}"),
        ("commit", _git_commit(repo)),
        ("load average at start", f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"),
    ]


def _result_text(row: Row) -> str:
    passed = row.passed
    if passed is None:
        return ""
    return "pass" if passed else "**FAIL**"


def render_table(rows: Sequence[Row]) -> str:
    lines = [
        "| operation | ours | µs/op | anchor | µs/op | ours/anchor (IQR) | target | result |",
        "| --- | --- | ---: | --- | ---: | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.operation} | {row.ours_label} | {format_us(row.ours_seconds)} "
            f"| {row.anchor_label} | {format_us(row.anchor_seconds)} "
            f"| {row.ratio_text()} | {row.target.text if row.target else ''} "
            f"| {_result_text(row)} |"
        )
    return "\n".join(lines)


def render_targets(groups: Sequence[GroupResult]) -> str:
    lines = []
    for group in groups:
        for row in group.rows:
            if row.target is None:
                continue
            verdict = "PASS" if row.passed else "FAIL"
            lines.append(
                f"- {verdict} {group.title}: {row.operation}, {row.ours_label} "
                f"vs {row.anchor_label}: {row.ratio_text()}, target "
                f"{row.target.text}"
            )
    return "\n".join(lines)


def render_report(
    *,
    groups: Sequence[GroupResult],
    machine: list[tuple[str, str]],
    command: str,
    date: str,
    seconds: float,
    end_load: tuple[float, float, float],
    versions: list[tuple[str, str]],
    method_notes: Sequence[str],
) -> str:
    parts = ["# Benchmarks", ""]
    parts.append("Written by the benchmark run; rerun the command below to refresh it.")
    parts += ["", "## Run", ""]
    parts.append(f"- command: `{command}`")
    parts.append(f"- date: {date}")
    parts.append(f"- duration: {seconds:.0f} s")
    for name, value in machine:
        parts.append(f"- {name}: {value}")
    parts.append(
        f"- load average at end: {end_load[0]:.2f}, {end_load[1]:.2f}, {end_load[2]:.2f}"
    )
    for name, value in versions:
        parts.append(f"- {name}: {value}")

    parts += ["", "## How to run", ""]
    parts += [
        "- `.venv/bin/python -m benchmarks` runs every group and rewrites this "
        "page; the first run also builds the anchors' venv (about a minute).",
        "- `--quick` is a smoke run with few keys and 3 timed loops per case; "
        "`--only GROUP` (repeatable) runs `file_dir`, `layers`, `s3` or "
        "`import` alone. Both write to `benchmarks/.results/` unless "
        "`--output` names a file.",
    ]

    parts += ["", "## How to read the tables", ""]
    parts += [f"- {note}" for note in method_notes]

    parts += ["", "## Targets", "", render_targets(groups) or "(none measured)"]

    for group in groups:
        parts += ["", f"## {group.title}", ""]
        parts.append(f"Measured in {group.seconds:.0f} s.")
        parts += ["", render_table(group.rows)]
        if group.extra_markdown:
            parts += ["", group.extra_markdown]
        if group.notes:
            parts += ["", "Notes:", ""]
            parts += [f"- {note}" for note in group.notes]
    parts.append("")
    return "\n".join(parts)
