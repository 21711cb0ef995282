"""enrollment limits and server-side dashboard sessions

Enroll secrets get a use limit (`max_uses`, null for the secrets made before it: unlimited, as
they were) and a count of the enrolments they made; dashboard sessions are rows, so signing out
or revoking ends them (only a hash of the session id is stored).

Revision ID: 0004_enrollment_sessions
Revises: 0003_late_observations
Create Date: 2026-12-01 20:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import collector.store.types

revision = "0004_enrollment_sessions"
down_revision = "0003_late_observations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enroll_secrets") as batch:
        batch.add_column(sa.Column("max_uses", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("uses", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "ui_sessions",
        sa.Column("id_digest", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", collector.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", collector.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", collector.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name=op.f("fk_ui_sessions_token_id_api_tokens")
        ),
        sa.PrimaryKeyConstraint("id_digest", name=op.f("pk_ui_sessions")),
    )
    op.create_index(op.f("ix_ui_sessions_token_id"), "ui_sessions", ["token_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ui_sessions_token_id"), table_name="ui_sessions")
    op.drop_table("ui_sessions")
    with op.batch_alter_table("enroll_secrets") as batch:
        batch.drop_column("uses")
        batch.drop_column("max_uses")
