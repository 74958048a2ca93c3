//! Queries over recipients, activities, taxonomies and reference data, and `node(id)`.

use super::Limits;
use super::auth::{Caller, VIEWER};
use super::connection::{Connection, PageItem, TotalCount};
use super::cursor::decode_after;
use super::enums::{RecipientKind, RecipientStatus, Regime, stored};
use super::error::{ApiResult, bad_input};
use super::loaders::{RecipientIsSubprocessor, RecipientLocations, RequestLoader};
use super::relay::{expect_id, parse_global_id};
use super::types::{
    AdequacyDecision, DataCategory, DataSubjectCategory, Node, Organization, ProcessingActivity,
    Product, Recipient,
};
use crate::reference;
use crate::registry::{ActivityKey, RecipientFilter, RecipientKey, Registry, visibility};
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, NaiveDate, Utc};

/// Which recipients to list.
#[derive(InputObject, Default)]
pub struct RecipientListFilter {
    /// Recipients of these kinds.
    kinds: Option<Vec<RecipientKind>>,
    /// Recipients in these lifecycle states.
    statuses: Option<Vec<RecipientStatus>>,
    /// Only recipients on the public subprocessor list.
    public_only: Option<bool>,
    /// Only subprocessors.
    subprocessors_only: Option<bool>,
}

impl RecipientListFilter {
    fn into_registry(self) -> RecipientFilter {
        RecipientFilter {
            kinds: stored(self.kinds),
            statuses: stored(self.statuses),
            public_only: self.public_only.unwrap_or(false),
            subprocessors_only: self.subprocessors_only.unwrap_or(false),
        }
    }
}

impl PageItem for Recipient {
    type Row = entity::recipient::Model;

    fn row(&self) -> &Self::Row {
        &self.0
    }

    const READERS: Option<entity::Role> = Some(entity::Role::Viewer);
    const CONNECTION_DESCRIPTION: &'static str = "A page of recipients, by legal name.";
    const EDGE_DESCRIPTION: &'static str = "A recipient of a page, with its cursor.";
}

impl PageItem for ProcessingActivity {
    type Row = entity::processing_activity::Model;

    fn row(&self) -> &Self::Row {
        &self.0
    }

    const READERS: Option<entity::Role> = Some(entity::Role::Viewer);
    const CONNECTION_DESCRIPTION: &'static str = "A page of processing activities, by name.";
    const EDGE_DESCRIPTION: &'static str = "A processing activity of a page, with its cursor.";
}

fn registry<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Registry> {
    ctx.data::<Registry>()
}

/// How a single object is asked for.
enum Lookup {
    Id(ID),
    Key(String),
}

/// Exactly one of `id` and `key`.
fn one_of(id: Option<ID>, key: Option<String>) -> async_graphql::Result<Lookup> {
    match (id, key) {
        (Some(id), None) => Ok(Lookup::Id(id)),
        (None, Some(key)) => Ok(Lookup::Key(key)),
        _ => Err(bad_input("id", "give exactly one of `id` and `key`")),
    }
}

/// What anyone may read, without a key: the organization, the public subprocessor list, the
/// products it is organised by, and reference data.
#[derive(Default)]
pub struct PublicQuery;

#[Object]
impl PublicQuery {
    /// The organization that keeps the registry.
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Organization>> {
        Ok(registry(ctx)?.organization().await.api()?.map(Organization))
    }

    /// The public subprocessor list a customer sees: public recipients, announced or active,
    /// that act as processor in processing the organization performs for its customers.
    ///
    /// With `asOf`, the list as it stood at that instant, rebuilt from the change log (which
    /// starts when the registry was created): each recipient's details and processing locations
    /// are those of that instant; its nested data flows are today's.
    async fn subprocessors(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The instant the list describes, rebuilt from the change log; today when absent."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<Recipient>> {
        let list = crate::changes::as_of::subprocessor_list(registry(ctx)?, as_of)
            .await
            .api()?;
        // What the list already knows of each recipient: where it processes (at that
        // instant, for a past list) and that it is a subprocessor.
        let loader = ctx.data::<RequestLoader>()?;
        loader
            .feed_many(list.iter().map(|(r, locations)| {
                (
                    RecipientLocations(r.id),
                    std::sync::Arc::new(locations.clone()),
                )
            }))
            .await;
        loader
            .feed_many(
                list.iter()
                    .map(|(r, _)| (RecipientIsSubprocessor(r.id), true)),
            )
            .await;
        Ok(list.into_iter().map(|(r, _)| Recipient::from(r)).collect())
    }

