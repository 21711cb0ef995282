"""Recorded devices: a laptop's osquery tables captured to a file, and an engine that answers SQL over them.

Used where a real osqueryd cannot be: tests, lint, the fleet simulator and the demo. The engine answers
as osqueryd of the device's release does: that release's tables as SQLite virtual tables, hidden and
required columns, NULLs, and every SQL function osquery registers (docs/reference/recorded-devices.md).
"""

from fleetward.recorded.engine import RecordedEngine
from fleetward.recorded.model import RecordedDevice, load_device, load_devices
from fleetward.recorded.schema import OsquerySchema, load_schema

__all__ = ["OsquerySchema", "RecordedDevice", "RecordedEngine", "load_device", "load_devices", "load_schema"]
