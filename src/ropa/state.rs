//! The registry's state at one instant, as the record needs it.
//!
//! Today's record (or one at any instant at or after the change log's last event) reads the
//! current tables; an earlier instant is rebuilt from the log, taking the latest event of each
//! recipient, processing activity and data flow up to that instant. Both sources produce the
//! same [`State`], normalised the same way (lists sorted, flows in id order), and the record is
//! built from a `State` by one code path, so today's record and a past one cannot disagree.

use super::model::OrganizationSection;
use crate::changes::as_of::for_each_latest;
use crate::reference::AdequacyTable;
use crate::registry::rules::effective_role;
use crate::registry::snapshot::{ActivityLinks, part};
use crate::registry::transfers::{self, Exporter, Party};
use crate::registry::{
    ActivitySnapshot, RecipientSnapshot, Registry, RegistryError, Result, TransferSnapshot,
};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    ChangeKind, EntityType, RecipientRole, TransferMechanism, activity_data_category,
    activity_data_subject, activity_product, change_event, data_category, data_flow,
    data_subject_category, flow_country, organization, processing_activity, product, recipient,
    recipient_location, transfer,
};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    IdenStatic, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use std::collections::HashMap;
use std::sync::Arc;

/// The registry's state at one instant, as the record needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub at: DateTime<Utc>,
    pub recipients: HashMap<i32, RecipientSnapshot>,
    /// By name, then id.
    pub activities: Vec<(i32, ActivitySnapshot)>,
    /// In id order.
    pub flows: Vec<StateFlow>,
    /// Names and Art. 9 flags of the taxonomy terms, by key (today's wording).
    pub categories: HashMap<String, (String, bool)>,
    pub subjects: HashMap<String, String>,
    pub products: HashMap<String, String>,
    pub organization: OrganizationSection,
    /// When each activity was first recorded and last changed (CNIL: "Date de création du
    /// traitement", "Mise à jour du traitement"), by activity id.
    pub activity_dates: HashMap<i32, (NaiveDate, NaiveDate)>,
    /// The adequacy decisions the findings judge transfers by.
    pub adequacy: Arc<AdequacyTable>,
}

/// What the record needs of a data flow.
#[derive(Clone, Debug, PartialEq)]
pub struct StateFlow {
    pub id: i32,
    pub activity_id: i32,
    pub recipient_id: i32,
    /// For an onward flow, the key of the recipient that forwards the data.
    pub via: Option<String>,
    /// For a direct flow an establishment sends, the key of that establishment.
    pub exporter: Option<String>,
    /// The flow's own role, when it overrides the recipient's default.
    pub role: Option<RecipientRole>,
    /// Destination countries, sorted.
    pub countries: Vec<String>,
    /// Transfers outside the EEA, by country.
    pub transfers: Vec<TransferSnapshot>,
}

impl StateFlow {
    /// The role of `recipient`, the flow's recipient, in the flow ([`effective_role`]).
    pub fn role_of(&self, recipient: &RecipientSnapshot) -> RecipientRole {
        effective_role(self.role, recipient.default_role)
    }
}

/// Where a state was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The current tables: the registry as it stands.
    Tables,
    /// The change log, up to the instant asked for.
    Log,
}

/// Loads the registry as it stood at `at` (now when `None`): from the current tables when no
/// change was logged after `at`, else rebuilt from the change log.
pub async fn load_state(registry: &Registry, at: Option<DateTime<Utc>>) -> Result<State> {
    let at = at.unwrap_or_else(|| registry.now());
    let adequacy = Arc::clone(registry.adequacy());
    let db = pool(registry)?;
    let started = std::time::Instant::now();
    // One read transaction, so that the tables and the log's last instant agree (PostgreSQL
    // needs REPEATABLE READ for one snapshot across statements; a SQLite transaction reads one
    // snapshot of the WAL once its first statement runs).
    let txn = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
        }
        _ => db.begin().await?,
    };
    let source = match last_change(&txn).await? {
        Some(last) if last > at => Source::Log,
        _ => Source::Tables,
    };
    let state = match source {
        Source::Tables => {
            let state = from_tables(&txn, at, adequacy).await?;
            txn.commit().await?;
            state
        }
        Source::Log => {
            txn.rollback().await?;
            from_log(db, at, adequacy).await?
        }
    };
    tracing::debug!(
        flows = state.flows.len(),
        read_ms = started.elapsed().as_millis(),
        ?source,
        "read the registry's state"
    );
    Ok(state)
}

