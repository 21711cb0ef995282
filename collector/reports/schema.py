"""The report's JSON schema, generated from the model (docs/reference/compliance-report.schema.json).

    python -m collector.reports.schema > docs/reference/compliance-report.schema.json

A test holds the committed file equal to this output, so the documented schema is the real one.
"""

from __future__ import annotations

import json

from collector.reports.model import SCHEMA_ID, ComplianceReport


def report_schema() -> dict[str, object]:
    schema = ComplianceReport.model_json_schema(by_alias=True, mode="serialization")
    schema["$id"] = "urn:fleetward:schema:" + SCHEMA_ID.replace("/", ":")
    schema["title"] = SCHEMA_ID
    return schema


def report_schema_text() -> str:
    return json.dumps(report_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(report_schema_text(), end="")
