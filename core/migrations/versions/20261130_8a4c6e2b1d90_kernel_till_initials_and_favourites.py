"""kernel: the till: product pinyin initials and per-store favourite products

Revision ID: 8a4c6e2b1d90
Revises: 5d2e8f1a7c33
Create Date: 2026-11-30 09:00:00.000000

``core_product.name_initials`` holds the pinyin initials of each product's name
(``core.pinyin.initials``), indexed for the till's prefix search; existing products get
theirs here. ``core_till_favourite`` is the favourites grid of each store's till.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '8a4c6e2b1d90'
down_revision = '5d2e8f1a7c33'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('core_product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_initials', sa.String(length=80), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_core_product_name_initials'), ['name_initials'], unique=False)
    from core.pinyin import initials

    conn = op.get_bind()
    product = sa.table('core_product', sa.column('id', sa.Integer), sa.column('name', sa.String),
                       sa.column('name_initials', sa.String))
    last = 0
    while True:  # in batches: a chain's catalogue may hold many products
        rows = conn.execute(sa.select(product.c.id, product.c.name).where(product.c.id > last)
                            .order_by(product.c.id).limit(1000)).all()
        if not rows:
            break
        conn.execute(product.update().where(product.c.id == sa.bindparam('pid'))
                     .values(name_initials=sa.bindparam('ini')),
                     [{'pid': pid, 'ini': initials(name)} for pid, name in rows])
        last = rows[-1][0]
    op.create_table('core_till_favourite',
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['core_product.id'],
                            name=op.f('fk_core_till_favourite_product_id_core_product'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['core_store.id'],
                            name=op.f('fk_core_till_favourite_store_id_core_store'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_till_favourite')),
    sa.UniqueConstraint('store_id', 'product_id', name=op.f('uq_core_till_favourite_store_id_product_id'))
    )
    op.create_index(op.f('ix_core_till_favourite_product_id'), 'core_till_favourite', ['product_id'], unique=False)
    op.create_index(op.f('ix_core_till_favourite_store_id'), 'core_till_favourite', ['store_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_core_till_favourite_store_id'), table_name='core_till_favourite')
    op.drop_index(op.f('ix_core_till_favourite_product_id'), table_name='core_till_favourite')
    op.drop_table('core_till_favourite')
    with op.batch_alter_table('core_product', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_product_name_initials'))
        batch_op.drop_column('name_initials')
