//! Plan and apply: a manifest made the registry's state, through the registry layer's own
//! writes in one batch (one transaction). A plan is the same run rolled back, so it shows
//! exactly what an apply would do, by the registry's own rules: each entry's changes, field by
//! field, read back from the tables before and after; which events customers would see, and
//! which of their subscriptions would be sent a notice of each.
//!
//! The notice period is never skipped (GDPR Art. 28(2) and 28(4): customers are told of a new
//! subprocessor before it starts and may object). A public recipient the manifest wants
//! ANNOUNCED or ACTIVE that is not yet on the list is written as PROPOSED, and announced, with
//! the effective date the notice period gives, only when the caller asks (`announce`); an
//! announced one the manifest wants ACTIVE stays announced until its date, when the server
//! activates it. The plan lists these as held. Entries the manifest leaves out are removed only
//! with `prune`; otherwise the plan lists them as ignored.

use super::compare::{
    activity_form, activity_patch, changes_between, flow_form, flow_patch, recipient_form,
    recipient_patch,
};
use super::file::{Parsed, Problem, file_field};
use super::read::{self, FlowIdentity, Live, live};
use super::report::{Held, Ignored, Joining, NoticeImpact, Plan, PublicChange};
use crate::changes::{ChangeEvent, ChangeFilter, log::read_after};
use crate::registry::inputs::{ActivityInput, FlowInput, RecipientInput};
use crate::registry::notices::SubscriberFilter;
use crate::registry::{
    Actor, FlowSnapshot, Refusals, Registry, RegistryError, Snapshot, latest_seq,
};
use chrono::{DateTime, Utc};
use entity::{RecipientStatus, SubscriberStatus};
use std::collections::{HashMap, HashSet};

/// How a manifest is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Remove what the manifest leaves out (otherwise listed as ignored).
    pub prune: bool,
    /// Announce the public recipients the manifest wants announced or active, with the
    /// earliest effective date the notice period allows (otherwise they stay PROPOSED).
    pub announce: bool,
}

/// Why a manifest was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest is refused whole: every problem found, nothing written.
    #[error("the manifest is refused ({} problems): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    /// The registry failed (the database); nothing was written.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Problems found so far, placed on the manifest's lines.
struct Problems<'a> {
    parsed: &'a Parsed,
    list: Vec<Problem>,
}

impl Problems<'_> {
    fn add(
        &mut self,
        section: &str,
        index: Option<usize>,
        key: Option<String>,
        field: Option<String>,
        message: impl Into<String>,
    ) {
        self.list.push(
            self.parsed
                .locator
                .problem(section, index, key, field, message),
        );
    }

    /// Records the registry's refusal of an entry; a database failure ends the run.
    fn refused(
        &mut self,
        section: &str,
        index: Option<usize>,
        key: &str,
        err: RegistryError,
    ) -> Result<(), ManifestError> {
        let key = Some(key.to_owned());
        match err {
            RegistryError::Invalid { field, message } => {
                self.add(section, index, key, Some(file_field(&field)), message)
            }
            RegistryError::NotFound { .. } | RegistryError::Conflict(_) => {
                self.add(section, index, key, None, err.to_string())
            }
            RegistryError::Database(_) => return Err(err.into()),
        }
        Ok(())
    }
}

