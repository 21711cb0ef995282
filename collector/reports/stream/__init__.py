"""Reports written as they are computed, in memory bounded by a page of devices.

    stream_report("csv", request, pages) -> Iterator[bytes]

`pages` come from the store (collector.store.report_rows.device_pages) in the report's device
order; each device goes through the same `ReportBuilder` as `build_report`, so the bytes are the
ones `render_signed(build_report(...))` gives (tests hold them equal). See docs/reference/report-formats.md.
"""

from collector.reports.stream.writers import DETAIL_LIMIT, ReportRequest, stream_report

__all__ = ["DETAIL_LIMIT", "ReportRequest", "stream_report"]
