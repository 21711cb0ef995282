from tests.reports.browser import browser
from tests.ui.live_collector import live_collector

__all__ = ["browser", "live_collector"]
