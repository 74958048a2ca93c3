//! Compliance findings: the gaps and risks the record reveals, each with a severity, the entity
//! it concerns, the provision it rests on and a sentence a DPO understands.
//!
//! The registry refuses a new breach of its transfer rules; the findings report the breaches a
//! registry already holds: a decision that lapsed, a scope the importer left, a module stored
//! before the module rule, a derogation kept on a documented position. They judge each transfer
//! with the rules the validation applies ([`crate::registry::transfers`], [`Regime`],
//! [`crate::reference::AdequacyTable`]), as of the record's instant.

use super::FindingOptions;
use super::model::{Finding, FindingSubject, Perspective, Severity, name_of};
use super::state::{State, StateFlow};
use crate::reference::{self, AdequacyScope, Importer, Regime};
use crate::registry::RecipientSnapshot;
use crate::registry::TransferSnapshot;
use crate::registry::transfers::{self, Exporter, ExporterParty, ModuleRule};
use entity::{Derogation, RecipientRole, RecipientStatus, RetentionStart, TransferMechanism};
use std::collections::{HashMap, HashSet};

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

/// Collects the findings, most severe first.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(
        &mut self,
        severity: Severity,
        code: &str,
        (entity_type, entity): (FindingSubject, &str),
        article: impl Into<String>,
        message: String,
    ) {
        self.0.push(Finding {
            severity,
            code: code.to_owned(),
            entity_type,
            entity: entity.to_owned(),
            article: article.into(),
            message,
        });
    }

    fn sorted(mut self) -> Vec<Finding> {
        self.0.sort_by(|a, b| {
            (a.severity, &a.code, &a.entity, &a.message)
                .cmp(&(b.severity, &b.code, &b.entity, &b.message))
        });
        self.0
            .dedup_by(|a, b| a.code == b.code && a.entity == b.entity && a.message == b.message);
        self.0
    }
}

/// The general principle of Chapter V under `regime`.
fn chapter_v(regime: Regime) -> &'static str {
    match regime {
        Regime::EuGdpr => "Art. 44 GDPR",
        Regime::UkGdpr => "Art. 44 UK GDPR",
        Regime::SwissFadp => "Art. 16 FADP",
    }
}

const EDPB_ART_49: &str = "EDPB Guidelines 2/2018 on derogations of Article 49";
const EDPB_CHAPTER_V: &str =
    "EDPB Guidelines 05/2021 on the interplay between Art. 3 and Chapter V";
const SCC_DECISION: &str = "Decision (EU) 2021/914, Clause 1 and the modules' Section I";

/// The findings of the record of `perspective` in `state`, most severe first.
pub fn findings(state: &State, perspective: Perspective, options: &FindingOptions) -> Vec<Finding> {
    let role = perspective.organization_role();
    let mut out = Findings::default();
    let mut activity_keys = HashMap::new();
    for (id, a) in state
        .activities
        .iter()
        .filter(|(_, a)| a.organization_role == role)
    {
        activity_keys.insert(*id, a.key.as_str());
        activity_findings(state, perspective, a, &mut out);
    }
    if perspective == Perspective::Processor
        && !activity_keys.is_empty()
        && state.organization.controllers_register.is_none()
    {
        out.push(
            Severity::Medium,
            "CONTROLLERS_NOT_IDENTIFIED",
            (FindingSubject::Organization, &state.organization.name),
            "Art. 30(2)(a) GDPR",
            "The processor's record names its controllers by category only and does not say where the name and contact details of each controller it processes for are kept: record where (the customer register).".to_owned(),
        );
    }

    let exporters = state.exporters();
    let mut seen_recipients = HashSet::new();
    let mut processors_without_dpa = HashSet::new();
    for flow in state
        .flows
        .iter()
        .filter(|f| activity_keys.contains_key(&f.activity_id))
    {
        let Some(recipient) = state.recipients.get(&flow.recipient_id) else {
            continue;
        };
        let activity = activity_keys
            .get(&flow.activity_id)
            .copied()
            .unwrap_or_default();
        let flow_ref = match &flow.via {
            Some(via) => format!("{activity} -> {via} -> {}", recipient.key),
            None => format!("{activity} -> {}", recipient.key),
        };
        let role = flow.role_of(recipient);
        if recipient.status == RecipientStatus::Retired {
            out.push(
                Severity::Medium,
                "FLOW_TO_RETIRED_RECIPIENT",
                (FindingSubject::DataFlow, &flow_ref),
                "Art. 30(1)(d) GDPR",
                format!(
                    "Processing activity \"{activity}\" still sends data to {}, which is retired: end the flow or reactivate the recipient.",
                    recipient.legal_name
                ),
            );
        }
        if role == RecipientRole::Processor && recipient.dpa_reference.is_none() {
            processors_without_dpa.insert(flow.recipient_id);
        }
        seen_recipients.insert(flow.recipient_id);
        if let Some(exporter) = exporters.get(&flow.id) {
            // Only this perspective's activities are judged: the organization acts in them as
            // the perspective says.
            let activity_role = perspective.organization_role();
            let judged = Judged {
                state,
                flow,
                flow_ref: &flow_ref,
                recipient,
                exporter,
                rule: transfers::module_rule(exporter.role, activity_role, role, recipient.kind),
                role,
                options,
            };
            judged.findings(&mut out);
        }
    }
    for id in &seen_recipients {
        if let Some(recipient) = state.recipients.get(id) {
            recipient_findings(
                state,
                recipient,
                processors_without_dpa.contains(id),
                &mut out,
            );
        }
    }
    out.sorted()
}