    /// The products and services personal data flows through (SMS, Voice, ...), by key.
    async fn products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        Ok(registry(ctx)?
            .products()
            .await
            .api()?
            .into_iter()
            .map(Product)
            .collect())
    }

    /// The adequacy decisions in force on `asOf` (today when absent): the European
    /// Commission's (EU GDPR) unless `regime` asks for the UK's or Switzerland's list, one entry
    /// per country.
    async fn adequacy_decisions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The day the decisions are in force on; today when absent.")]
        as_of: Option<NaiveDate>,
        #[graphql(desc = "The regime whose list to read: EU_GDPR when absent.")] regime: Option<
            Regime,
        >,
    ) -> async_graphql::Result<Vec<AdequacyDecision>> {
        let registry = registry(ctx)?;
        let on = match as_of {
            Some(on) => on,
            None => registry.now().date_naive(),
        };
        let regime = regime.map_or(reference::Regime::EuGdpr, Into::into);
        Ok(registry
            .adequacy()
            .decisions()
            .iter()
            .filter(|d| d.regime == regime && d.in_force_on(on))
            .cloned()
            .map(AdequacyDecision)
            .collect())
    }

    /// Any object by its global ID. Without an API key: public recipients and products only.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The object's global ID, as its `id` field gives it.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        let Some((type_name, row)) = parse_global_id(&id) else {
            return Err(bad_input("id", "not an ID issued by this API"));
        };
        let registry = registry(ctx)?;
        let caller = Caller::of(ctx);
        // Without a key, only public recipients and products exist: an internal recipient's ID
        // answers exactly like an unknown one, and other types are refused from the ID alone,
        // before any lookup.
        if !caller.sees_internal() && !matches!(type_name.as_str(), "Recipient" | "Product") {
            caller.require(entity::Role::Viewer)?;
        }
        Ok(match type_name.as_str() {
            "Recipient" => registry
                .recipient(row)
                .await
                .api()?
                .filter(|m| caller.sees_internal() || visibility::shown_to_public(m))
                .map(|m| Node::Recipient(Recipient::from(m))),
            "DataFlow" => registry
                .flow(row)
                .await
                .api()?
                .map(|m| Node::DataFlow(super::types::DataFlow(m))),
            "ProcessingActivity" => registry
                .activity(row)
                .await
                .api()?
                .map(|m| Node::ProcessingActivity(ProcessingActivity::from(m))),
            "DataCategory" => registry
                .data_category(row)
                .await
                .api()?
                .map(|m| Node::DataCategory(DataCategory::from(m))),
            "DataSubjectCategory" => registry
                .data_subject(row)
                .await
                .api()?
                .map(|m| Node::DataSubjectCategory(DataSubjectCategory::from(m))),
            "Product" => registry
                .product(row)
                .await
                .api()?
                .map(|m| Node::Product(Product(m))),
            _ => return Err(bad_input("id", "not an ID issued by this API")),
        })
    }
}

/// The internal registry: every recipient, activity and taxonomy term (VIEWER and up).
#[derive(Default)]
pub struct RegistryQuery;

