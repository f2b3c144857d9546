"""The time of ``import persidict``, ours and the public package's, in fresh processes.

Each sample is the wall time of one ``python -c ...`` subprocess, from spawn
to exit, so it includes the interpreter's own start. ``python -c pass`` from
the same venv measures that start alone. The commands run round by round in
a rotating order, from a scratch folder, without ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from .context import Context, GroupResult
from .timing import Row, Target

__all__ = ["run_group"]

OURS = "import persidict"
OURS_START = "python -c pass (project venv)"
PUBLIC = "import persidict 0.309.0"
PUBLIC_START = "python -c pass (anchors' venv)"
OURS_NET = "import persidict, above python -c pass"
PUBLIC_NET = "import persidict 0.309.0, above python -c pass"
IMPORTTIME_ENTRIES = 12


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONPROFILEIMPORTTIME"):
        env.pop(name, None)
    return env


def _wall_time(command: list[str], cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def _importtime_table(python: str, cwd: str, env: dict[str, str], runs: int) -> str:
    """Return the top entries of ``-X importtime`` for our package, as Markdown.

    Of ``runs`` runs, the one with the median total is shown.
    """
    outputs = []
    for _ in range(runs):
        result = subprocess.run(
            [python, "-X", "importtime", "-c", "import persidict"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        entries = []
        for line in result.stderr.splitlines():
            if not line.startswith("import time:") or "[us]" in line:
                continue
            fields = line.split(":", 1)[1].split("|")
            entries.append((int(fields[1]), int(fields[0]), fields[2].rstrip()))
        total = sum(self_us for _, self_us, _ in entries)
        outputs.append((total, entries))
    outputs.sort(key=lambda pair: pair[0])
    total, entries = outputs[len(outputs) // 2]

    lines = [
        f"`python -X importtime -c 'import persidict'` (ours), the run with the "
        f"median total of {runs}: {total / 1000:.1f} ms of imports in all; "
        f"top {IMPORTTIME_ENTRIES} by cumulative time.",
        "",
        "| module | cumulative µs | self µs |",
        "| --- | ---: | ---: |",
    ]
    for cumulative, self_us, name in sorted(entries, reverse=True)[:IMPORTTIME_ENTRIES]:
        lines.append(f"| `{name.strip()}` | {cumulative:,} | {self_us:,} |")
    return "\n".join(lines)


def run_group(ctx: Context) -> GroupResult:
    start = time.perf_counter()
    rounds = 3 if ctx.quick else 15
    cwd = str(ctx.scratch)
    env = _clean_env()
    ours_python = sys.executable
    public_python = ctx.anchors.python
    commands = {
        OURS: [ours_python, "-c", "import persidict"],
        OURS_START: [ours_python, "-c", "pass"],
        PUBLIC: [public_python, "-c", "import persidict"],
        PUBLIC_START: [public_python, "-c", "pass"],
    }

    # One untimed run each writes the bytecode caches.
    for command in commands.values():
        _wall_time(command, cwd, env)
    samples: dict[str, list[float]] = {label: [] for label in commands}
    labels = list(commands)
    for round_index in range(rounds):
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            samples[label].append(_wall_time(commands[label], cwd, env))
    samples[OURS_NET] = [
        max(a - b, 1e-6)
        for a, b in zip(samples[OURS], samples[OURS_START], strict=True)
    ]
    samples[PUBLIC_NET] = [
        max(a - b, 1e-6)
        for a, b in zip(samples[PUBLIC], samples[PUBLIC_START], strict=True)
    ]
    print(
        f"  import: {len(commands)} commands x {rounds} rounds, "
        f"median import persidict {statistics.median(samples[OURS]) * 1e3:.1f} ms",
        file=sys.stderr,
    )

    rows = [
        Row.compare("import, wall time", samples, OURS, OURS_START),
        Row.compare("import, wall time", samples, OURS, PUBLIC, Target.faster_by(5)),
        Row.compare("import, above interpreter start", samples, OURS_NET, PUBLIC_NET),
    ]
    notes = [
        f"{rounds} rounds of four fresh processes each, after one untimed run of "
        "each command. µs/op is the wall time of one whole process.",
        "The target is judged on whole-process wall time, what a user waits for; "
        "the last row subtracts, round by round, the start of an interpreter of "
        "the same venv, leaving the import alone.",
    ]
    return GroupResult(
        name="import",
        title="import persidict",
        rows=rows,
        notes=notes,
        seconds=time.perf_counter() - start,
        extra_markdown=_importtime_table(ours_python, cwd, env, 3 if ctx.quick else 9),
    )