/// The findings of one processing activity: its legal basis, its retention, its special
/// categories.
fn activity_findings(
    state: &State,
    perspective: Perspective,
    a: &crate::registry::ActivitySnapshot,
    out: &mut Findings,
) {
    let subject = (FindingSubject::ProcessingActivity, a.key.as_str());
    // A processor relies on its customers' legal basis, so only the controller's record
    // must name one.
    if perspective == Perspective::Controller && a.legal_basis.is_none() {
        out.push(
            Severity::High,
            "ACTIVITY_WITHOUT_LEGAL_BASIS",
            subject,
            "Art. 6(1) GDPR",
            format!(
                "\"{}\" has no legal basis under Art. 6(1) recorded.",
                a.name
            ),
        );
    }
    let for_the_contract = a.retention_from == Some(RetentionStart::DurationOfContract);
    if a.retention_period.is_none() && !for_the_contract {
        out.push(
            Severity::Medium,
            "ACTIVITY_WITHOUT_RETENTION",
            subject,
            "Art. 30(1)(f) GDPR",
            format!(
                "\"{}\" has no time limit for erasure, which Art. 30(1)(f) asks the record to give.",
                a.name
            ),
        );
    }
    if let Some(period) = &a.retention_period
        && a.retention_from.is_none()
    {
        out.push(
            Severity::Medium,
            "RETENTION_WITHOUT_START",
            subject,
            "Art. 30(1)(f) GDPR",
            format!(
                "\"{}\" keeps data for {} but does not say from when (collection, the end of the contract, the last activity, a legal obligation's event): a period without its start is no time limit.",
                a.name,
                super::retention_words(Some(period), None)
            ),
        );
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
        out.push(
            Severity::High,
            "SPECIAL_CATEGORY_WITHOUT_CONDITION",
            subject,
            "Art. 9(2) GDPR",
            format!(
                "\"{}\" processes special categories of personal data ({}) without an Art. 9(2) condition recorded.",
                a.name,
                special.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

/// A recipient's findings: its data processing agreement, its summary safeguard.
fn recipient_findings(
    state: &State,
    recipient: &RecipientSnapshot,
    without_dpa: bool,
    out: &mut Findings,
) {
    let subject = (FindingSubject::Recipient, recipient.key.as_str());
    if without_dpa {
        out.push(
            Severity::High,
            "PROCESSOR_WITHOUT_DPA",
            subject,
            "Art. 28(3) GDPR",
            format!(
                "{} acts as a processor but no data processing agreement (Art. 28(3)) is referenced.",
                recipient.legal_name
            ),
        );
    }
    let active = matches!(
        recipient.status,
        RecipientStatus::Active | RecipientStatus::Announced
    );
    // A recipient that only conveys data by default receives no transfer; its flows as a
    // controller or processor carry their own.
    if !active || recipient.default_role == RecipientRole::MereConduit {
        return;
    }
    let regime = transfers::regime_of(&state.organization.country, None);
    let abroad = recipient
        .processing_locations
        .iter()
        .find(|c| !regime.free_flow(c));
    match (recipient.transfer_mechanism, abroad) {
        (None, Some(abroad)) => out.push(
            Severity::High,
            "TRANSFER_WITHOUT_MECHANISM",
            subject,
            chapter_v(regime),
            format!(
                "{} processes data in {abroad}, outside {}, with no transfer mechanism recorded.",
                recipient.legal_name,
                regime.free_flow_area()
            ),
        ),
        (Some(mechanism), Some(_)) => {
            if let Err(why) = regime.instrument(mechanism) {
                out.push(
                    Severity::High,
                    "TRANSFER_MECHANISM_NOT_IN_REGIME",
                    subject,
                    chapter_v(regime),
                    format!(
                        "{}'s transfers rely on {}: {why}.",
                        recipient.legal_name,
                        mechanism_words(mechanism)
                    ),
                );
            }
            if regime.takes_scc_module(mechanism)
                && let Some(module) = recipient.scc_module
                && !transfers::modules_for_default_role(recipient.default_role).contains(&module)
            {
                out.push(
                    Severity::High,
                    "SCC_MODULE_CONTRADICTS_ROLES",
                    subject,
                    SCC_DECISION,
                    format!(
                        "{}'s clauses are recorded as module {module} ({}), which does not fit a recipient that is {} by default.",
                        recipient.legal_name,
                        transfers::module_parties(module),
                        transfers::role_words(recipient.default_role)
                    ),
                );
            }
        }
        (_, None) => {}
    }
}

/// A mechanism as a sentence names it.
fn mechanism_words(mechanism: TransferMechanism) -> String {
    name_of(mechanism).to_lowercase().replace('_', " ")
}

/// The exporter as a sentence names it.
fn exporter_words(exporter: &Exporter) -> String {
    match exporter.party {
        ExporterParty::Organization => exporter.name.clone(),
        ExporterParty::Establishment => format!("{} (an establishment)", exporter.name),
        ExporterParty::Forwarder => format!("{} (passing the data on)", exporter.name),
    }
}

/// One flow's transfers, judged as of the record's instant.
struct Judged<'a> {
    state: &'a State,
    flow: &'a StateFlow,
    flow_ref: &'a str,
    recipient: &'a RecipientSnapshot,
    exporter: &'a Exporter,
    rule: ModuleRule,
    role: RecipientRole,
    options: &'a FindingOptions,
}

impl Judged<'_> {
    fn findings(&self, out: &mut Findings) {
        let regime = self.exporter.regime;
        let subject = (FindingSubject::DataFlow, self.flow_ref);
        let importer = &self.recipient.legal_name;
        if self.rule == ModuleRule::NotATransfer {
            if !self.flow.transfers.is_empty() {
                out.push(
                    Severity::Info,
                    "TRANSFER_TO_MERE_CONDUIT",
                    subject,
                    format!("{}; {EDPB_CHAPTER_V}", chapter_v(regime)),
                    format!(
                        "The flow records a transfer mechanism for {importer}, which only conveys the data: a mere conduit is neither controller nor processor, so the flow is no transfer and the mechanism can go.",
                    ),
                );
            }
            return;
        }
        for country in self
            .flow
            .countries
            .iter()
            .filter(|c| !regime.free_flow(c))
            .filter(|c| !self.flow.transfers.iter().any(|t| &t.country == *c))
        {
            let name = reference::country(country).map_or(country.as_str(), |c| c.name);
            out.push(
                Severity::High,
                "TRANSFER_WITHOUT_MECHANISM",
                subject,
                chapter_v(regime),
                format!(
                    "Data goes from {} to {importer} in {name} ({country}), outside {}, with no transfer mechanism under the {}.",
                    exporter_words(self.exporter),
                    regime.free_flow_area(),
                    regime.name()
                ),
            );
        }
        for t in &self.flow.transfers {
            self.transfer(t, out);
        }
    }

    fn transfer(&self, t: &TransferSnapshot, out: &mut Findings) {
        let regime = self.exporter.regime;
        let subject = (FindingSubject::DataFlow, self.flow_ref);
        let importer_name = &self.recipient.legal_name;
        let today = self.state.at.date_naive();
        let country = reference::country(&t.country)
            .map(|c| c.name)
            .unwrap_or(t.country.as_str());
        let to = format!("The transfer to {importer_name} in {country}");
        if regime.free_flow(&t.country) {
            out.push(
                Severity::Info,
                "TRANSFER_NOT_NEEDED",
                subject,
                chapter_v(regime),
                format!(
                    "{to} is inside {}, the free-flow area of the {} (the exporter's regime): no mechanism is needed.",
                    regime.free_flow_area(),
                    regime.name()
                ),
            );
            return;
        }
        let instrument = match regime.instrument(t.mechanism) {
            Ok(article) => article,
            Err(why) => {
                out.push(
                    Severity::High,
                    "TRANSFER_MECHANISM_NOT_IN_REGIME",
                    subject,
                    chapter_v(regime),
                    format!(
                        "{to} relies on {}, but {} exports under the {}: {why}. The transfer has no valid mechanism.",
                        mechanism_words(t.mechanism),
                        exporter_words(self.exporter),
                        regime.name()
                    ),
                );
                return;
            }
        };
        let importer = Importer {
            kind: self.recipient.kind,
            dpf_certified: self.recipient.dpf_certified,
            certifications: &self.recipient.certifications,
        };
        let decision = self.state.adequacy.decision(regime, &t.country, today);
        let covered = decision.filter(|d| d.covers(&importer));
        if regime.takes_scc_module(t.mechanism) {
            self.module(t, &to, out);
        }
        match t.mechanism {
            TransferMechanism::AdequacyDecision => match decision {
                None => out.push(
                    Severity::High,
                    "ADEQUACY_WITHOUT_DECISION",
                    subject,
                    regime.adequacy(),
                    format!(
                        "{to} relies on an adequacy decision, but none of the {} is in force for {country} on {today}: the transfer has no valid mechanism.",
                        regime.name()
                    ),
                ),
                Some(d) if covered.is_none() => out.push(
                    Severity::High,
                    "ADEQUACY_OUT_OF_SCOPE",
                    subject,
                    format!("{}; {}", regime.adequacy(), d.reference),
                    format!(
                        "{to} relies on {} ({}), which covers {}; {importer_name} ({}) is outside it, so the transfer has no valid mechanism.",
                        d.reference,
                        d.title,
                        d.scope_in_words(),
                        match d.scope {
                            AdequacyScope::CertifiedOrganisations =>
                                "not recorded as certified".to_owned(),
                            _ => format!("recorded as {}", kind_words(self.recipient)),
                        }
                    ),
                ),
                Some(_) => {}
            },
            TransferMechanism::StandardContractualClauses if covered.is_some() => out.push(
                Severity::Info,
                "SCC_WHERE_ADEQUATE",
                subject,
                instrument,
                format!(
                    "{to} uses standard contractual clauses, though an adequacy decision ({}) also covers it: not wrong, but the clauses may be more than is needed.",
                    covered.map(|d| d.reference.as_str()).unwrap_or_default()
                ),
            ),
            TransferMechanism::Derogation => {
                if let Some(d) = t.derogation {
                    self.derogation(t, d, covered, &to, out);
                }
            }
            _ => {}
        }
        if needs_tia(t.mechanism) {
            match t.tia_date {
                None => out.push(
                    Severity::Medium,
                    "TIA_MISSING",
                    subject,
                    format!("{instrument}; EDPB Recommendations 01/2020"),
                    format!(
                        "{to} under {} has no transfer impact assessment recorded (EDPB Recommendations 01/2020).",
                        mechanism_words(t.mechanism)
                    ),
                ),
                Some(date)
                    if (today - date).num_days() > i64::from(self.options.tia_max_age_days) =>
                {
                    out.push(
                        Severity::Medium,
                        "TIA_OUTDATED",
                        subject,
                        format!("{instrument}; EDPB Recommendations 01/2020"),
                        format!(
                            "The transfer impact assessment for {importer_name} in {country} dates from {date}, more than {} days ago: review it.",
                            self.options.tia_max_age_days
                        ),
                    )
                }
                Some(_) => {}
            }
        }
    }

    /// The module the clauses are recorded with, against the one the roles give.
    fn module(&self, t: &TransferSnapshot, to: &str, out: &mut Findings) {
        let subject = (FindingSubject::DataFlow, self.flow_ref);
        let exporter = exporter_words(self.exporter);
        let importer = &self.recipient.legal_name;
        match (self.rule, t.scc_module) {
            (ModuleRule::Module(expected), recorded) if recorded != Some(expected) => out.push(
                Severity::High,
                "SCC_MODULE_CONTRADICTS_ROLES",
                subject,
                SCC_DECISION,
                format!(
                    "{to} is recorded under {}, but {exporter} exports as {} and {importer} receives the data as {}: that is module {expected} ({}), so the clauses signed may not cover the transfer.",
                    match recorded {
                        Some(m) => format!("module {m} ({})", transfers::module_parties(m)),
                        None => "clauses without a module".to_owned(),
                    },
                    transfers::exporter_role_words(self.exporter.role),
                    transfers::role_words(self.role),
                    transfers::module_parties(expected)
                ),
            ),
            (ModuleRule::NoneFits, recorded) => {
                let documented = t.safeguards.is_some()
                    && recorded == Some(transfers::NONE_FITS_POSITION_MODULE);
                out.push(
                    if documented {
                        Severity::Warning
                    } else {
                        Severity::High
                    },
                    "NO_SCC_MODULE_FITS",
                    subject,
                    SCC_DECISION,
                    if documented {
                        format!(
                            "{to}: {exporter} exports as processor to {importer}, a third party acting as {}, which no module covers (module 4 is only for a transfer back to the controller the processor serves); the registry accepts module 1 concluded on behalf of the controllers on the position recorded (\"{}\"), a judgement call a supervisory authority may not share.",
                            transfers::role_words(self.role),
                            t.safeguards.as_deref().unwrap_or_default()
                        )
                    } else {
                        format!(
                            "{to}: {exporter} exports as processor to {importer}, a third party acting as {}, which no module covers, and no position is recorded: the transfer has no valid mechanism.",
                            transfers::role_words(self.role)
                        )
                    },
                );
            }
            _ => {}
        }
    }

    /// A derogation: only without an adequacy decision covering the importer, and the ones a
    /// recurring flow strains with their assessment documented.
    fn derogation(
        &self,
        t: &TransferSnapshot,
        d: Derogation,
        covered: Option<&reference::AdequacyDecision>,
        to: &str,
        out: &mut Findings,
    ) {
        let regime = self.exporter.regime;
        let subject = (FindingSubject::DataFlow, self.flow_ref);
        let article = match regime.derogation(d) {
            Ok(article) => article,
            Err(why) => {
                out.push(
                    Severity::High,
                    "TRANSFER_MECHANISM_NOT_IN_REGIME",
                    subject,
                    regime.derogations(),
                    format!("{to} rests on a derogation the {} does not have: {why}. The transfer has no valid mechanism.", regime.name()),
                );
                return;
            }
        };
        if let Some(decision) = covered {
            out.push(
                Severity::Medium,
                "DEROGATION_WHERE_ADEQUATE",
                subject,
                format!("{article}; {}", decision.reference),
                format!(
                    "{to} relies on the derogation of {article}, which applies only in the absence of an adequacy decision, and {} ({}) covers it: record the adequacy decision instead.",
                    decision.reference, decision.title
                ),
            );
            return;
        }
        if !transfers::strained_by_recurrence(d) {
            return;
        }
        let why = match d {
            Derogation::ExplicitConsent => {
                "consent to a transfer must be specific to it and informed of its risks, which a flow that recurs strains (EDPB Guidelines 2/2018, 2.1)"
            }
            Derogation::CompellingLegitimateInterests => {
                "this derogation is for transfers that are not repetitive, with the supervisory authority informed (Art. 49(1), second subparagraph)"
            }
            _ => {
                "the EDPB reads it as for occasional transfers only, not the regular transfers of an established relationship (recital 111; EDPB Guidelines 2/2018, 2.2-2.3)"
            }
        };
        match t.safeguards.as_deref() {
            Some(reason) => out.push(
                Severity::Warning,
                "DEROGATION_FOR_RECURRING_TRANSFER",
                subject,
                format!("{article}; {EDPB_ART_49}"),
                format!(
                    "{to} rests on the derogation of {article} although the flow recurs: {why}. Kept on the position recorded (\"{reason}\"); a supervisory authority may not share it, so prefer an adequacy decision or appropriate safeguards where one can apply."
                ),
            ),
            None => out.push(
                Severity::High,
                "DEROGATION_NOT_DOCUMENTED",
                subject,
                format!("{article}; Art. 49(6) GDPR; {EDPB_ART_49}"),
                format!(
                    "{to} rests on the derogation of {article} for a flow that recurs, with no assessment recorded of why it applies: {why}. The transfer has no valid mechanism as recorded."
                ),
            ),
        }
    }
}

/// The recipient's kind, as a sentence names it.
fn kind_words(recipient: &RecipientSnapshot) -> String {
    name_of(recipient.kind).to_lowercase().replace('_', " ")
}
