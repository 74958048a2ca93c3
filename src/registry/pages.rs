//! Paged reads: one page type for every list, and the lists that grow without bound
//! (recipients, processing activities, objections) read a page at a time, with their counts.
//!
//! Every list is ordered by one column and then by row id, so no two rows tie, and a page
//! resumes after the key of the last row a client saw ([`Keyed`]): keyset pagination. Rows
//! added or removed between two pages shift nothing (no row is seen twice or skipped for it),
//! and the thousandth page costs what the first does.

use super::Registry;
use super::error::Result;
use super::notice::ObjectionFilter;
use super::recipients::RecipientFilter;
use super::rules::is_subprocessor;
use chrono::{DateTime, Utc};
use entity::{data_flow, objection, processing_activity, recipient};
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde::{Deserialize, Serialize};

/// One page of a list: at most the size asked for, and whether more rows follow it.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// How many rows to read for a page of `first`: one more, which tells whether another page
    /// follows without counting the list.
    pub fn limit(first: u64) -> u64 {
        first.saturating_add(1)
    }

    /// The page of `first` rows out of `rows`, read with a limit of [`Page::limit`]`(first)`.
    pub fn from_rows(mut rows: Vec<T>, first: u64) -> Self {
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        Self {
            items: rows,
            has_next_page,
        }
    }

    /// The same page with each item turned into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next_page: self.has_next_page,
        }
    }
}

/// A row of a paged list, with the key a page resumes after: what the list's order needs to
/// find the rows that follow it.
pub trait Keyed {
    type Key;
    fn key(&self) -> Self::Key;
}

/// Where a page of data flows resumes: after the flow with this id (flows page in id order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowKey(pub i32);

impl Keyed for data_flow::Model {
    type Key = FlowKey;
    fn key(&self) -> FlowKey {
        FlowKey(self.id)
    }
}

/// Where a page of recipients resumes: after the recipient with this legal name and id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientKey(pub String, pub i32);

impl Keyed for recipient::Model {
    type Key = RecipientKey;
    fn key(&self) -> RecipientKey {
        RecipientKey(self.legal_name.clone(), self.id)
    }
}

/// Where a page of processing activities resumes: after the activity with this name and id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityKey(pub String, pub i32);

impl Keyed for processing_activity::Model {
    type Key = ActivityKey;
    fn key(&self) -> ActivityKey {
        ActivityKey(self.name.clone(), self.id)
    }
}

/// Where a page of objections resumes: after the objection received at this instant with this
/// id (objections page newest first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectionKey(pub DateTime<Utc>, pub i32);

impl Keyed for objection::Model {
    type Key = ObjectionKey;
    fn key(&self) -> ObjectionKey {
        ObjectionKey(self.created_at, self.id)
    }
}

/// A list's order: by `column`, then by `id` to break ties, both in one direction. The one
/// place that says how a list is ordered, so its full read and its pages agree.
struct Keyset<C> {
    column: C,
    id: C,
    order: Order,
}

impl<C: ColumnTrait> Keyset<C> {
    fn sorted<E: EntityTrait<Column = C>>(&self, select: Select<E>) -> Select<E> {
        select
            .order_by(self.column, self.order.clone())
            .order_by(self.id, self.order.clone())
    }

    /// The rows that come after the row with `value` and `id` in this order.
    fn after(&self, value: impl Into<sea_orm::Value> + Clone, id: i32) -> Condition {
        let (beyond_value, beyond_id) = match self.order {
            Order::Desc => (self.column.lt(value.clone()), self.id.lt(id)),
            _ => (self.column.gt(value.clone()), self.id.gt(id)),
        };
        Condition::any()
            .add(beyond_value)
            .add(Condition::all().add(self.column.eq(value)).add(beyond_id))
    }
}

/// Recipients by legal name.
const RECIPIENTS: Keyset<recipient::Column> = Keyset {
    column: recipient::Column::LegalName,
    id: recipient::Column::Id,
    order: Order::Asc,
};

/// Processing activities by name.
const ACTIVITIES: Keyset<processing_activity::Column> = Keyset {
    column: processing_activity::Column::Name,
    id: processing_activity::Column::Id,
    order: Order::Asc,
};

/// Objections newest first.
const OBJECTIONS: Keyset<objection::Column> = Keyset {
    column: objection::Column::CreatedAt,
    id: objection::Column::Id,
    order: Order::Desc,
};

