"""osquery's SQL functions beyond what osquery's own tests cover, each case from the C++ it reimplements
(osquery/sql/sqlite_*.cpp at 5.23.1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetward.errors import QueryError
from fleetward.policy.model import Platform
from fleetward.recorded import RecordedDevice, RecordedEngine
from fleetward.recorded.sqlite_builtins import builtin_functions


def engine(platform: Platform = Platform.LINUX, **tables: list[dict[str, str]]) -> RecordedEngine:
    device = RecordedDevice(
        name="f", platform=platform, recorded_at=datetime(2026, 12, 1, tzinfo=UTC), tables=tables
    )
    return RecordedEngine(device)


def one(sql: str, platform: Platform = Platform.LINUX) -> str:
    (row,) = engine(platform).query(f"SELECT {sql} AS v")
    return row["v"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # sqlite_string.cpp tokenSplit -> osquery::split: any of the characters, empties dropped, trimmed.
        ("split(' a , b ,, c', ',', 1)", "b"),
        ("split('a, ,b', ',', 1)", ""),  # a blank piece trims to "" but is kept
        ("split('a,b', ',', -1)", ""),  # a negative index is out of range: NULL
        ("split(NULL, ',', 0)", ""),
        ("regex_match('26100.8655', '^(\\d+)\\.(\\d+)$', 2)", "8655"),
        ("regex_match('abc', '(x)?abc', 1)", ""),  # an unmatched group is "" (std::ssub_match)
        ("inet_aton('10.0.0.1')", "167772161"),
        ("inet_aton('::1')", ""),
        ("inet_aton('10.0.0')", ""),
        ("concat_ws('-', 'a', 'b', NULL)", "a-b-"),  # the separator follows any value not last
        ("concat(NULL, NULL)", ""),
        # sqlite_network.cpp: boost network_v4::hosts() leaves out the network and broadcast addresses.
        ("in_cidr_block('10.0.0.0/24', '10.0.0.0')", "0"),
        ("in_cidr_block('10.0.0.0/24', '10.0.0.255')", "0"),
        ("in_cidr_block('10.0.0.7/32', '10.0.0.7')", "1"),
        ("in_cidr_block('2001:db8::/64', '2001:db8::')", "1"),
        # sqlite_encoding.cpp / osquery/utils/base64.cpp
        ("from_base64('dGVzdA')", "test"),  # padding optional
        ("from_base64('d*GVzdA==')", ""),  # a character outside the alphabet empties the result
        ("conditional_to_base64('tab\there')", "dGFiCWhlcmU="),  # a control character is not printable
        # sqlite_math.cpp
        ("ceil(1.2)", "2"),
        ("floor(-1.5)", "-2"),
        ("ceil(7)", "7"),
        ("power(2, 10)", "1024.0"),
        ("sqrt(16)", "4.0"),
        ("round(pi(), 5)", "3.14159"),
        ("degrees(pi())", "180.0"),
        # sqlite_filesystem.cpp parent_directory: POSIX separators off Windows
        ("parent_directory('/usr/bin/python3')", "/usr/bin"),
        ("parent_directory('python3')", ""),
        # sqlite_operations.cpp: the carver is disabled; the answer is cut to 13 bytes
        ("carve('/etc/passwd')", "Carve Failed:"),
        ("sleep(0)", "0"),
    ],
)
def test_function_results(sql: str, expected: str) -> None:
    assert one(sql) == expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("split('a', '', 0)", "Invalid input to split function"),
        ("regex_split('a', '(', 0)", "Invalid regex"),
        ("in_cidr_block(1, '10.0.0.1')", "CIDR must be a string"),
        ("in_cidr_block('10.0.0.0/8', NULL)", "IP address must be a string"),
        ("in_cidr_block('10.0.0.0/8', 'nope')", "IP address cannot be parsed"),
        ("in_cidr_block('10.0.0.0', '10.0.0.1')", "CIDR for IP address v4 cannot be parsed"),
        ("in_cidr_block('10.0.0.0/8', '::1')", "CIDR for IP address v6 cannot be parsed"),
        (
            "community_id_v1_strict('1.2.3.4', '5.6.7.8', 1, 2, 300)",
            "Community ID protocol must fit in 1 byte",
        ),
        ("community_id_v1_strict('1.2.3.4', '5.6.7.8', '1', 2, 6)", "Community ID ports must be integers"),
        ("parent_directory(5)", "Invalid inputs to parent_directory, TEXT was expected"),
        ("sqrt(-1)", "Numerical argument out of domain"),  # EDOM, glibc's strerror
        ("log(0)", "Numerical result out of range"),  # ERANGE (pole)
        ("version_compare('1', NULL)", "Must provide two version strings to compare."),
        ("version_compare('1', '2', NULL)", "The optional third parameter is not a string."),
    ],
)
def test_function_errors_are_osquerys(sql: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        one(sql)
    assert str(raised.value) == message


def test_math_errors_use_the_platforms_strerror() -> None:
    with pytest.raises(QueryError, match=r"^Result too large$"):
        one("log(0)", Platform.DARWIN)
    with pytest.raises(QueryError, match=r"^Domain error$"):
        one("sqrt(-1)", Platform.WINDOWS)


def test_windows_paths_use_backslashes() -> None:
    assert (
        one("parent_directory('C:\\Windows\\System32\\cmd.exe')", Platform.WINDOWS) == "C:\\Windows\\System32"
    )


def test_program_path_functions_look_at_the_recorded_files() -> None:
    files = [{"path": "/usr/bin/python3", "type": "regular"}, {"path": "/opt/my app/run", "type": "regular"}]
    e = engine(file=files)
    assert e.query("SELECT find_file_path_in_cmd('/usr/bin/python3 -m http.server') AS v") == [
        {"v": "/usr/bin/python3"}
    ]
    assert e.query("SELECT find_file_path_in_cmd('\"/opt/my app/run\" --x', 1) AS v") == [
        {"v": "/opt/my app/run"}
    ]
    assert e.query("SELECT is_path_deterministic('/usr/bin/python3 -x') AS v") == [{"v": "1"}]
    with pytest.raises(QueryError, match=r"^Invalid inputs to find_binary_path_from_cmd$"):
        e.query("SELECT find_file_path_in_cmd(NULL)")


def _on(release: str, sql: str) -> list[dict[str, str]]:
    device = RecordedDevice(
        name="f",
        platform=Platform.LINUX,
        recorded_at=datetime(2026, 12, 1, tzinfo=UTC),
        osquery_version=release,
    )
    return RecordedEngine(device).query(sql)


@pytest.mark.parametrize("release", ["5.12.1", "5.23.1"])
@pytest.mark.parametrize("function", ["trunc(1.5)", "ln(2)", "mod(7, 2)", "json_pretty('{}')", "unistr('a')"])
def test_sqlite_functions_osquerys_build_lacks_are_no_such_function(release: str, function: str) -> None:
    # libraries/cmake/source/sqlite/CMakeLists.txt: no SQLITE_ENABLE_MATH_FUNCTIONS; SQLite 3.45.0 in
    # 5.12.0 and 3.42.0 from 5.12.1 (libraries/third_party_libraries_manifest.json).
    with pytest.raises(QueryError, match=f"^no such function: {function.split('(')[0]}$"):
        _on(release, f"SELECT {function} AS v")


def test_functions_follow_the_releases_sqlite() -> None:
    # 5.12.0 bundled SQLite 3.45.0, which has octet_length (3.43); 5.12.1 on are back on 3.42.0 (#8295).
    assert {"octet_length", "string_agg"} <= builtin_functions("3.45.0")
    assert "octet_length" not in builtin_functions("3.42.0")
    with pytest.raises(QueryError, match=r"^no such function: octet_length$"):
        _on("5.12.1", "SELECT octet_length('ab') AS v")


def test_soundex_is_built_in_as_osquery_builds_sqlite() -> None:
    assert _on("5.23.1", "SELECT soundex('Robert') AS a, soundex('Tymczak') AS b, soundex('123') AS c") == [
        {"a": "R163", "b": "T522", "c": "?000"}
    ]


def test_sqlite_version_is_the_one_osquery_bundles() -> None:
    assert _on("5.23.1", "SELECT sqlite_version() AS v") == [{"v": "3.42.0"}]
