"""`verify`: check a report file, in any format, the way docs/auditors.md describes.

- JSON: the digest is recomputed from the content, and the file must be exactly canonical.
- CSV, HTML, PDF: the seal must match the file's bytes, and the file names its report digest.
  Given the JSON report as well (`against`), the JSON is verified, its digest must equal the
  file's, and rendering the JSON again must give the file byte for byte.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from collector.reports.canonical import canonical_bytes, document_digest, report_json
from collector.reports.model import SCHEMA_ID, ComplianceReport
from collector.reports.seal import read_seal

_DIGEST_IN_FILE = re.compile(rb"fleetward-report-digest:\s*(sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verification:
    format: str
    report_digest: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


def detect_format(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.lstrip()[:1] == b"{":
        return "json"
    if data.lstrip()[:15].lower() == b"<!doctype html>":
        return "html"
    return "csv"


def verify_bytes(data: bytes, against: bytes | None = None) -> Verification:
    fmt = detect_format(data)
    if fmt == "json":
        return _verify_json(data)
    result = Verification(fmt)
    sealed = read_seal(data)
    if sealed is None:
        result.add("seal", False, "no fleetward seal found: this is not a fleetward report, or it was edited")
    else:
        written, actual = sealed
        result.add(
            "seal",
            written == actual,
            "the file is byte for byte as generated"
            if written == actual
            else f"the file was changed after generation (seal {written[:12]}…, bytes give {actual[:12]}…)",
        )
    digests = {m.group(1).decode() for m in _DIGEST_IN_FILE.finditer(data)}
    if len(digests) == 1:
        result.report_digest = digests.pop()
    else:
        result.add("report digest", False, "the file does not name exactly one report digest")
    if against is not None:
        _verify_against(result, data, fmt, against)
    return result


def _verify_json(data: bytes) -> Verification:
    result = Verification("json")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.add("parse", False, f"not valid JSON ({exc}); the file is damaged or not a report")
        return result
    if not isinstance(document, dict) or not isinstance(document.get("digest"), str):
        result.add("parse", False, "not a fleetward report: no top-level `digest`")
        return result
    result.report_digest = document["digest"]
    recomputed = document_digest(document)
    result.add(
        "digest",
        recomputed == document["digest"],
        f"content gives {recomputed}, file states {document['digest']}",
    )
    result.add(
        "canonical form",
        canonical_bytes(document) == data,
        "the bytes are the canonical JSON of the content"
        if canonical_bytes(document) == data
        else "the content matches but the bytes are not canonical (reformatted or re-encoded)",
    )
    return result


def _verify_against(result: Verification, data: bytes, fmt: str, against: bytes) -> None:
    source = _verify_json(against)
    if not result.add(
        "JSON report",
        source.ok,
        "the JSON report verifies" if source.ok else "; ".join(c.detail for c in source.checks if not c.ok),
    ):
        return
    result.add(
        "same report",
        source.report_digest == result.report_digest,
        f"JSON report {source.report_digest}, this file {result.report_digest}",
    )
    try:
        report = ComplianceReport.model_validate_json(against)
    except ValidationError as exc:
        result.add("schema", False, f"the JSON report does not match {SCHEMA_ID}: {exc.error_count()} errors")
        return
    if report_json(report) != against:
        result.add(
            "schema", False, "the JSON report does not round-trip through this fleetward version's model"
        )
        return
    from collector.reports.render import renderer_for

    again = renderer_for(fmt).render(report)
    result.add(
        "content",
        again == data,
        f"rendering the JSON report as {fmt} gives this file byte for byte"
        if again == data
        else f"rendering the JSON report as {fmt} gives different bytes",
    )