/// Loads the state from one source, whatever the log holds: for tests and comparisons. The
/// tables always hold the present; `at` is only the instant the state is said to describe.
pub async fn load_state_from(
    registry: &Registry,
    source: Source,
    at: DateTime<Utc>,
) -> Result<State> {
    let db = pool(registry)?;
    let adequacy = Arc::clone(registry.adequacy());
    match source {
        Source::Tables => from_tables(db, at, adequacy).await,
        Source::Log => from_log(db, at, adequacy).await,
    }
}

fn pool(registry: &Registry) -> Result<&DatabaseConnection> {
    registry.pool().ok_or_else(|| {
        RegistryError::Conflict("the record cannot be built inside a batch of writes".into())
    })
}

/// When the last change was logged, if any.
async fn last_change(conn: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>> {
    Ok(change_event::Entity::find()
        .select_only()
        .column(change_event::Column::OccurredAt)
        .order_by_desc(change_event::Column::OccurredAt)
        .limit(1)
        .into_tuple::<DateTime<Utc>>()
        .one(conn)
        .await?)
}

/// The taxonomy (today's wording) and the organization, read from the tables by both paths.
struct Terms {
    categories: HashMap<String, (String, bool)>,
    subjects: HashMap<String, String>,
    products: HashMap<String, String>,
    /// Keys by id, for the activities' links.
    category_keys: HashMap<i32, String>,
    subject_keys: HashMap<i32, String>,
    product_keys: HashMap<i32, String>,
    organization: OrganizationSection,
}

async fn terms(conn: &impl ConnectionTrait) -> Result<Terms> {
    let mut terms = Terms {
        categories: HashMap::new(),
        subjects: HashMap::new(),
        products: HashMap::new(),
        category_keys: HashMap::new(),
        subject_keys: HashMap::new(),
        product_keys: HashMap::new(),
        organization: OrganizationSection::default(),
    };
    for c in data_category::Entity::find().all(conn).await? {
        terms.category_keys.insert(c.id, c.key.clone());
        terms.categories.insert(c.key, (c.name, c.special_category));
    }
    for s in data_subject_category::Entity::find().all(conn).await? {
        terms.subject_keys.insert(s.id, s.key.clone());
        terms.subjects.insert(s.key, s.name);
    }
    for p in product::Entity::find().all(conn).await? {
        terms.product_keys.insert(p.id, p.key.clone());
        terms.products.insert(p.key, p.name);
    }
    if let Some(o) = organization::Entity::find()
        .order_by_asc(organization::Column::Id)
        .one(conn)
        .await?
    {
        terms.organization = OrganizationSection {
            name: o.name,
            address: o.address,
            country: o.country,
            dpo_name: o.dpo_name,
            dpo_email: o.dpo_email,
            dpo_address: o.dpo_address,
            representative: o.representative,
            controllers_register: o.controllers_register,
        };
    }
    Ok(terms)
}

/// What a state is built from besides its entities.
struct Extras {
    activity_dates: HashMap<i32, (NaiveDate, NaiveDate)>,
    adequacy: Arc<AdequacyTable>,
}

impl State {
    fn new(
        at: DateTime<Utc>,
        recipients: HashMap<i32, RecipientSnapshot>,
        mut activities: Vec<(i32, ActivitySnapshot)>,
        mut flows: Vec<StateFlow>,
        terms: Terms,
        extras: Extras,
    ) -> Self {
        let recipients = recipients
            .into_iter()
            .map(|(id, mut r)| {
                // A snapshot lists the locations as they were entered; the tables in order.
                r.processing_locations.sort();
                r.processing_locations.dedup();
                (id, r)
            })
            .collect();
        for (_, a) in &mut activities {
            for list in [
                &mut a.data_subjects,
                &mut a.data_categories,
                &mut a.products,
            ] {
                list.sort();
                list.dedup();
            }
        }
        activities.sort_by(|(x, a), (y, b)| a.name.cmp(&b.name).then(x.cmp(y)));
        for flow in &mut flows {
            flow.countries.sort();
            flow.countries.dedup();
            flow.transfers.sort_by(|a, b| a.country.cmp(&b.country));
        }
        flows.sort_by_key(|f| f.id);
        State {
            at,
            recipients,
            activities,
            flows,
            categories: terms.categories,
            subjects: terms.subjects,
            products: terms.products,
            organization: terms.organization,
            activity_dates: extras.activity_dates,
            adequacy: extras.adequacy,
        }
    }

    /// The exporter of each flow's transfers, by flow id ([`transfers::exporter_of`], as the
    /// registry's writes decide it).
    pub fn exporters(&self) -> HashMap<i32, Exporter> {
        let mut roles: HashMap<(i32, i32), Vec<RecipientRole>> = HashMap::new();
        for flow in &self.flows {
            if let Some(recipient) = self.recipients.get(&flow.recipient_id) {
                roles
                    .entry((flow.activity_id, flow.recipient_id))
                    .or_default()
                    .push(flow.role_of(recipient));
            }
        }
        let activity_roles: HashMap<i32, entity::OrganizationRole> = self
            .activities
            .iter()
            .map(|(id, a)| (*id, a.organization_role))
            .collect();
        let organization = Party {
            name: &self.organization.name,
            country: &self.organization.country,
        };
        self.flows
            .iter()
            .map(|flow| {
                let via = flow
                    .via
                    .as_deref()
                    .and_then(|key| self.recipient_by_key(key))
                    .map(|(id, r)| {
                        let role = transfers::forwarder_role(
                            roles
                                .get(&(flow.activity_id, id))
                                .cloned()
                                .unwrap_or_default(),
                            r.default_role,
                        );
                        (
                            Party {
                                name: &r.legal_name,
                                country: &r.country,
                            },
                            role,
                        )
                    });
                let establishment = flow
                    .exporter
                    .as_deref()
                    .and_then(|key| self.recipient_by_key(key))
                    .map(|(_, r)| Party {
                        name: &r.legal_name,
                        country: &r.country,
                    });
                let activity_role = activity_roles
                    .get(&flow.activity_id)
                    .copied()
                    .unwrap_or(entity::OrganizationRole::Controller);
                (
                    flow.id,
                    transfers::exporter_of(organization, activity_role, via, establishment),
                )
            })
            .collect()
    }

    /// The recipient with `key`, with its id.
    pub fn recipient_by_key(&self, key: &str) -> Option<(i32, &RecipientSnapshot)> {
        self.recipients
            .iter()
            .find(|(_, r)| r.key == key)
            .map(|(id, r)| (*id, r))
    }
}

/// The registry as it stands, from its tables.
async fn from_tables(
    conn: &impl ConnectionTrait,
    at: DateTime<Utc>,
    adequacy: Arc<AdequacyTable>,
) -> Result<State> {
    let terms = terms(conn).await?;

    let mut locations: HashMap<i32, Vec<String>> = HashMap::new();
    let rows: Vec<(i32, String)> = json_rows::<recipient_location::Entity, _>(
        conn,
        &[
            recipient_location::Column::RecipientId,
            recipient_location::Column::Country,
        ],
    )
    .await?;
    for (id, country) in rows {
        locations.entry(id).or_default().push(country);
    }
    let recipients: HashMap<i32, RecipientSnapshot> = recipient::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|r| {
            let locations = locations.remove(&r.id).unwrap_or_default();
            (r.id, RecipientSnapshot::of(r, locations))
        })
        .collect();

    let linked = |rows: Vec<(i32, i32)>, keys: &HashMap<i32, String>| {
        let mut out: HashMap<i32, Vec<String>> = HashMap::new();
        for (activity, term) in rows {
            if let Some(key) = keys.get(&term) {
                out.entry(activity).or_default().push(key.clone());
            }
        }
        out
    };
    let mut categories = linked(
        json_rows::<activity_data_category::Entity, _>(
            conn,
            &[
                activity_data_category::Column::ActivityId,
                activity_data_category::Column::DataCategoryId,
            ],
        )
        .await?,
        &terms.category_keys,
    );
    let mut subjects = linked(
        json_rows::<activity_data_subject::Entity, _>(
            conn,
            &[
                activity_data_subject::Column::ActivityId,
                activity_data_subject::Column::DataSubjectId,
            ],
        )
        .await?,
        &terms.subject_keys,
    );
    let mut products = linked(
        json_rows::<activity_product::Entity, _>(
            conn,
            &[
                activity_product::Column::ActivityId,
                activity_product::Column::ProductId,
            ],
        )
        .await?,
        &terms.product_keys,
    );
    let activities = processing_activity::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|a| {
            let id = a.id;
            let snapshot = ActivitySnapshot::of(
                a,
                ActivityLinks {
                    data_subjects: subjects.remove(&id).unwrap_or_default(),
                    data_categories: categories.remove(&id).unwrap_or_default(),
                    products: products.remove(&id).unwrap_or_default(),
                },
            );
            (id, snapshot)
        })
        .collect();

    // The flows, their countries and their transfers, each sorted by flow and merged.
    type FlowRow = (
        i32,
        i32,
        i32,
        Option<i32>,
        Option<i32>,
        Option<RecipientRole>,
    );
    let rows: Vec<FlowRow> = json_rows::<data_flow::Entity, _>(
        conn,
        &[
            data_flow::Column::Id,
            data_flow::Column::ActivityId,
            data_flow::Column::RecipientId,
            data_flow::Column::ViaRecipientId,
            data_flow::Column::ExporterRecipientId,
            data_flow::Column::Role,
        ],
    )
    .await?;
    let key_of = |id: Option<i32>| id.and_then(|id| recipients.get(&id)).map(|r| r.key.clone());
    let mut flows: Vec<StateFlow> = rows
        .into_iter()
        .map(
            |(id, activity_id, recipient_id, via, exporter, role)| StateFlow {
                id,
                activity_id,
                recipient_id,
                via: key_of(via),
                exporter: key_of(exporter),
                role,
                countries: Vec::new(),
                transfers: Vec::new(),
            },
        )
        .collect();
    flows.sort_unstable_by_key(|f| f.id);
    let mut countries: Vec<(i32, String)> = json_rows::<flow_country::Entity, _>(
        conn,
        &[flow_country::Column::FlowId, flow_country::Column::Country],
    )
    .await?;
    countries.sort_unstable_by_key(|(flow, _)| *flow);
    merge(&mut flows, countries, |flow, country| {
        flow.countries.push(country)
    });
    type TransferRow = (
        i32,
        String,
        TransferMechanism,
        Option<i16>,
        Option<entity::Derogation>,
        Option<String>,
        Option<chrono::NaiveDate>,
    );
    let mut transfers: Vec<TransferRow> = json_rows::<transfer::Entity, _>(
        conn,
        &[
            transfer::Column::FlowId,
            transfer::Column::Country,
            transfer::Column::Mechanism,
            transfer::Column::SccModule,
            transfer::Column::Derogation,
            transfer::Column::Safeguards,
            transfer::Column::TiaDate,
        ],
    )
    .await?;
    transfers.sort_unstable_by_key(|t| t.0);
    merge(
        &mut flows,
        transfers.into_iter().map(
            |(flow, country, mechanism, scc_module, derogation, safeguards, tia_date)| {
                (
                    flow,
                    TransferSnapshot {
                        country,
                        mechanism,
                        scc_module,
                        derogation,
                        safeguards,
                        tia_date,
                    },
                )
            },
        ),
        |flow, transfer| flow.transfers.push(transfer),
    );
    let extras = Extras {
        activity_dates: activity_dates(conn, at).await?,
        adequacy,
    };
    Ok(State::new(at, recipients, activities, flows, terms, extras))
}

