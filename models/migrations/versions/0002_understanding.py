"""understanding: faq, ai interactions, response cache, prompts, context rules

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ai_response_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cache_key', sa.String(length=64), nullable=False),
    sa.Column('normalized_text', sa.Text(), nullable=False),
    sa.Column('prompt_version', sa.String(length=50), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('hit_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('last_hit_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_response_cache')),
    sa.UniqueConstraint('cache_key', name=op.f('uq_ai_response_cache_cache_key'))
    )
    op.create_index(op.f('ix_ai_response_cache_expires_at'), 'ai_response_cache', ['expires_at'], unique=False)
    op.create_table('chatbot_faq',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('questions_en', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('questions_ar', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('answer_en', sa.Text(), nullable=True),
    sa.Column('answer_ar', sa.Text(), nullable=True),
    sa.Column('keywords', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('view_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('helpful_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('not_helpful_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chatbot_faq')),
    sa.UniqueConstraint('key', name=op.f('uq_chatbot_faq_key'))
    )
    op.create_index(op.f('ix_chatbot_faq_category'), 'chatbot_faq', ['category'], unique=False)
    op.create_table('context_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('persona', sa.Text(), nullable=False),
    sa.Column('allowed_topics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('excluded_topics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reply_language', sa.String(length=8), server_default='auto', nullable=False),
    sa.Column('max_length', sa.Integer(), server_default='700', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_context_rules')),
    sa.UniqueConstraint('name', name=op.f('uq_context_rules_name'))
    )
    op.create_table('prompt_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('template', sa.Text(), nullable=False),
    sa.Column('variables', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_templates')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_prompt_templates_name'))
    )
    op.create_table('ai_interactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('route', sa.String(length=20), nullable=False),
    sa.Column('route_key', sa.String(length=100), nullable=True),
    sa.Column('prompt', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('prompt_version', sa.String(length=50), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('input_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('output_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=12, scale=6), server_default='0', nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('finish_reason', sa.String(length=30), nullable=True),
    sa.Column('cache_hit', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('feedback', sa.SmallInteger(), nullable=True),
    sa.Column('feedback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_ai_interactions_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_ai_interactions_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ai_interactions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_interactions'))
    )
    op.create_index(op.f('ix_ai_interactions_message_id'), 'ai_interactions', ['message_id'], unique=False)
    op.create_index('ix_ai_interactions_user_created', 'ai_interactions', ['user_id', 'created_at'], unique=False)
    op.add_column('conversations', sa.Column('total_tokens', sa.Integer(), server_default='0', nullable=False))
    op.add_column('conversations', sa.Column('total_cost_usd', sa.Numeric(precision=12, scale=6), server_default='0', nullable=False))
    op.add_column('users', sa.Column('language_explicit', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('messages', sa.Column('route_key', sa.String(length=100), nullable=True))
    op.add_column('messages', sa.Column('confidence', sa.Float(), nullable=True))
    op.add_column('messages', sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column('users', 'language_explicit')
    op.drop_column('messages', 'language')
    op.drop_column('messages', 'confidence')
    op.drop_column('messages', 'route_key')
    op.drop_column('conversations', 'total_cost_usd')
    op.drop_column('conversations', 'total_tokens')
    op.drop_index('ix_ai_interactions_user_created', table_name='ai_interactions')
    op.drop_index(op.f('ix_ai_interactions_message_id'), table_name='ai_interactions')
    op.drop_table('ai_interactions')
    op.drop_table('prompt_templates')
    op.drop_table('context_rules')
    op.drop_index(op.f('ix_chatbot_faq_category'), table_name='chatbot_faq')
    op.drop_table('chatbot_faq')
    op.drop_index(op.f('ix_ai_response_cache_expires_at'), table_name='ai_response_cache')
    op.drop_table('ai_response_cache')
