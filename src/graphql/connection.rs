//! The one Relay connection every paged list is served as: `edges { cursor node }`, `nodes`,
//! `pageInfo` and `totalCount`, built once for any item type. `Connection<DataFlow>` is the
//! `DataFlowConnection` of the schema, its edges `DataFlowEdge`, and so on for each list.

use super::auth::ReadersGuard;
use super::cursor::{self, CursorKey};
use super::error::ApiResult;
use crate::registry::{Keyed, Page, Registry};
use async_graphql::{Context, Description, Object, OutputType, SimpleObject, TypeName};
use entity::Role;
use futures_util::future::BoxFuture;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

/// An item a connection pages through: a GraphQL object over a row the registry pages by its
/// key.
pub trait PageItem: OutputType {
    /// The row, whose key is the item's cursor.
    type Row: Keyed<Key: CursorKey>;

    fn row(&self) -> &Self::Row;

    /// Who may read a connection of these items: `None` for anyone, else the role needed.
    /// The connection and its edges carry that guard, so a resolver added later that returns
    /// one is guarded by its type.
    const READERS: Option<Role>;
    /// The connection type's description in the schema.
    const CONNECTION_DESCRIPTION: &'static str;
    /// The edge type's description in the schema.
    const EDGE_DESCRIPTION: &'static str;
}

/// The key behind an item's cursor.
pub type KeyOf<N> = <<N as PageItem>::Row as Keyed>::Key;

/// How a connection counts its items over all pages: run only when `totalCount` is selected.
pub struct TotalCount(
    Box<dyn Fn(Registry) -> BoxFuture<'static, crate::registry::Result<u64>> + Send + Sync>,
);

impl TotalCount {
    /// Counts what `selection` (the page's filter) selects with `count`, given the request's
    /// registry.
    pub fn of<S, F, Fut>(selection: S, count: F) -> Self
    where
        S: Send + Sync + 'static,
        F: Fn(Registry, Arc<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = crate::registry::Result<u64>> + Send + 'static,
    {
        let selection = Arc::new(selection);
        Self(Box::new(move |registry| {
            Box::pin(count(registry, selection.clone()))
        }))
    }
}

/// A page of a list, as a Relay connection.
pub struct Connection<N: PageItem> {
    edges: Vec<Edge<N>>,
    has_next_page: bool,
    has_previous_page: bool,
    total: TotalCount,
}

impl<N: PageItem> Connection<N> {
    /// The connection of `page`, read after `after`.
    pub fn new(page: Page<N>, after: Option<&KeyOf<N>>, total: TotalCount) -> Self {
        Self {
            edges: page
                .items
                .into_iter()
                .map(|node| Edge {
                    cursor: cursor::encode(&node.row().key()),
                    node,
                })
                .collect(),
            has_next_page: page.has_next_page,
            has_previous_page: has_previous_page(after),
            total,
        }
    }

    /// The items of the page.
    pub fn items(&self) -> impl Iterator<Item = &N> {
        self.edges.iter().map(|e| &e.node)
    }
}

/// The one rule for `hasPreviousPage`: the page was asked for after a cursor, and that cursor
/// is not the list's start. Backward pagination is not offered, so this is all the server knows
/// cheaply.
fn has_previous_page<K: CursorKey>(after: Option<&K>) -> bool {
    after.is_some_and(|key| !key.is_start())
}

/// Where a page stands in its list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow this page: ask for them with `after: endCursor`.
    pub has_next_page: bool,
    /// Whether items precede this page: true when it was asked for `after` a cursor, false for
    /// the first page (asked for without `after`, or after the start of the change log). Pages
    /// go forward only, so the server does not look behind the cursor for items.
    pub has_previous_page: bool,
    /// Cursor of the first item of the page; null when the page is empty.
    pub start_cursor: Option<String>,
    /// Cursor of the last item; pass it as `after` for the next page. Null when the page is
    /// empty.
    pub end_cursor: Option<String>,
}

impl<N: PageItem> TypeName for Connection<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::type_name()).into()
    }
}

impl<N: PageItem> Description for Connection<N> {
    fn description() -> &'static str {
        N::CONNECTION_DESCRIPTION
    }
}

#[Object(name_type, use_type_description, guard = "ReadersGuard(N::READERS)")]
impl<N: PageItem> Connection<N> {
    /// The items of this page with their cursors, in the list's order.
    async fn edges(&self) -> &[Edge<N>] {
        &self.edges
    }

    /// The items of this page, without their cursors, in the list's order.
    async fn nodes(&self) -> Vec<&N> {
        self.items().collect()
    }

    /// Whether more items follow or precede, and the cursors of the page's ends.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: self.edges.first().map(|e| e.cursor.clone()),
            end_cursor: self.edges.last().map(|e| e.cursor.clone()),
        }
    }

    /// How many items the list holds over all pages, with the same filter. Counted only when
    /// asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let registry = ctx.data::<Registry>()?.clone();
        let count = (self.total.0)(registry).await.api()?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

/// An item of a page, with its cursor.
pub struct Edge<N: PageItem> {
    cursor: String,
    node: N,
}

impl<N: PageItem> TypeName for Edge<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", N::type_name()).into()
    }
}

impl<N: PageItem> Description for Edge<N> {
    fn description() -> &'static str {
        N::EDGE_DESCRIPTION
    }
}

#[Object(name_type, use_type_description, guard = "ReadersGuard(N::READERS)")]
impl<N: PageItem> Edge<N> {
    /// Opaque cursor of this item: pass it as `after` to get the items that follow it.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The item.
    async fn node(&self) -> &N {
        &self.node
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::ChangeKey;
    use crate::registry::FlowKey;

    #[test]
    fn only_a_page_after_a_cursor_past_the_start_has_a_previous_page() {
        assert!(!has_previous_page::<FlowKey>(None));
        assert!(has_previous_page(Some(&FlowKey(3))));
        assert!(!has_previous_page::<ChangeKey>(None));
        assert!(!has_previous_page(Some(&ChangeKey::Seq(0))));
        assert!(has_previous_page(Some(&ChangeKey::Seq(1))));
        assert!(!has_previous_page(Some(&ChangeKey::Public { public: 0 })));
        assert!(has_previous_page(Some(&ChangeKey::Public { public: 1 })));
    }
}