/// The manifest's own consistency, before anything is written: each key once per section,
/// each flow once, and every reference to an entry of the manifest.
fn check_structure(parsed: &Parsed, problems: &mut Problems<'_>) {
    let file = &parsed.file;
    fn unique<'k>(
        problems: &mut Problems<'_>,
        section: &str,
        keys: impl Iterator<Item = &'k str>,
    ) -> HashSet<&'k str> {
        let mut seen = HashSet::new();
        for (i, key) in keys.enumerate() {
            if !seen.insert(key) {
                problems.add(
                    section,
                    Some(i),
                    Some(key.to_owned()),
                    Some("key".into()),
                    "this key is already used by an earlier entry of the section",
                );
            }
        }
        seen
    }
    unique(
        problems,
        "data_categories",
        file.data_categories.iter().map(|c| c.key.as_str()),
    );
    unique(
        problems,
        "data_subjects",
        file.data_subjects.iter().map(|c| c.key.as_str()),
    );
    unique(
        problems,
        "products",
        file.products.iter().map(|c| c.key.as_str()),
    );
    let recipients = unique(
        problems,
        "recipients",
        file.recipients.iter().map(|c| c.key.as_str()),
    );
    let activities = unique(
        problems,
        "processing_activities",
        file.processing_activities.iter().map(|c| c.key.as_str()),
    );
    let mut flows = HashSet::new();
    for (i, flow) in file.data_flows.iter().enumerate() {
        let identity = FlowIdentity::of(flow);
        let key = Some(identity.to_string());
        if !activities.contains(flow.activity.as_str()) {
            problems.add(
                "data_flows",
                Some(i),
                key.clone(),
                Some("activity".into()),
                format!("no processing activity `{}` in the manifest", flow.activity),
            );
        }
        for (field, reference) in [
            ("recipient", Some(&flow.recipient)),
            ("via", flow.via.as_ref()),
            ("exporter", flow.exporter.as_ref()),
        ] {
            if let Some(reference) = reference
                && !recipients.contains(reference.as_str())
            {
                problems.add(
                    "data_flows",
                    Some(i),
                    key.clone(),
                    Some(field.into()),
                    format!("no recipient `{reference}` in the manifest"),
                );
            }
        }
        if !flows.insert(identity) {
            problems.add(
                "data_flows",
                Some(i),
                key,
                None,
                "an earlier data flow has the same activity, recipient, intermediary, exporter and role: a manifest names each flow once",
            );
        }
    }
}

/// The recipient to write for what the manifest asks (`desired`) and what the registry holds
/// (`live`), under the notice period; whether it is to be announced; and the status held back.
fn under_notice_period(
    desired: &RecipientInput,
    live: Option<&RecipientInput>,
) -> (RecipientInput, bool, Option<&'static str>) {
    use RecipientStatus::*;
    let wants_list = matches!(desired.status, Announced | Active)
        && (desired.public || desired.status == Announced);
    match (live.map(|l| l.status), desired.status) {
        (None | Some(Proposed), _) if wants_list => (
            RecipientInput {
                status: Proposed,
                ..desired.clone()
            },
            true,
            Some(
                "a new subprocessor is announced to customers, who may object, before it starts (Art. 28(2) and 28(4)): it is PROPOSED until announced (apply --announce)",
            ),
        ),
        (Some(Announced), Active) => (
            RecipientInput {
                status: Announced,
                ..desired.clone()
            },
            false,
            Some("announced: it becomes ACTIVE when its notice period ends, on its effective date"),
        ),
        _ => (desired.clone(), false, None),
    }
}

/// Keys of the recipient each event concerns, from its snapshot.
fn recipient_of(event: &ChangeEvent) -> String {
    match &event.snapshot {
        Some(Snapshot::Recipient(r)) => r.key.clone(),
        Some(Snapshot::DataFlow(f)) => f.recipient.clone(),
        _ => String::new(),
    }
}

/// The registry after the writes of a run that started from `before`: read back, except for
/// the data flows that it neither changed nor deleted (`touched`), which are as they were, and
/// the new ones, which are the snapshots their batch recorded (`created`: the state as read
/// back, as the batch's test checks). Writes to other entries never change a flow: only
/// `flows.rs` and `flow_batch.rs` write flow rows, and a flow's keys restrict the deletion of
/// what it names rather than cascade.
async fn read_back(
    r: &Registry,
    before: &Live,
    touched: &[i32],
    created: Vec<(i32, FlowSnapshot)>,
) -> Result<Live, RegistryError> {
    let mut after = read::live_without_flows(r.db()).await?;
    let touched_ids: HashSet<i32> = touched.iter().copied().collect();
    let mut flows: Vec<(i32, FlowInput<String>)> = before
        .flows
        .iter()
        .filter(|(id, _)| !touched_ids.contains(id))
        .cloned()
        .collect();
    flows.extend(read::flows(r.db(), &after, Some(touched)).await?);
    flows.extend(
        created
            .into_iter()
            .map(|(id, snapshot)| (id, FlowInput::<String>::from(snapshot))),
    );
    flows.sort_unstable_by_key(|(id, _)| *id);
    after.flows = flows;
    // The tests build with debug assertions: there, every run checks this against a whole read.
    #[cfg(debug_assertions)]
    {
        let whole = live(r.db()).await?;
        assert_eq!(
            after, whole,
            "the registry read back differs from a whole read"
        );
    }
    Ok(after)
}

