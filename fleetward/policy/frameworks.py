"""Framework maps: the controls auditors test (DSPT, Cyber Essentials, CIS, NCSC) as data.

A framework file (policies/frameworks/<id>.yaml) lists each control with its title and source.
Which policies evidence a control is declared once, in each policy's `frameworks:` field, next to
the check it describes; the catalogue derives the control -> policies map from there
(`Framework.evidenced_by`), so the two can never disagree.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fleetward.policy.model import ControlId, content_digest


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ControlId
    title: Annotated[str, Field(min_length=3, max_length=300)]
    mandatory: bool | None = Field(default=None, description="Mandatory for the framework, where it says so")
    auto_fail: bool = Field(
        default=False, description="Cyber Essentials v3.3: failing it fails the assessment"
    )
    source: Annotated[str, Field(min_length=1, max_length=40)]
    note: str = ""


class Framework(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=60)]
    title: Annotated[str, Field(min_length=3)]
    edition: Annotated[str, Field(min_length=1)]
    publisher: Annotated[str, Field(min_length=2)]
    sources: dict[str, str]
    caveats: tuple[str, ...] = ()
    controls: Annotated[tuple[Control, ...], Field(min_length=1)]
    evidenced_by: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="control id -> ids of the policies that evidence it; filled by the catalogue, not the file",
    )

    @field_validator("controls")
    @classmethod
    def _unique_ids(cls, value: tuple[Control, ...]) -> tuple[Control, ...]:
        seen: set[str] = set()
        for control in value:
            if control.id in seen:
                raise ValueError(f"control {control.id!r} is listed more than once")
            seen.add(control.id)
        return value

    @property
    def digest(self) -> str:
        return content_digest(self.model_dump(mode="json", exclude={"evidenced_by"}))

    def control(self, control_id: str) -> Control | None:
        return next((c for c in self.controls if c.id == control_id), None)
