//! Recipients and processing activities added in batches: many in one change, each checked by
//! the same rules as a single addition and recorded by the same event, the rows and events in
//! a few statements each ([`super::bulk`]). A manifest adds hundreds of them at once; one by
//! one, each would pay its own savepoint, lock, version and notification round trips.

use super::activities::{Terms, check_activity};
use super::changelog::{NewEvent, Transition};
use super::error::{RegistryError, Result};
use super::flow_batch::Refusals;
use super::inputs::{ActivityInput, RecipientInput};
use super::recipients::{
    Context, Validated, check_new_status, organization_party, validate_recipient,
};
use super::snapshot::{ActivitySnapshot, RecipientSnapshot};
use super::{Actor, Registry, bulk};
use entity::{
    activity_data_category, activity_data_subject, activity_product, processing_activity,
    recipient, recipient_location,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use std::collections::HashSet;

/// Keys per `IN (...)` list when looking for keys already taken.
const KEYS_PER_QUERY: usize = 1_000;

/// Which of `keys` a row of `E` already has in `column`.
async fn taken_keys<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    column: E::Column,
    keys: &[&str],
) -> Result<HashSet<String>> {
    let mut taken = HashSet::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let found: Vec<String> = E::find()
            .select_only()
            .column(column)
            .filter(column.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        taken.extend(found);
    }
    Ok(taken)
}

/// Checks each of `inputs` with `check`, and refuses a key already taken (in the registry or
/// earlier in the batch) as the database's unique key would.
fn check_all<I, T>(
    inputs: &[I],
    key_of: impl Fn(&I) -> &str,
    taken: &HashSet<String>,
    check: impl Fn(&I) -> Result<T>,
) -> std::result::Result<Vec<T>, Refusals> {
    let mut seen = HashSet::new();
    let mut checked = Vec::with_capacity(inputs.len());
    let mut refusals = Refusals::new();
    for (i, input) in inputs.iter().enumerate() {
        let result = check(input).and_then(|c| {
            let key = key_of(input);
            match taken.contains(key) || !seen.insert(key) {
                true => Err(RegistryError::duplicate_key()),
                false => Ok(c),
            }
        });
        match result {
            Ok(c) => checked.push(c),
            Err(err) => refusals.push((i, err)),
        }
    }
    match refusals.is_empty() {
        true => Ok(checked),
        false => Err(refusals),
    }
}

