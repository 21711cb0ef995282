"""A JSON list of report rows written to a temporary file a chunk at a time and read back in
pieces: a streamed report's devices and pairs, which canonical JSON puts before the summaries
that can only be counted after them (and before the digest, which covers them)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

from pydantic import BaseModel

from collector.reports.canonical import rows_bytes

_Row = TypeVar("_Row", bound=BaseModel)
_CHUNK = 2000
_READ = 1 << 20


class Spool(Generic[_Row]):
    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        self._pending: list[_Row] = []
        self.count = 0

    def append(self, row: _Row) -> None:
        self._pending.append(row)
        if len(self._pending) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            text = rows_bytes(self._pending)
            self._file.write(b"," + text if self.count else text)
            self.count += len(self._pending)
            self._pending.clear()

    def pieces(self) -> Iterator[bytes]:
        """The list's canonical JSON (`[...]`), a MiB at a time; can be read more than once."""
        self._flush()
        self._file.flush()
        self._file.seek(0)
        yield b"["
        while chunk := self._file.read(_READ):
            yield chunk
        yield b"]"

    def __enter__(self) -> Spool[_Row]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._file.close()
