"""Run every Python block of README.md, so that its examples keep working.

Each block runs on its own, in a new empty working folder, as a reader who
pastes it would run it. A block that uses an S3 class is marked ``s3`` and
gets the session's SeaweedFS server through boto3's standard variables. An
HTML comment ``<!-- no-test -->`` on the line before a block skips it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
SKIP_MARKER = "<!-- no-test -->"
S3_CLASS_NAMES = re.compile(r"\b(BasicS3Dict|S3Dict|S3Dict_FileDirCached)\b")


@dataclass(frozen=True)
class CodeBlock:
    """A fenced Python block of a Markdown file."""

    first_line: int  # line number of the first code line, counted from 1
    code: str
    skipped: bool

    @property
    def needs_s3(self) -> bool:
        return S3_CLASS_NAMES.search(self.code) is not None


def extract_python_blocks(text: str) -> list[CodeBlock]:
    """Return the ```python blocks of a Markdown text, in order.

    Raises ValueError for a block that is never closed, because its code
    would silently run to the end of the file.
    """
    lines = text.splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```python":
            index += 1
            continue

        start = index + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"the ```python block at line {index + 1} is not closed")

        previous = next(
            (line.strip() for line in reversed(lines[:index]) if line.strip()), ""
        )
        code = "\n".join(lines[start:end]) + "\n"
        blocks.append(CodeBlock(start + 1, code, previous == SKIP_MARKER))
        index = end + 1
    return blocks


def block_params() -> list[Any]:
    params = []
    for block in extract_python_blocks(README.read_text(encoding="utf-8")):
        marks = [pytest.mark.s3] if block.needs_s3 else []
        params.append(pytest.param(block, marks=marks, id=f"line{block.first_line}"))
    return params


def test_extractor_finds_blocks_and_markers() -> None:
    text = "intro\n```python\nx = 1\n```\n<!-- no-test -->\n\n```python\ny = 2\n```\n"

    blocks = extract_python_blocks(text)

    assert [block.code for block in blocks] == ["x = 1\n", "y = 2\n"]
    assert [block.first_line for block in blocks] == [3, 8]
    assert [block.skipped for block in blocks] == [False, True]


def test_extractor_rejects_unclosed_block() -> None:
    with pytest.raises(ValueError, match="line 2"):
        extract_python_blocks("intro\n```python\nx = 1\n")


def test_readme_has_examples() -> None:
    blocks = extract_python_blocks(README.read_text(encoding="utf-8"))

    assert len(blocks) >= 8
    assert any(block.needs_s3 for block in blocks)


@pytest.mark.parametrize("block", block_params())
def test_readme_block_runs(
    block: CodeBlock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if block.skipped:
        pytest.skip(f"{SKIP_MARKER} before README.md line {block.first_line}")
    if block.needs_s3:
        request.getfixturevalue("s3_server")
    monkeypatch.chdir(tmp_path)

    # Leading blank lines make a traceback show the README's line numbers.
    source = "\n" * (block.first_line - 1) + block.code
    exec(compile(source, str(README), "exec"), {"__name__": "__readme__"})
