"""Each format written from the device stream (see the package docstring).

- JSON: devices and pairs are spooled to temporary files as canonical JSON while every summary is
  counted; then the digest is hashed over the body and the document written, the spools read
  back. Memory: the summaries and the breaches, not the pairs.
- CSV: rows go out as each device is done; the seal is hashed over the bytes as they are written
  and the trailer (digest, signature, seal) comes last, as in a file built whole. The JSON
  report's digest it names is computed from spools, as for JSON.
- HTML, PDF: up to `detail_limit` devices, the whole report as `build_report` gives it. Above,
  bounded: every summary, every breach, stale device and waiver, every pair needing attention
  with its evidence and the devices they are on; compliant devices and passing pairs are counted,
  not listed (the document says how many), and the CSV of the same digest lists them all.

Each generator yields between pages (an empty chunk while nothing is ready), so a consumer that
closes it (a client gone away) stops the work at the next page and releases the database cursor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from collector.domain.fleet import DeviceRecord, FleetHistory
from collector.domain.state import AuditStatus
from collector.reports.build import ReportBuilder, TrendSource
from collector.reports.canonical import Spooled, report_digest, report_json_pieces
from collector.reports.model import ComplianceReport, DeviceView, PairView
from collector.reports.render.csv_format import CsvRows, trailer
from collector.reports.seal import SEAL_PLACEHOLDER, SEAL_PREFIX
from collector.reports.signing import SIGNATURE_PLACEHOLDER, render_signed, sign
from collector.reports.stream.spool import Spool
from collector.reports.timeline import RunSource
from fleetward.bundle.keys import SigningKey

DETAIL_LIMIT = 5000  # devices: above this an HTML or PDF report is bounded (summaries, failing detail)
ATTENTION = frozenset({AuditStatus.FAIL, AuditStatus.ERROR, AuditStatus.IN_GRACE, AuditStatus.WAIVED})
PASS_EVIDENCE_KEPT = 2000  # as the HTML lists them (html_format.PASS_LISTING_CAP)
_OUT = 1 << 20  # bytes gathered before a chunk is handed on


class Page(RunSource, Protocol):
    @property
    def devices(self) -> Sequence[DeviceRecord]: ...


@dataclass(frozen=True)
class ReportRequest:
    context: FleetHistory  # everything but devices and runs (collector.store.report_rows.report_context)
    at: datetime | None
    period: tuple[datetime, datetime] | None
    framework: str | None
    generated_at: datetime
    source: str
    key: SigningKey | None = None  # None: unsigned (built outside a collector)
    devices: int = 0  # how many devices the fleet has: decides whether HTML and PDF are bounded
    detail_limit: int = DETAIL_LIMIT
    on_digest: Callable[[str], object] | None = None  # told the report digest once it is known
    trend: TrendSource | None = None  # the trend from elsewhere (daily rollups); None: counted here

    def builder(
        self, on_device: Callable[[DeviceView], object], on_pair: Callable[[PairView], object]
    ) -> ReportBuilder:
        return ReportBuilder(
            self.context,
            at=self.at,
            period=self.period,
            framework=self.framework,
            on_device=on_device,
            on_pair=on_pair,
            trend=self.trend,
        )


Chunks = Generator[bytes, None, None]


def stream_report(fmt: str, request: ReportRequest, pages: Iterable[Page]) -> Chunks:
    """The report as `fmt`, signed when the request has a key, in chunks."""
    if fmt == "json":
        return _json(request, pages)
    if fmt == "csv":
        return _csv(request, pages)
    if request.devices <= request.detail_limit:
        return _whole(fmt, request, pages)
    return _bounded(fmt, request, pages)


def _walk(builder: ReportBuilder, pages: Iterable[Page]) -> Iterator[None]:
    for page in pages:
        for device in page.devices:
            builder.add(page, device)
        yield None


def _digested(request: ReportRequest, report: ComplianceReport, spooled: Spooled | None) -> ComplianceReport:
    digested = report.model_copy(update={"digest": report_digest(report, spooled)})
    if request.on_digest is not None:
        request.on_digest(digested.digest)
    return digested


def _json(request: ReportRequest, pages: Iterable[Page]) -> Chunks:
    with Spool[DeviceView]() as devices, Spool[PairView]() as pairs:
        builder = request.builder(devices.append, pairs.append)
        for _ in _walk(builder, pages):
            yield b""
        spooled: Spooled = {"devices": devices.pieces, "pairs": pairs.pieces}
        report = _digested(request, _finish(builder, request, [], []), spooled)
        if request.key is not None:
            report = report.model_copy(
                update={"signature": sign(request.key, "digest", report.digest).member()}
            )
        yield from _gathered(report_json_pieces(report, spooled))


def _csv(request: ReportRequest, pages: Iterable[Page]) -> Chunks:
    waivers = {w.id: w for w in request.context.waivers}
    with Spool[DeviceView]() as devices, Spool[PairView]() as pairs:
        pending: list[PairView] = []
        out: list[str] = []

        def on_pair(pair: PairView) -> None:
            pending.append(pair)
            pairs.append(pair)

        def on_device(device: DeviceView) -> None:
            devices.append(device)
            out.append(rows.lines(pending, device))
            pending.clear()

        builder = request.builder(on_device, on_pair)
        rows = CsvRows([builder.tally.policy_view(p) for p in builder.policies], waivers)
        sealer = hashlib.sha256()
        out.append(rows.header())
        for _ in _walk(builder, pages):
            data = "".join(out).encode("utf-8")
            out.clear()
            sealer.update(data)
            yield data
        report = _digested(
            request, _finish(builder, request, [], []), {"devices": devices.pieces, "pairs": pairs.pieces}
        )
        end = trailer(report).encode("utf-8")
        sealer.update(end)
        seal_hex = sealer.hexdigest()
        end = end.replace(SEAL_PLACEHOLDER, SEAL_PREFIX + seal_hex.encode("ascii"))
        if request.key is not None:
            end = end.replace(SIGNATURE_PLACEHOLDER, sign(request.key, "seal", seal_hex).token())
        yield end


def _whole(fmt: str, request: ReportRequest, pages: Iterable[Page]) -> Chunks:
    """A small fleet's HTML or PDF: the report built whole, as `build_report` builds it."""
    from collector.reports.render import renderer_for

    devices: list[DeviceView] = []
    pairs: list[PairView] = []
    builder = request.builder(devices.append, pairs.append)
    for _ in _walk(builder, pages):
        yield b""
    report = _digested(request, _finish(builder, request, devices, pairs), None)
    yield _signed(fmt, report, request.key, lambda r: renderer_for(fmt).render(r))