/// Every row of `columns` in `E`'s table, each deserialized from a JSON array of its values.
///
/// The database builds one JSON array of all the rows (`json_group_array` in SQLite, `json_agg`
/// in PostgreSQL) and returns it as a single value: one result row instead of one per table
/// row, which for the 100,000 flows of a large registry is several times faster than reading
/// them row by row. Values come out as JSON scalars: enums as their names, dates as ISO 8601.
async fn json_rows<E, T>(conn: &impl ConnectionTrait, columns: &[E::Column]) -> Result<Vec<T>>
where
    E: EntityTrait,
    T: serde::de::DeserializeOwned,
{
    let table = E::default();
    let values = columns
        .iter()
        .map(|c| format!("\"{}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let table = table.table_name();
    let backend = conn.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => format!(
            "SELECT COALESCE(json_agg(json_build_array({values})), '[]'::json)::text FROM \"{table}\""
        ),
        _ => format!("SELECT json_group_array(json_array({values})) FROM \"{table}\""),
    };
    let json: Option<String> = match conn
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
    {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    };
    match json {
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            RegistryError::Database(sea_orm::DbErr::Custom(format!(
                "cannot read the rows of {table}: {e}"
            )))
        }),
        None => Ok(Vec::new()),
    }
}

/// Hands each `(flow id, item)` to its flow; both are in flow id order.
fn merge<T>(
    flows: &mut [StateFlow],
    items: impl IntoIterator<Item = (i32, T)>,
    mut add: impl FnMut(&mut StateFlow, T),
) {
    let mut i = 0;
    for (id, item) in items {
        while i < flows.len() && flows[i].id < id {
            i += 1;
        }
        match flows.get_mut(i) {
            Some(flow) if flow.id == id => add(flow, item),
            _ => {}
        }
    }
}

