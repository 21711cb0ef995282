"""Errors of the report package.

    ReportError                    root of every error raised on purpose by collector.reports
     +-- ReportInputError          the request is wrong: instant, period or framework (names the option)
     +-- ReportSourceError         the data could not be read (database URL or collector URL, and why)
     +-- VerificationError         a report file cannot be checked at all (not a report, unreadable)

A report that reads fine but whose digest does not match is not an error: `verify` returns a
`Verification` that says so, because that is the answer the auditor asked for.
"""

from __future__ import annotations


class ReportError(Exception):
    """Root of the report package's own errors."""


class ReportInputError(ReportError):
    pass


class ReportSourceError(ReportError):
    pass


class VerificationError(ReportError):
    pass
