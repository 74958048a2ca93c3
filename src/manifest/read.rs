//! The registry in the manifest's format: as it stands (read from the tables, with the row id
//! of every entry, for `plan` and `apply`), or as it stood at a past instant (rebuilt from the
//! change log by [`crate::changes::as_of`]).

use crate::changes::as_of::for_each_latest;
use crate::registry::inputs::{
    ActivityInput, DataCategoryInput, FlowInput, OrganizationInput, RecipientInput, TermInput,
};
use crate::registry::snapshot::{ActivityLinks, FlowRefs};
use crate::registry::{
    ActivitySnapshot, FlowSnapshot, RecipientSnapshot, Registry, RegistryError, Result,
};
use crate::seed::format::RegistryFile;
use chrono::{DateTime, Utc};
use entity::{
    EntityType, RecipientRole, activity_data_category, activity_data_subject, activity_product,
    data_category, data_flow, data_subject_category, flow_country, flow_data_category,
    flow_data_subject, organization, processing_activity, product, recipient, recipient_location,
    transfer,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap};

/// Ids per `IN (...)` list: below SQLite's 32,766 bind parameters.
const IDS_PER_QUERY: usize = 10_000;

/// What identifies a data flow in a manifest, where flows have no key of their own: its
/// activity, its recipient, its intermediary, its exporting establishment and its role (a
/// carrier is a mere conduit in one flow of an activity and a controller in another). A
/// manifest names each flow once; changing one of these is removing a flow and adding another.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowIdentity {
    pub activity: String,
    pub recipient: String,
    pub via: Option<String>,
    pub exporter: Option<String>,
    pub role: Option<String>,
}

impl FlowIdentity {
    pub fn of(flow: &FlowInput<String>) -> Self {
        Self {
            activity: flow.activity.clone(),
            recipient: flow.recipient.clone(),
            via: flow.via.clone(),
            exporter: flow.exporter.clone(),
            role: flow.role.map(role_name),
        }
    }
}

impl std::fmt::Display for FlowIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} -> ", self.activity)?;
        if let Some(via) = &self.via {
            write!(f, "{via} -> ")?;
        }
        write!(f, "{}", self.recipient)?;
        if let Some(exporter) = &self.exporter {
            write!(f, " (exported by {exporter})")?;
        }
        if let Some(role) = &self.role {
            write!(f, " as {role}")?;
        }
        Ok(())
    }
}

/// A role as the manifest writes it (`MERE_CONDUIT`).
pub fn role_name(role: RecipientRole) -> String {
    serde_json::to_value(role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The registry as it stands, in the manifest's format, with the row id of every entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    pub organization: Option<OrganizationInput>,
    /// Each list in row-id order (the order entries were made in, so a parent category comes
    /// before its children), beside the row ids.
    pub data_categories: Vec<(i32, DataCategoryInput)>,
    pub data_subjects: Vec<(i32, TermInput)>,
    pub products: Vec<(i32, TermInput)>,
    pub recipients: Vec<(i32, RecipientInput)>,
    pub activities: Vec<(i32, ActivityInput)>,
    pub flows: Vec<(i32, FlowInput<String>)>,
}

impl Live {
    /// The registry file that records this state.
    pub fn to_file(&self) -> Result<RegistryFile> {
        let organization = self.organization.clone().ok_or_else(|| {
            RegistryError::Conflict(
                "the registry has no organization yet: nothing to export".into(),
            )
        })?;
        fn values<T: Clone>(list: &[(i32, T)]) -> Vec<T> {
            list.iter().map(|(_, v)| v.clone()).collect()
        }
        Ok(RegistryFile {
            organization,
            data_categories: values(&self.data_categories),
            data_subjects: values(&self.data_subjects),
            products: values(&self.products),
            recipients: values(&self.recipients),
            processing_activities: values(&self.activities),
            data_flows: values(&self.flows),
        })
    }
}

fn organization_input(o: organization::Model) -> OrganizationInput {
    let organization::Model {
        id: _,
        name,
        address,
        country,
        dpo_name,
        dpo_email,
        dpo_address,
        representative,
        controllers_register,
        sources,
    } = o;
    OrganizationInput {
        name,
        address,
        country,
        dpo_name,
        dpo_email,
        dpo_address,
        representative,
        controllers_register,
        sources: sources.0,
    }
}

fn category_input(c: data_category::Model) -> DataCategoryInput {
    let data_category::Model {
        id: _,
        key,
        parent_id: _,
        name,
        description,
        special_category,
        fides_key,
    } = c;
    DataCategoryInput {
        key,
        name,
        description,
        special_category,
        fides_key,
    }
}

/// The organization and the taxonomy, as the tables hold them (the change log does not
/// record them, so a past-date export shows them as they are today).
async fn terms(conn: &impl ConnectionTrait, live: &mut Live) -> Result<()> {
    live.organization = organization::Entity::find()
        .order_by_asc(organization::Column::Id)
        .one(conn)
        .await?
        .map(organization_input);
    live.data_categories = data_category::Entity::find()
        .order_by_asc(data_category::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, category_input(c)))
        .collect();
    live.data_subjects = data_subject_category::Entity::find()
        .order_by_asc(data_subject_category::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|s| {
            (
                s.id,
                TermInput {
                    key: s.key,
                    name: s.name,
                    description: s.description,
                },
            )
        })
        .collect();
    live.products = product::Entity::find()
        .order_by_asc(product::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|p| {
            (
                p.id,
                TermInput {
                    key: p.key,
                    name: p.name,
                    description: p.description,
                },
            )
        })
        .collect();
    Ok(())
}

