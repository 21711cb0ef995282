"""The SQL functions osquery registers on its SQLite database, with osquery's results and error texts.

One function per osquery C++ function, reimplemented from the behaviour of osquery 5.23.1 (unchanged
since 5.12.0 unless noted) and checked against osquery's own tests (tests/conformance/):

    osquery/sql/sqlite_string.cpp      split, regex_split, regex_match, inet_aton, concat, concat_ws
    osquery/sql/sqlite_hashing.cpp     md5, sha1, sha256, community_id_v1, community_id_v1_strict
    osquery/sql/sqlite_encoding.cpp    to_base64, from_base64, conditional_to_base64
    osquery/sql/sqlite_network.cpp     in_cidr_block
    osquery/sql/sqlite_math.cpp        sqrt acos asin atan cos sin tan cot exp log log10 power ceil floor
                                       degrees radians pi
    osquery/sql/sqlite_filesystem.cpp  parent_directory, find_file_path_in_cmd, is_path_deterministic
    osquery/sql/sqlite_operations.cpp  carve (aggregate; disabled by default), sleep
    osquery/sql/sqlite_version.cpp     version_compare (fleetward/recorded/versions.py)

Arguments arrive as SQLite values: str (TEXT), int, float, bytes (BLOB) or None (NULL). A function that
osquery fails with `sqlite3_result_error` raises OsqueryFunctionError carrying osquery's message.
Regular expressions are Python's `re`, close to the ECMAScript grammar std::regex uses for the patterns
policies write; constructs only one of them accepts (lookbehind, named groups) may differ.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import re
import struct
import time
from collections.abc import Callable

from fleetward.recorded import versions

REGEX_MAX_SIZE = 256  # sqlite_string.cpp HIDDEN_FLAG regex_max_size
_C_SPACE = " \t\n\v\f\r"
SqlValue = str | int | float | bytes | None


class OsqueryFunctionError(ValueError):
    """What osquery reports with sqlite3_result_error: the query fails with this message."""


def as_text(value: SqlValue) -> str:
    """sqlite3_value_text: how SQLite renders a value as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float):
        text = f"{value:.15g}"
        return text + ".0" if text.lstrip("-").isdigit() else text
    return "" if value is None else str(value)


