"""version_compare and the version collations, as osquery/sql/sqlite_version.cpp defines them (5.12.0+).

osquery's own expectations are in tests/conformance; these add the patch-level comparisons the shipped
policies make, the error texts of every misuse, and properties over arbitrary versions.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetward.recorded.versions import (
    MUST_BE_TWO_STRINGS,
    THIRD_NOT_STRING,
    UNKNOWN_FLAVOUR,
    VersionCompareError,
    collate,
    compare,
    version_compare,
)

versions = st.text(alphabet="0123456789.-~^:abcz", max_size=12)


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("26100.8655", "26100.8037", 1),
        ("26100.8037", "26100.8655", -1),
        ("26100.10000", "26100.8655", 1),  # a longer run of digits wins
        ("19045.7417", "19045.7417", 0),
        ("15.7.9", "15.7.10", -1),
        ("14.8.9", "14.8", 1),
        ("2", "10", -1),
        ("", "1", -1),
        ("26.5", "26.4.1", 1),  # the 5.12.0 fix (#8283); before it, '26.5' sorted first
    ],
)
def test_patch_level_comparisons(left: str, right: str, expected: int) -> None:
    assert version_compare(left, right) == expected


def test_flavours_are_case_insensitive_and_put_epochs_first() -> None:
    assert version_compare("1:1.0", "2.0", "dpkg") == 1
    assert version_compare("1:1.0", "2.0") == -1
    assert version_compare("5.15.0-161.161", "5.15.0-160.160", "DPKG") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("1",), MUST_BE_TWO_STRINGS),
        ((None, "1"), MUST_BE_TWO_STRINGS),
        ((26100, "26100.1"), MUST_BE_TWO_STRINGS),  # an INTEGER column is not cast: osquery refuses it
        (("1", "2", None), THIRD_NOT_STRING),
        (("1", "2", 1), THIRD_NOT_STRING),
        (("1", ">=", "2"), UNKNOWN_FLAVOUR),  # the operator form no osquery release has
        (("1", "2", "semver"), UNKNOWN_FLAVOUR),
    ],
)
def test_misuse_gives_osquerys_message(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(VersionCompareError) as raised:
        version_compare(*args)
    assert str(raised.value) == message


def test_unknown_flavour_text_is_osquerys() -> None:
    # osquery/sql/sqlite_version.cpp versionCompareFunc, word for word.
    assert UNKNOWN_FLAVOUR == "The optional third parameter does not match one of: (ARCH, DPKG, RHEL)."


@given(versions, versions)
def test_results_are_clamped_and_reflexive(a: str, b: str) -> None:
    assert version_compare(a, b) in (-1, 0, 1)
    assert version_compare(a, a) == 0
    for name in ("version", "version_arch", "version_dpkg", "version_rhel"):
        assert collate(name, a, a) == 0


@given(versions, versions)
def test_default_compare_is_antisymmetric(a: str, b: str) -> None:
    def sign(n: int) -> int:
        return (n > 0) - (n < 0)

    assert sign(compare(a, b)) == -sign(compare(b, a))