/// Adds the entries `added` (each beside its position in the file) by `create`, a batch that
/// is refused whole: the refused ones are returned with why, and the rest added again without
/// them, so that the entries that name them are checked too and every problem is listed.
async fn add_all<I, M, Fut>(
    mut added: Vec<(usize, I)>,
    create: impl Fn(Vec<I>) -> Fut,
) -> Result<(Vec<(usize, M)>, Vec<(usize, RegistryError)>), RegistryError>
where
    I: Clone,
    Fut: std::future::Future<Output = Result<Result<Vec<M>, Refusals>, RegistryError>>,
{
    let mut refused = Vec::new();
    while !added.is_empty() {
        match create(added.iter().map(|(_, input)| input.clone()).collect()).await? {
            Ok(created) => {
                let positions = added.iter().map(|(i, _)| *i);
                return Ok((positions.zip(created).collect(), refused));
            }
            Err(refusals) => {
                let mut out: HashSet<usize> = HashSet::new();
                for (n, err) in refusals {
                    out.insert(n);
                    refused.push((added[n].0, err));
                }
                added = added
                    .into_iter()
                    .enumerate()
                    .filter(|(n, _)| !out.contains(n))
                    .map(|(_, entry)| entry)
                    .collect();
            }
        }
    }
    Ok((Vec::new(), refused))
}