/// The registry as it stood at `at`, rebuilt from the change log. The log is read as a stream
/// of one row per entity (the database picks each entity's latest event), so memory follows
/// the registry's size, not the log's length.
async fn from_log(
    db: &DatabaseConnection,
    at: DateTime<Utc>,
    adequacy: Arc<AdequacyTable>,
) -> Result<State> {
    let terms = terms(db).await?;
    let (recipients, activities, flows, unreadable) = for_each_latest(
        db,
        at,
        &[
            EntityType::Recipient,
            EntityType::DataFlow,
            EntityType::ProcessingActivity,
        ],
        (HashMap::new(), Vec::new(), Vec::new(), 0usize),
        |(recipients, activities, flows, unreadable), row| match row.entity_type {
            EntityType::Recipient => match serde_json::from_str::<RecipientSnapshot>(&row.snapshot)
            {
                Ok(snapshot) => {
                    recipients.insert(row.entity_id, snapshot);
                }
                Err(_) => *unreadable += 1,
            },
            EntityType::ProcessingActivity => {
                match serde_json::from_str::<ActivitySnapshot>(&row.snapshot) {
                    Ok(snapshot) => activities.push((row.entity_id, snapshot)),
                    Err(_) => *unreadable += 1,
                }
            }
            EntityType::DataFlow => match (
                row.activity_id,
                row.recipient_id,
                serde_json::from_str::<part::FlowRouting>(&row.snapshot),
            ) {
                (Some(activity_id), Some(recipient_id), Ok(flow)) => flows.push(StateFlow {
                    id: row.entity_id,
                    activity_id,
                    recipient_id,
                    via: flow.via,
                    exporter: flow.exporter,
                    role: flow.role,
                    countries: flow.countries,
                    transfers: flow.transfers,
                }),
                _ => *unreadable += 1,
            },
        },
    )
    .await?;
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "change-log snapshots that could not be read were left out of the record"
        );
    }
    let extras = Extras {
        activity_dates: activity_dates(db, at).await?,
        adequacy,
    };
    Ok(State::new(at, recipients, activities, flows, terms, extras))
}

/// When each processing activity was first recorded and last changed, up to `at`, from the
/// change log (so that the tables and the log give the same dates).
async fn activity_dates(
    conn: &impl ConnectionTrait,
    at: DateTime<Utc>,
) -> Result<HashMap<i32, (NaiveDate, NaiveDate)>> {
    let rows: Vec<(i32, ChangeKind, DateTime<Utc>)> = change_event::Entity::find()
        .select_only()
        .column(change_event::Column::EntityId)
        .column(change_event::Column::Kind)
        .column(change_event::Column::OccurredAt)
        .filter(change_event::Column::EntityType.eq(EntityType::ProcessingActivity))
        .filter(change_event::Column::OccurredAt.lte(at))
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: HashMap<i32, (NaiveDate, NaiveDate)> = HashMap::new();
    for (id, kind, at) in rows {
        let day = at.date_naive();
        let dates = out.entry(id).or_insert((day, day));
        if kind == ChangeKind::ActivityCreated {
            dates.0 = dates.0.min(day);
        }
        dates.1 = dates.1.max(day);
    }
    Ok(out)
}
