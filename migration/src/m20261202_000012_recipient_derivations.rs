//! What the public list derives from every flow, kept per recipient: whether the recipient is a
//! subprocessor (`recipient_subprocessor`, a row when it is) and which products' activities send
//! it data (`recipient_product`). The registry refreshes both for the recipients a change
//! touches, inside the change's transaction, so the list and its page read a few rows per
//! listed recipient, however many flows the registry holds.
//!
//! The backfill states the rule as it stands at this migration (GDPR Art. 28(2) and (4): a
//! recipient acting as processor in a flow of an activity the organization performs as
//! processor); a later change to the rule comes with a migration that refreshes the rows again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RecipientSubprocessor {
    Table,
    RecipientId,
}

#[derive(DeriveIden)]
enum RecipientProduct {
    Table,
    RecipientId,
    ProductId,
}

#[derive(DeriveIden)]
enum Recipient {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Product {
    Table,
    Id,
}

const PRODUCT_INDEX: &str = "idx_recipient_product_product";

const BACKFILL_SUBPROCESSORS: &str = r#"
INSERT INTO recipient_subprocessor (recipient_id)
SELECT r.id FROM recipient r
WHERE EXISTS (
    SELECT 1 FROM data_flow f
    JOIN processing_activity a ON a.id = f.activity_id
    WHERE f.recipient_id = r.id
      AND a.organization_role = 'PROCESSOR'
      AND (f.role = 'PROCESSOR' OR (f.role IS NULL AND r.default_role = 'PROCESSOR'))
)"#;

const BACKFILL_PRODUCTS: &str = r#"
INSERT INTO recipient_product (recipient_id, product_id)
SELECT DISTINCT f.recipient_id, ap.product_id
FROM data_flow f
JOIN activity_product ap ON ap.activity_id = f.activity_id"#;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RecipientSubprocessor::Table)
                    .col(
                        ColumnDef::new(RecipientSubprocessor::RecipientId)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                RecipientSubprocessor::Table,
                                RecipientSubprocessor::RecipientId,
                            )
                            .to(Recipient::Table, Recipient::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecipientProduct::Table)
                    .col(
                        ColumnDef::new(RecipientProduct::RecipientId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecipientProduct::ProductId)
                            .integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RecipientProduct::RecipientId)
                            .col(RecipientProduct::ProductId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RecipientProduct::Table, RecipientProduct::RecipientId)
                            .to(Recipient::Table, Recipient::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RecipientProduct::Table, RecipientProduct::ProductId)
                            .to(Product::Table, Product::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A product's deletion cascades here through it.
        manager
            .create_index(
                Index::create()
                    .name(PRODUCT_INDEX)
                    .table(RecipientProduct::Table)
                    .col(RecipientProduct::ProductId)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(BACKFILL_SUBPROCESSORS).await?;
        db.execute_unprepared(BACKFILL_PRODUCTS).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecipientProduct::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RecipientSubprocessor::Table).to_owned())
            .await
    }
}
