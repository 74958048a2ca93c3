//! Data flows written in batches: many flows in one change, each checked by the same rules as a
//! single edit and recorded by the same event, the rows and events in a few statements each
//! ([`super::bulk`]).

use super::changelog::{NewEvent, Transition};
use super::error::{RegistryError, Result};
use super::flows::{
    FlowParties, FlowRows, check_contents, check_parties, check_terms, exporters_of, flow_row,
    state_from, transfer_model, transfer_parties, transfer_row,
};
use super::inputs::FlowInput;
use super::snapshot::{FlowRefs, FlowSnapshot};
use super::validate::Recorded;
use super::{Actor, Registry, bulk, linked};
use entity::{
    activity_data_subject, data_category, data_flow, data_subject_category, flow_country,
    flow_data_category, flow_data_subject, processing_activity, recipient, transfer,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TryIntoModel};
use std::collections::{HashMap, HashSet};

/// Ids per `IN (...)` list when reading rows for many flows.
const IDS_PER_QUERY: usize = 10_000;

/// Why some flows of a batch were refused: each with its position in the batch. Nothing of
/// the batch is written.
pub type Refusals = Vec<(usize, RegistryError)>;

/// A flow of a batch, validated and ready to write.
struct Checked {
    row: data_flow::ActiveModel,
    rows: FlowRows,
}

