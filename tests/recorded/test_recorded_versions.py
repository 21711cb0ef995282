"""version_compare and the version collations, as osquery's sqlite_version.cpp defines them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetward.recorded.versions import collation, compare, version_compare

versions = st.text(alphabet="0123456789.-~^:abcz", max_size=12)
OPTION_SETS = [collation(name) for name in ("version", "version_arch", "version_dpkg", "version_rhel")]


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@pytest.mark.parametrize(
    ("left", "op", "right", "expected"),
    [
        ("26100.8655", ">=", "26100.8037", 1),
        ("26100.8037", ">=", "26100.8655", 0),
        ("26100.10000", ">", "26100.8655", 1),  # a longer run of digits wins
        ("19045.7417", "=", "19045.7417", 1),
        ("15.7.9", "<", "15.7.10", 1),
        ("14.8.9", ">=", "14.8", 1),
        ("1.0", "<=", "1.0", 1),
        ("1.0", "<", "1.0", 0),
        ("2", ">", "10", 0),
        ("", "<", "1", 1),
    ],
)
def test_known_comparisons(left: str, op: str, right: str, expected: int) -> None:
    assert version_compare(left, op, right) == expected


def test_dpkg_options_put_epochs_first() -> None:
    epoch, _delim, _remaining, _precedence = collation("version_dpkg")
    assert compare("1:1.0", "2.0", epoch=epoch) > 0  # an epoch beats any version without one
    assert version_compare("5.15.0-161.161", ">", "5.15.0-160.160", 1, 1) == 1


@pytest.mark.parametrize("bad_op", ["==", "!=", "<>", ""])
def test_unknown_operator_is_an_error(bad_op: str) -> None:
    with pytest.raises(ValueError, match="Unknown compare operator"):
        version_compare("1", bad_op, "2")


def test_non_text_arguments_are_an_error() -> None:
    with pytest.raises(ValueError, match="two version strings"):
        version_compare(None, "<", "1")


@given(versions)
def test_every_version_equals_itself(v: str) -> None:
    for epoch, delim, remaining, precedence in OPTION_SETS:
        assert (
            compare(
                v,
                v,
                epoch=epoch,
                delim_precedence=delim,
                comp_remaining=remaining,
                remainder_precedence=precedence,
            )
            == 0
        )


@given(versions, versions)
def test_compare_is_antisymmetric(a: str, b: str) -> None:
    assert sign(compare(a, b)) == -sign(compare(b, a))


@given(versions, versions)
def test_operators_agree_with_each_other(a: str, b: str) -> None:
    lt, eq, gt = (version_compare(a, op, b) for op in ("<", "=", ">"))
    assert lt + eq + gt == 1
    assert version_compare(a, "<=", b) == (lt or eq)
    assert version_compare(a, ">=", b) == (gt or eq)


@given(
    st.lists(st.integers(min_value=0, max_value=99999), min_size=1, max_size=4),
    st.lists(st.integers(min_value=0, max_value=99999), min_size=1, max_size=4),
)
def test_numeric_dotted_versions_compare_like_tuples_of_the_same_length(a: list[int], b: list[int]) -> None:
    if len(a) != len(b):
        return
    left, right = ".".join(map(str, a)), ".".join(map(str, b))
    assert sign(compare(left, right)) == sign((a > b) - (a < b))
