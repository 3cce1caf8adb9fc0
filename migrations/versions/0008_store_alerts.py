"""per-store alert URL (encrypted) and per-alert delivery to it

Revision ID: 0008_store_alerts
Revises: 0007_sync_runs
Create Date: 2026-12-04 17:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_store_alerts'
down_revision = '0007_sync_runs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores') as batch:
        batch.add_column(sa.Column('alert_url_enc', sa.Text(), nullable=True))
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('store_notified', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.drop_column('store_notified')
    with op.batch_alter_table('stores') as batch:
        batch.drop_column('alert_url_enc')
