//! A synthetic registry of any size on top of the example one, for benchmarks: realistic
//! shapes (activities with dozens of flows, recipients across the EEA and third countries,
//! transfers under every mechanism) written through the registry layer like any other change;
//! the recipients, the activities and the flows in one batch each
//! ([`Registry::import_recipients`], [`Registry::create_activities`], [`Registry::create_flows`]).

use crate::registry::inputs::{ActivityInput, FlowInput, RecipientInput, Safeguard, TransferInput};
use crate::registry::{Actor, Registry, RegistryError};
use entity::{
    Derogation, LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus,
    TransferMechanism,
};

/// Flows per synthetic processing activity.
const FLOWS_PER_ACTIVITY: usize = 40;
/// Flows per synthetic recipient.
const FLOWS_PER_RECIPIENT: usize = 100;

const CATEGORIES: [&str; 6] = [
    "contact.phone_number",
    "contact.email",
    "telecom.traffic",
    "content.message",
    "online.ip_address",
    "location.network",
];
const COUNTRIES: [&str; 8] = ["NL", "DE", "IE", "US", "IN", "BR", "GB", "SG"];
const KINDS: [RecipientKind; 4] = [
    RecipientKind::ServiceProvider,
    RecipientKind::HostingProvider,
    RecipientKind::TelecomOperator,
    RecipientKind::AnalyticsProvider,
];

/// The safeguard of a synthetic transfer to `country`: a recipient's summary names its SCC
/// module, a flow's is filled in from the roles.
fn safeguard(country: &str, i: usize, flow: bool) -> Option<Safeguard> {
    let mechanism = match country {
        "NL" | "DE" | "IE" => return None,
        "GB" | "BR" => TransferMechanism::AdequacyDecision,
        _ if i.is_multiple_of(5) => TransferMechanism::Derogation,
        _ => TransferMechanism::StandardContractualClauses,
    };
    let derogation = mechanism == TransferMechanism::Derogation;
    Some(Safeguard {
        mechanism,
        scc_module: (mechanism == TransferMechanism::StandardContractualClauses && !flow)
            .then_some(2),
        derogation: derogation.then_some(Derogation::ContractInDataSubjectInterest),
        safeguards: derogation.then(|| "Synthetic: why the derogation applies.".to_owned()),
        tia_date: chrono::NaiveDate::from_ymd_opt(2024, 1 + (i % 12) as u32, 1),
    })
}

/// Adds `flows` synthetic data flows (and the activities and recipients they need) in one
/// transaction. Returns how many flows were written.
pub async fn generate(registry: &Registry, flows: usize) -> Result<usize, RegistryError> {
    let batch = registry.batch().await?;
    let registry = batch.registry();
    let actor = Actor("synthetic".into());
    let reason = Some("synthetic registry for benchmarks");

    // The recipients and the activities in one batch each, as a manifest's are.
    let recipients = flows.div_ceil(FLOWS_PER_RECIPIENT).max(1);
    let recipient_inputs: Vec<RecipientInput> = (0..recipients)
        .map(|r| {
            let country = COUNTRIES[r % COUNTRIES.len()];
            RecipientInput {
                key: format!("synthetic_recipient_{r}"),
                legal_name: format!("Synthetic Recipient {r} Ltd"),
                kind: KINDS[r % KINDS.len()],
                default_role: RecipientRole::Processor,
                description: None,
                country: country.to_owned(),
                processing_locations: vec![country.to_owned()],
                transfer: safeguard(country, r, false),
                dpa_reference: (!r.is_multiple_of(7)).then(|| format!("DPA-SYN-{r}")),
                certifications: vec!["ISO/IEC 27001:2013".into()],
                dpf_certified: false,
                website: None,
                privacy_notice_url: None,
                status: RecipientStatus::Active,
                public: r.is_multiple_of(2),
                assumptions: vec![],
                sources: vec!["synthetic".into()],
            }
        })
        .collect();
    let recipient_ids: Vec<(i32, &str)> = match registry
        .import_recipients(&recipient_inputs, &actor, reason)
        .await?
    {
        Ok(created) => created
            .iter()
            .enumerate()
            .map(|(r, c)| (c.id, COUNTRIES[r % COUNTRIES.len()]))
            .collect(),
        Err(mut refusals) => return Err(refusals.remove(0).1),
    };

    let activities = flows.div_ceil(FLOWS_PER_ACTIVITY).max(1);
    let activity_inputs: Vec<ActivityInput> = (0..activities)
        .map(|a| ActivityInput {
            key: format!("synthetic_activity_{a}"),
            name: format!("Synthetic activity {a}"),
            description: None,
            organization_role: if a.is_multiple_of(2) {
                OrganizationRole::Processor
            } else {
                OrganizationRole::Controller
            },
            controllers: vec!["Synthetic customers".into()],
            purposes: vec![format!("Synthetic purpose {a}")],
            legal_basis: Some(LegalBasis::Contract),
            data_subjects: vec!["end_users".into()],
            data_categories: CATEGORIES.iter().map(|c| (*c).to_owned()).collect(),
            products: vec!["sms".into()],
            retention_from: Some(entity::RetentionStart::Collection),
            retention_period: Some("P6M".into()),
            retention_reason: Some("synthetic".into()),
            security_measures: vec!["Encryption in transit".into()],
            special_category_condition: None,
            assumptions: vec![],
            sources: vec![],
        })
        .collect();
    let activity_ids: Vec<i32> = match registry
        .create_activities(&activity_inputs, &actor, reason)
        .await?
    {
        Ok(created) => created.iter().map(|a| a.id).collect(),
        Err(mut refusals) => return Err(refusals.remove(0).1),
    };
    let mut inputs = Vec::with_capacity(flows);
    for (a, activity) in activity_ids.into_iter().enumerate() {
        for f in 0..FLOWS_PER_ACTIVITY.min(flows - inputs.len()) {
            let (recipient_id, country) =
                recipient_ids[(a * FLOWS_PER_ACTIVITY + f) % recipient_ids.len()];
            let transfers = safeguard(country, f, true)
                .map(|s| {
                    vec![TransferInput {
                        country: country.to_owned(),
                        safeguard: s,
                    }]
                })
                .unwrap_or_default();
            inputs.push(FlowInput {
                activity,
                recipient: recipient_id,
                via: None,
                exporter: None,
                role: None,
                purpose: None,
                data_categories: vec![
                    CATEGORIES[f % CATEGORIES.len()].to_owned(),
                    CATEGORIES[(f + 1) % CATEGORIES.len()].to_owned(),
                ],
                data_subjects: vec!["end_users".into()],
                countries: vec![country.to_owned()],
                transfers,
                assumptions: vec![],
                sources: vec![],
            });
        }
    }
    // The flows in multi-row writes, with the same events as one by one.
    let written = match registry.create_flows(&inputs, &actor, reason).await? {
        Ok(created) => created.len(),
        Err(mut refusals) => return Err(refusals.remove(0).1),
    };
    batch.commit().await?;
    Ok(written)
}