impl Registry {
    /// Adds many recipients in one change, each checked by the same rules as
    /// [`Self::create_recipient`] (the notice period included) and recorded by the same
    /// RECIPIENT_CREATED event, in order. Every refused recipient is listed, and then nothing
    /// is written.
    pub async fn create_recipients(
        &self,
        inputs: &[RecipientInput],
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<std::result::Result<Vec<recipient::Model>, Refusals>> {
        self.add_recipients(inputs, actor, reason, true).await
    }

    /// [`Self::create_recipients`] for recipients as they already are, in any status, as
    /// [`Self::import_recipient`] records one: for importing an existing registry, where the
    /// notice period has long run its course.
    pub async fn import_recipients(
        &self,
        inputs: &[RecipientInput],
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<std::result::Result<Vec<recipient::Model>, Refusals>> {
        self.add_recipients(inputs, actor, reason, false).await
    }

    async fn add_recipients(
        &self,
        inputs: &[RecipientInput],
        actor: &Actor,
        reason: Option<&str>,
        notice_period: bool,
    ) -> Result<std::result::Result<Vec<recipient::Model>, Refusals>> {
        let mut change = self.change(actor, reason).await?;
        if inputs.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let txn = change.txn();
        let (org_name, org_country) = organization_party(txn).await?;
        let context = Context {
            organization: (&org_name, &org_country),
            adequacy: self.adequacy(),
            now: self.now(),
            recorded: None,
        };
        let keys: Vec<&str> = inputs.iter().map(|i| i.key.as_str()).collect();
        let taken = taken_keys::<recipient::Entity>(txn, recipient::Column::Key, &keys).await?;
        let checked = match check_all(
            inputs,
            |i| i.key.as_str(),
            &taken,
            |input| {
                if notice_period {
                    check_new_status(input)?;
                }
                validate_recipient(input, &context)
            },
        ) {
            Ok(checked) => checked,
            Err(refusals) => return Ok(Err(refusals)),
        };
        let mut created: Vec<recipient::Model> =
            bulk::insert_returning(txn, checked.iter().map(|c| c.row.clone()).collect()).await?;
        // Ids are given in the order of the rows.
        created.sort_unstable_by_key(|r| r.id);
        let mut location_rows = Vec::new();
        let mut events = Vec::with_capacity(created.len());
        for (row, Validated { locations, .. }) in created.iter().zip(checked) {
            location_rows.extend(
                locations
                    .iter()
                    .map(|country| recipient_location::ActiveModel {
                        recipient_id: Set(row.id),
                        country: Set(country.clone()),
                    }),
            );
            events.push(NewEvent::recipient(
                row.id,
                Transition::Created(RecipientSnapshot::of(row.clone(), locations)),
            ));
        }
        bulk::insert(txn, location_rows).await?;
        change.record_all(events).await?;
        change.commit().await?;
        Ok(Ok(created))
    }

    /// Adds many processing activities in one change, each checked by the same rules as
    /// [`Self::create_activity`] and recorded by the same ACTIVITY_CREATED event, in order.
    /// Every refused activity is listed, and then nothing is written.
    pub async fn create_activities(
        &self,
        inputs: &[ActivityInput],
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<std::result::Result<Vec<processing_activity::Model>, Refusals>> {
        let mut change = self.change(actor, reason).await?;
        if inputs.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let now = self.now();
        let txn = change.txn();
        let terms = Terms::read(txn).await?;
        let keys: Vec<&str> = inputs.iter().map(|i| i.key.as_str()).collect();
        let taken =
            taken_keys::<processing_activity::Entity>(txn, processing_activity::Column::Key, &keys)
                .await?;
        let checked = match check_all(
            inputs,
            |i| i.key.as_str(),
            &taken,
            |input| check_activity(None, input, now, &terms),
        ) {
            Ok(checked) => checked,
            Err(refusals) => return Ok(Err(refusals)),
        };
        let mut created: Vec<processing_activity::Model> =
            bulk::insert_returning(txn, checked.iter().map(|c| c.row.clone()).collect()).await?;
        created.sort_unstable_by_key(|a| a.id);
        let mut category_rows = Vec::new();
        let mut subject_rows = Vec::new();
        let mut product_rows = Vec::new();
        let mut events = Vec::with_capacity(created.len());
        for (row, checked) in created.iter().zip(&checked) {
            let id = row.id;
            category_rows.extend(checked.category_ids.iter().map(|c| {
                activity_data_category::ActiveModel {
                    activity_id: Set(id),
                    data_category_id: Set(*c),
                }
            }));
            subject_rows.extend(checked.subject_ids.iter().map(|s| {
                activity_data_subject::ActiveModel {
                    activity_id: Set(id),
                    data_subject_id: Set(*s),
                }
            }));
            product_rows.extend(checked.product_ids.iter().map(|p| {
                activity_product::ActiveModel {
                    activity_id: Set(id),
                    product_id: Set(*p),
                }
            }));
            events.push(NewEvent::activity(
                id,
                Transition::Created(ActivitySnapshot::of(row.clone(), terms.links(checked))),
            ));
        }
        bulk::insert(txn, category_rows).await?;
        bulk::insert(txn, subject_rows).await?;
        bulk::insert(txn, product_rows).await?;
        change.record_all(events).await?;
        change.commit().await?;
        Ok(Ok(created))
    }
}
