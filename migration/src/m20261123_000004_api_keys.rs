//! API keys: who may read the internal registry, edit it or manage keys. Only a hash of each
//! secret is stored.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum ApiKey {
    Table,
    Id,
    Name,
    Role,
    Prefix,
    SecretHash,
    CreatedAt,
    CreatedBy,
    RevokedAt,
    RevokedBy,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .if_not_exists()
                    .col(pk_auto(ApiKey::Id))
                    .col(string_len(ApiKey::Name, 100))
                    .col(string_len(ApiKey::Role, 16))
                    .col(string_len(ApiKey::Prefix, 32))
                    .col(string_len_uniq(ApiKey::SecretHash, 64))
                    .col(timestamp_with_time_zone(ApiKey::CreatedAt))
                    .col(string(ApiKey::CreatedBy))
                    .col(timestamp_with_time_zone_null(ApiKey::RevokedAt))
                    .col(string_null(ApiKey::RevokedBy))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKey::Table).to_owned())
            .await
    }
}
