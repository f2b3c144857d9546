"""Property tests: any text is a valid key that round-trips through a
FileDirDict, or a ValueError, and no key ever writes outside ``base_dir``."""

from __future__ import annotations

import os
import string

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from persidict import FileDirDict, NonEmptySafeStrTuple, SafeStrTuple

SAFE_ALPHABET = string.ascii_letters + string.digits + "()_-~.="

# The file name limit of Linux file systems such as ext4 and tmpfs, in bytes.
# Key components are ASCII, so bytes and characters count alike.
NAME_MAX = 255

# Characters that matter for paths, mixed into mostly-safe text so that
# valid and invalid components both come up often.
PATH_CHARS = "/\\\x00.:\u00e9\u2028 *?\n"

component_text = st.one_of(
    st.text(),
    st.text(alphabet=SAFE_ALPHABET, min_size=1, max_size=12),
    st.text(alphabet=SAFE_ALPHABET + PATH_CHARS, max_size=12),
    st.sampled_from(["", ".", "..", "...", "a/b", "a\\b", "/", "\\", "\x00"]),
    st.text(alphabet="ab.", min_size=240, max_size=300),
)

key_argument = st.one_of(
    component_text,
    st.tuples(component_text),
    st.lists(component_text, min_size=0, max_size=4).map(tuple),
    st.lists(component_text, min_size=1, max_size=4),
)

PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def expected_components(key_argument) -> tuple[str, ...] | None:
    """Return the components of a valid key, or None for an invalid one.

    A valid key has at least one component, and each component is 1 to 253
    characters from SAFE_ALPHABET and is neither '.' nor '..'.
    """
    parts = (key_argument,) if isinstance(key_argument, str) else tuple(key_argument)
    if not parts:
        return None
    for part in parts:
        if not part or len(part) >= 254 or part in (".", ".."):
            return None
        if any(c not in SAFE_ALPHABET for c in part):
            return None
    return parts


def exceeds_name_max(parts: tuple[str, ...], digest_len: int, extension: str) -> bool:
    """Tell whether a stored file or folder name would be longer than NAME_MAX."""
    suffix_len = digest_len + 1 if digest_len else 0
    lengths = [len(p) + suffix_len for p in parts]
    lengths[-1] += len(extension)
    return max(lengths) > NAME_MAX


def snapshot_tree(root: str) -> set[str]:
    """Return every path under ``root``, relative to it."""
    paths = set()
    for folder, subfolders, files in os.walk(root):
        for name in subfolders + files:
            paths.add(os.path.relpath(os.path.join(folder, name), root))
    return paths


def paths_outside(root: str, base_dir: str) -> set[str]:
    """Return the paths under ``root`` that are not ``base_dir`` or inside it."""
    inside = os.path.relpath(base_dir, root)
    return {
        p
        for p in snapshot_tree(root)
        if p != inside and not p.startswith(inside + os.sep)
    }


def assert_nothing_outside(d: FileDirDict) -> None:
    """Check that the dedicated folders around base_dir contain only base_dir."""
    parent = os.path.dirname(d.base_dir)
    assert os.listdir(parent) == ["store"]
    assert os.listdir(os.path.dirname(parent)) == ["sandbox"]


@pytest.fixture(params=[4, 0], ids=["digest4", "digest0"])
def sandbox(request, tmp_path):
    """A FileDirDict whose base_dir sits alone in a dedicated folder.

    The layout is tmp_path/sandbox/store, so any path a key creates outside
    base_dir shows up in sandbox or tmp_path.
    """
    parent = tmp_path / "sandbox"
    parent.mkdir()
    base_dir = parent / "store"
    d = FileDirDict(base_dir=str(base_dir), fsync=False, digest_len=request.param)
    before = paths_outside(str(tmp_path), str(base_dir))
    yield d
    assert paths_outside(str(tmp_path), str(base_dir)) == before


def check_key_round_trip(d: FileDirDict, key_argument) -> str:
    """Write, read and list one key, or expect a ValueError for invalid text.

    Returns the case that applied: "invalid", "too long" or "valid".
    """
    parts = expected_components(key_argument)
    too_long = parts is not None and exceeds_name_max(parts, d.digest_len, ".pkl")
    value = {"key": repr(key_argument)}

    if parts is None or too_long:
        with pytest.raises(ValueError):
            d[key_argument] = value
        assert len(d) == 0
        assert_nothing_outside(d)
        return "invalid" if parts is None else "too long"

    d[key_argument] = value
    try:
        assert d[key_argument] == value
        assert key_argument in d
        listed = list(d.keys())
        assert listed.count(parts) == 1
        assert len(listed) == 1
        assert type(listed[0]) is NonEmptySafeStrTuple
    finally:
        d.discard(key_argument)
    assert_nothing_outside(d)
    return "valid"


@PROPERTY_SETTINGS
@given(text=component_text)
def test_any_text_is_key_or_value_error(sandbox, text):
    event(check_key_round_trip(sandbox, text))


@PROPERTY_SETTINGS
@given(key=key_argument)
@example(key=("a", "..", "b"))
@example(key=("..",))
@example(key=[".", "a"])
@example(key=("a/b", "c"))
@example(key=("a", "b\\c"))
@example(key=())
@example(key=("a", ""))
@example(key=("x" * 300,))
@example(key=("ok", "y" * 253))
def test_any_key_sequence_round_trips(sandbox, key):
    event(check_key_round_trip(sandbox, key))


@pytest.mark.parametrize(
    "text",
    ["..", ".", "a/b", "a\\b", "", "x" * 300, "../escape", "a\x00b", "/abs"],
    ids=[
        "dotdot",
        "dot",
        "slash",
        "backslash",
        "empty",
        "300-chars",
        "up",
        "nul",
        "abs",
    ],
)
def test_invalid_text_raises_value_error(sandbox, text):
    with pytest.raises(ValueError):
        sandbox[text] = 1


@pytest.mark.parametrize("key", [("a", "..", "b"), ("..", "etc"), ("a", ".")])
def test_dot_components_never_escape(sandbox, key):
    with pytest.raises(ValueError):
        sandbox[key] = 1


def test_safe_str_tuple_rejects_dotdot_path():
    with pytest.raises(ValueError):
        SafeStrTuple("a", "..", "b")


@pytest.mark.parametrize("text", ["...", "..a", "a..", ".hidden", "~", "=", "()"])
def test_dotted_safe_names_round_trip(sandbox, text):
    assert check_key_round_trip(sandbox, text) == "valid"


def test_longest_component_fits_with_digest(sandbox):
    # 253 characters plus "_" + digest + ".pkl" exceeds NAME_MAX, so the longest
    # storable component is NAME_MAX - len(suffix) - len(".pkl").
    suffix_len = sandbox.digest_len + 1 if sandbox.digest_len else 0
    text = "k" * (NAME_MAX - suffix_len - len(".pkl"))
    assert check_key_round_trip(sandbox, text) == "valid"
