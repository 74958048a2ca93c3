//! The registry: organization, taxonomies, recipients, processing activities, data flows,
//! transfers and the change log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Organization {
    Table,
    Id,
    Name,
    Address,
    Country,
    DpoName,
    DpoEmail,
    DpoAddress,
    Representative,
    Sources,
}

#[derive(Clone, Copy, DeriveIden)]
enum DataCategory {
    Table,
    Id,
    Key,
    ParentId,
    Name,
    Description,
    SpecialCategory,
    FidesKey,
}

#[derive(Clone, Copy, DeriveIden)]
enum DataSubjectCategory {
    Table,
    Id,
    Key,
    Name,
    Description,
}

#[derive(Clone, Copy, DeriveIden)]
enum Product {
    Table,
    Id,
    Key,
    Name,
    Description,
}

#[derive(Clone, Copy, DeriveIden)]
enum Recipient {
    Table,
    Id,
    Key,
    LegalName,
    Kind,
    DefaultRole,
    Description,
    Country,
    DpaReference,
    Certifications,
    DpfCertified,
    Website,
    PrivacyNoticeUrl,
    Status,
    Public,
    TransferMechanism,
    SccModule,
    Derogation,
    DerogationSafeguards,
    TiaDate,
    Assumptions,
    Sources,
    CreatedAt,
    UpdatedAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum RecipientLocation {
    Table,
    RecipientId,
    Country,
}

#[derive(Clone, Copy, DeriveIden)]
enum ProcessingActivity {
    Table,
    Id,
    Key,
    Name,
    Description,
    OrganizationRole,
    Purposes,
    LegalBasis,
    RetentionPeriod,
    RetentionReason,
    SecurityMeasures,
    SpecialCategoryCondition,
    Assumptions,
    Sources,
    CreatedAt,
    UpdatedAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum ActivityDataCategory {
    Table,
    ActivityId,
    DataCategoryId,
}

#[derive(Clone, Copy, DeriveIden)]
enum ActivityDataSubject {
    Table,
    ActivityId,
    DataSubjectId,
}

#[derive(Clone, Copy, DeriveIden)]
enum ActivityProduct {
    Table,
    ActivityId,
    ProductId,
}

#[derive(Clone, Copy, DeriveIden)]
enum DataFlow {
    Table,
    Id,
    ActivityId,
    RecipientId,
    ViaRecipientId,
    Role,
    Purpose,
    Assumptions,
    Sources,
    CreatedAt,
    UpdatedAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum FlowDataCategory {
    Table,
    FlowId,
    DataCategoryId,
}

#[derive(Clone, Copy, DeriveIden)]
enum FlowDataSubject {
    Table,
    FlowId,
    DataSubjectId,
}

#[derive(Clone, Copy, DeriveIden)]
enum FlowCountry {
    Table,
    FlowId,
    Country,
}

#[derive(Clone, Copy, DeriveIden)]
enum Transfer {
    Table,
    Id,
    FlowId,
    Country,
    Mechanism,
    SccModule,
    Derogation,
    Safeguards,
    TiaDate,
}

#[derive(Clone, Copy, DeriveIden)]
enum ChangeEvent {
    Table,
    Seq,
    OccurredAt,
    Kind,
    EntityType,
    EntityId,
    RecipientId,
    RecipientKind,
    FlowId,
    ActivityId,
    Actor,
    Reason,
    Changes,
    Snapshot,
    AnnouncedAt,
    EffectiveAt,
    Public,
}

#[derive(Clone, Copy, DeriveIden)]
enum ChangeEventProduct {
    Table,
    Seq,
    Product,
}

/// A foreign key from `from_table.from_col` to `to_table.id`.
fn fk(
    from_table: impl IntoIden + Clone,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(on_delete)
        .to_owned()
}

/// A link table with a composite primary key, each side referencing its parent; rows go with the
/// parent on the left and block deleting the one on the right.
fn link_table(
    table: impl IntoIden + Clone + 'static,
    left: impl IntoIden + Clone + 'static,
    left_table: impl IntoIden + Clone + 'static,
    right: impl IntoIden + Clone + 'static,
    right_table: impl IntoIden + Clone + 'static,
    right_id: impl IntoIden + Clone + 'static,
) -> TableCreateStatement {
    Table::create()
        .table(table.clone())
        .if_not_exists()
        .col(integer(left.clone()))
        .col(integer(right.clone()))
        .primary_key(Index::create().col(left.clone()).col(right.clone()))
        .foreign_key(&mut fk(
            table.clone(),
            left,
            left_table,
            Alias::new("id"),
            ForeignKeyAction::Cascade,
        ))
        .foreign_key(&mut fk(
            table,
            right,
            right_table,
            right_id,
            ForeignKeyAction::Restrict,
        ))
        .to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organization::Table)
                    .if_not_exists()
                    .col(pk_auto(Organization::Id))
                    .col(string(Organization::Name))
                    .col(text(Organization::Address))
                    .col(string_len(Organization::Country, 2))
                    .col(string(Organization::DpoName))
                    .col(string(Organization::DpoEmail))
                    .col(text_null(Organization::DpoAddress))
                    .col(text_null(Organization::Representative))
                    .col(json_binary(Organization::Sources))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DataCategory::Table)
                    .if_not_exists()
                    .col(pk_auto(DataCategory::Id))
                    .col(string_uniq(DataCategory::Key))
                    .col(integer_null(DataCategory::ParentId))
                    .col(string(DataCategory::Name))
                    .col(text_null(DataCategory::Description))
                    .col(boolean(DataCategory::SpecialCategory))
                    .col(string_null(DataCategory::FidesKey))
                    .foreign_key(&mut fk(
                        DataCategory::Table,
                        DataCategory::ParentId,
                        DataCategory::Table,
                        DataCategory::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DataSubjectCategory::Table)
                    .if_not_exists()
                    .col(pk_auto(DataSubjectCategory::Id))
                    .col(string_uniq(DataSubjectCategory::Key))
                    .col(string(DataSubjectCategory::Name))
                    .col(text_null(DataSubjectCategory::Description))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Product::Table)
                    .if_not_exists()
                    .col(pk_auto(Product::Id))
                    .col(string_uniq(Product::Key))
                    .col(string(Product::Name))
                    .col(text_null(Product::Description))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Recipient::Table)
                    .if_not_exists()
                    .col(pk_auto(Recipient::Id))
                    .col(string_uniq(Recipient::Key))
                    .col(string(Recipient::LegalName))
                    .col(string_len(Recipient::Kind, 32))
                    .col(string_len(Recipient::DefaultRole, 32))
                    .col(text_null(Recipient::Description))
                    .col(string_len(Recipient::Country, 2))
                    .col(string_null(Recipient::DpaReference))
                    .col(json_binary(Recipient::Certifications))
                    .col(boolean(Recipient::DpfCertified))
                    .col(string_null(Recipient::Website))
                    .col(string_null(Recipient::PrivacyNoticeUrl))
                    .col(string_len(Recipient::Status, 16))
                    .col(boolean(Recipient::Public))
                    .col(string_len_null(Recipient::TransferMechanism, 40))
                    .col(small_integer_null(Recipient::SccModule))
                    .col(string_len_null(Recipient::Derogation, 40))
                    .col(text_null(Recipient::DerogationSafeguards))
                    .col(date_null(Recipient::TiaDate))
                    .col(json_binary(Recipient::Assumptions))
                    .col(json_binary(Recipient::Sources))
                    .col(timestamp_with_time_zone(Recipient::CreatedAt))
                    .col(timestamp_with_time_zone(Recipient::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecipientLocation::Table)
                    .if_not_exists()
                    .col(integer(RecipientLocation::RecipientId))
                    .col(string_len(RecipientLocation::Country, 2))
                    .primary_key(
                        Index::create()
                            .col(RecipientLocation::RecipientId)
                            .col(RecipientLocation::Country),
                    )
                    .foreign_key(&mut fk(
                        RecipientLocation::Table,
                        RecipientLocation::RecipientId,
                        Recipient::Table,
                        Recipient::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProcessingActivity::Table)
                    .if_not_exists()
                    .col(pk_auto(ProcessingActivity::Id))
                    .col(string_uniq(ProcessingActivity::Key))
                    .col(string(ProcessingActivity::Name))
                    .col(text_null(ProcessingActivity::Description))
                    .col(string_len(ProcessingActivity::OrganizationRole, 16))
                    .col(json_binary(ProcessingActivity::Purposes))
                    .col(string_len_null(ProcessingActivity::LegalBasis, 32))
                    .col(string_len_null(ProcessingActivity::RetentionPeriod, 32))
                    .col(text_null(ProcessingActivity::RetentionReason))
                    .col(json_binary(ProcessingActivity::SecurityMeasures))
                    .col(text_null(ProcessingActivity::SpecialCategoryCondition))
                    .col(json_binary(ProcessingActivity::Assumptions))
                    .col(json_binary(ProcessingActivity::Sources))
                    .col(timestamp_with_time_zone(ProcessingActivity::CreatedAt))
                    .col(timestamp_with_time_zone(ProcessingActivity::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(link_table(
                ActivityDataCategory::Table,
                ActivityDataCategory::ActivityId,
                ProcessingActivity::Table,
                ActivityDataCategory::DataCategoryId,
                DataCategory::Table,
                DataCategory::Id,
            ))
            .await?;
        manager
            .create_table(link_table(
                ActivityDataSubject::Table,
                ActivityDataSubject::ActivityId,
                ProcessingActivity::Table,
                ActivityDataSubject::DataSubjectId,
                DataSubjectCategory::Table,
                DataSubjectCategory::Id,
            ))
            .await?;
        manager
            .create_table(link_table(
                ActivityProduct::Table,
                ActivityProduct::ActivityId,
                ProcessingActivity::Table,
                ActivityProduct::ProductId,
                Product::Table,
                Product::Id,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DataFlow::Table)
                    .if_not_exists()
                    .col(pk_auto(DataFlow::Id))
                    .col(integer(DataFlow::ActivityId))
                    .col(integer(DataFlow::RecipientId))
                    .col(integer_null(DataFlow::ViaRecipientId))
                    .col(string_len_null(DataFlow::Role, 32))
                    .col(text_null(DataFlow::Purpose))
                    .col(json_binary(DataFlow::Assumptions))
                    .col(json_binary(DataFlow::Sources))
                    .col(timestamp_with_time_zone(DataFlow::CreatedAt))
                    .col(timestamp_with_time_zone(DataFlow::UpdatedAt))
                    .foreign_key(&mut fk(
                        DataFlow::Table,
                        DataFlow::ActivityId,
                        ProcessingActivity::Table,
                        ProcessingActivity::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        DataFlow::Table,
                        DataFlow::RecipientId,
                        Recipient::Table,
                        Recipient::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        DataFlow::Table,
                        DataFlow::ViaRecipientId,
                        Recipient::Table,
                        Recipient::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_data_flow_activity", DataFlow::ActivityId),
            ("idx_data_flow_recipient", DataFlow::RecipientId),
            ("idx_data_flow_via_recipient", DataFlow::ViaRecipientId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(DataFlow::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(link_table(
                FlowDataCategory::Table,
                FlowDataCategory::FlowId,
                DataFlow::Table,
                FlowDataCategory::DataCategoryId,
                DataCategory::Table,
                DataCategory::Id,
            ))
            .await?;
        manager
            .create_table(link_table(
                FlowDataSubject::Table,
                FlowDataSubject::FlowId,
                DataFlow::Table,
                FlowDataSubject::DataSubjectId,
                DataSubjectCategory::Table,
                DataSubjectCategory::Id,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FlowCountry::Table)
                    .if_not_exists()
                    .col(integer(FlowCountry::FlowId))
                    .col(string_len(FlowCountry::Country, 2))
                    .primary_key(
                        Index::create()
                            .col(FlowCountry::FlowId)
                            .col(FlowCountry::Country),
                    )
                    .foreign_key(&mut fk(
                        FlowCountry::Table,
                        FlowCountry::FlowId,
                        DataFlow::Table,
                        DataFlow::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // Reverse lookups for the flow filters (category, subject, country -> flows).
        for (name, table, col) in [
            (
                "idx_flow_data_category_category",
                FlowDataCategory::Table.into_iden(),
                FlowDataCategory::DataCategoryId.into_iden(),
            ),
            (
                "idx_flow_data_subject_subject",
                FlowDataSubject::Table.into_iden(),
                FlowDataSubject::DataSubjectId.into_iden(),
            ),
            (
                "idx_flow_country_country",
                FlowCountry::Table.into_iden(),
                FlowCountry::Country.into_iden(),
            ),
        ] {
            manager
                .create_index(Index::create().name(name).table(table).col(col).to_owned())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Transfer::Table)
                    .if_not_exists()
                    .col(pk_auto(Transfer::Id))
                    .col(integer(Transfer::FlowId))
                    .col(string_len(Transfer::Country, 2))
                    .col(string_len(Transfer::Mechanism, 40))
                    .col(small_integer_null(Transfer::SccModule))
                    .col(string_len_null(Transfer::Derogation, 40))
                    .col(text_null(Transfer::Safeguards))
                    .col(date_null(Transfer::TiaDate))
                    .foreign_key(&mut fk(
                        Transfer::Table,
                        Transfer::FlowId,
                        DataFlow::Table,
                        DataFlow::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_transfer_flow_country")
                    .table(Transfer::Table)
                    .col(Transfer::FlowId)
                    .col(Transfer::Country)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // The change log keeps no foreign keys: it outlives what it describes.
        manager
            .create_table(
                Table::create()
                    .table(ChangeEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ChangeEvent::Seq))
                    .col(timestamp_with_time_zone(ChangeEvent::OccurredAt))
                    .col(string_len(ChangeEvent::Kind, 32))
                    .col(string_len(ChangeEvent::EntityType, 32))
                    .col(integer(ChangeEvent::EntityId))
                    .col(integer_null(ChangeEvent::RecipientId))
                    .col(string_len_null(ChangeEvent::RecipientKind, 32))
                    .col(integer_null(ChangeEvent::FlowId))
                    .col(integer_null(ChangeEvent::ActivityId))
                    .col(string(ChangeEvent::Actor))
                    .col(text_null(ChangeEvent::Reason))
                    .col(json_binary(ChangeEvent::Changes))
                    .col(json_binary(ChangeEvent::Snapshot))
                    .col(timestamp_with_time_zone_null(ChangeEvent::AnnouncedAt))
                    .col(timestamp_with_time_zone_null(ChangeEvent::EffectiveAt))
                    .col(boolean(ChangeEvent::Public))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_event_recipient")
                    .table(ChangeEvent::Table)
                    .col(ChangeEvent::RecipientId)
                    .col(ChangeEvent::Seq)
                    .to_owned(),
            )
            .await?;
        // "The latest event of each entity up to an instant" rebuilds any past state.
        manager
            .create_index(
                Index::create()
                    .name("idx_change_event_entity")
                    .table(ChangeEvent::Table)
                    .col(ChangeEvent::EntityType)
                    .col(ChangeEvent::EntityId)
                    .col(ChangeEvent::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_event_occurred_at")
                    .table(ChangeEvent::Table)
                    .col(ChangeEvent::OccurredAt)
                    .to_owned(),
            )
            .await?;
        // The products an event concerns, as they stood when it was written (feed filter).
        manager
            .create_table(
                Table::create()
                    .table(ChangeEventProduct::Table)
                    .if_not_exists()
                    .col(big_integer(ChangeEventProduct::Seq))
                    .col(string(ChangeEventProduct::Product))
                    .primary_key(
                        Index::create()
                            .col(ChangeEventProduct::Seq)
                            .col(ChangeEventProduct::Product),
                    )
                    .foreign_key(&mut fk(
                        ChangeEventProduct::Table,
                        ChangeEventProduct::Seq,
                        ChangeEvent::Table,
                        ChangeEvent::Seq,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_event_product_product")
                    .table(ChangeEventProduct::Table)
                    .col(ChangeEventProduct::Product)
                    .col(ChangeEventProduct::Seq)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The taxonomy's parent links restrict deletes, and SQLite empties a table row by row
        // as it drops it: cut the links first.
        manager
            .exec_stmt(
                Query::update()
                    .table(DataCategory::Table)
                    .value(DataCategory::ParentId, Option::<i32>::None)
                    .to_owned(),
            )
            .await?;
        for table in [
            ChangeEventProduct::Table.into_iden(),
            ChangeEvent::Table.into_iden(),
            Transfer::Table.into_iden(),
            FlowCountry::Table.into_iden(),
            FlowDataSubject::Table.into_iden(),
            FlowDataCategory::Table.into_iden(),
            DataFlow::Table.into_iden(),
            ActivityProduct::Table.into_iden(),
            ActivityDataSubject::Table.into_iden(),
            ActivityDataCategory::Table.into_iden(),
            ProcessingActivity::Table.into_iden(),
            RecipientLocation::Table.into_iden(),
            Recipient::Table.into_iden(),
            Product::Table.into_iden(),
            DataSubjectCategory::Table.into_iden(),
            DataCategory::Table.into_iden(),
            Organization::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