def as_int(value: SqlValue) -> int:
    """sqlite3_value_int: a leading integer of text, a float truncated, 0 for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if math.isfinite(value) else 0
    elif isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        match = re.match(r"\s*([+-]?\d+)", text)
        number = int(match.group(1)) if match else 0
    else:
        return 0
    return (number + 2**31) % 2**32 - 2**31


def as_double(value: SqlValue) -> float:
    """sqlite3_value_double: a leading number of text, 0.0 for anything that is not one."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        match = re.match(r"\s*([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)", text)
        return float(match.group(1)) if match else 0.0
    return 0.0


def _index(value: SqlValue) -> int | None:
    # static_cast<size_t>(sqlite3_value_int(...)): a negative index is out of range.
    index = as_int(value)
    return index if index >= 0 else None


# --- sqlite_string.cpp -------------------------------------------------------------------------


def split(value: SqlValue, tokens: SqlValue, index: SqlValue) -> str | None:
    if value is None or tokens is None or index is None:
        return None
    token_text = as_text(tokens)
    if not token_text:
        raise OsqueryFunctionError("Invalid input to split function")
    # osquery::split: boost::split on any of the characters, drop empty pieces, then trim each.
    pieces = re.split("[" + re.escape(token_text) + "]", as_text(value))
    parts = [p.strip(_C_SPACE) for p in pieces if p]
    position = _index(index)
    return parts[position] if position is not None and position < len(parts) else None


def regex_split(value: SqlValue, pattern: SqlValue, index: SqlValue) -> str | None:
    if value is None or pattern is None or index is None:
        return None
    token = as_text(pattern)
    if not token:
        raise OsqueryFunctionError("Invalid input to split function")
    if len(token.encode("utf-8")) > REGEX_MAX_SIZE:
        raise OsqueryFunctionError("Invalid regex")
    compiled = _compile(token)
    text = as_text(value)
    # std::sregex_token_iterator(..., -1): the text before each match, then a non-empty suffix.
    parts: list[str] = []
    previous = 0
    for match in compiled.finditer(text):
        parts.append(text[previous : match.start()])
        previous = match.end()
    if not parts:
        parts = [text]
    elif previous < len(text):
        parts.append(text[previous:])
    position = _index(index)
    return parts[position] if position is not None and position < len(parts) else None


def regex_match(value: SqlValue, pattern: SqlValue, index: SqlValue) -> str | None:
    if value is None or pattern is None or index is None:
        return None
    regex = as_text(pattern)
    if len(regex.encode("utf-8")) > REGEX_MAX_SIZE:
        raise OsqueryFunctionError(f"Invalid regex: too big, max size is {REGEX_MAX_SIZE} bytes")
    match = _compile(regex).search(as_text(value))
    position = _index(index)
    if match is None or position is None or position > (match.re.groups):
        return None
    # An unmatched group is an empty std::ssub_match: "" rather than NULL.
    return match.group(position) or ""


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise OsqueryFunctionError("Invalid regex") from exc


def inet_aton(value: SqlValue) -> int | None:
    if value is None:
        return None
    address = as_text(value)
    if ":" in address:
        return None
    try:
        return int(ipaddress.IPv4Address(address))
    except ValueError:
        return None


def concat(*args: SqlValue) -> str | None:
    return _concat("", args)


def concat_ws(*args: SqlValue) -> str | None:
    if not args:
        raise OsqueryFunctionError("Missing separator to concat_ws")
    separator = "" if args[0] is None else as_text(args[0])
    return _concat(separator, args[1:])


def _concat(separator: str, args: tuple[SqlValue, ...]) -> str | None:
    if not args:
        return None
    out: list[str] = []
    for i, value in enumerate(args):
        if value is None:
            continue
        out.append(as_text(value))
        # osquery appends the separator after any value that is not last, even before a NULL.
        if separator and i + 1 < len(args):
            out.append(separator)
    return "".join(out)


# --- sqlite_hashing.cpp ------------------------------------------------------------------------


def _hasher(name: str) -> Callable[[SqlValue], str | None]:
    def digest(value: SqlValue) -> str | None:
        if value is None:
            return None
        data = as_text(value).encode("utf-8").split(b"\0", 1)[0]  # hashed up to strlen()
        return hashlib.new(name, data, usedforsecurity=False).hexdigest()

    return digest


md5, sha1, sha256 = _hasher("md5"), _hasher("sha1"), _hasher("sha256")


def community_id_v1(*args: SqlValue) -> str | None:
    try:
        return _community_id(args)
    except OsqueryFunctionError:
        return None  # the lenient variant logs a warning and yields NULL


def community_id_v1_strict(*args: SqlValue) -> str | None:
    return _community_id(args)


def _community_id(args: tuple[SqlValue, ...]) -> str:
    # https://github.com/corelight/community-id-spec, as sqlite_hashing.cpp sqliteCommunityIDv1.
    saddr_v, daddr_v, sport_v, dport_v, proto_v = args[:5]
    seed = 0
    if len(args) == 6:
        if not isinstance(args[5], int):
            raise OsqueryFunctionError("Community ID seed must be an integer")
        seed = args[5]
        if not -(2**15) <= seed < 2**15:
            raise OsqueryFunctionError("Community ID seed must fit in 2 bytes")
    if not isinstance(saddr_v, str) or not isinstance(daddr_v, str):
        raise OsqueryFunctionError("Community ID IPs must be strings")
    saddr = _address(saddr_v, "Community ID saddr cannot be parsed as IP")
    daddr = _address(daddr_v, "Community ID daddr cannot be parsed as IP")
    if not isinstance(sport_v, int) or not isinstance(dport_v, int):
        raise OsqueryFunctionError("Community ID ports must be integers")
    if not (0 <= sport_v <= 0xFFFF and 0 <= dport_v <= 0xFFFF):
        raise OsqueryFunctionError("Community ID ports must fit in 2 bytes")
    if not isinstance(proto_v, int):
        raise OsqueryFunctionError("Community ID protocol must be an integer")
    if not 0 <= proto_v <= 0xFF:
        raise OsqueryFunctionError("Community ID protocol must fit in 1 byte")
    sport, dport = sport_v, dport_v
    if not (_order(saddr) < _order(daddr) or (_order(saddr) == _order(daddr) and sport < dport)):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    payload = (
        struct.pack(">h", seed) + saddr.packed + daddr.packed + struct.pack(">BBHH", proto_v, 0, sport, dport)
    )
    return "1:" + base64.b64encode(hashlib.sha1(payload, usedforsecurity=False).digest()).decode("ascii")


def _address(text: str, message: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise OsqueryFunctionError(message) from exc


def _order(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[int, bytes, str]:
    # boost::asio::ip::address orders IPv4 before IPv6, then by bytes (and an IPv6 scope).
    scope = getattr(address, "scope_id", None) or ""
    return (address.version, address.packed, scope)


# --- sqlite_encoding.cpp -----------------------------------------------------------------------


def to_base64(value: SqlValue) -> str | None:
    if value is None:
        return None
    return base64.b64encode(_bytes(value)).decode("ascii")


def conditional_to_base64(value: SqlValue) -> str | None:
    if value is None:
        return None
    data = _bytes(value)
    if all(0x1F < byte < 0x7F for byte in data):  # osquery/utils/chars.cpp isPrintable
        return data.decode("ascii")
    return base64.b64encode(data).decode("ascii")


def from_base64(value: SqlValue) -> str | None:
    if value is None:
        return None
    # osquery/utils/base64.cpp decode: drop newlines and trailing '=', then decode 6 bits a character;
    # any other character makes the whole result empty.
    text = _bytes(value).replace(b"\r\n", b"").replace(b"\n", b"").rstrip(b"=")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    bits = count = 0
    out = bytearray()
    for byte in text:
        position = alphabet.find(bytes([byte]))
        if position < 0:
            return ""
        bits = (bits << 6) | position
        count += 6
        if count >= 8:
            count -= 8
            out.append((bits >> count) & 0xFF)
    return out.decode("utf-8", errors="replace")


def _bytes(value: SqlValue) -> bytes:
    return value if isinstance(value, bytes) else as_text(value).encode("utf-8")


# --- sqlite_network.cpp ------------------------------------------------------------------------


def in_cidr_block(cidr: SqlValue, address: SqlValue) -> int:
    if not isinstance(cidr, str):
        raise OsqueryFunctionError("CIDR must be a string")
    if not isinstance(address, str):
        raise OsqueryFunctionError("IP address must be a string")
    ip = _address(address, "IP address cannot be parsed")
    try:
        network = ipaddress.ip_network(cidr, strict=False) if "/" in cidr else None
    except ValueError:
        network = None
    if network is None or network.version != ip.version:
        raise OsqueryFunctionError(f"CIDR for IP address v{ip.version} cannot be parsed")
    value = int(ip)
    if ip.version == 4:
        # boost network_v4::hosts(): a /32 is its own address; otherwise network+1 up to, not
        # including, the broadcast address (so a /31 holds no host at all).
        if network.prefixlen == 32:
            return int(value == int(network.network_address))
        return int(int(network.network_address) < value < int(network.broadcast_address))
    return int(int(network.network_address) <= value <= int(network.broadcast_address))


# --- sqlite_math.cpp ---------------------------------------------------------------------------

# platformStrerr(errno) differs by C library; the engine picks the device's.
DOMAIN_ERROR = {"linux": "Numerical argument out of domain", "darwin": "Numerical argument out of domain"}
RANGE_ERROR = {"linux": "Numerical result out of range", "darwin": "Result too large"}
_WINDOWS_ERRORS = ("Domain error", "Result too large")


def math_functions(platform: str) -> dict[str, Callable[..., SqlValue]]:
    edom = DOMAIN_ERROR.get(platform, _WINDOWS_ERRORS[0])
    erange = RANGE_ERROR.get(platform, _WINDOWS_ERRORS[1])

    def unary(function: Callable[[float], float]) -> Callable[[SqlValue], float | None]:
        def call(value: SqlValue) -> float | None:
            if value is None:
                return None
            x = as_double(value)
            try:
                return function(x)
            except ZeroDivisionError as exc:
                raise OsqueryFunctionError(erange) from exc
            except OverflowError as exc:
                raise OsqueryFunctionError(erange) from exc
            except ValueError as exc:
                raise OsqueryFunctionError(edom) from exc

        return call

    def logarithm(base: Callable[[float], float]) -> Callable[[float], float]:
        def call(x: float) -> float:
            if x == 0:
                raise ZeroDivisionError  # C's pole error: ERANGE
            return base(x)

        return call

    def power(a: SqlValue, b: SqlValue) -> float | None:
        if a is None or b is None:
            return None
        x, y = as_double(a), as_double(b)
        if x == 0 and y < 0:
            raise OsqueryFunctionError(erange)
        try:
            return math.pow(x, y)
        except OverflowError as exc:
            raise OsqueryFunctionError(erange) from exc
        except ValueError as exc:
            raise OsqueryFunctionError(edom) from exc

    def rounded(function: Callable[[float], float]) -> Callable[[SqlValue], int | None]:
        def call(value: SqlValue) -> int | None:
            if value is None:
                return None
            if isinstance(value, int):
                return value
            x = as_double(value)
            return int(function(x)) if math.isfinite(x) else -(2**63)

        return call

    def cot(x: float) -> float:
        tangent = math.tan(x)
        return math.copysign(math.inf, tangent) if tangent == 0 else 1.0 / tangent

    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf  # expl() works in long double: no errno until far above double's range

    return {
        "sqrt": unary(math.sqrt),
        "acos": unary(math.acos),
        "asin": unary(math.asin),
        "atan": unary(math.atan),
        "cos": unary(math.cos),
        "sin": unary(math.sin),
        "tan": unary(math.tan),
        "cot": unary(cot),
        "exp": unary(exp),
        "log": unary(logarithm(math.log)),
        "log10": unary(logarithm(math.log10)),
        "power": power,
        "ceil": rounded(math.ceil),
        "floor": rounded(math.floor),
        "degrees": unary(math.degrees),
        "radians": unary(math.radians),
        "pi": lambda: math.pi,
    }


# --- sqlite_filesystem.cpp ---------------------------------------------------------------------


def filesystem_functions(platform: str, is_file: Callable[[str], bool]) -> dict[str, Callable[..., SqlValue]]:
    """`is_file(path)`: whether the device has a regular file there (the recorded `file` table)."""
    windows = platform == "windows"
    default_escape = "^" if windows else "\\"
    separator = "\\" if windows else "/"

    def program_path(args: tuple[SqlValue, ...], shortest: bool) -> str | None:
        if not args or any(a is None for a in args):
            return None
        command = as_text(args[0])
        quoting = len(args) > 1 and as_int(args[1]) != 0
        escape = default_escape
        if len(args) > 2:
            escape_text = as_text(args[2])
            if len(escape_text.encode("utf-8")) != 1:
                return None
            escape = escape_text
        result, candidate = "", ""
        position = len(command) - len(command.lstrip(_C_SPACE))
        quoted = escaped = False
        for char in command[position:]:
            if escaped:
                candidate += char
                escaped = False
                continue
            if quoting and char == '"':
                quoted = not quoted
                continue
            if char == escape:
                escaped = True
                continue
            if not quoted and char in _C_SPACE and is_file(candidate):
                result = candidate
                if shortest:
                    break
            candidate += char
        if (not result or not shortest) and is_file(candidate):
            result = candidate
        return result

    def find_file_path_in_cmd(*args: SqlValue) -> str:
        found = program_path(args, shortest=True)
        if found is None:
            raise OsqueryFunctionError("Invalid inputs to find_binary_path_from_cmd")
        return found

    def is_path_deterministic(*args: SqlValue) -> int:
        short = program_path(args, shortest=True)
        if short is not None:
            if not short or len(short) == len(as_text(args[0])):
                return 1
            long = program_path(args, shortest=False)
            if long is not None:
                return int(len(short) == len(long))
        raise OsqueryFunctionError("Invalid inputs to is_path_deterministic")

    def parent_directory(value: SqlValue) -> str | None:
        if not isinstance(value, str):
            raise OsqueryFunctionError("Invalid inputs to parent_directory, TEXT was expected")
        cut = value.split("\0", 1)[0].rfind(separator)
        return value[:cut] if cut >= 0 else None

    return {
        "find_file_path_in_cmd": find_file_path_in_cmd,
        "is_path_deterministic": is_path_deterministic,
        "parent_directory": parent_directory,
    }


# --- sqlite_operations.cpp ---------------------------------------------------------------------


def sleep(value: SqlValue) -> int:
    seconds = as_int(value)
    if seconds < 0:
        return 0
    time.sleep(seconds)
    return seconds


class Carve:
    """The `carve(path)` aggregate. osquery ships with carver_disable_function=true, and answers the
    message truncated to 13 bytes: "Carve Failed:" (sqlite_operations.cpp executeCarve)."""

    def __init__(self) -> None:
        self.paths: set[str] = set()

    def step(self, *values: SqlValue) -> None:
        if values and values[0] is not None:
            self.paths.add(as_text(values[0]))

    def final(self) -> str:
        return "Carve Failed:"


def scalar_functions(
    platform: str, is_file: Callable[[str], bool]
) -> dict[str, tuple[int, Callable[..., SqlValue]]]:
    """Name -> (argument count, -1 for any, function) for every scalar function osquery registers."""
    fixed: dict[str, tuple[int, Callable[..., SqlValue]]] = {
        "split": (3, split),
        "regex_split": (3, regex_split),
        "regex_match": (3, regex_match),
        "inet_aton": (1, inet_aton),
        "concat": (-1, concat),
        "concat_ws": (-1, concat_ws),
        "md5": (1, md5),
        "sha1": (1, sha1),
        "sha256": (1, sha256),
        "conditional_to_base64": (1, conditional_to_base64),
        "to_base64": (1, to_base64),
        "from_base64": (1, from_base64),
        "in_cidr_block": (2, in_cidr_block),
        "sleep": (1, sleep),
        "version_compare": (-1, versions.version_compare),
    }
    for name, function in math_functions(platform).items():
        fixed[name] = (2 if name == "power" else 0 if name == "pi" else 1, function)
    for name, function in filesystem_functions(platform, is_file).items():
        fixed[name] = (1 if name == "parent_directory" else -1, function)
    return fixed
