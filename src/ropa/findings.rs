//! Compliance findings: the gaps and risks the record reveals, each with a severity, the entity
//! it concerns and a sentence a DPO understands.

use super::FindingOptions;
use super::model::{Finding, FindingSubject, Perspective, Severity, name_of};
use super::state::{State, StateFlow};
use crate::reference;
use entity::{RecipientRole, RecipientStatus, TransferMechanism};
use std::collections::HashSet;

/// Art. 46 instruments, which the EDPB expects a transfer impact assessment for.
fn needs_tia(mechanism: TransferMechanism) -> bool {
    use TransferMechanism::*;
    matches!(
        mechanism,
        StandardContractualClauses
            | BindingCorporateRules
            | CodeOfConduct
            | Certification
            | AdHocClauses
            | UkIdta
            | UkAddendum
    )
}

fn finding(
    severity: Severity,
    code: &str,
    entity_type: FindingSubject,
    entity: &str,
    message: String,
) -> Finding {
    Finding {
        severity,
        code: code.to_owned(),
        entity_type,
        entity: entity.to_owned(),
        message,
    }
}

/// The findings of the record of `perspective` in `state`, most severe first.
pub fn findings(state: &State, perspective: Perspective, options: &FindingOptions) -> Vec<Finding> {
    let role = perspective.organization_role();
    let mut out = Vec::new();
    let today = state.at.date_naive();
    let mut activity_keys = std::collections::HashMap::new();
    for (id, a) in state
        .activities
        .iter()
        .filter(|(_, a)| a.organization_role == role)
    {
        activity_keys.insert(*id, a.key.as_str());
        // A processor relies on its customers' legal basis, so only the controller's record
        // must name one.
        if perspective == Perspective::Controller && a.legal_basis.is_none() {
            out.push(finding(
                Severity::High,
                "ACTIVITY_WITHOUT_LEGAL_BASIS",
                FindingSubject::ProcessingActivity,
                &a.key,
                format!(
                    "\"{}\" has no legal basis under Art. 6(1) recorded.",
                    a.name
                ),
            ));
        }
        if a.retention_period.is_none() {
            out.push(finding(
                Severity::Medium,
                "ACTIVITY_WITHOUT_RETENTION",
                FindingSubject::ProcessingActivity,
                &a.key,
                format!(
                    "\"{}\" has no time limit for erasure, which Art. 30(1)(f) asks the record to give.",
                    a.name
                ),
            ));
        }
        let special: Vec<&String> = a
            .data_categories
            .iter()
            .filter(|k| {
                state
                    .categories
                    .get(*k)
                    .is_some_and(|(_, special)| *special)
            })
            .collect();
        if !special.is_empty() && a.special_category_condition.is_none() {
            out.push(finding(
                Severity::High,
                "SPECIAL_CATEGORY_WITHOUT_CONDITION",
                FindingSubject::ProcessingActivity,
                &a.key,
                format!(
                    "\"{}\" processes special categories of personal data ({}) without an Art. 9(2) condition recorded.",
                    a.name,
                    special.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }

    let flows: Vec<&StateFlow> = state
        .flows
        .iter()
        .filter(|f| activity_keys.contains_key(&f.activity_id))
        .collect();
    let mut seen_recipients = HashSet::new();
    let mut processors_without_dpa = HashSet::new();
    for flow in &flows {
        let Some(recipient) = state.recipients.get(&flow.recipient_id) else {
            continue;
        };
        let activity = activity_keys
            .get(&flow.activity_id)
            .copied()
            .unwrap_or_default();
        // Most flows have no finding: the reference is only written for those that do.
        let flow_ref = || format!("{activity} -> {}", recipient.key);
        let role = flow.role_of(recipient);
        if recipient.status == RecipientStatus::Retired {
            out.push(finding(
                Severity::Medium,
                "FLOW_TO_RETIRED_RECIPIENT",
                FindingSubject::DataFlow,
                &flow_ref(),
                format!(
                    "Processing activity \"{activity}\" still sends data to {}, which is retired: end the flow or reactivate the recipient.",
                    recipient.legal_name
                ),
            ));
        }
        if role == RecipientRole::Processor && recipient.dpa_reference.is_none() {
            processors_without_dpa.insert(flow.recipient_id);
        }
        seen_recipients.insert(flow.recipient_id);
        for country in flow
            .countries
            .iter()
            .filter(|c| !reference::is_eea(c))
            .filter(|c| !flow.transfers.iter().any(|t| &t.country == *c))
        {
            out.push(finding(
                Severity::High,
                "TRANSFER_WITHOUT_MECHANISM",
                FindingSubject::DataFlow,
                &flow_ref(),
                format!(
                    "Data goes to {} in {country}, outside the EEA, with no transfer mechanism under Chapter V.",
                    recipient.legal_name
                ),
            ));
        }
        for t in &flow.transfers {
            let decision = reference::adequacy_decision(&t.country, today);
            let covered = decision.is_some_and(|d| match d.scope {
                reference::AdequacyScope::CertifiedOrganisations => recipient.dpf_certified,
                _ => true,
            });
            let country = reference::country(&t.country)
                .map(|c| c.name)
                .unwrap_or(t.country.as_str());
            match t.mechanism {
                TransferMechanism::AdequacyDecision if !covered => out.push(finding(
                    Severity::High,
                    "ADEQUACY_WITHOUT_DECISION",
                    FindingSubject::DataFlow,
                    &flow_ref(),
                    match decision {
                        Some(d) => format!(
                            "The transfer to {} in {country} relies on {} ({}), which covers only certified organisations, and the recipient is not recorded as certified.",
                            recipient.legal_name, d.title, d.reference
                        ),
                        None => format!(
                            "The transfer to {} in {country} relies on an adequacy decision, but none is in force for {country}.",
                            recipient.legal_name
                        ),
                    },
                )),
                TransferMechanism::StandardContractualClauses if covered => out.push(finding(
                    Severity::Info,
                    "SCC_WHERE_ADEQUATE",
                    FindingSubject::DataFlow,
                    &flow_ref(),
                    format!(
                        "The transfer to {} in {country} uses standard contractual clauses, though an adequacy decision ({}) also covers it: not wrong, but the clauses may be more than is needed.",
                        recipient.legal_name,
                        decision.map(|d| d.reference).unwrap_or_default()
                    ),
                )),
                _ => {}
            }
            if needs_tia(t.mechanism) {
                match t.tia_date {
                    None => out.push(finding(
                        Severity::Medium,
                        "TIA_MISSING",
                        FindingSubject::DataFlow,
                        &flow_ref(),
                        format!(
                            "The transfer to {} in {country} under {} has no transfer impact assessment recorded (EDPB Recommendations 01/2020).",
                            recipient.legal_name,
                            name_of(t.mechanism).to_lowercase().replace('_', " ")
                        ),
                    )),
                    Some(date) if (today - date).num_days() > i64::from(options.tia_max_age_days) => {
                        out.push(finding(
                            Severity::Medium,
                            "TIA_OUTDATED",
                            FindingSubject::DataFlow,
                            &flow_ref(),
                            format!(
                                "The transfer impact assessment for {} in {country} dates from {date}, more than {} days ago: review it.",
                                recipient.legal_name, options.tia_max_age_days
                            ),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    for id in &seen_recipients {
        let Some(recipient) = state.recipients.get(id) else {
            continue;
        };
        if processors_without_dpa.contains(id) {
            out.push(finding(
                Severity::High,
                "PROCESSOR_WITHOUT_DPA",
                FindingSubject::Recipient,
                &recipient.key,
                format!(
                    "{} acts as a processor but no data processing agreement (Art. 28(3)) is referenced.",
                    recipient.legal_name
                ),
            ));
        }
        let active = matches!(
            recipient.status,
            RecipientStatus::Active | RecipientStatus::Announced
        );
        if active
            && recipient.transfer_mechanism.is_none()
            && let Some(abroad) = recipient
                .processing_locations
                .iter()
                .find(|c| !reference::is_eea(c))
        {
            out.push(finding(
                Severity::High,
                "TRANSFER_WITHOUT_MECHANISM",
                FindingSubject::Recipient,
                &recipient.key,
                format!(
                    "{} processes data in {abroad}, outside the EEA, with no transfer mechanism recorded.",
                    recipient.legal_name
                ),
            ));
        }
    }
    out.sort_by(|a, b| {
        (a.severity, &a.code, &a.entity, &a.message)
            .cmp(&(b.severity, &b.code, &b.entity, &b.message))
    });
    out.dedup_by(|a, b| a.code == b.code && a.entity == b.entity && a.message == b.message);
    out
}
