"""rating invitations as an interchange table: keyed by conversation and time, no foreign key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rating_invitations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_rating_invitations_conversation_id_conversations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_rating_invitations_conversation_id"))
        batch_op.create_index(
            batch_op.f("ix_rating_invitations_conversation_id_invited_at"),
            ["conversation_id", "invited_at"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("rating_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rating_invitations_conversation_id_invited_at"))
        batch_op.create_index(
            batch_op.f("ix_rating_invitations_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_rating_invitations_conversation_id_conversations"),
            "conversations",
            ["conversation_id"],
            ["id"],
        )