impl Registry {
    /// Adds many data flows in one change, each checked by the same rules as [`Self::create_flow`]
    /// and recorded by the same FLOW_CREATED event, in order; the rows and events are written
    /// in a few statements, and what the rules need (activities, recipients, exporters,
    /// taxonomy) is read once for the whole batch. Returns the new flows' row ids and snapshots
    /// (each as the registry would read it back), in order. Every refused flow is listed, and
    /// then nothing is written.
    pub async fn create_flows(
        &self,
        inputs: &[FlowInput],
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<std::result::Result<Vec<(i32, FlowSnapshot)>, Refusals>> {
        let mut change = self.change(actor, reason).await?;
        if inputs.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let now = self.now();
        let txn = change.txn();
        let activity_ids: Vec<i32> = inputs
            .iter()
            .map(|i| i.activity)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let recipient_ids: Vec<i32> = inputs
            .iter()
            .flat_map(|i| [Some(i.recipient), i.via, i.exporter])
            .flatten()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut activities: HashMap<i32, processing_activity::Model> = HashMap::new();
        let mut processed: HashMap<i32, Vec<data_category::Model>> = HashMap::new();
        let mut concerned: HashMap<i32, Vec<i32>> = HashMap::new();
        for ids in activity_ids.chunks(IDS_PER_QUERY) {
            for a in processing_activity::Entity::find()
                .filter(processing_activity::Column::Id.is_in(ids.iter().copied()))
                .all(txn)
                .await?
            {
                activities.insert(a.id, a);
            }
            processed.extend(
                linked::<entity::activity_data_category::Entity, data_category::Entity>(
                    txn,
                    entity::activity_data_category::Column::ActivityId,
                    ids,
                    |l| l.activity_id,
                    data_category::Column::Key,
                )
                .await?,
            );
            for l in activity_data_subject::Entity::find()
                .filter(activity_data_subject::Column::ActivityId.is_in(ids.iter().copied()))
                .all(txn)
                .await?
            {
                concerned
                    .entry(l.activity_id)
                    .or_default()
                    .push(l.data_subject_id);
            }
        }
        let mut recipients: HashMap<i32, recipient::Model> = HashMap::new();
        for ids in recipient_ids.chunks(IDS_PER_QUERY) {
            for r in recipient::Entity::find()
                .filter(recipient::Column::Id.is_in(ids.iter().copied()))
                .all(txn)
                .await?
            {
                recipients.insert(r.id, r);
            }
        }
        let parties: Vec<FlowParties> = inputs
            .iter()
            .map(|i| FlowParties {
                activity: i.activity,
                via: i.via,
                exporter: i.exporter,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut exporters = HashMap::new();
        for chunk in parties.chunks(IDS_PER_QUERY) {
            exporters.extend(exporters_of(txn, chunk).await?);
        }
        let categories = data_category::Entity::find().all(txn).await?;
        let category_by_key: HashMap<&str, i32> =
            categories.iter().map(|c| (c.key.as_str(), c.id)).collect();
        let category_key: HashMap<i32, &str> =
            categories.iter().map(|c| (c.id, c.key.as_str())).collect();
        let subjects = data_subject_category::Entity::find().all(txn).await?;
        let subject_by_key: HashMap<&str, i32> =
            subjects.iter().map(|s| (s.key.as_str(), s.id)).collect();
        let subject_key: HashMap<i32, &str> =
            subjects.iter().map(|s| (s.id, s.key.as_str())).collect();

        // Each flow, by the steps and in the order of `store`.
        let check = |input: &FlowInput| -> Result<Checked> {
            let (activity, recipient) =
                check_parties(input, activities.get(&input.activity), |id| {
                    recipients.get(&id)
                })?;
            let flow_parties = FlowParties {
                activity: input.activity,
                via: input.via,
                exporter: input.exporter,
            };
            let exporter = exporters.get(&flow_parties).ok_or_else(|| {
                RegistryError::invalid("activityId", "there is no such processing activity")
            })?;
            let parties = transfer_parties(
                exporter,
                activity,
                input.role,
                recipient,
                self.adequacy(),
                now,
            );
            let (countries, transfers) = check_contents(input, &parties, &Recorded::default())?;
            let category_ids = super::taxonomy::resolve_in(
                "dataCategories",
                &input.data_categories,
                &category_by_key,
                "data category",
            )?;
            let subject_ids = super::taxonomy::resolve_in(
                "dataSubjects",
                &input.data_subjects,
                &subject_by_key,
                "data subject category",
            )?;
            check_terms(
                activity,
                input,
                &subject_ids,
                processed.get(&activity.id).map_or(&[], Vec::as_slice),
                concerned.get(&activity.id).map_or(&[], Vec::as_slice),
            )?;
            let row = flow_row(input, activity, recipient, now, None)?;
            Ok(Checked {
                row,
                rows: FlowRows {
                    category_ids,
                    subject_ids,
                    countries,
                    transfers,
                },
            })
        };
        let started = std::time::Instant::now();
        let phase = |name: &str| {
            tracing::debug!(
                phase = name,
                flows = inputs.len(),
                ms = started.elapsed().as_millis() as u64,
                "create_flows"
            )
        };
        let mut checked = Vec::with_capacity(inputs.len());
        let mut refusals = Refusals::new();
        for (i, input) in inputs.iter().enumerate() {
            match check(input) {
                Ok(flow) => checked.push(flow),
                Err(err) => refusals.push((i, err)),
            }
        }
        if !refusals.is_empty() {
            return Ok(Err(refusals));
        }

        phase("checked");
        // The flow rows, then everything that names them. Only the ids come back: the rest of
        // each row is what was sent.
        let ids: Vec<i32> = bulk::insert_returning_keys(
            txn,
            checked.iter().map(|c| c.row.clone()).collect(),
            data_flow::Column::Id,
        )
        .await?;
        let flows = checked
            .iter()
            .zip(ids)
            .map(|(c, id)| {
                let mut row = c.row.clone();
                row.id = Set(id);
                row.try_into_model()
            })
            .collect::<std::result::Result<Vec<data_flow::Model>, sea_orm::DbErr>>()?;
        phase("inserted the flow rows");
        let mut category_rows = Vec::new();
        let mut subject_rows = Vec::new();
        let mut country_rows = Vec::new();
        let mut transfer_rows = Vec::new();
        let mut events = Vec::with_capacity(flows.len());
        let mut created = Vec::with_capacity(flows.len());
        for (flow, Checked { rows, .. }) in flows.iter().zip(&checked) {
            let id = flow.id;
            category_rows.extend(rows.category_ids.iter().map(|c| {
                flow_data_category::ActiveModel {
                    flow_id: Set(id),
                    data_category_id: Set(*c),
                }
            }));
            subject_rows.extend(
                rows.subject_ids
                    .iter()
                    .map(|s| flow_data_subject::ActiveModel {
                        flow_id: Set(id),
                        data_subject_id: Set(*s),
                    }),
            );
            country_rows.extend(rows.countries.iter().map(|c| flow_country::ActiveModel {
                flow_id: Set(id),
                country: Set(c.clone()),
            }));
            // The state as `state_of` would read it back: terms by key, destinations and
            // transfers by country.
            let mut transfers: Vec<transfer::Model> = rows
                .transfers
                .iter()
                .map(|t| transfer_model(id, t))
                .collect();
            transfers.sort_by(|a, b| a.country.cmp(&b.country));
            transfer_rows.extend(transfers.iter().cloned().map(transfer_row));
            let mut countries = rows.countries.clone();
            countries.sort();
            let sorted_keys = |ids: &[i32], keys: &HashMap<i32, &str>| {
                let mut out: Vec<String> = ids
                    .iter()
                    .filter_map(|id| keys.get(id).map(|k| (*k).to_owned()))
                    .collect();
                out.sort();
                out
            };
            let key_of =
                |id: Option<i32>| id.and_then(|id| recipients.get(&id).map(|r| r.key.clone()));
            let refs = FlowRefs {
                activity: String::new(),
                recipient: String::new(),
                via: key_of(flow.via_recipient_id),
                exporter: key_of(flow.exporter_recipient_id),
                data_categories: sorted_keys(&rows.category_ids, &category_key),
                data_subjects: sorted_keys(&rows.subject_ids, &subject_key),
            };
            let state = state_from(
                flow,
                activities.get(&flow.activity_id),
                recipients.get(&flow.recipient_id),
                refs,
                countries,
                &transfers,
            );
            created.push((flow.id, state.snapshot.clone()));
            events.push(NewEvent::flow(Transition::Created(state)));
        }
        phase("built the events");
        bulk::insert(txn, category_rows).await?;
        bulk::insert(txn, subject_rows).await?;
        bulk::insert(txn, country_rows).await?;
        bulk::insert(txn, transfer_rows).await?;
        phase("inserted the link rows");
        change.record_all(events).await?;
        phase("appended the events");
        change.commit().await?;
        Ok(Ok(created))
    }
}
