"""policy bundles: every signed bundle published, kept whole

Revision ID: 0002_bundles
Revises: 0001
Create Date: 2026-11-21 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import collector.store.types

revision = "0002_bundles"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_bundles",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", collector.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", collector.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.Column("signer_key_ids", collector.store.types.JSONDocument(), nullable=False),
        sa.Column("vouched_by", sa.String(length=64), nullable=True),
        sa.Column("policy_count", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_policy_bundles")),
        sa.UniqueConstraint("digest", name=op.f("uq_policy_bundles_digest")),
    )


def downgrade() -> None:
    op.drop_table("policy_bundles")
