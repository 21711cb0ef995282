"""Compliance reports for auditors: a pure builder over a `FleetHistory`, and renderers.

    FleetHistory --build_report--> ComplianceReport --Renderer--> JSON / CSV / HTML / PDF bytes

The builder reads no clock and no database; the CLI and the dashboard are the adapters.
"""