/// Plans (`commit == false`: the run is rolled back) or applies a manifest, by `actor` for
/// `reason`, in one transaction of the registry layer's writes: the change events and notices
/// are those of the same edits made one by one.
pub async fn run(
    registry: &Registry,
    parsed: &Parsed,
    options: Options,
    actor: &Actor,
    reason: Option<&str>,
    commit: bool,
) -> Result<Plan, ManifestError> {
    // A bad reason is refused before anything else.
    crate::registry::validate::text("reason", reason)?;
    let file = &parsed.file;
    let mut problems = Problems {
        parsed,
        list: Vec::new(),
    };
    check_structure(parsed, &mut problems);
    if !problems.list.is_empty() {
        return Err(ManifestError::Invalid(problems.list));
    }
    let started = std::time::Instant::now();
    let phase = |name: &str| {
        tracing::debug!(
            phase = name,
            ms = started.elapsed().as_millis() as u64,
            "manifest"
        )
    };
    let batch = registry.batch().await?;
    let r = batch.registry();
    let first_seq = latest_seq(r.db()).await?;
    let before = live(r.db()).await?;
    phase("read the registry");
    let mut plan = Plan::default();

    // The organization first: its country sets the regime transfers are checked under.
    if before.organization.as_ref() != Some(&file.organization)
        && let Err(err) = r.set_organization(file.organization.clone()).await
    {
        problems.refused("organization", None, &file.organization.name, err)?;
    }

    // The taxonomy.
    let categories: HashMap<&str, (i32, &_)> = before
        .data_categories
        .iter()
        .map(|(id, c)| (c.key.as_str(), (*id, c)))
        .collect();
    for (i, c) in file.data_categories.iter().enumerate() {
        let result = match categories.get(c.key.as_str()) {
            None => r.create_data_category(c.clone()).await.map(drop),
            Some((id, old)) if *old != c => r.update_data_category(*id, c.clone()).await.map(drop),
            Some(_) => Ok(()),
        };
        if let Err(err) = result {
            problems.refused("data_categories", Some(i), &c.key, err)?;
        }
    }
    let subjects: HashMap<&str, (i32, &_)> = before
        .data_subjects
        .iter()
        .map(|(id, s)| (s.key.as_str(), (*id, s)))
        .collect();
    for (i, s) in file.data_subjects.iter().enumerate() {
        let result = match subjects.get(s.key.as_str()) {
            None => r.create_data_subject(s.clone()).await.map(drop),
            Some((id, old)) if *old != s => r.update_data_subject(*id, s.clone()).await.map(drop),
            Some(_) => Ok(()),
        };
        if let Err(err) = result {
            problems.refused("data_subjects", Some(i), &s.key, err)?;
        }
    }
    let products: HashMap<&str, (i32, &_)> = before
        .products
        .iter()
        .map(|(id, p)| (p.key.as_str(), (*id, p)))
        .collect();
    for (i, p) in file.products.iter().enumerate() {
        let result = match products.get(p.key.as_str()) {
            None => r.create_product(p.clone()).await.map(drop),
            Some((id, old)) if *old != p => r.update_product(*id, p.clone()).await.map(drop),
            Some(_) => Ok(()),
        };
        if let Err(err) = result {
            problems.refused("products", Some(i), &p.key, err)?;
        }
    }

    // Recipients, under the notice period.
    let live_recipients: HashMap<&str, (i32, &RecipientInput)> = before
        .recipients
        .iter()
        .map(|(id, r)| (r.key.as_str(), (*id, r)))
        .collect();
    let mut recipient_ids: HashMap<String, i32> = live_recipients
        .iter()
        .map(|(k, (id, _))| ((*k).to_owned(), *id))
        .collect();
    let mut failed: HashSet<&str> = HashSet::new();
    let mut to_announce: Vec<(i32, &RecipientInput)> = Vec::new();
    // Changes one by one, then the additions in one batch (in file order): the log records
    // the changes before the additions.
    let decided: Vec<(RecipientInput, bool, Option<&'static str>)> = file
        .recipients
        .iter()
        .map(|desired| {
            let live_entry = live_recipients.get(desired.key.as_str());
            under_notice_period(desired, live_entry.map(|(_, r)| *r))
        })
        .collect();
    let mut written: Vec<(usize, i32)> = Vec::new();
    let mut added: Vec<(usize, RecipientInput)> = Vec::new();
    for (i, (desired, (write, _, _))) in file.recipients.iter().zip(&decided).enumerate() {
        match live_recipients.get(desired.key.as_str()) {
            None => added.push((i, write.clone())),
            Some((id, old)) if recipient_form(write) != **old => {
                match r
                    .update_recipient(*id, recipient_patch(write.clone()), actor, reason)
                    .await
                {
                    Ok(_) => written.push((i, *id)),
                    Err(err) => {
                        failed.insert(desired.key.as_str());
                        problems.refused("recipients", Some(i), &desired.key, err)?;
                    }
                }
            }
            Some((id, _)) => written.push((i, *id)),
        }
    }
    let (created, refused) = add_all(added, |inputs| async move {
        r.create_recipients(&inputs, actor, reason).await
    })
    .await?;
    written.extend(created.into_iter().map(|(i, c)| (i, c.id)));
    for (i, err) in refused {
        let desired = &file.recipients[i];
        failed.insert(desired.key.as_str());
        problems.refused("recipients", Some(i), &desired.key, err)?;
    }
    written.sort_unstable();
    for (i, id) in written {
        let desired = &file.recipients[i];
        let (write, announce, held) = &decided[i];
        let announce = *announce;
        recipient_ids.insert(desired.key.clone(), id);
        if announce {
            to_announce.push((id, desired));
        }
        if let Some(reason) = *held
            && !(announce && options.announce)
        {
            plan.held.push(Held {
                key: desired.key.clone(),
                requested: desired.status,
                status: write.status,
                reason: reason.to_owned(),
                effective_at: None,
            });
        }
    }

    // Processing activities.
    let live_activities: HashMap<&str, (i32, &ActivityInput)> = before
        .activities
        .iter()
        .map(|(id, a)| (a.key.as_str(), (*id, a)))
        .collect();
    let mut activity_ids: HashMap<String, i32> = live_activities
        .iter()
        .map(|(k, (id, _))| ((*k).to_owned(), *id))
        .collect();
    let mut added: Vec<(usize, ActivityInput)> = Vec::new();
    for (i, desired) in file.processing_activities.iter().enumerate() {
        match live_activities.get(desired.key.as_str()) {
            None => added.push((i, desired.clone())),
            Some((id, old)) if activity_form(desired) != **old => {
                if let Err(err) = r
                    .update_activity(*id, activity_patch(desired.clone()), actor, reason)
                    .await
                {
                    failed.insert(desired.key.as_str());
                    problems.refused("processing_activities", Some(i), &desired.key, err)?;
                }
            }
            Some(_) => {}
        }
    }
    let (created, refused) = add_all(added, |inputs| async move {
        r.create_activities(&inputs, actor, reason).await
    })
    .await?;
    for (i, c) in created {
        activity_ids.insert(file.processing_activities[i].key.clone(), c.id);
    }
    for (i, err) in refused {
        let desired = &file.processing_activities[i];
        failed.insert(desired.key.as_str());
        problems.refused("processing_activities", Some(i), &desired.key, err)?;
    }

    phase("taxonomy, recipients and activities");
    // Data flows: the new ones in one batched write.
    let mut live_flows: HashMap<FlowIdentity, (i32, &FlowInput<String>)> = HashMap::new();
    for (id, f) in &before.flows {
        live_flows.entry(FlowIdentity::of(f)).or_insert((*id, f));
    }
    let mut kept: HashSet<i32> = HashSet::new();
    // Flows written other than by the batch of new ones: read back below.
    let mut touched: Vec<i32> = Vec::new();
    let mut new_flows: Vec<(usize, FlowInput)> = Vec::new();
    for (i, desired) in file.data_flows.iter().enumerate() {
        let identity = FlowIdentity::of(desired);
        let references = [
            Some(desired.activity.as_str()),
            Some(desired.recipient.as_str()),
            desired.via.as_deref(),
            desired.exporter.as_deref(),
        ];
        // An entry it names was refused already: that is the problem to fix.
        if references.iter().flatten().any(|k| failed.contains(k)) {
            continue;
        }
        let resolved = desired.clone().resolve(
            |key| activity_ids.get(&key).copied().ok_or(key),
            |key| recipient_ids.get(&key).copied().ok_or(key),
        );
        let Ok(input) = resolved else {
            continue;
        };
        match live_flows.get(&identity) {
            None => new_flows.push((i, input)),
            Some((id, old)) => {
                kept.insert(*id);
                if flow_form(desired, old) != **old {
                    touched.push(*id);
                    if let Err(err) = r.update_flow(*id, flow_patch(input), actor, reason).await {
                        problems.refused("data_flows", Some(i), &identity.to_string(), err)?;
                    }
                }
            }
        }
    }
    phase("compared the flows");
    let mut created_flows = Vec::new();
    if !new_flows.is_empty() {
        let inputs: Vec<FlowInput> = new_flows.iter().map(|(_, f)| f.clone()).collect();
        match r.create_flows(&inputs, actor, reason).await? {
            Ok(created) => created_flows = created,
            Err(refusals) => {
                for (n, err) in refusals {
                    let i = new_flows[n].0;
                    let key = FlowIdentity::of(&file.data_flows[i]).to_string();
                    problems.refused("data_flows", Some(i), &key, err)?;
                }
            }
        }
    }

    phase("wrote the flows");
    // What the manifest leaves out: removed with `prune`, else listed.
    let flows_left: Vec<(i32, &FlowInput<String>)> = before
        .flows
        .iter()
        .filter(|(id, _)| !kept.contains(id))
        .map(|(id, f)| (*id, f))
        .collect();
    let named =
        |keys: Vec<&str>| -> HashSet<String> { keys.into_iter().map(str::to_owned).collect() };
    let recipients_named = named(file.recipients.iter().map(|r| r.key.as_str()).collect());
    let activities_named = named(
        file.processing_activities
            .iter()
            .map(|a| a.key.as_str())
            .collect(),
    );
    let categories_named = named(
        file.data_categories
            .iter()
            .map(|c| c.key.as_str())
            .collect(),
    );
    let subjects_named = named(file.data_subjects.iter().map(|s| s.key.as_str()).collect());
    let products_named = named(file.products.iter().map(|p| p.key.as_str()).collect());
    let mut left: Vec<(&'static str, String)> = Vec::new();
    for (id, f) in &flows_left {
        let key = FlowIdentity::of(f).to_string();
        if options.prune {
            touched.push(*id);
            if let Err(err) = r.delete_flow(*id, actor, reason).await {
                problems.refused("data_flows", None, &key, err)?;
            }
        } else {
            left.push(("data_flows", key));
        }
    }
    for (id, a) in &before.activities {
        if activities_named.contains(&a.key) {
            continue;
        }
        if options.prune {
            if let Err(err) = r.delete_activity(*id, actor, reason).await {
                problems.refused("processing_activities", None, &a.key, err)?;
            }
        } else {
            left.push(("processing_activities", a.key.clone()));
        }
    }
    for (id, rec) in &before.recipients {
        if recipients_named.contains(&rec.key) {
            continue;
        }
        if options.prune {
            if let Err(err) = r.delete_recipient(*id, actor, reason).await {
                problems.refused("recipients", None, &rec.key, err)?;
            }
        } else {
            left.push(("recipients", rec.key.clone()));
        }
    }
    for (id, p) in &before.products {
        if products_named.contains(&p.key) {
            continue;
        }
        if options.prune {
            if let Err(err) = r.delete_product(*id).await {
                problems.refused("products", None, &p.key, err)?;
            }
        } else {
            left.push(("products", p.key.clone()));
        }
    }
    for (id, s) in &before.data_subjects {
        if subjects_named.contains(&s.key) {
            continue;
        }
        if options.prune {
            if let Err(err) = r.delete_data_subject(*id).await {
                problems.refused("data_subjects", None, &s.key, err)?;
            }
        } else {
            left.push(("data_subjects", s.key.clone()));
        }
    }
    // Children before their parents.
    for (id, c) in before.data_categories.iter().rev() {
        if categories_named.contains(&c.key) {
            continue;
        }
        if options.prune {
            if let Err(err) = r.delete_data_category(*id).await {
                problems.refused("data_categories", None, &c.key, err)?;
            }
        } else {
            left.push(("data_categories", c.key.clone()));
        }
    }
    plan.ignored = left
        .into_iter()
        .map(|(section, key)| Ignored { section, key })
        .collect();

    // Announcements last, so that they carry the recipients' flows to customers.
    let earliest = r.earliest_effective_date();
    let mut announced: HashMap<i32, DateTime<Utc>> = HashMap::new();
    if options.announce {
        for (id, desired) in &to_announce {
            match r.announce_recipient(*id, None, actor, reason).await {
                Ok(recipient) => {
                    announced.insert(*id, recipient.effective_at.unwrap_or(earliest));
                }
                Err(err) => {
                    let i = file.recipients.iter().position(|x| x.key == desired.key);
                    problems.refused("recipients", i, &desired.key, err)?;
                }
            }
        }
    }
    if !problems.list.is_empty() {
        // Dropping the batch rolls everything back.
        return Err(ManifestError::Invalid(problems.list));
    }

    // What changed, read back.
    phase("removals and announcements");
    let after = read_back(r, &before, &touched, created_flows).await?;
    phase("read the registry back");
    plan.changes = changes_between(&before, &after);
    phase("compared");
    for held in &mut plan.held {
        held.effective_at = Some(earliest);
    }

    // Who joins the public list: public recipients the manifest wants listed, not listed
    // before, that are subprocessors once applied (the registry's rule).
    let listed_before: HashSet<&str> = before
        .recipients
        .iter()
        .filter(|(_, r)| crate::registry::visibility::on_public_list(r.public, r.status))
        .map(|(_, r)| r.key.as_str())
        .collect();
    let candidates: Vec<(i32, &RecipientInput)> = to_announce
        .iter()
        .filter(|(_, d)| d.public && !listed_before.contains(d.key.as_str()))
        .copied()
        .collect();
    let ids: Vec<i32> = candidates.iter().map(|(id, _)| *id).collect();
    let subprocessors = r.subprocessor_flags(&ids).await?;
    for (id, desired) in candidates {
        if subprocessors.get(&id).copied().unwrap_or(false) {
            plan.joining.push(Joining {
                key: desired.key.clone(),
                legal_name: desired.legal_name.clone(),
                status: if announced.contains_key(&id) {
                    RecipientStatus::Announced
                } else {
                    RecipientStatus::Proposed
                },
                effective_at: announced.get(&id).copied().unwrap_or(earliest),
            });
        }
    }

    // What customers would be told, and who would be sent a notice of it.
    let public = ChangeFilter {
        public_only: true,
        ..ChangeFilter::default()
    };
    let events = read_after(r.db(), first_seq, i64::MAX as u64, &public).await?;
    plan.public_changes = events
        .iter()
        .map(|e| PublicChange {
            kind: e.kind,
            recipient: recipient_of(e),
            changes: e.public_view().changes.clone(),
            effective_at: e.effective_at,
        })
        .collect();
    if !events.is_empty() {
        for subscriber in r.subscribers(&SubscriberFilter::default()).await? {
            if subscriber.status != SubscriberStatus::Active {
                continue;
            }
            let wants = crate::notices::plan::filter_of(&subscriber);
            let notices = events.iter().filter(|e| wants.matches(e)).count();
            if notices > 0 {
                plan.notices.push(NoticeImpact {
                    channel: subscriber.channel,
                    customer: subscriber.customer.clone(),
                    address: subscriber.address.clone(),
                    notices,
                });
            }
        }
    }
    phase("customer impact");
    if commit {
        batch.commit().await?;
        plan.applied = true;
    }
    phase("done");
    Ok(plan)
}
