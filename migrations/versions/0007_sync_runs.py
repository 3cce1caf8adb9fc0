"""sync runs, their per-customer failures, alert states

Revision ID: 0007_sync_runs
Revises: 0006_security
Create Date: 2026-12-03 18:20:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_sync_runs'
down_revision = '0006_security'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('sync_runs',
    sa.Column('id', ID, nullable=False),
    sa.Column('destination_id', ID, nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('considered', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('succeeded', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('throttle_waits', sa.Integer(), nullable=False),
    sa.Column('throttle_wait_seconds', sa.Float(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('hold', sa.JSON(), nullable=True),
    sa.Column('decided_by', sa.String(length=320), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['destination_id'], ['destinations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sync_runs_destination', 'sync_runs', ['destination_id', 'id'])
    op.create_table('sync_failures',
    sa.Column('id', ID, nullable=False),
    sa.Column('run_id', ID, nullable=False),
    sa.Column('destination_id', ID, nullable=False),
    sa.Column('customer_id', ID, nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('message', sa.String(length=300), nullable=True),
    sa.Column('retried_in_run_id', ID, nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['destination_id'], ['destinations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['retried_in_run_id'], ['sync_runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sync_failures_run_id', 'sync_failures', ['run_id'])
    op.create_index('ix_sync_failures_destination', 'sync_failures',
                    ['destination_id', 'retried_in_run_id'])
    op.create_table('alerts',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('store_id', ID, nullable=True),
    sa.Column('firing', sa.Boolean(), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('alerts')
    op.drop_index('ix_sync_failures_destination', table_name='sync_failures')
    op.drop_index('ix_sync_failures_run_id', table_name='sync_failures')
    op.drop_table('sync_failures')
    op.drop_index('ix_sync_runs_destination', table_name='sync_runs')
    op.drop_table('sync_runs')
