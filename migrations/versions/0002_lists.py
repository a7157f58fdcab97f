"""lists: email_list and email_list_member (the lists channel)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:25:15.922553

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('email_list',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('is_smart', sa.Boolean(), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=True),
    sa.Column('member_count', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_email_list_owner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_list')),
    sa.UniqueConstraint('public_id', name=op.f('uq_email_list_public_id'))
    )
    with op.batch_alter_table('email_list', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_list_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_list_refreshed_at'), ['refreshed_at'], unique=False)

    op.create_table('email_list_member',
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_email_list_member_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['list_id'], ['email_list.id'], name=op.f('fk_email_list_member_list_id_email_list'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('list_id', 'customer_id', name=op.f('pk_email_list_member'))
    )
    with op.batch_alter_table('email_list_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_list_member_customer_id'), ['customer_id'], unique=False)



def downgrade():
    with op.batch_alter_table('email_list_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_list_member_customer_id'))

    op.drop_table('email_list_member')
    with op.batch_alter_table('email_list', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_list_refreshed_at'))
        batch_op.drop_index(batch_op.f('ix_email_list_owner_id'))

    op.drop_table('email_list')
