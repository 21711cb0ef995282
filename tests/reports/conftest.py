from tests.reports.browser import browser

__all__ = ["browser"]
