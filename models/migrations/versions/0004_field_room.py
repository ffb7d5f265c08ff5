"""field room: columns wide enough for what Twilio sends (MediaContentType over 100 characters, a WaId that is
a business-scoped user id rather than a phone number)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite (the embedded mode) rebuilds the table; PostgreSQL alters the column in place
    with op.batch_alter_table('message_attachments') as batch:
        batch.alter_column('content_type', existing_type=sa.String(length=100), type_=sa.Text(),
                           existing_nullable=True)
    with op.batch_alter_table('users') as batch:
        batch.alter_column('wa_id', existing_type=sa.String(length=32), type_=sa.String(length=255),
                           existing_nullable=True)


def downgrade() -> None:
    # values that no longer fit are cut, as the webhook cut them before this revision
    op.execute("UPDATE users SET wa_id = substr(wa_id, 1, 32) WHERE length(wa_id) > 32")
    op.execute("UPDATE message_attachments SET content_type = substr(content_type, 1, 100) "
               "WHERE length(content_type) > 100")
    with op.batch_alter_table('users') as batch:
        batch.alter_column('wa_id', existing_type=sa.String(length=255), type_=sa.String(length=32),
                           existing_nullable=True)
    with op.batch_alter_table('message_attachments') as batch:
        batch.alter_column('content_type', existing_type=sa.Text(), type_=sa.String(length=100),
                           existing_nullable=True)
