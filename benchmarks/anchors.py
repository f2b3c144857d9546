"""The anchors' environment: a venv with the public package and the other libraries.

It lives in ``benchmarks/.venvs/anchors`` (ignored by git) and is built on the
first run with pip from PyPI. A later run reuses it while its requirement list
is unchanged. boto3 is pinned to the version in the project's venv, so the S3
comparisons run the same SDK on both sides.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

__all__ = ["ANCHOR_VENV", "anchor_python", "anchor_requirements"]

ANCHOR_VENV = Path(__file__).resolve().parent / ".venvs" / "anchors"
_REQUIREMENTS_STAMP = "benchmark-requirements.txt"

PUBLIC_PERSIDICT = "persidict==0.309.0"
DISKCACHE = "diskcache==5.6.3"
SQLITEDICT = "sqlitedict==2.1.0"


def anchor_requirements() -> list[str]:
    requirements = [PUBLIC_PERSIDICT, DISKCACHE, SQLITEDICT]
    try:
        requirements.append(f"boto3=={metadata.version('boto3')}")
    except metadata.PackageNotFoundError:
        requirements.append("boto3")
    return requirements


def anchor_python(log: bool = True) -> Path:
    """Return the anchors' interpreter, building its venv first if needed."""
    python = ANCHOR_VENV / "bin" / "python"
    stamp = ANCHOR_VENV / _REQUIREMENTS_STAMP
    expected = "\n".join(anchor_requirements()) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == expected:
        return python

    if log:
        print(
            f"building the anchors' venv in {ANCHOR_VENV} "
            f"({', '.join(anchor_requirements())}); about a minute",
            file=sys.stderr,
        )
    venv.EnvBuilder(with_pip=True, clear=True).create(ANCHOR_VENV)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *anchor_requirements(),
        ],
        check=True,
    )
    stamp.write_text(expected)
    return python
