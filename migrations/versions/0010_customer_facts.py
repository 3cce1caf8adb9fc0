"""per-customer facts the live path reads instead of each customer's order history

Revision ID: 0010_customer_facts
Revises: 0009_inbox_body_lz4
Create Date: 2026-12-04 21:00:00.000000

Existing stores keep ``facts_built_at`` NULL: their facts are built, set-based, by the first
write transaction that touches the store (app.scoring.facts.ensure_facts).
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_customer_facts'
down_revision = '0009_inbox_body_lz4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'customer_facts',
        sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('customers.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('stores.id', ondelete='CASCADE'), nullable=False),
        sa.Column('orders', sa.JSON(), nullable=False),
        sa.Column('product_types', sa.JSON(), nullable=False),
        sa.Column('vendors', sa.JSON(), nullable=False),
    )
    op.create_index('ix_customer_facts_store_id', 'customer_facts', ['store_id'])
    with op.batch_alter_table('stores') as batch:
        batch.add_column(sa.Column('facts_built_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stores') as batch:
        batch.drop_column('facts_built_at')
    op.drop_index('ix_customer_facts_store_id', table_name='customer_facts')
    op.drop_table('customer_facts')
