"""fleetward: the shared core of the laptop agent, the collector and the reports.

Everything importable from here is pure or light: policy model and verdict semantics, the wire
schema, recorded devices and their query engine. No server, database or Pulumi dependency.
"""

__version__ = "0.1.0"
