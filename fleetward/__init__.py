"""fleetward."""