#[Object(guard = "VIEWER")]
impl RegistryQuery {
    /// Every recipient, by legal name.
    #[graphql(
        deprecation = "Use `recipientsConnection`, which pages and counts; this list will be removed in the next release."
    )]
    async fn recipients(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which recipients to list; all of them when absent.")] filter: Option<
            RecipientListFilter,
        >,
    ) -> async_graphql::Result<Vec<Recipient>> {
        let filter = filter.unwrap_or_default().into_registry();
        Ok(registry(ctx)?
            .recipients(&filter)
            .await
            .api()?
            .into_iter()
            .map(Recipient::from)
            .collect())
    }

    /// The recipients (GDPR Art. 4(9)), by legal name, a page at a time.
    async fn recipients_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which recipients to list; all of them when absent.")] filter: Option<
            RecipientListFilter,
        >,
        #[graphql(desc = "Page size; the server's default when absent, at most its maximum.")]
        first: Option<i32>,
        #[graphql(desc = "Return the recipients after this cursor (an `endCursor` of this list).")]
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Recipient>> {
        let first = ctx.data::<Limits>()?.page_size(first)?;
        let after = decode_after::<RecipientKey>(after.as_deref())?;
        let filter = filter.unwrap_or_default().into_registry();
        let page = registry(ctx)?
            .recipients_page(&filter, after.as_ref(), first)
            .await
            .api()?;
        Ok(Connection::new(
            page.map(Recipient::from),
            after.as_ref(),
            TotalCount::of(filter, |registry, filter| async move {
                registry.count_recipients(&filter).await
            }),
        ))
    }

    /// One recipient, by ID or by key.
    async fn recipient(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The recipient's global ID; give this or `key`, not both.")] id: Option<
            ID,
        >,
        #[graphql(desc = "The recipient's key, e.g. `stripe`; give this or `id`, not both.")]
        key: Option<String>,
    ) -> async_graphql::Result<Option<Recipient>> {
        let registry = registry(ctx)?;
        let found = match one_of(id, key)? {
            Lookup::Id(id) => registry.recipient(expect_id("id", "Recipient", &id)?).await,
            Lookup::Key(key) => registry.recipient_by_key(&key).await,
        };
        Ok(found.api()?.map(Recipient::from))
    }

    /// Every processing activity, by name.
    #[graphql(
        deprecation = "Use `processingActivitiesConnection`, which pages and counts; this list will be removed in the next release."
    )]
    async fn processing_activities(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ProcessingActivity>> {
        Ok(registry(ctx)?
            .activities()
            .await
            .api()?
            .into_iter()
            .map(ProcessingActivity::from)
            .collect())
    }

    /// The processing activities (GDPR Art. 30), by name, a page at a time.
    async fn processing_activities_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size; the server's default when absent, at most its maximum.")]
        first: Option<i32>,
        #[graphql(
            desc = "Return the processing activities after this cursor (an `endCursor` of this list)."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Connection<ProcessingActivity>> {
        let first = ctx.data::<Limits>()?.page_size(first)?;
        let after = decode_after::<ActivityKey>(after.as_deref())?;
        let page = registry(ctx)?
            .activities_page(after.as_ref(), first)
            .await
            .api()?;
        Ok(Connection::new(
            page.map(ProcessingActivity::from),
            after.as_ref(),
            TotalCount::of((), |registry, _| async move {
                registry.count_activities().await
            }),
        ))
    }

    /// One processing activity, by ID or by key.
    async fn processing_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity's global ID; give this or `key`, not both.")] id: Option<ID>,
        #[graphql(desc = "The activity's key, e.g. `sms_delivery`; give this or `id`, not both.")]
        key: Option<String>,
    ) -> async_graphql::Result<Option<ProcessingActivity>> {
        let registry = registry(ctx)?;
        let found = match one_of(id, key)? {
            Lookup::Id(id) => {
                registry
                    .activity(expect_id("id", "ProcessingActivity", &id)?)
                    .await
            }
            Lookup::Key(key) => registry.activity_by_key(&key).await,
        };
        Ok(found.api()?.map(ProcessingActivity::from))
    }

    /// The data category taxonomy, parents before children.
    async fn data_categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataCategory>> {
        Ok(registry(ctx)?
            .data_categories()
            .await
            .api()?
            .into_iter()
            .map(DataCategory::from)
            .collect())
    }

    /// The data subject categories.
    async fn data_subject_categories(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<DataSubjectCategory>> {
        Ok(registry(ctx)?
            .data_subjects()
            .await
            .api()?
            .into_iter()
            .map(DataSubjectCategory::from)
            .collect())
    }
}
