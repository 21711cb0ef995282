"""osquery's version comparison: the `version_compare` SQL function and the four version collations.

Reimplemented from the behaviour of osquery/sql/sqlite_version.cpp as it is from 5.12.0 to 5.23.1,
so in both supported releases (5.12.1, 5.23.1). `version_compare` arrived in 5.11.0, and 5.12.0 fixed
the collation for a version whose last character is a delimiter (#8283, b6abdc3cb). The expectations
it must meet are osquery's own, ported as data in tests/conformance/osquery_sql_expectations.yaml.

`compare` works on the UTF-8 bytes as C `char`s (signed on the x86_64 and arm64 builds osquery ships
for macOS and Windows, and on x86_64 Linux), because osquery subtracts `int(l_ver[i]) - int(r_ver[i])`.
"""

from __future__ import annotations

_DELIMITERS = {ord("~"): 1, ord("-"): 2, ord("^"): 3, ord("."): 4, ord(":"): 5}
# After one version ends, what the other's next character says (sqlite_version.cpp compareRemainder):
# a tilde sorts before the end, a hyphen equal to it, a caret after it.
_TAIL_ORDER = {ord("~"): -1, ord("-"): 0, ord("^"): 1}
FLAVOURS = {
    # flavour -> (epoch, delim_precedence, comp_remaining, remainder_precedence)
    "ARCH": (True, False, True, True),
    "DPKG": (True, True, False, False),
    "RHEL": (True, True, True, False),
}
COLLATIONS = {
    "version": (False, False, False, False),
    "version_arch": FLAVOURS["ARCH"],
    "version_dpkg": FLAVOURS["DPKG"],
    "version_rhel": FLAVOURS["RHEL"],
}

MUST_BE_TWO_STRINGS = "Must provide two version strings to compare."
THIRD_NOT_STRING = "The optional third parameter is not a string."
UNKNOWN_FLAVOUR = "The optional third parameter does not match one of: (ARCH, DPKG, RHEL)."


class VersionCompareError(ValueError):
    """A misuse of `version_compare`; the message is osquery's, word for word."""


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def compare(
    left: str | bytes,
    right: str | bytes,
    *,
    epoch: bool = False,
    delim_precedence: bool = False,
    comp_remaining: bool = False,
    remainder_precedence: bool = False,
) -> int:
    """Negative, zero or positive as `left` sorts before, with, or after `right` (not clamped)."""
    lv = left.encode("utf-8") if isinstance(left, str) else left
    rv = right.encode("utf-8") if isinstance(right, str) else right
    if not lv or not rv:
        return (len(lv) > 0) - (len(rv) > 0)
    if lv == rv:
        return 0
    if epoch:
        diff = _epoch_difference(lv, rv)
        if diff:
            return diff
    first_diff = 0
    shortest = min(len(lv), len(rv))
    for i in range(shortest):
        l_delim = _DELIMITERS.get(lv[i], 0)
        r_delim = _DELIMITERS.get(rv[i], 0)
        if not l_delim and not r_delim:
            if not first_diff:
                first_diff = _signed(lv[i]) - _signed(rv[i])
            continue
        if not l_delim:
            return 1
        if not r_delim:
            return -1
        if first_diff:
            return first_diff
        if delim_precedence and l_delim != r_delim:
            return l_delim - r_delim
    if len(lv) == len(rv):
        return first_diff
    return _remainder(lv, rv, shortest, first_diff, comp_remaining, remainder_precedence)


def _epoch_difference(left: bytes, right: bytes) -> int:
    l_pos, r_pos = left.find(b":"), right.find(b":")
    if l_pos >= 0 and r_pos >= 0:
        return l_pos - r_pos
    if l_pos >= 0:
        return 1
    if r_pos >= 0:
        return -1
    return 0


def _remainder(left: bytes, right: bytes, pos: int, diff: int, comp_remaining: bool, precedence: bool) -> int:
    for shorter, longer, sign in ((left, right, -1), (right, left, 1)):
        if len(shorter) != pos:
            continue
        following = longer[pos]
        if comp_remaining:
            order = _TAIL_ORDER.get(following)
            if order is not None:
                return sign * order
            if diff and (not precedence or not 0x30 <= shorter[pos - 1] <= 0x39):
                return diff
        elif diff and following in _DELIMITERS:
            # The 5.12.0 fix (#8283): '26.5' vs '26.4.1' is decided by the segment, not by length.
            return diff
    return len(left) - len(right)


def version_compare(*args: object) -> int:
    """The SQL function `version_compare(LEFT, RIGHT [, 'ARCH'|'DPKG'|'RHEL'])` -> -1, 0 or 1.

    Arguments arrive as SQLite values (str for TEXT, int, float, bytes, None); like osquery, anything
    but TEXT for LEFT and RIGHT is an error, not a cast.
    """
    if len(args) < 2 or not isinstance(args[0], str) or not isinstance(args[1], str):
        raise VersionCompareError(MUST_BE_TWO_STRINGS)
    options = (False, False, False, False)
    if len(args) > 2:
        flavour = args[2]
        if not isinstance(flavour, str):
            raise VersionCompareError(THIRD_NOT_STRING)
        chosen = FLAVOURS.get(flavour.upper())
        if chosen is None:
            raise VersionCompareError(UNKNOWN_FLAVOUR)
        options = chosen
    # osquery measures the arguments with strlen: text after an embedded NUL is not compared.
    left, right = (str(a).encode("utf-8").split(b"\0", 1)[0] for a in args[:2])
    rc = compare(
        left,
        right,
        epoch=options[0],
        delim_precedence=options[1],
        comp_remaining=options[2],
        remainder_precedence=options[3],
    )
    return max(-1, min(1, rc))


def collation(name: str) -> tuple[bool, bool, bool, bool]:
    """The options osquery's collation `name` uses (versionCollate, versionCollateARCH, ...)."""
    return COLLATIONS[name]


def collate(name: str, left: str, right: str) -> int:
    epoch, delim, remaining, precedence = COLLATIONS[name]
    return compare(
        left,
        right,
        epoch=epoch,
        delim_precedence=delim,
        comp_remaining=remaining,
        remainder_precedence=precedence,
    )
