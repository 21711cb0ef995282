"""osquery's version comparison, with the same results as its SQLite extension.

osquery registers `version_compare(left, op, right [, epoch, delim_precedence, comp_remaining,
remainder_precedence])` and the collations `version`, `version_arch`, `version_dpkg`,
`version_rhel` (osquery/sql/sqlite_version.cpp). Policies compare patch levels with these, so the
embedded engine must agree with osquery character for character: characters compare by code
within a segment, a longer run of non-delimiters wins over a delimiter, and the package-style
options change how epochs, delimiters and trailing text order.
"""

from __future__ import annotations

_DELIMITERS = {"~": 1, "-": 2, "^": 3, ".": 4, ":": 5}
_OPERATORS = ("<", "<=", "=", ">=", ">")
_TAIL_ORDER = {"~": -1, "-": 0, "^": 1}


def compare(
    left: str,
    right: str,
    *,
    epoch: bool = False,
    delim_precedence: bool = False,
    comp_remaining: bool = False,
    remainder_precedence: bool = False,
) -> int:
    """Negative, zero or positive as `left` sorts before, with, or after `right`."""
    if not left or not right:
        return (len(left) > 0) - (len(right) > 0)
    if left == right:
        return 0
    if epoch:
        diff = _epoch_difference(left, right)
        if diff:
            return diff
    first_diff = 0
    shortest = min(len(left), len(right))
    for i in range(shortest):
        l_delim = _DELIMITERS.get(left[i], 0)
        r_delim = _DELIMITERS.get(right[i], 0)
        if not l_delim and not r_delim:
            if not first_diff:
                first_diff = ord(left[i]) - ord(right[i])
            continue
        if not l_delim:
            return 1
        if not r_delim:
            return -1
        if first_diff:
            return first_diff
        if delim_precedence and l_delim != r_delim:
            return l_delim - r_delim
    if len(left) == len(right):
        return first_diff
    return _remainder(left, right, shortest, first_diff, comp_remaining, remainder_precedence)


def _epoch_difference(left: str, right: str) -> int:
    l_pos, r_pos = left.find(":"), right.find(":")
    if l_pos >= 0 and r_pos >= 0:
        return l_pos - r_pos
    if l_pos >= 0:
        return 1
    if r_pos >= 0:
        return -1
    return 0


def _remainder(left: str, right: str, pos: int, diff: int, comp_remaining: bool, precedence: bool) -> int:
    if comp_remaining:
        if len(left) == pos:
            order = _TAIL_ORDER.get(right[pos])
            if order is not None:
                return -order
            if diff and (not precedence or not left[pos - 1].isdigit()):
                return diff
        if len(right) == pos:
            order = _TAIL_ORDER.get(left[pos])
            if order is not None:
                return order
            if diff and (not precedence or not right[pos - 1].isdigit()):
                return diff
    return len(left) - len(right)


def version_compare(left: object, op: object, right: object, *options: object) -> int:
    """The SQL function. Raises ValueError (SQLite reports it as the query's error) on misuse."""
    if not (isinstance(left, str) and isinstance(op, str) and isinstance(right, str)):
        raise ValueError("Must provide two version strings and an operator to compare.")
    if op not in _OPERATORS:
        raise ValueError("Unknown compare operator. Must provide one of the following: (<, <=, =, >=, >)")
    flags = [False, False, False, False]
    for index, option in enumerate(options[:4]):
        if option is not None and not isinstance(option, int):
            raise ValueError(
                "Options for epoch, delim_precedence, comp_remaining, and remainder_precedence "
                "must be true, false, or null."
            )
        flags[index] = bool(option)
    rc = compare(
        left,
        right,
        epoch=flags[0],
        delim_precedence=flags[1],
        comp_remaining=flags[2],
        remainder_precedence=flags[3],
    )
    if rc < 0:
        return int(op[0] == "<")
    if rc > 0:
        return int(op[0] == ">")
    return int(op[0] == "=" or len(op) == 2)


def collation(name: str) -> tuple[bool, bool, bool, bool]:
    """The options osquery uses for each version collation."""
    return {
        "version": (False, False, False, False),
        "version_arch": (True, False, True, True),
        "version_dpkg": (True, True, False, False),
        "version_rhel": (True, True, True, False),
    }[name]
