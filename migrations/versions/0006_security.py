"""security: ids never reused, server-side sessions, Shopify event-id dedupe,
segment refreshes owed while the broker was down

Revision ID: 0006_security
Revises: 0005_users
Create Date: 2026-12-03 18:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_security'
down_revision = '0005_users'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # Rebuild with AUTOINCREMENT so a deleted store's or user's id is never handed out again.
        for table in ('stores', 'users'):
            with op.batch_alter_table(table, recreate='always',
                                      table_kwargs={'sqlite_autoincrement': True}):
                pass
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('segments_refresh_due', sa.DateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_id', sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint('uq_inbox_events_store_id_event_id',
                                          ['store_id', 'event_id'])
    op.create_table('auth_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('user_id', Id, nullable=True),
    sa.Column('store_id', Id, nullable=True),
    sa.Column('credential', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_store_id'), ['store_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_sessions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_table('auth_sessions')
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_inbox_events_store_id_event_id', type_='unique')
        batch_op.drop_column('event_id')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('segments_refresh_due')
