"""console, consent and handoffs: the audit log of organizer commands, who checked a ticket in, room in users.phone for a
sender identified by a business-scoped id instead of a phone number, opt-outs with their history, and handoffs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('phone', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('command', sa.String(length=40), nullable=False),
        sa.Column('arguments', sa.Text(), nullable=True),
        sa.Column('result', sa.String(length=40), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('ix_audit_log_user_id', 'audit_log', ['user_id'])
    op.create_index('ix_audit_log_created_at', 'audit_log', ['created_at'])
    with op.batch_alter_table('registrations') as batch:
        batch.add_column(sa.Column('checked_in_by', sa.Integer(), nullable=True))
    with op.batch_alter_table('users') as batch:
        batch.alter_column('phone', existing_type=sa.String(length=20), type_=sa.String(length=255),
                           existing_nullable=False)
        batch.add_column(sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'consent_events',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('source', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('ix_consent_events_user_id', 'consent_events', ['user_id'])
    op.create_table(
        'handoffs',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('conversation_id', sa.Integer(), sa.ForeignKey('conversations.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False, server_default='open'),
        sa.Column('opened_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('last_agent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_reason', sa.String(length=20), nullable=True),
        sa.Column('closed_by', sa.Integer(), nullable=True),
    )
    op.create_index('ix_handoffs_user_id', 'handoffs', ['user_id'])
    op.create_index('uq_handoffs_one_open', 'handoffs', ['conversation_id'], unique=True,
                    postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index('uq_handoffs_one_open', table_name='handoffs')
    op.drop_index('ix_handoffs_user_id', table_name='handoffs')
    op.drop_table('handoffs')
    op.drop_index('ix_consent_events_user_id', table_name='consent_events')
    op.drop_table('consent_events')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('opted_out_at')
        batch.alter_column('phone', existing_type=sa.String(length=255), type_=sa.String(length=20),
                           existing_nullable=False)
    with op.batch_alter_table('registrations') as batch:
        batch.drop_column('checked_in_by')
    op.drop_index('ix_audit_log_created_at', table_name='audit_log')
    op.drop_index('ix_audit_log_user_id', table_name='audit_log')
    op.drop_table('audit_log')