/// The recipients `filter` selects, unordered.
fn recipients_matching(filter: &RecipientFilter) -> Select<recipient::Entity> {
    let mut query = recipient::Entity::find();
    if !filter.kinds.is_empty() {
        query = query.filter(recipient::Column::Kind.is_in(filter.kinds.iter().copied()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(recipient::Column::Status.is_in(filter.statuses.iter().copied()));
    }
    if filter.public_only {
        query = query.filter(recipient::Column::Public.eq(true));
    }
    if filter.subprocessors_only {
        query = query.filter(is_subprocessor());
    }
    query
}

/// The recipients `filter` selects, by legal name.
pub(super) fn recipients_in_order(filter: &RecipientFilter) -> Select<recipient::Entity> {
    RECIPIENTS.sorted(recipients_matching(filter))
}

/// Every processing activity, by name.
pub(super) fn activities_in_order() -> Select<processing_activity::Entity> {
    ACTIVITIES.sorted(processing_activity::Entity::find())
}

/// The objections `filter` selects, unordered.
fn objections_matching(filter: &ObjectionFilter) -> Select<objection::Entity> {
    let mut query = objection::Entity::find();
    if let Some(recipient) = filter.recipient_id {
        query = query.filter(objection::Column::RecipientId.eq(recipient));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(objection::Column::Status.is_in(filter.statuses.iter().copied()));
    }
    query
}

/// The objections `filter` selects, newest first.
pub(super) fn objections_in_order(filter: &ObjectionFilter) -> Select<objection::Entity> {
    OBJECTIONS.sorted(objections_matching(filter))
}

/// At most `first` rows of `ordered`, after the rows `after` excludes.
async fn read_page<E: EntityTrait>(
    registry: &Registry,
    ordered: Select<E>,
    after: Option<Condition>,
    first: u64,
) -> Result<Page<E::Model>> {
    let query = match after {
        Some(after) => ordered.filter(after.into_condition()),
        None => ordered,
    };
    let rows = query
        .limit(Page::<E::Model>::limit(first))
        .all(registry.db())
        .await?;
    Ok(Page::from_rows(rows, first))
}

impl Registry {
    /// A page of the recipients `filter` selects, by legal name, after `after`.
    pub async fn recipients_page(
        &self,
        filter: &RecipientFilter,
        after: Option<&RecipientKey>,
        first: u64,
    ) -> Result<Page<recipient::Model>> {
        let after = after.map(|RecipientKey(name, id)| RECIPIENTS.after(name.clone(), *id));
        read_page(self, recipients_in_order(filter), after, first).await
    }

    /// How many recipients `filter` selects.
    pub async fn count_recipients(&self, filter: &RecipientFilter) -> Result<u64> {
        Ok(recipients_matching(filter).count(self.db()).await?)
    }

    /// A page of the processing activities, by name, after `after`.
    pub async fn activities_page(
        &self,
        after: Option<&ActivityKey>,
        first: u64,
    ) -> Result<Page<processing_activity::Model>> {
        let after = after.map(|ActivityKey(name, id)| ACTIVITIES.after(name.clone(), *id));
        read_page(self, activities_in_order(), after, first).await
    }

    /// How many processing activities the registry holds.
    pub async fn count_activities(&self) -> Result<u64> {
        Ok(processing_activity::Entity::find().count(self.db()).await?)
    }

    /// A page of the objections `filter` selects, newest first, after `after`.
    pub async fn objections_page(
        &self,
        filter: &ObjectionFilter,
        after: Option<&ObjectionKey>,
        first: u64,
    ) -> Result<Page<objection::Model>> {
        let after = after.map(|ObjectionKey(at, id)| OBJECTIONS.after(*at, *id));
        read_page(self, objections_in_order(filter), after, first).await
    }

    /// How many objections `filter` selects.
    pub async fn count_objections(&self, filter: &ObjectionFilter) -> Result<u64> {
        Ok(objections_matching(filter).count(self.db()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_read_with_one_row_more_than_it_holds() {
        assert_eq!(Page::<u8>::limit(3), 4);
        assert_eq!(Page::<u8>::limit(u64::MAX), u64::MAX);
        let more = Page::from_rows(vec![1, 2, 3, 4], 3);
        assert_eq!(more.items, [1, 2, 3]);
        assert!(more.has_next_page);
        let last = Page::from_rows(vec![1, 2], 3);
        assert_eq!(last.items, [1, 2]);
        assert!(!last.has_next_page);
        let empty = Page::from_rows(vec![1], 0);
        assert!(empty.items.is_empty() && empty.has_next_page);
    }
}
