"""catalogue.yaml: what a catalogue promises about the osqueryd it runs on.

    # policies/catalogue.yaml
    osquery_releases: ["5.12.1", "5.23.1"]   # every policy compiles and runs on each (lint checks)
    extensions: [fleet-orbit]                 # extension sets the estate's osqueryd loads, if any
    extension_tables:                         # or tables declared here, same shape as a set's
      my_table:
        platforms: [windows]
        columns: {name: TEXT, value: INTEGER}
        source: where the extension declares them

Releases must be ones fleetward has a schema for (fleetward/recorded/schemas/). A catalogue without the
file supports every release fleetward knows and no extension tables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fleetward.errors import FleetwardError, Problem
from fleetward.policy.yamlsource import read_yaml
from fleetward.recorded.extensions import ExtensionTable, bundled_extension_names, extension_tables
from fleetward.recorded.schema import Table, supported_releases

MANIFEST_NAME = "catalogue.yaml"


class CatalogueManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    osquery_releases: tuple[str, ...] = Field(default_factory=supported_releases, min_length=1)
    extensions: tuple[str, ...] = ()
    extension_tables: dict[str, ExtensionTable] = Field(default_factory=dict)

    @field_validator("osquery_releases")
    @classmethod
    def _known_releases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = supported_releases()
        unknown = [r for r in value if r not in known]
        if unknown:
            raise ValueError(
                f"osquery {', '.join(unknown)} has no schema here; supported releases: {', '.join(known)} "
                f"(scripts/osquery_schema.py generates one from osquery's specs)"
            )
        return value

    @field_validator("extensions")
    @classmethod
    def _known_extensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = bundled_extension_names()
        unknown = [e for e in value if e not in known]
        if unknown:
            raise ValueError(f"unknown extension set {', '.join(unknown)}; known: {', '.join(known)}")
        return value

    def tables(self) -> tuple[Table, ...]:
        """Every extension table the catalogue may use."""
        return extension_tables(self.extensions, self.extension_tables)


def read_manifest(root: Path) -> tuple[CatalogueManifest, list[Problem]]:
    path = root / MANIFEST_NAME
    if not path.is_file():
        return CatalogueManifest(), []
    document, problems = read_yaml(path)
    if document is None:
        return CatalogueManifest(), problems
    if not isinstance(document.data, dict):
        return CatalogueManifest(), [Problem(str(path), 1, "expected a mapping with osquery_releases")]
    try:
        return CatalogueManifest.model_validate(document.data), problems
    except ValidationError as exc:
        return CatalogueManifest(), [*problems, *document.problems_from(exc)]
    except FleetwardError as exc:
        return CatalogueManifest(), [*problems, Problem(str(path), 1, str(exc))]