/// Pairs of (owner id, linked id) from a link table, for owners in `ids`, read in chunks.
async fn links<E>(
    conn: &impl ConnectionTrait,
    ids: &[i32],
    owner: E::Column,
    pair: impl Fn(&E::Model) -> (i32, i32),
) -> Result<Vec<(i32, i32)>>
where
    E: EntityTrait,
{
    let mut out = Vec::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        for row in E::find()
            .filter(owner.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            out.push(pair(&row));
        }
    }
    Ok(out)
}

/// Keys of linked terms, by owner, sorted (as every other reader of the registry lists them).
fn keys_by_owner(pairs: Vec<(i32, i32)>, keys: &HashMap<i32, String>) -> HashMap<i32, Vec<String>> {
    let mut out: HashMap<i32, Vec<String>> = HashMap::new();
    for (owner, term) in pairs {
        if let Some(key) = keys.get(&term) {
            out.entry(owner).or_default().push(key.clone());
        }
    }
    for list in out.values_mut() {
        list.sort();
        list.dedup();
    }
    out
}

/// The registry as it stands, read from the tables on `conn` (the pool, or a batch's
/// transaction to see its own writes): a few statements per table whatever its size.
pub async fn live(conn: &impl ConnectionTrait) -> Result<Live> {
    let mut live = live_without_flows(conn).await?;
    live.flows = flows(conn, &live, None).await?;
    Ok(live)
}

