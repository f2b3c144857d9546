"""FileDirDict: file layout, foreign files, corrupt files, path safety and
stores written by the public persidict package."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import pickle
import shutil
import threading
import time
from pathlib import Path

import pytest

from persidict import (
    ANY_ETAG,
    ETAG_IS_THE_SAME,
    IF_ETAG_CHANGED,
    BackendError,
    CorruptValueError,
    FileDirDict,
    NonEmptySafeStrTuple,
    file_dir_dict,
)


def digest_suffix(component: str, digest_len: int) -> str:
    """Return the suffix that the layout adds to ``component``: ``_`` plus the
    first ``digest_len`` characters of its lower-cased base32 MD5 digest."""
    if digest_len == 0:
        return ""
    digest = hashlib.md5(component.encode("utf-8")).digest()
    return "_" + base64.b32encode(digest).decode("ascii")[:digest_len].lower()


def stored_path(base: Path, key: tuple[str, ...], extension: str, digest_len=4):
    names = [c + digest_suffix(c, digest_len) for c in key]
    names[-1] += "." + extension
    return base.joinpath(*names)


def item_files(base: Path) -> list[Path]:
    """Return every file under ``base`` except the dict's own temporary and
    lock files, whose names start with '+'."""
    return sorted(
        path
        for path in base.rglob("*")
        if path.is_file() and not path.name.startswith("+")
    )


# ------------------------------------------------------------------ layout


@pytest.mark.parametrize("digest_len", [0, 4, 8])
@pytest.mark.parametrize(
    ("serialization_format", "value"),
    [("pkl", 1), ("json", 1), ("txt", "one")],
)
def test_file_layout_matches_spec(tmp_path, digest_len, serialization_format, value):
    d = FileDirDict(
        base_dir=tmp_path,
        digest_len=digest_len,
        serialization_format=serialization_format,
        base_class_for_values=str if serialization_format == "txt" else None,
    )
    key = ("Alpha", "beta", "Gamma.v1")
    d[key] = value

    expected = stored_path(tmp_path, key, serialization_format, digest_len)
    assert item_files(tmp_path) == [expected]
    assert list(d) == [key]


def test_known_digest_suffix(tmp_path):
    # MD5("a") is 0cc175b9..., and its base32 encoding starts with "BTAXL".
    d = FileDirDict(base_dir=tmp_path, serialization_format="json")
    d["a"] = 1

    assert (tmp_path / "a_btax.json").is_file()


def test_case_variants_get_distinct_names(tmp_path):
    d = FileDirDict(base_dir=tmp_path)
    d["Key"] = 1
    d["key"] = 2
    d["KEY"] = 3

    names = [path.name.lower() for path in item_files(tmp_path)]
    assert len(names) == 3
    assert len(set(names)) == 3


def test_subdict_base_dir_has_suffix(tmp_path):
    d = FileDirDict(base_dir=tmp_path)
    sub = d.get_subdict(("p", "q"))

    expected = tmp_path / f"p{digest_suffix('p', 4)}" / f"q{digest_suffix('q', 4)}"
    assert Path(sub.base_dir) == expected


def test_base_dir_is_created(tmp_path):
    base = tmp_path / "deep" / "store"
    FileDirDict(base_dir=base)

    assert base.is_dir()


# ----------------------------------------------------------- foreign files


def write_foreign_files(base: Path) -> None:
    """Put files and folders into ``base`` that are not items of a pkl dict
    with digest_len=4."""
    sub = base / f"grp{digest_suffix('grp', 4)}"
    sub.mkdir(parents=True, exist_ok=True)
    for folder in (base, sub):
        (folder / "+0123abcd.tmp").write_bytes(pickle.dumps("partial"))
        (folder / "+persidict.lock").write_bytes(b"")
        (folder / "README").write_text("notes")
        (folder / "notes.md").write_text("notes")
        (folder / f"other{digest_suffix('other', 4)}.json").write_text("1")
        (folder / "nodigest.pkl").write_bytes(pickle.dumps(1))
        (folder / "wrong_zzzz.pkl").write_bytes(pickle.dumps(1))
        (folder / ".__tmp__x1y2z3").write_bytes(pickle.dumps(1))
        (folder / ".hidden.pkl").write_bytes(pickle.dumps(1))
    bad_folder = base / "folder_zzzz"
    bad_folder.mkdir()
    (bad_folder / f"x{digest_suffix('x', 4)}.pkl").write_bytes(pickle.dumps(1))
    plain_folder = base / "plain"
    plain_folder.mkdir()
    (plain_folder / f"y{digest_suffix('y', 4)}.pkl").write_bytes(pickle.dumps(1))


def test_foreign_files_are_not_keys(tmp_path):
    d = FileDirDict(base_dir=tmp_path)
    d["real"] = 1
    d["grp", "item"] = 2
    write_foreign_files(tmp_path)

    assert sorted(k.strings for k in d) == [("grp", "item"), ("real",)]
    assert len(d) == 2
    assert set(d.subdicts()) == {"grp"}
    assert dict(d.items()) == {("real",): 1, ("grp", "item"): 2}


def test_foreign_files_survive_clear(tmp_path):
    d = FileDirDict(base_dir=tmp_path)
    d["real"] = 1
    write_foreign_files(tmp_path)
    d.clear()

    assert len(d) == 0
    assert (tmp_path / "README").is_file()


def test_writes_leave_no_temp_files(tmp_path):
    d = FileDirDict(base_dir=tmp_path, fsync=False)
    for index in range(20):
        d["k", str(index % 3)] = index
    d.set_item_if(
        ("k", "0"),
        value=0,
        condition=ETAG_IS_THE_SAME,
        expected_etag=d.etag(("k", "0")),
    )
    d.setdefault("new", 1)

    temp_files = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert temp_files == []


def test_scan_removes_stale_temp_files(tmp_path, monkeypatch):
    d = FileDirDict(base_dir=tmp_path, fsync=False)
    d["grp", "item"] = 1
    folder = stored_path(tmp_path, ("grp", "item"), "pkl").parent
    stale = folder / "+0123456789abcdef.tmp"
    stale.write_bytes(b"half a value")
    monkeypatch.setattr(file_dir_dict, "_STALE_TEMP_AGE", 0.5)
    time.sleep(1.0)
    fresh = folder / "+fedcba9876543210.tmp"
    fresh.write_bytes(b"a write in progress")

    assert list(d.keys()) == [("grp", "item")]
    assert not stale.exists()
    assert fresh.exists()
    assert d["grp", "item"] == 1


def test_write_survives_removal_of_its_temp_file(tmp_path, monkeypatch):
    # A write that waits long for the key lock may find that a scan took its
    # temporary file for a leftover: it writes the file again.
    d = FileDirDict(base_dir=tmp_path, fsync=False)
    d["k"] = 1
    monkeypatch.setattr(file_dir_dict, "_STALE_TEMP_AGE", 0.5)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            d["k"] = 2
        except BaseException as err:
            errors.append(err)

    with d._exclusive(NonEmptySafeStrTuple("k")):
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(1.0)
        assert list(d.keys()) == [("k",)]
        temp_files = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    writer.join(30)

    assert temp_files == []
    assert errors == []
    assert d["k"] == 2


def test_scan_keeps_recent_temp_files(tmp_path):
    d = FileDirDict(base_dir=tmp_path, fsync=False)
    d["item"] = 1
    temp = tmp_path / "+0123456789abcdef.tmp"
    temp.write_bytes(b"a write in progress")

    assert len(d) == 1
    assert temp.exists()


@pytest.mark.parametrize(
    "respell",
    [
        pytest.param(lambda h: "0x" + h, id="prefix"),
        pytest.param(lambda h: " " + h, id="leading-space"),
        pytest.param(lambda h: h + " ", id="trailing-space"),
        pytest.param(lambda h: h[:-1] + "_" + h[-1], id="underscore"),
    ],
)
def test_other_spelling_of_etag_is_changed(tmp_path, respell):
    # Each spelling reads as the same number with int(..., 16), but an ETag
    # is compared as a string.
    d = FileDirDict(base_dir=tmp_path)
    d["k"] = "value"
    etag = d.etag("k")
    mtime, size, inode = etag.split("-")
    variant = "-".join([respell(mtime), size, inode])

    result = d.get_item_if(
        "k", condition=ANY_ETAG, expected_etag=variant, retrieve_value=IF_ETAG_CHANGED
    )

    assert result.actual_etag == etag
    assert result.new_value == "value"


# ------------------------------------------------------------ corrupt files


@pytest.mark.parametrize(
    ("serialization_format", "garbage"),
    [
        ("pkl", b"\x80\x05not a pickle"),
        ("json", b"{not json"),
        ("txt", b"\xff\xfe\xfa not utf-8"),
    ],
)
def test_corrupt_file_names_key_and_path(tmp_path, serialization_format, garbage):
    d = FileDirDict(
        base_dir=tmp_path,
        serialization_format=serialization_format,
        base_class_for_values=str if serialization_format == "txt" else None,
    )
    d["good"] = "fine"
    d["grp", "bad"] = "fine"
    path = stored_path(tmp_path, ("grp", "bad"), serialization_format)
    path.write_bytes(garbage)

    with pytest.raises(CorruptValueError) as caught:
        d["grp", "bad"]

    error = caught.value
    assert isinstance(error, BackendError)
    assert error.key == ("grp", "bad")
    assert "bad" in str(error)
    assert str(path) in str(error)
    assert error.location == str(path)
    assert error.__cause__ is not None
    assert d["good"] == "fine"
    assert ("grp", "bad") in d


def test_corrupt_file_not_hidden_by_get(tmp_path):
    d = FileDirDict(base_dir=tmp_path)
    d["bad"] = 1
    stored_path(tmp_path, ("bad",), "pkl").write_bytes(b"garbage")

    with pytest.raises(CorruptValueError):
        d.get("bad", "fallback")


def test_wrong_stored_class_rejected(tmp_path):
    FileDirDict(base_dir=tmp_path)["k"] = 5
    d = FileDirDict(base_dir=tmp_path, base_class_for_values=str)

    with pytest.raises(TypeError):
        d["k"]


def test_folder_named_like_item(tmp_path):
    d = FileDirDict(base_dir=tmp_path, digest_len=0)
    (tmp_path / "k.pkl").mkdir()

    assert "k" not in d
    with pytest.raises(KeyError):
        d["k"]


# --------------------------------------------- deletions during iteration


def test_items_skip_files_deleted_midway(tmp_path):
    d = FileDirDict(base_dir=tmp_path, fsync=False)
    for index in range(10):
        d[f"k{index}"] = index
    items = iter(d.items())
    first_key, first_value = next(items)
    for key in list(d):
        if key != first_key:
            del d[key]

    assert list(items) == []
    assert first_value == int(first_key[0][1:])


def test_values_skip_files_deleted_midway(tmp_path):
    d = FileDirDict(base_dir=tmp_path, fsync=False)
    for index in range(10):
        d[f"k{index}"] = index
    stream = iter(d.values())
    next(stream)
    for path in item_files(tmp_path):
        path.unlink()

    assert list(stream) == []


def test_timestamps_skip_deleted_files(tmp_path):
    d = FileDirDict(base_dir=tmp_path, fsync=False)
    for index in range(10):
        d[f"k{index}"] = index
    pairs = d.keys_and_timestamps()
    next(pairs)
    for path in item_files(tmp_path):
        path.unlink()

    assert list(pairs) == []


def test_iteration_skips_deleted_folders(tmp_path):
    d = FileDirDict(base_dir=tmp_path, fsync=False)
    for group in "abcdef":
        d[group, "item"] = group
    keys = iter(d)
    first = next(keys)
    for folder in tmp_path.iterdir():
        if folder.is_dir() and not folder.name.startswith(first[0] + "_"):
            shutil.rmtree(folder)

    assert list(keys) == []
    assert list(d) == [first]


# ------------------------------------------------------------- path safety


ESCAPING_KEYS = [
    pytest.param("..", id="dotdot"),
    pytest.param(("..", "x"), id="dotdot-first"),
    pytest.param(("a", "..", "..", "x"), id="dotdot-middle"),
    pytest.param("../x", id="relative-path"),
    pytest.param("/etc", id="absolute-path"),
    pytest.param(("a", "/tmp"), id="absolute-component"),
    pytest.param("a/b", id="slash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param(".", id="dot"),
    pytest.param(("a", "."), id="dot-last"),
]


@pytest.mark.parametrize("digest_len", [0, 4])
@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_keys_cannot_escape_base_dir(tmp_path, key, digest_len):
    d = FileDirDict(base_dir=tmp_path / "store", digest_len=digest_len)
    before = sorted(tmp_path.rglob("*"))

    with pytest.raises(ValueError):
        d[key] = 1
    with pytest.raises(ValueError):
        d.discard(key)

    assert sorted(tmp_path.rglob("*")) == before


def test_tilde_component_stays_inside(tmp_path):
    base = tmp_path / "store"
    d = FileDirDict(base_dir=base, digest_len=0)
    d["~", "x"] = 1

    assert item_files(tmp_path) == [base / "~" / "x.pkl"]


@pytest.mark.parametrize("prefix", ["..", ("a", ".."), "a/b", "/"])
def test_subdict_cannot_escape_base_dir(tmp_path, prefix):
    d = FileDirDict(base_dir=tmp_path / "store", digest_len=0)

    with pytest.raises(ValueError):
        d.get_subdict(prefix)


@pytest.mark.parametrize(
    ("digest_len", "key"),
    [
        (4, "a" * 253),
        (4, ("a" * 253, "leaf")),
        (0, "b" * 253),
    ],
    ids=["leaf-with-digest", "folder-with-digest", "leaf-without-digest"],
)
def test_long_component_clear_valueerror(tmp_path, digest_len, key):
    d = FileDirDict(base_dir=tmp_path, digest_len=digest_len)

    with pytest.raises(ValueError) as caught:
        d[key] = 1

    assert not isinstance(caught.value, OSError)
    assert "a" * 40 in str(caught.value) or "b" * 40 in str(caught.value)
    assert item_files(tmp_path) == []


def test_longest_fitting_component_works(tmp_path):
    # 246 characters + "_" + 4 digest characters + ".pkl" = 255 bytes.
    d = FileDirDict(base_dir=tmp_path)
    d["c" * 246] = 1

    assert d["c" * 246] == 1


# ------------------------------------------------------------ JSON files


def test_json_file_is_plain_json(tmp_path):
    d = FileDirDict(base_dir=tmp_path, serialization_format="json")
    value = {"name": "caf\u00e9 \u2713", "items": [1, 2.5, None, True], "n": {}}
    d["k"] = value

    text = stored_path(tmp_path, ("k",), "json").read_bytes().decode("utf-8")
    assert json.loads(text) == value
    assert "py/" not in text


def test_json_tags_only_when_needed(tmp_path):
    d = FileDirDict(base_dir=tmp_path, serialization_format="json")
    d["k"] = {"pair": (1, 2)}

    text = stored_path(tmp_path, ("k",), "json").read_text("utf-8")
    assert json.loads(text) != {"pair": [1, 2]}
    assert d["k"] == {"pair": (1, 2)}


# -------------------------------------------- stores of the public package


def write_text_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def test_reads_public_package_json(tmp_path):
    # Files as persidict 0.309 writes them: jsonpickle.dumps(value, indent=4)
    # under names with 4-character digest suffixes.
    files = {
        ("plain",): '{\n    "a": 1,\n    "b": [\n        "x",\n        null\n    ]\n}',
        ("grp", "pair"): '{\n    "py/tuple": [\n        1,\n        "two"\n    ]\n}',
        ("grp", "set"): '{\n    "py/set": [\n        3\n    ]\n}',
        ("grp", "deep", "text"): '"caf\u00e9"',
        ("number",): "2.5",
    }
    for key, text in files.items():
        write_text_file(stored_path(tmp_path, key, "json"), text)

    d = FileDirDict(base_dir=tmp_path, serialization_format="json")

    assert sorted(k.strings for k in d) == sorted(files)
    assert d["plain"] == {"a": 1, "b": ["x", None]}
    assert d["grp", "pair"] == (1, "two")
    assert d["grp", "set"] == {3}
    assert d["grp", "deep", "text"] == "caf\u00e9"
    assert d["number"] == 2.5


def test_reads_public_package_text(tmp_path):
    write_text_file(
        stored_path(tmp_path, ("notes", "n1"), "txt"), "line 1\nl\u00efne 2"
    )
    write_text_file(stored_path(tmp_path, ("n2",), "txt"), "")

    d = FileDirDict(
        base_dir=tmp_path, serialization_format="txt", base_class_for_values=str
    )

    assert sorted(k.strings for k in d) == [("n2",), ("notes", "n1")]
    assert d["notes", "n1"] == "line 1\nl\u00efne 2"
    assert d["n2"] == ""


def test_text_file_is_plain_utf8(tmp_path):
    d = FileDirDict(
        base_dir=tmp_path, serialization_format="txt", base_class_for_values=str
    )
    d["k"] = "caf\u00e9\r\n\u2713"

    assert stored_path(tmp_path, ("k",), "txt").read_bytes() == (
        "caf\u00e9\r\n\u2713".encode()
    )


LEGACY_EXTRA_INSTALLED = all(
    importlib.util.find_spec(name) is not None for name in ("joblib", "lz4")
)


@pytest.mark.skipif(LEGACY_EXTRA_INSTALLED, reason="joblib and lz4 are installed")
def test_lz4_pickle_names_legacy_extra(tmp_path):
    # An LZ4 frame starts with the magic number 0x184D2204, little-endian.
    lz4_frame = b"\x04\x22\x4d\x18" + b"\x64\x40\xa7" + b"\x00" * 8
    d = FileDirDict(base_dir=tmp_path)
    d["new"] = 1
    stored_path(tmp_path, ("old",), "pkl").write_bytes(lz4_frame)

    with pytest.raises((BackendError, ImportError)) as caught:
        d["old"]

    assert "persidict[legacy]" in str(caught.value)
    assert d["new"] == 1


# ------------------------------------------------------ atomicity, handles


@pytest.mark.parametrize("fsync", [False, True], ids=["nofsync", "fsync"])
def test_readers_never_see_partial_values(tmp_path, fsync):
    d = FileDirDict(base_dir=tmp_path, fsync=fsync)
    versions = [bytes([n]) * 1_000_000 for n in (1, 2)]
    d["k"] = versions[0]
    stop = threading.Event()
    torn_reads = []

    def write_repeatedly():
        for index in range(20):
            d["k"] = versions[index % 2]
        stop.set()

    writer = threading.Thread(target=write_repeatedly)
    writer.start()
    reads = 0
    while not stop.is_set() or reads == 0:
        value = d["k"]
        reads += 1
        if value not in versions:
            torn_reads.append(len(value))
    writer.join()

    assert torn_reads == []
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_fsync_flag_in_params(tmp_path):
    d = FileDirDict(base_dir=tmp_path, fsync=False)

    assert d.get_params()["fsync"] is False
    assert d.clone().fsync is False


def test_pickle_gives_same_folder(tmp_path):
    d = FileDirDict(base_dir=tmp_path, serialization_format="json", digest_len=6)
    d["a"] = 1
    handle = pickle.loads(pickle.dumps(d))
    handle["b"] = 2

    assert handle.base_dir == d.base_dir
    assert handle.get_params() == d.get_params()
    assert handle["a"] == 1
    assert d["b"] == 2


def test_relative_base_dir_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = FileDirDict(base_dir="store")
    d["k"] = 1
    monkeypatch.chdir(os.sep)

    assert d["k"] == 1
    assert Path(d.base_dir) == tmp_path / "store"


@pytest.mark.parametrize(
    ("parameter", "value", "error"),
    [
        ("digest_len", -1, ValueError),
        ("fsync", "yes", TypeError),
        ("base_dir", 5, TypeError),
    ],
)
def test_invalid_parameters_rejected(tmp_path, parameter, value, error):
    params = {"base_dir": tmp_path, parameter: value}

    with pytest.raises(error):
        FileDirDict(**params)
