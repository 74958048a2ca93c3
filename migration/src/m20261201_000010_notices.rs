//! Notices: subscribers (email addresses and webhook endpoints) with their cursor into the
//! public change log, one delivery per notice to each, every attempt, and the key that signs
//! unsubscribe links and form tokens. Deliveries and attempts are the notice register: the
//! evidence that each customer was told of a change (GDPR Art. 28(2)).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum NoticeSubscriber {
    Table,
    Id,
    Channel,
    Customer,
    Address,
    Scope,
    Products,
    Status,
    Source,
    OwnerKeyId,
    ContactEmail,
    ConfirmTokenHash,
    Secrets,
    Cursor,
    LeaseUntil,
    LeasedBy,
    DisabledReason,
    CreatedBy,
    CreatedAt,
    ConfirmedAt,
    UpdatedAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum NoticeDelivery {
    Table,
    Id,
    SubscriberId,
    Kind,
    Seq,
    MessageId,
    Address,
    Status,
    Attempts,
    QueuedAt,
    NextAttemptAt,
    AcceptedAt,
    ContentHash,
    Transport,
}

#[derive(Clone, Copy, DeriveIden)]
enum NoticeAttempt {
    Table,
    Id,
    DeliveryId,
    AttemptedAt,
    Outcome,
    Code,
    Reply,
    Error,
    ContentHash,
    Replica,
}

#[derive(Clone, Copy, DeriveIden)]
enum NoticeKey {
    Table,
    Purpose,
    Secret,
    CreatedAt,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NoticeSubscriber::Table)
                    .if_not_exists()
                    .col(pk_auto(NoticeSubscriber::Id))
                    .col(string_len(NoticeSubscriber::Channel, 16))
                    .col(string_null(NoticeSubscriber::Customer))
                    .col(text(NoticeSubscriber::Address))
                    .col(string_len(NoticeSubscriber::Scope, 32))
                    .col(json_binary(NoticeSubscriber::Products))
                    .col(string_len(NoticeSubscriber::Status, 16))
                    .col(string_len(NoticeSubscriber::Source, 16))
                    .col(integer_null(NoticeSubscriber::OwnerKeyId))
                    .col(string_null(NoticeSubscriber::ContactEmail))
                    .col(string_len_null(NoticeSubscriber::ConfirmTokenHash, 64))
                    .col(json_binary(NoticeSubscriber::Secrets))
                    .col(big_integer(NoticeSubscriber::Cursor))
                    .col(timestamp_with_time_zone_null(NoticeSubscriber::LeaseUntil))
                    .col(string_null(NoticeSubscriber::LeasedBy))
                    .col(text_null(NoticeSubscriber::DisabledReason))
                    .col(string(NoticeSubscriber::CreatedBy))
                    .col(timestamp_with_time_zone(NoticeSubscriber::CreatedAt))
                    .col(timestamp_with_time_zone_null(NoticeSubscriber::ConfirmedAt))
                    .col(timestamp_with_time_zone(NoticeSubscriber::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_notice_subscriber_address",
                vec![NoticeSubscriber::Channel, NoticeSubscriber::Address],
            ),
            (
                "idx_notice_subscriber_status",
                vec![NoticeSubscriber::Status, NoticeSubscriber::Cursor],
            ),
            (
                "idx_notice_subscriber_token",
                vec![NoticeSubscriber::ConfirmTokenHash],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(NoticeSubscriber::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(NoticeDelivery::Table)
                    .if_not_exists()
                    .col(big_pk_auto(NoticeDelivery::Id))
                    .col(integer(NoticeDelivery::SubscriberId))
                    .col(string_len(NoticeDelivery::Kind, 32))
                    .col(big_integer_null(NoticeDelivery::Seq))
                    .col(string(NoticeDelivery::MessageId))
                    .col(text(NoticeDelivery::Address))
                    .col(string_len(NoticeDelivery::Status, 16))
                    .col(integer(NoticeDelivery::Attempts))
                    .col(timestamp_with_time_zone(NoticeDelivery::QueuedAt))
                    .col(timestamp_with_time_zone(NoticeDelivery::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(NoticeDelivery::AcceptedAt))
                    .col(string_len_null(NoticeDelivery::ContentHash, 64))
                    .col(string_len_null(NoticeDelivery::Transport, 16))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NoticeDelivery::Table, NoticeDelivery::SubscriberId)
                            .to(NoticeSubscriber::Table, NoticeSubscriber::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notice_delivery_subscriber_seq")
                    .table(NoticeDelivery::Table)
                    .col(NoticeDelivery::SubscriberId)
                    .col(NoticeDelivery::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notice_delivery_due")
                    .table(NoticeDelivery::Table)
                    .col(NoticeDelivery::Status)
                    .col(NoticeDelivery::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notice_delivery_seq")
                    .table(NoticeDelivery::Table)
                    .col(NoticeDelivery::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NoticeAttempt::Table)
                    .if_not_exists()
                    .col(big_pk_auto(NoticeAttempt::Id))
                    .col(big_integer(NoticeAttempt::DeliveryId))
                    .col(timestamp_with_time_zone(NoticeAttempt::AttemptedAt))
                    .col(string_len(NoticeAttempt::Outcome, 16))
                    .col(integer_null(NoticeAttempt::Code))
                    .col(text_null(NoticeAttempt::Reply))
                    .col(text_null(NoticeAttempt::Error))
                    .col(string_len(NoticeAttempt::ContentHash, 64))
                    .col(string(NoticeAttempt::Replica))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NoticeAttempt::Table, NoticeAttempt::DeliveryId)
                            .to(NoticeDelivery::Table, NoticeDelivery::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notice_attempt_delivery")
                    .table(NoticeAttempt::Table)
                    .col(NoticeAttempt::DeliveryId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NoticeKey::Table)
                    .if_not_exists()
                    .col(string_len(NoticeKey::Purpose, 32).primary_key())
                    .col(string_len(NoticeKey::Secret, 64))
                    .col(timestamp_with_time_zone(NoticeKey::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            NoticeKey::Table.into_iden(),
            NoticeAttempt::Table.into_iden(),
            NoticeDelivery::Table.into_iden(),
            NoticeSubscriber::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