/// [`live`] without its data flows.
pub async fn live_without_flows(conn: &impl ConnectionTrait) -> Result<Live> {
    let mut live = Live::default();
    terms(conn, &mut live).await?;
    let category_keys: HashMap<i32, String> = live
        .data_categories
        .iter()
        .map(|(id, c)| (*id, c.key.clone()))
        .collect();
    let subject_keys: HashMap<i32, String> = live
        .data_subjects
        .iter()
        .map(|(id, s)| (*id, s.key.clone()))
        .collect();
    let product_keys: HashMap<i32, String> = live
        .products
        .iter()
        .map(|(id, p)| (*id, p.key.clone()))
        .collect();

    let recipients = recipient::Entity::find()
        .order_by_asc(recipient::Column::Id)
        .all(conn)
        .await?;
    let recipient_ids: Vec<i32> = recipients.iter().map(|r| r.id).collect();
    let mut locations: HashMap<i32, Vec<String>> = HashMap::new();
    for chunk in recipient_ids.chunks(IDS_PER_QUERY) {
        for l in recipient_location::Entity::find()
            .filter(recipient_location::Column::RecipientId.is_in(chunk.iter().copied()))
            .order_by_asc(recipient_location::Column::Country)
            .all(conn)
            .await?
        {
            locations.entry(l.recipient_id).or_default().push(l.country);
        }
    }
    live.recipients = recipients
        .into_iter()
        .map(|r| {
            let id = r.id;
            let snapshot = RecipientSnapshot::of(r, locations.remove(&id).unwrap_or_default());
            (id, RecipientInput::from(snapshot))
        })
        .collect();

    let activities = processing_activity::Entity::find()
        .order_by_asc(processing_activity::Column::Id)
        .all(conn)
        .await?;
    let activity_ids: Vec<i32> = activities.iter().map(|a| a.id).collect();
    let mut activity_categories = keys_by_owner(
        links::<activity_data_category::Entity>(
            conn,
            &activity_ids,
            activity_data_category::Column::ActivityId,
            |l| (l.activity_id, l.data_category_id),
        )
        .await?,
        &category_keys,
    );
    let mut activity_subjects = keys_by_owner(
        links::<activity_data_subject::Entity>(
            conn,
            &activity_ids,
            activity_data_subject::Column::ActivityId,
            |l| (l.activity_id, l.data_subject_id),
        )
        .await?,
        &subject_keys,
    );
    let mut activity_products = keys_by_owner(
        links::<activity_product::Entity>(
            conn,
            &activity_ids,
            activity_product::Column::ActivityId,
            |l| (l.activity_id, l.product_id),
        )
        .await?,
        &product_keys,
    );
    live.activities = activities
        .into_iter()
        .map(|a| {
            let id = a.id;
            let links = ActivityLinks {
                data_subjects: activity_subjects.remove(&id).unwrap_or_default(),
                data_categories: activity_categories.remove(&id).unwrap_or_default(),
                products: activity_products.remove(&id).unwrap_or_default(),
            };
            (id, ActivityInput::from(ActivitySnapshot::of(a, links)))
        })
        .collect();

    Ok(live)
}

/// The data flows of the registry whose other entries `live` holds: all of them, or those with
/// the row ids `ids`; by row id.
pub async fn flows(
    conn: &impl ConnectionTrait,
    live: &Live,
    ids: Option<&[i32]>,
) -> Result<Vec<(i32, FlowInput<String>)>> {
    let keys = |list: Vec<(i32, &String)>| -> HashMap<i32, String> {
        list.into_iter().map(|(id, k)| (id, k.clone())).collect()
    };
    let category_keys = keys(
        live.data_categories
            .iter()
            .map(|(id, c)| (*id, &c.key))
            .collect(),
    );
    let subject_keys = keys(
        live.data_subjects
            .iter()
            .map(|(id, s)| (*id, &s.key))
            .collect(),
    );
    let recipient_key = keys(
        live.recipients
            .iter()
            .map(|(id, r)| (*id, &r.key))
            .collect(),
    );
    let activity_key = keys(
        live.activities
            .iter()
            .map(|(id, a)| (*id, &a.key))
            .collect(),
    );
    let flows = match ids {
        None => {
            data_flow::Entity::find()
                .order_by_asc(data_flow::Column::Id)
                .all(conn)
                .await?
        }
        Some(ids) => {
            let mut flows = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(IDS_PER_QUERY) {
                flows.extend(
                    data_flow::Entity::find()
                        .filter(data_flow::Column::Id.is_in(chunk.iter().copied()))
                        .all(conn)
                        .await?,
                );
            }
            flows.sort_unstable_by_key(|f| f.id);
            flows
        }
    };
    let flow_ids: Vec<i32> = flows.iter().map(|f| f.id).collect();
    let mut flow_categories = keys_by_owner(
        links::<flow_data_category::Entity>(
            conn,
            &flow_ids,
            flow_data_category::Column::FlowId,
            |l| (l.flow_id, l.data_category_id),
        )
        .await?,
        &category_keys,
    );
    let mut flow_subjects = keys_by_owner(
        links::<flow_data_subject::Entity>(
            conn,
            &flow_ids,
            flow_data_subject::Column::FlowId,
            |l| (l.flow_id, l.data_subject_id),
        )
        .await?,
        &subject_keys,
    );
    let mut countries: HashMap<i32, Vec<String>> = HashMap::new();
    let mut transfers: HashMap<i32, Vec<transfer::Model>> = HashMap::new();
    for chunk in flow_ids.chunks(IDS_PER_QUERY) {
        for c in flow_country::Entity::find()
            .filter(flow_country::Column::FlowId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            countries.entry(c.flow_id).or_default().push(c.country);
        }
        for t in transfer::Entity::find()
            .filter(transfer::Column::FlowId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            transfers.entry(t.flow_id).or_default().push(t);
        }
    }
    let key = |map: &HashMap<i32, String>, id: Option<i32>| id.and_then(|id| map.get(&id).cloned());
    Ok(flows
        .into_iter()
        .map(|f| {
            let id = f.id;
            let refs = FlowRefs {
                activity: activity_key
                    .get(&f.activity_id)
                    .cloned()
                    .unwrap_or_default(),
                recipient: recipient_key
                    .get(&f.recipient_id)
                    .cloned()
                    .unwrap_or_default(),
                via: key(&recipient_key, f.via_recipient_id),
                exporter: key(&recipient_key, f.exporter_recipient_id),
                data_categories: flow_categories.remove(&id).unwrap_or_default(),
                data_subjects: flow_subjects.remove(&id).unwrap_or_default(),
            };
            let mut destinations = countries.remove(&id).unwrap_or_default();
            destinations.sort();
            let mut sent = transfers.remove(&id).unwrap_or_default();
            sent.sort_by(|a, b| a.country.cmp(&b.country));
            let snapshot = FlowSnapshot::of(&f, refs, destinations, &sent);
            (id, FlowInput::<String>::from(snapshot))
        })
        .collect())
}

