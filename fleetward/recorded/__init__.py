"""Recorded devices: a laptop's osquery tables captured to a file, and an engine that answers SQL over them.

Used where a real osqueryd cannot be: tests, the fleet simulator and the demo. The engine builds each
table with exactly osquery's columns and types for the device's platform, so SQL that runs here runs
on a laptop.
"""

from fleetward.recorded.engine import RecordedEngine
from fleetward.recorded.model import RecordedDevice, load_device, load_devices
from fleetward.recorded.schema import OsquerySchema, load_schema

__all__ = ["OsquerySchema", "RecordedDevice", "RecordedEngine", "load_device", "load_devices", "load_schema"]
