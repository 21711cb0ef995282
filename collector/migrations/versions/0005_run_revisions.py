"""run revisions: what was known before a write changed the recorded past (knowledge time)

Append-only. Out-of-order placement keeps every row of the pair as it was; an in-order
confirmation keeps the run when it replaces its evidence or error or comes in a transition
report. With `ingested_reports.received_at` this lets a report be rebuilt as known at any earlier
instant (`fleetward report --as-known-at`, docs/data-model.md "Knowledge time"). Runs written
before this revision have no revisions: a past rewritten before the upgrade cannot be rebuilt.

Revision ID: 0005_run_revisions
Revises: 0004_enrollment_sessions
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import collector.store.types

revision = "0005_run_revisions"
down_revision = "0004_enrollment_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    instant = collector.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "run_revisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.String(length=40), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("since", instant, nullable=False),
        sa.Column("last_seen", instant, nullable=False),
        sa.Column("evidence", collector.store.types.JSONDocument(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("report_id", sa.String(length=36), nullable=True),
        sa.Column("last_report_id", sa.String(length=36), nullable=True),
        sa.Column("known_until", instant, nullable=False),
        sa.Column("superseded_by", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_run_revisions_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_run_revisions_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_revisions")),
    )
    op.create_index("ix_run_revisions_device_id_policy_id", "run_revisions", ["device_id", "policy_id"])


def downgrade() -> None:
    op.drop_index("ix_run_revisions_device_id_policy_id", table_name="run_revisions")
    op.drop_table("run_revisions")
