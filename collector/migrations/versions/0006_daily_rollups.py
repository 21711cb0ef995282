"""daily rollups for the trend, and an index on when reports were received

`daily_rollups` holds pairs by status at the end of each closed UTC day, by policy, platform and
practice; `rollup_days` says when each day was computed and over which policies, waivers and
platforms (a fingerprint), so a late observation or a changed waiver recomputes it. Reports are
indexed by `received_at`: the rollups' watermark and the dashboard's data version read the newest.

Revision ID: 0006_daily_rollups
Revises: 0005_run_revisions
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import collector.store.types

revision = "0006_daily_rollups"
down_revision = "0005_run_revisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("practice", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "policy_id", "platform", "practice", "status", name=op.f("pk_daily_rollups")
        ),
    )
    op.create_table(
        "rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("computed_at", collector.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_rollup_days")),
    )
    op.create_index(op.f("ix_ingested_reports_received_at"), "ingested_reports", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ingested_reports_received_at"), table_name="ingested_reports")
    op.drop_table("rollup_days")
    op.drop_table("daily_rollups")
