"""late observations: how many results of each report were placed before what was already known

Revision ID: 0003_late_observations
Revises: 0002_bundles
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_late_observations"
down_revision = "0002_bundles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingested_reports") as batch:
        batch.add_column(sa.Column("late_results", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("ingested_reports") as batch:
        batch.drop_column("late_results")
