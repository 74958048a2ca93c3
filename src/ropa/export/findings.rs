//! Which findings concern which activity, for the CSV's per-activity "Findings" column.
//!
//! A finding names its entity by key or readable reference. It concerns an activity when:
//! - `PROCESSING_ACTIVITY`: the entity is the activity's key (or name);
//! - `RECIPIENT`: the entity is the legal name of one of the activity's recipients or transfer
//!   recipients;
//! - `DATA_CATEGORY`: the entity is the key (or name) of one of the activity's data categories;
//! - `DATA_FLOW` (and any other type): the reference is, or starts with, or contains as a word,
//!   the activity's key (`billing → Stripe`, `billing/stripe`).
//!
//! Findings that concern no activity are not in the CSV; the other formats list every finding.

use std::collections::HashMap;

use super::text;
use crate::ropa::model::{Finding, FindingSubject, Record};

/// For each activity of `record` (same index), the indices of the findings that concern it.
pub(super) fn by_activity(record: &Record) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); record.activities.len()];
    if record.findings.is_empty() {
        return out;
    }

    let mut activities: HashMap<&str, usize> = HashMap::new();
    let mut recipients: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut categories: HashMap<&str, Vec<usize>> = HashMap::new();
    // Activities are visited in order, so checking the last entry keeps each list distinct.
    let add = |map: &mut HashMap<_, Vec<usize>>, name, i| {
        let list = map.entry(name).or_default();
        if list.last() != Some(&i) {
            list.push(i);
        }
    };
    for (i, a) in record.activities.iter().enumerate() {
        activities.entry(a.key.as_str()).or_insert(i);
        for r in &a.recipients {
            add(&mut recipients, r.legal_name.as_str(), i);
        }
        for t in &a.transfers {
            add(&mut recipients, t.recipient.as_str(), i);
        }
        for c in &a.data_categories {
            add(&mut categories, c.key.as_str(), i);
            add(&mut categories, c.name.as_str(), i);
        }
    }
    // Names only where no key already claims the text.
    for (i, a) in record.activities.iter().enumerate() {
        activities.entry(a.name.as_str()).or_insert(i);
    }

    for (f, finding) in record.findings.iter().enumerate() {
        let entity = finding.entity.trim();
        let targets: &[usize] = match finding.entity_type {
            FindingSubject::ProcessingActivity => activities
                .get(entity)
                .map(std::slice::from_ref)
                .unwrap_or(&[]),
            FindingSubject::Recipient => recipients.get(entity).map(Vec::as_slice).unwrap_or(&[]),
            FindingSubject::DataCategory => {
                categories.get(entity).map(Vec::as_slice).unwrap_or(&[])
            }
            FindingSubject::DataFlow => flow_activity(entity, &activities)
                .map(std::slice::from_ref)
                .unwrap_or(&[]),
            // About the record's header, not one activity.
            FindingSubject::Organization => &[],
        };
        for &a in targets {
            if let Some(list) = out.get_mut(a) {
                list.push(f);
            }
        }
    }
    out
}

/// The activity a flow reference names: the whole reference, or else its first word that is an
/// activity key (the part before a separator comes first).
fn flow_activity<'a>(entity: &str, activities: &'a HashMap<&str, usize>) -> Option<&'a usize> {
    if let Some(i) = activities.get(entity) {
        return Some(i);
    }
    let is_key_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    entity
        .split(|c: char| !is_key_char(c))
        .filter(|w| !w.is_empty())
        .find_map(|w| activities.get(w))
}

/// A finding as one line: `[High] TRANSFER_WITHOUT_MECHANISM (Art. 44 GDPR): message`.
pub(super) fn line(finding: &Finding) -> String {
    format!(
        "[{}] {} ({}): {}",
        text::severity(finding.severity),
        finding.code,
        finding.article,
        finding.message
    )
}
