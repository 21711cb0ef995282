"""Adapters to the laptop's osquery: the `QueryRunner` seam, the Thrift socket client, the osqueryi
fallback, and the one place osquery's string values are coerced."""

from agent.osquery.runner import QueryRunner, ThriftRunner, TimedRunner
from agent.osquery.values import Row, rows_from_osquery

__all__ = ["QueryRunner", "Row", "ThriftRunner", "TimedRunner", "rows_from_osquery"]
