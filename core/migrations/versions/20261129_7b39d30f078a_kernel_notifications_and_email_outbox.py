"""kernel: notifications and email outbox

Revision ID: 7b39d30f078a
Revises: 9e4b7c2a1f05
Create Date: 2026-11-29 14:24:15.340644
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '7b39d30f078a'
down_revision = '9e4b7c2a1f05'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('core_mail_message',
    sa.Column('kind', sa.String(length=80), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_mail_message_user_id_core_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_mail_message'))
    )
    op.create_index('ix_core_mail_message_state_due', 'core_mail_message', ['state', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_core_mail_message_user_id'), 'core_mail_message', ['user_id'], unique=False)
    op.create_table('core_notification',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=80), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link_model', sa.String(length=80), nullable=True),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_notification_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_notification'))
    )
    op.create_index(op.f('ix_core_notification_created_at'), 'core_notification', ['created_at'], unique=False)
    op.create_index('ix_core_notification_user_read', 'core_notification', ['user_id', 'read_at'], unique=False)
    with op.batch_alter_table('core_employee') as batch:
        batch.add_column(sa.Column('email', sa.String(length=254), nullable=True))
    with op.batch_alter_table('core_user') as batch:
        batch.add_column(sa.Column('email', sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('core_user') as batch:
        batch.drop_column('email')
    with op.batch_alter_table('core_employee') as batch:
        batch.drop_column('email')
    op.drop_index('ix_core_notification_user_read', table_name='core_notification')
    op.drop_index(op.f('ix_core_notification_created_at'), table_name='core_notification')
    op.drop_table('core_notification')
    op.drop_index(op.f('ix_core_mail_message_user_id'), table_name='core_mail_message')
    op.drop_index('ix_core_mail_message_state_due', table_name='core_mail_message')
    op.drop_table('core_mail_message')