def _bounded(fmt: str, request: ReportRequest, pages: Iterable[Page]) -> Chunks:
    from collector.reports.render import bounded_renderer_for
    from collector.reports.render.text import Omitted

    named = {w.device_id for w in request.context.waivers if w.device_id is not None}
    kept_devices: list[DeviceView] = []
    kept_pairs: list[PairView] = []
    passes = [0]  # passing pairs with evidence seen
    with Spool[DeviceView]() as devices, Spool[PairView]() as pairs:
        breaches_before = [0]
        device_kept = [False]

        def on_pair(pair: PairView) -> None:
            pairs.append(pair)
            keep = pair.status in ATTENTION
            if pair.status is AuditStatus.PASS and pair.evidence:
                passes[0] += 1
                keep = passes[0] <= PASS_EVIDENCE_KEPT
            if keep:
                kept_pairs.append(pair)
                device_kept[0] = True

        def on_device(device: DeviceView) -> None:
            devices.append(device)
            breached = len(builder.tally.breaches) > breaches_before[0]
            breaches_before[0] = len(builder.tally.breaches)
            if device_kept[0] or breached or not device.compliant or device.device_id in named:
                kept_devices.append(device)
            device_kept[0] = False

        builder = request.builder(on_device, on_pair)
        for _ in _walk(builder, pages):
            yield b""
        report = _digested(
            request, _finish(builder, request, [], []), {"devices": devices.pieces, "pairs": pairs.pieces}
        )
        omitted = Omitted(
            devices=devices.count - len(kept_devices),
            pairs=pairs.count - len(kept_pairs),
            passes_with_evidence=passes[0],
        )
    bounded = report.model_copy(update={"devices": kept_devices, "pairs": kept_pairs})
    renderer = bounded_renderer_for(fmt)
    yield _signed(fmt, bounded, request.key, lambda r: renderer.render_bounded(r, omitted))


def _signed(
    fmt: str, report: ComplianceReport, key: SigningKey | None, render: Callable[[ComplianceReport], bytes]
) -> bytes:
    if key is not None:
        return render_signed(report, fmt, key, render)
    return render(report)


def _finish(
    builder: ReportBuilder, request: ReportRequest, devices: list[DeviceView], pairs: list[PairView]
) -> ComplianceReport:
    return builder.finish(
        generated_at=request.generated_at, source=request.source, devices=devices, pairs=pairs
    )


def _gathered(pieces: Iterable[bytes]) -> Chunks:
    batch: list[bytes] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= _OUT:
            yield b"".join(batch)
            batch.clear()
            size = 0
    if batch:
        yield b"".join(batch)
