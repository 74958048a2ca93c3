//! Facts the public subprocessor list derives from every flow, kept per recipient: whether it
//! is a subprocessor ([`rules::is_subprocessing`]) and which products' activities send it data.
//! Every change refreshes them for the recipients its events touch, inside its own transaction
//! (so a batch, and a reader of it, sees them as the change left them). Reading the list then
//! costs a few rows per listed recipient, however many flows the registry holds.

use super::Result;
use super::rules;
use entity::{activity_product, data_flow, recipient, recipient_product, recipient_subprocessor};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    StatementBuilder,
};
use std::collections::BTreeSet;

/// Recipients per statement: well within both databases' bound on parameters.
const RECIPIENTS_PER_STATEMENT: usize = 4096;

/// What a change's events touched, for the refresh of the facts derived from it.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    /// Recipients whose flows, or whose own default role, changed (a moved flow names both).
    pub recipients: BTreeSet<i32>,
    /// Activities whose role or products changed: every recipient of their flows is touched.
    pub activities: BTreeSet<i32>,
}

impl Touched {
    fn is_empty(&self) -> bool {
        self.recipients.is_empty() && self.activities.is_empty()
    }
}

/// Derives again, from the flows as `txn` sees them, the facts kept for every recipient
/// `touched` names.
pub(crate) async fn refresh(txn: &DatabaseTransaction, touched: Touched) -> Result<()> {
    if touched.is_empty() {
        return Ok(());
    }
    let Touched {
        mut recipients,
        activities,
    } = touched;
    if !activities.is_empty() {
        let of_activities: Vec<i32> = data_flow::Entity::find()
            .select_only()
            .column(data_flow::Column::RecipientId)
            .distinct()
            .filter(data_flow::Column::ActivityId.is_in(activities))
            .into_tuple()
            .all(txn)
            .await?;
        recipients.extend(of_activities);
    }
    let recipients: Vec<i32> = recipients.into_iter().collect();
    for ids in recipients.chunks(RECIPIENTS_PER_STATEMENT) {
        refresh_chunk(txn, ids).await?;
    }
    Ok(())
}

async fn refresh_chunk(txn: &DatabaseTransaction, ids: &[i32]) -> Result<()> {
    let backend = txn.get_database_backend();
    let ids = || ids.iter().copied();
    recipient_subprocessor::Entity::delete_many()
        .filter(recipient_subprocessor::Column::RecipientId.is_in(ids()))
        .exec(txn)
        .await?;
    let subprocessors = Query::insert()
        .into_table(recipient_subprocessor::Entity)
        .columns([recipient_subprocessor::Column::RecipientId])
        .select_from(
            Query::select()
                .column((recipient::Entity, recipient::Column::Id))
                .from(recipient::Entity)
                .and_where(recipient::Column::Id.is_in(ids()))
                .and_where(rules::derives_subprocessor())
                .to_owned(),
        )
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
        .to_owned();
    txn.execute_raw(StatementBuilder::build(&subprocessors, &backend))
        .await?;

    recipient_product::Entity::delete_many()
        .filter(recipient_product::Column::RecipientId.is_in(ids()))
        .exec(txn)
        .await?;
    let products = Query::insert()
        .into_table(recipient_product::Entity)
        .columns([
            recipient_product::Column::RecipientId,
            recipient_product::Column::ProductId,
        ])
        .select_from(
            Query::select()
                .distinct()
                .column((data_flow::Entity, data_flow::Column::RecipientId))
                .column((
                    activity_product::Entity,
                    activity_product::Column::ProductId,
                ))
                .from(data_flow::Entity)
                .inner_join(
                    activity_product::Entity,
                    Expr::col((
                        activity_product::Entity,
                        activity_product::Column::ActivityId,
                    ))
                    .equals((data_flow::Entity, data_flow::Column::ActivityId)),
                )
                .and_where(
                    Expr::col((data_flow::Entity, data_flow::Column::RecipientId)).is_in(ids()),
                )
                .to_owned(),
        )
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
        .to_owned();
    txn.execute_raw(StatementBuilder::build(&products, &backend))
        .await?;
    Ok(())
}