/// What a past-date export needs of the log: the latest snapshot of each entity, by row id.
#[derive(Default)]
struct Past {
    recipients: BTreeMap<i32, RecipientSnapshot>,
    activities: BTreeMap<i32, ActivitySnapshot>,
    flows: BTreeMap<i32, FlowSnapshot>,
    unreadable: usize,
}

/// The registry as it stood at `at`: recipients, processing activities and data flows
/// rebuilt from the change log (the latest event of each up to `at`, by
/// [`for_each_latest`]); the organization and the taxonomy, which the log does not record, as
/// they are today.
pub async fn as_of(registry: &Registry, at: DateTime<Utc>) -> Result<RegistryFile> {
    let db = registry.pool().ok_or_else(|| {
        RegistryError::Conflict("a past registry cannot be read inside a batch of writes".into())
    })?;
    let mut today = Live::default();
    terms(db, &mut today).await?;
    let past = for_each_latest(
        db,
        at,
        &[
            EntityType::Recipient,
            EntityType::ProcessingActivity,
            EntityType::DataFlow,
        ],
        Past::default(),
        |past, row| {
            let read = match row.entity_type {
                EntityType::Recipient => serde_json::from_str(&row.snapshot)
                    .map(|s| drop(past.recipients.insert(row.entity_id, s))),
                EntityType::ProcessingActivity => serde_json::from_str(&row.snapshot)
                    .map(|s| drop(past.activities.insert(row.entity_id, s))),
                EntityType::DataFlow => serde_json::from_str(&row.snapshot)
                    .map(|s| drop(past.flows.insert(row.entity_id, s))),
            };
            if read.is_err() {
                past.unreadable += 1;
            }
        },
    )
    .await?;
    if past.unreadable > 0 {
        tracing::error!(
            unreadable = past.unreadable,
            "change-log snapshots this version cannot read were left out of the export"
        );
    }
    today.recipients = past
        .recipients
        .into_iter()
        .map(|(id, s)| (id, RecipientInput::from(s)))
        .collect();
    today.activities = past
        .activities
        .into_iter()
        .map(|(id, s)| (id, ActivityInput::from(s)))
        .collect();
    today.flows = past
        .flows
        .into_iter()
        .map(|(id, s)| (id, FlowInput::<String>::from(s)))
        .collect();
    today.to_file()
}
