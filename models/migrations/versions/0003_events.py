"""events: events, organizers, registrations (tickets); tool_used / action_taken on messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('title_ar', sa.String(length=200), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('description_ar', sa.Text(), nullable=True),
    sa.Column('venue_en', sa.String(length=200), nullable=True),
    sa.Column('venue_ar', sa.String(length=200), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('timezone', sa.String(length=40), server_default='Asia/Aden', nullable=False),
    sa.Column('price_yer', sa.Integer(), server_default='0', nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('seats_taken', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'published', 'cancelled')", name=op.f('ck_events_status_known')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_events_capacity_positive')),
    sa.CheckConstraint('ends_at IS NULL OR ends_at >= starts_at', name=op.f('ck_events_ends_after_start')),
    sa.CheckConstraint('price_yer >= 0', name=op.f('ck_events_price_not_negative')),
    sa.CheckConstraint('seats_taken >= 0 AND seats_taken <= capacity', name=op.f('ck_events_seats_within_capacity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('code', name=op.f('uq_events_code'))
    )
    op.create_index('ix_events_status_starts', 'events', ['status', 'starts_at'], unique=False)
    op.create_table('event_organizers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_organizers_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_organizers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_organizers')),
    sa.UniqueConstraint('event_id', 'user_id', name=op.f('uq_event_organizers_event_id'))
    )
    op.create_index(op.f('ix_event_organizers_user_id'), 'event_organizers', ['user_id'], unique=False)
    op.create_table('registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('ticket_code', sa.String(length=16), nullable=False),
    sa.Column('seats', sa.Integer(), server_default='1', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='registered', nullable=False),
    sa.Column('source', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminder_status', sa.String(length=20), nullable=True),
    sa.Column('reminder_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminder_note', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('registered', 'cancelled', 'checked_in')", name=op.f('ck_registrations_status_known')),
    sa.CheckConstraint('seats > 0', name=op.f('ck_registrations_seats_positive')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_registrations_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_registrations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registrations')),
    sa.UniqueConstraint('ticket_code', name=op.f('uq_registrations_ticket_code'))
    )
    op.create_index('ix_registrations_event_status', 'registrations', ['event_id', 'status'], unique=False)
    op.create_index('ix_registrations_user_status', 'registrations', ['user_id', 'status'], unique=False)
    op.create_index('uq_registrations_one_active_per_user_event', 'registrations', ['event_id', 'user_id'], unique=True, postgresql_where=sa.text("status IN ('registered', 'checked_in')"), sqlite_where=sa.text("status IN ('registered', 'checked_in')"))
    op.add_column('messages', sa.Column('tool_used', sa.String(length=100), nullable=True))
    op.add_column('messages', sa.Column('action_taken', sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column('messages', 'action_taken')
    op.drop_column('messages', 'tool_used')
    op.drop_index('uq_registrations_one_active_per_user_event', table_name='registrations', postgresql_where=sa.text("status IN ('registered', 'checked_in')"), sqlite_where=sa.text("status IN ('registered', 'checked_in')"))
    op.drop_index('ix_registrations_user_status', table_name='registrations')
    op.drop_index('ix_registrations_event_status', table_name='registrations')
    op.drop_table('registrations')
    op.drop_index(op.f('ix_event_organizers_user_id'), table_name='event_organizers')
    op.drop_table('event_organizers')
    op.drop_index('ix_events_status_starts', table_name='events')
    op.drop_table('events')
