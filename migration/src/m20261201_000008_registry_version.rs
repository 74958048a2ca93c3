//! A counter every write to the registry advances, in its own transaction: logged changes and
//! the others alike (the taxonomy, the organization, API keys, objections). Processes sharing a
//! database watch it to know that what they computed from the registry (cached answers) is
//! out of date, whichever process wrote.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum RegistryVersion {
    Table,
    Id,
    Version,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RegistryVersion::Table)
                    .col(integer(RegistryVersion::Id).primary_key())
                    .col(big_integer(RegistryVersion::Version))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(RegistryVersion::Table)
                    .columns([RegistryVersion::Id, RegistryVersion::Version])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RegistryVersion::Table).to_owned())
            .await
    }
}
