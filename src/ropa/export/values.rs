//! What each column shows: the readable lines of one field, for one activity of a record.

use std::collections::{HashMap, HashSet};

use super::layout::{Field, Language, Terms};
use super::text;
use crate::ropa::model::{ActivityEntry, OrganizationSection, Perspective, Record, name_of};
use entity::RecipientRole;

/// The lines of a cell. Spreadsheets join them with line breaks, Markdown with `<br>`.
pub(super) type Lines = Vec<String>;

/// The organisation's name and address: `MessageBird B.V., Trompenburgstraat 2C, ... (NL)`.
pub(super) fn organization(org: &OrganizationSection) -> Option<String> {
    let parts: Vec<&str> = [org.name.as_str(), org.address.as_str()]
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() && org.country.trim().is_empty() {
        return None;
    }
    let mut out = parts.join(", ");
    let country = org.country.trim();
    if !country.is_empty() {
        if out.is_empty() {
            out.push_str(country);
        } else {
            out.push_str(&format!(" ({country})"));
        }
    }
    Some(out)
}

/// The DPO's name, e-mail and postal address.
pub(super) fn dpo(org: &OrganizationSection) -> Option<String> {
    let parts: Vec<&str> = [
        org.dpo_name.as_str(),
        org.dpo_email.as_str(),
        org.dpo_address.as_deref().unwrap_or(""),
    ]
    .into_iter()
    .map(str::trim)
    .filter(|p| !p.is_empty())
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The Art. 27 representative, where designated.
pub(super) fn representative(org: &OrganizationSection) -> Option<String> {
    org.representative
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

fn one(value: Option<String>) -> Lines {
    value.into_iter().collect()
}

fn owned(values: &[String]) -> Lines {
    values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The record-level fields (organisation, DPO, representative, controllers), which do not depend
/// on the activity.
pub(super) fn record_field(field: Field, record: &Record) -> Option<Lines> {
    let org = &record.organization;
    Some(match field {
        Field::Organization => one(organization(org)),
        Field::Dpo => one(dpo(org)),
        Field::Representative => one(representative(org)),
        Field::Controllers => {
            let mut lines = owned(&record.controllers);
            lines.extend(one(org.controllers_register.clone()));
            lines
        }
        _ => return None,
    })
}

/// The lines of `field` for `activity`.
pub(super) fn activity_field(
    field: Field,
    record: &Record,
    activity: &ActivityEntry,
    terms: Terms,
) -> Lines {
    if let Some(lines) = record_field(field, record) {
        return lines;
    }
    match field {
        Field::Reference => one(Some(activity.key.clone())),
        Field::CreatedOn => one(activity.created_on.map(|d| d.to_string())),
        Field::UpdatedOn => one(activity.updated_on.map(|d| d.to_string())),
        Field::RecipientTypes => unique(activity.recipients.iter().flat_map(|r| {
            let third_country = !crate::reference::is_eea(&r.country);
            [
                Some(text::cnil_recipient_type(r.role, r.kind)),
                third_country.then_some(
                    "Destinataires dans des pays tiers ou organisations internationales",
                ),
            ]
            .into_iter()
            .flatten()
            .map(str::to_owned)
        })),
        Field::TransferRecipients => activity
            .transfers
            .iter()
            .map(|t| t.recipient.clone())
            .collect(),
        Field::TransferDestinations => activity
            .transfers
            .iter()
            .map(|t| text::country(&t.country, &t.country_name))
            .collect(),
        Field::TransferGuarantees => activity
            .transfers
            .iter()
            .map(|t| terms.apply(text::cnil_guarantee(t)))
            .collect(),
        Field::Name => one(Some(activity.name.clone())),
        Field::Description => one(activity
            .description
            .clone()
            .filter(|d| !d.trim().is_empty())),
        Field::Purposes => owned(&activity.purposes),
        Field::ProcessingCategories => {
            let mut lines = vec![activity.name.clone()];
            lines.extend(owned(&activity.purposes));
            lines
        }
        Field::LegalBasis => one(activity.legal_basis.map(|b| text::legal_basis(name_of(b)))),
        Field::DataSubjects => owned(&activity.data_subjects),
        Field::DataCategories => activity
            .data_categories
            .iter()
            .map(|c| {
                if c.special_category {
                    format!("{} (special category, Art. 9(1))", c.name)
                } else {
                    c.name.clone()
                }
            })
            .collect(),
        Field::SpecialCondition => one(special_condition(activity, terms)),
        Field::SpecialCategories => {
            let mut lines: Lines = activity
                .data_categories
                .iter()
                .filter(|c| c.special_category)
                .map(|c| c.name.clone())
                .collect();
            if lines.is_empty() && activity.special_category_condition.is_none() {
                lines.push(
                    match terms.1 {
                        Language::English => "None",
                        Language::French => "Aucune",
                    }
                    .to_owned(),
                );
            } else if let Some(condition) = special_condition(activity, terms) {
                lines.push(format!("Art. 9(2) condition: {condition}"));
            }
            lines
        }
        Field::RecipientCategories => unique(
            activity
                .recipient_categories
                .iter()
                .map(|&k| text::recipient_kind(name_of(k))),
        ),
        Field::RecipientsByCategory => recipients_by_category(activity),
        Field::Recipients => activity
            .recipients
            .iter()
            .map(|r| {
                let mut role = text::role(name_of(r.role));
                if r.subprocessor {
                    role.push_str(", sub-processor");
                }
                format!(
                    "{} — {}",
                    recipient_name(&r.legal_name, &r.country),
                    terms.apply(role)
                )
            })
            .collect(),
        Field::JointControllers => activity
            .recipients
            .iter()
            .filter(|r| r.role == RecipientRole::JointController)
            .map(|r| recipient_name(&r.legal_name, &r.country))
            .collect(),
        Field::Processors => {
            let wanted = |role: RecipientRole, sub: bool| match record.perspective {
                // The controller's processors; the processor's own sub-processors.
                Perspective::Controller => role == RecipientRole::Processor,
                Perspective::Processor => sub,
            };
            unique(
                activity
                    .recipients
                    .iter()
                    .filter(|r| wanted(r.role, r.subprocessor))
                    .map(|r| recipient_name(&r.legal_name, &r.country)),
            )
        }
        Field::TransferCountries => unique(
            activity
                .transfers
                .iter()
                .map(|t| text::country(&t.country, &t.country_name)),
        ),
        Field::Transfers => activity
            .transfers
            .iter()
            .map(|t| {
                let mechanism = text::with_safeguards(t, terms.apply(text::instrument(t)));
                let line = text::transfer_line(t, &mechanism);
                // An establishment's or a forwarder's transfer names its exporter.
                if t.exporter == record.organization.name {
                    line
                } else {
                    format!("{} → {line}", text::exporter(t))
                }
            })
            .collect(),
        Field::Retention => one(text::retention(
            activity.retention_period.as_deref(),
            activity.retention_from,
            activity.retention_reason.as_deref(),
        )),
        Field::SecurityMeasures => owned(&activity.security_measures),
        Field::Products => owned(&activity.products),
        Field::NotRecorded
        | Field::Organization
        | Field::Dpo
        | Field::Representative
        | Field::Controllers => Vec::new(),
    }
}

fn special_condition(activity: &ActivityEntry, terms: Terms) -> Option<String> {
    activity
        .special_category_condition
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| terms.apply(text::special_category_condition(c)))
}

/// `Stripe Payments Europe Ltd (IE)`.
fn recipient_name(name: &str, country: &str) -> String {
    if country.trim().is_empty() {
        name.to_owned()
    } else {
        format!("{name} ({country})")
    }
}

/// Distinct values, in first-seen order.
fn unique(values: impl Iterator<Item = String>) -> Lines {
    let mut seen = HashSet::new();
    values.filter(|v| seen.insert(v.clone())).collect()
}

/// `Payment service provider: Stripe Payments Europe Ltd (IE), Adyen N.V. (NL)`, one line per
/// category, categories in the record's order; a category without a named recipient stands alone.
fn recipients_by_category(activity: &ActivityEntry) -> Lines {
    let mut order: Vec<&str> = Vec::new();
    let mut names: HashMap<&str, Vec<String>> = HashMap::new();
    for &kind in &activity.recipient_categories {
        let kind = name_of(kind);
        if !names.contains_key(kind) {
            order.push(kind);
            names.insert(kind, Vec::new());
        }
    }
    for r in &activity.recipients {
        let kind = name_of(r.kind);
        let entry = names.entry(kind).or_insert_with(|| {
            order.push(kind);
            Vec::new()
        });
        let name = recipient_name(&r.legal_name, &r.country);
        if !entry.contains(&name) {
            entry.push(name);
        }
    }
    order
        .into_iter()
        .map(|kind| {
            let label = text::recipient_kind(kind);
            match names.get(kind) {
                Some(list) if !list.is_empty() => format!("{label}: {}", list.join(", ")),
                _ => label,
            }
        })
        .collect()
}
