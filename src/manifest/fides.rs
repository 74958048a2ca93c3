//! Fides interoperability: the registry as fideslang manifests, and fideslang manifests as
//! changes to the registry.
//!
//! Export (`subreg export --format fides`): one YAML file holding fideslang resources: the
//! `organization` (its DPO and representative as contact details), a `system` for the
//! organization's own processing (a privacy declaration per processing activity, `egress` to
//! each recipient it sends data to) and a `system` per recipient (a privacy declaration per
//! data flow to it, with its data categories, data use, data subjects, legal basis and
//! retention; `ingress` from the system the data comes from, the organization or, for an
//! onward flow, the forwarding recipient; `egress` to the recipients it forwards to), the
//! registry's data categories that have no fideslang key as custom `data_category` resources
//! (under their parent's fideslang key, or `user`), and its data subject categories as custom
//! `data_subject` resources. What fideslang cannot express (destination countries, the transfer
//! mechanism of each country, the recipient's status and public listing, the activity's
//! Art. 30 fields) travels in each system's `meta.subreg`, in the registry file's format, so
//! that importing an export gives the registry back exactly.
//!
//! Import (`subreg plan|apply FILE --format fides`): the manifest's systems are merged into the
//! live registry: a system exported by Subreg (with `meta.subreg`) is read back as it was; any
//! other system becomes a recipient, and each of its privacy declarations a data flow from the
//! processing activity of its data use (made where the registry has none, key `fides_<data
//! use>`). Everything fideslang leaves open is filled in and recorded as an assumption on the
//! entry: the recipient's kind, country and processing locations (the organization's), the
//! flow's destination (the recipient's country), the transfer mechanism per country (fideslang's
//! `legal_basis_for_transfers` is per system, not per country: noted, not applied), the
//! organization's role in the activity (controller). Imported recipients start PROPOSED and
//! internal: publishing one goes through the notice period like any other.
//!
//! The data use of an activity (fideslang has no "processing activity") is a judgement call
//! made in [`data_use_of`].

use super::file::{Locator, Parsed, Problem};
use super::plan::{ManifestError, Options};
use super::read;
use super::report::Plan;
use crate::registry::inputs::{
    ActivityInput, DataCategoryInput, FlowInput, OrganizationInput, RecipientInput, TermInput,
};
use crate::registry::{Actor, Registry, RegistryError};
use crate::seed::format::RegistryFile;
use chrono::{DateTime, Utc};
use entity::{
    LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus, TransferMechanism,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A fideslang manifest file: the resource types Subreg reads and writes (others, such as
/// datasets and policies, are read past).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FidesManifest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organization: Vec<FidesOrganization>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_category: Vec<FidesTerm>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_subject: Vec<FidesTerm>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<FidesSystem>,
}

/// fideslang `ContactDetails`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FidesContact {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
}

/// fideslang `Organization`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FidesOrganization {
    pub fides_key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<FidesContact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_protection_officer: Option<FidesContact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<FidesContact>,
}

/// fideslang `DataCategory` or `DataSubject` (custom ones; `parent_key` only for categories).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FidesTerm {
    pub fides_key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_key: Option<String>,
    #[serde(default)]
    pub is_default: bool,
}

/// fideslang `DataFlow`: a system's ingress or egress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FidesDataFlow {
    pub fides_key: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_categories: Option<Vec<String>>,
}

/// fideslang `PrivacyDeclaration`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FidesDeclaration {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub data_categories: Vec<String>,
    pub data_use: String,
    #[serde(default)]
    pub data_subjects: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis_for_processing: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_period: Option<String>,
    #[serde(default)]
    pub processes_special_category_data: bool,
}

/// What Subreg keeps in a system's `meta.subreg`: the entries fideslang cannot hold, in the
/// registry file's format.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SubregMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_categories: Vec<DataCategoryInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_subjects: Vec<TermInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<TermInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processing_activities: Vec<ActivityInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<RecipientInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_flows: Vec<FlowInput<String>>,
}

/// A system's `meta`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FidesMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subreg: Option<SubregMeta>,
}

/// fideslang `System`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FidesSystem {
    pub fides_key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_fides_key: Option<String>,
    #[serde(default)]
    pub system_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responsibility: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpa_location: Option<String>,
    #[serde(default)]
    pub does_international_transfers: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legal_basis_for_transfers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_security_practices: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<FidesDataFlow>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<FidesDataFlow>>,
    #[serde(default)]
    pub privacy_declarations: Vec<FidesDeclaration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FidesMeta>,
}

/// The fideslang key of a text: lower case, runs of anything but letters and digits as `_`.
fn fides_key_of(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

/// A registry key for a fideslang key: letters, digits and `_`, starting with a letter.
fn registry_key_of(fides_key: &str) -> String {
    let key = fides_key_of(fides_key);
    let key = if key.starts_with(|c: char| c.is_ascii_lowercase()) {
        key
    } else {
        format!("fides_{key}")
    };
    key.chars().take(64).collect()
}

/// fideslang's name of a legal basis (Art. 6(1) GDPR).
fn fides_legal_basis(basis: LegalBasis) -> &'static str {
    match basis {
        LegalBasis::Consent => "Consent",
        LegalBasis::Contract => "Contract",
        LegalBasis::LegalObligation => "Legal obligations",
        LegalBasis::VitalInterests => "Vital interests",
        LegalBasis::PublicTask => "Public interest",
        LegalBasis::LegitimateInterests => "Legitimate interests",
    }
}

fn legal_basis_of(fides: &str) -> Option<LegalBasis> {
    Some(match fides {
        "Consent" => LegalBasis::Consent,
        "Contract" => LegalBasis::Contract,
        "Legal obligations" => LegalBasis::LegalObligation,
        "Vital interests" => LegalBasis::VitalInterests,
        "Public interest" => LegalBasis::PublicTask,
        "Legitimate interests" => LegalBasis::LegitimateInterests,
        _ => return None,
    })
}

/// fideslang's name of a transfer mechanism (`legal_basis_for_transfers`).
fn fides_transfer_basis(mechanism: TransferMechanism) -> &'static str {
    match mechanism {
        TransferMechanism::AdequacyDecision => "Adequacy Decision",
        TransferMechanism::StandardContractualClauses | TransferMechanism::UkAddendum => "SCCs",
        TransferMechanism::BindingCorporateRules => "BCRs",
        _ => "Other",
    }
}

/// The fideslang data use of a processing activity. **Judgement call:** fideslang describes
/// processing by its data use, the registry by purposes in words, so the use is read from the
/// activity: what the organization does as processor is the service its customers contracted
/// (`essential.service`); its own processing by the first of these words in its key, name or
/// purposes: marketing or advertising, fraud, billing or payment, analytics, support,
/// security, recruitment, sales; else by a legal obligation as its basis; else
/// `essential.service.operations`.
pub fn data_use_of(activity: &ActivityInput) -> &'static str {
    if activity.organization_role == OrganizationRole::Processor {
        return "essential.service";
    }
    let words = format!(
        "{} {} {}",
        activity.key,
        activity.name,
        activity.purposes.join(" ")
    )
    .to_lowercase();
    let uses: [(&[&str], &str); 8] = [
        (&["advertis"], "marketing.advertising"),
        (&["marketing", "newsletter"], "marketing.communications"),
        (&["fraud"], "essential.fraud_detection"),
        (
            &["billing", "payment", "invoice", "financial"],
            "essential.service.payment_processing",
        ),
        (&["analytic"], "analytics.reporting"),
        (&["support"], "essential.service.operations.support"),
        (&["security"], "essential.service.security"),
        (&["recruit", "applicant"], "employment.recruitment"),
    ];
    for (needles, data_use) in uses {
        if needles.iter().any(|n| words.contains(n)) {
            return data_use;
        }
    }
    if words.contains("sales") || words.contains("prospect") {
        return "sales";
    }
    if activity.legal_basis == Some(LegalBasis::LegalObligation) {
        return "essential.legal_obligation";
    }
    "essential.service.operations"
}

/// The data categories of fideslang's default taxonomy (fideslang 3.1.4, CC BY 4.0; see
/// data/fideslang/SOURCE.md): a registry category's `fides_key` outside it (one imported from
/// an older manifest, say) is declared in the export as a custom category.
const DEFAULT_CATEGORIES: &str = include_str!("../../data/fideslang/data_categories.txt");

fn is_default_category(key: &str) -> bool {
    DEFAULT_CATEGORIES.lines().any(|line| line.trim() == key)
}

/// The fideslang key of each data category: its own `fides_key`, or a custom key under its
/// parent's (`user` at the root), with the custom ones to declare.
fn category_keys(categories: &[DataCategoryInput]) -> (HashMap<String, String>, Vec<FidesTerm>) {
    let mut keys: HashMap<String, String> = HashMap::new();
    let mut custom: Vec<FidesTerm> = Vec::new();
    // Parents come before their children in the registry's order.
    for c in categories {
        if let Some(fides) = &c.fides_key {
            if !is_default_category(fides) && !custom.iter().any(|t| &t.fides_key == fides) {
                custom.push(FidesTerm {
                    fides_key: fides.clone(),
                    name: Some(c.name.clone()),
                    description: c.description.clone(),
                    parent_key: fides.rsplit_once('.').map(|(parent, _)| parent.to_owned()),
                    is_default: false,
                });
            }
            keys.insert(c.key.clone(), fides.clone());
            continue;
        }
        let (parent, last) = match c.key.rsplit_once('.') {
            Some((parent, last)) => (
                keys.get(parent).cloned().unwrap_or_else(|| "user".into()),
                last,
            ),
            None => ("user".to_owned(), c.key.as_str()),
        };
        let key = format!("{parent}.{last}");
        custom.push(FidesTerm {
            fides_key: key.clone(),
            name: Some(c.name.clone()),
            description: c.description.clone(),
            parent_key: Some(parent),
            is_default: false,
        });
        keys.insert(c.key.clone(), key);
    }
    (keys, custom)
}

fn retention_text(activity: &ActivityInput) -> Option<String> {
    (activity.retention_period.is_some() || activity.retention_from.is_some()).then(|| {
        crate::ropa::export::text::retention_words(
            activity.retention_period.as_deref(),
            activity.retention_from,
        )
    })
}

/// The registry as fideslang manifests (see the module's documentation).
pub fn to_fides(file: &RegistryFile) -> FidesManifest {
    let org = &file.organization;
    let org_key = fides_key_of(&org.name);
    let contact = |name: &str, address: Option<&str>, email: &str| FidesContact {
        name: name.to_owned(),
        address: address.unwrap_or_default().to_owned(),
        email: email.to_owned(),
        phone: String::new(),
    };
    let organization = FidesOrganization {
        fides_key: org_key.clone(),
        name: Some(org.name.clone()),
        description: Some(format!("{}, {} ({})", org.name, org.address, org.country)),
        controller: Some(contact(&org.name, Some(&org.address), &org.dpo_email)),
        data_protection_officer: Some(contact(
            &org.dpo_name,
            org.dpo_address.as_deref(),
            &org.dpo_email,
        )),
        representative: org.representative.as_ref().map(|r| contact(r, None, "")),
    };
    let (categories, custom_categories) = category_keys(&file.data_categories);
    let special: BTreeSet<&str> = file
        .data_categories
        .iter()
        .filter(|c| c.special_category)
        .map(|c| c.key.as_str())
        .collect();
    let fides_categories = |keys: &[String]| -> Vec<String> {
        let mut out: Vec<String> = keys
            .iter()
            .map(|k| {
                categories
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| format!("user.{k}"))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    };
    let activities: HashMap<&str, &ActivityInput> = file
        .processing_activities
        .iter()
        .map(|a| (a.key.as_str(), a))
        .collect();
    let org_system = format!("{org_key}_processing");

    // The organization's own processing: a declaration per activity, egress to each recipient.
    let mut egress: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in file.data_flows.iter().filter(|f| f.via.is_none()) {
        egress
            .entry(f.recipient.as_str())
            .or_default()
            .extend(fides_categories(&f.data_categories));
    }
    let mut declarations: Vec<FidesDeclaration> = file
        .processing_activities
        .iter()
        .map(|a| {
            let mut to: Vec<String> = file
                .data_flows
                .iter()
                .filter(|f| f.activity == a.key && f.via.is_none())
                .map(|f| f.recipient.clone())
                .collect();
            to.sort();
            to.dedup();
            FidesDeclaration {
                name: Some(format!("{} ({})", a.name, a.key)),
                data_categories: fides_categories(&a.data_categories),
                data_use: data_use_of(a).to_owned(),
                data_subjects: a.data_subjects.clone(),
                egress: (!to.is_empty()).then_some(to),
                ingress: None,
                legal_basis_for_processing: a.legal_basis.map(|b| fides_legal_basis(b).to_owned()),
                retention_period: retention_text(a),
                processes_special_category_data: a
                    .data_categories
                    .iter()
                    .any(|c| special.contains(c.as_str())),
            }
        })
        .collect();
    declarations.sort_by(|a, b| a.name.cmp(&b.name));
    let mut responsibility: Vec<String> = Vec::new();
    for role in [OrganizationRole::Controller, OrganizationRole::Processor] {
        if file
            .processing_activities
            .iter()
            .any(|a| a.organization_role == role)
        {
            responsibility.push(
                match role {
                    OrganizationRole::Controller => "Controller",
                    _ => "Processor",
                }
                .into(),
            );
        }
    }
    let mut systems = vec![FidesSystem {
        fides_key: org_system.clone(),
        name: Some(format!("{}: its processing activities", org.name)),
        description: Some("The organization's own processing, one privacy declaration per processing activity (GDPR Art. 30); exported by Subreg.".into()),
        organization_fides_key: Some(org_key.clone()),
        system_type: "Organization".into(),
        legal_name: Some(org.name.clone()),
        privacy_policy: None,
        responsibility,
        dpa_location: None,
        does_international_transfers: false,
        legal_basis_for_transfers: Vec::new(),
        data_security_practices: None,
        ingress: None,
        egress: (!egress.is_empty()).then(|| {
            egress
                .iter()
                .map(|(to, categories)| FidesDataFlow {
                    fides_key: (*to).to_owned(),
                    kind: "system".into(),
                    data_categories: Some(categories.iter().cloned().collect()),
                })
                .collect()
        }),
        privacy_declarations: declarations,
        meta: Some(FidesMeta {
            subreg: Some(SubregMeta {
                organization: Some(org.clone()),
                data_categories: file.data_categories.clone(),
                data_subjects: file.data_subjects.clone(),
                products: file.products.clone(),
                processing_activities: file.processing_activities.clone(),
                ..SubregMeta::default()
            }),
        }),
    }];

    // A system per recipient: a declaration per flow to it.
    for r in &file.recipients {
        let flows: Vec<&FlowInput<String>> = file
            .data_flows
            .iter()
            .filter(|f| f.recipient == r.key)
            .collect();
        let onward: Vec<&FlowInput<String>> = file
            .data_flows
            .iter()
            .filter(|f| f.via.as_deref() == Some(r.key.as_str()))
            .collect();
        let source = |f: &FlowInput<String>| f.via.clone().unwrap_or_else(|| org_system.clone());
        let mut ingress: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &flows {
            ingress
                .entry(source(f))
                .or_default()
                .extend(fides_categories(&f.data_categories));
        }
        let mut egress: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &onward {
            egress
                .entry(f.recipient.clone())
                .or_default()
                .extend(fides_categories(&f.data_categories));
        }
        let mut responsibility = BTreeSet::new();
        let mut declarations: Vec<FidesDeclaration> = flows
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let activity = activities.get(f.activity.as_str()).copied();
                let role = f.role.unwrap_or(r.default_role);
                let processor_activity =
                    activity.is_some_and(|a| a.organization_role == OrganizationRole::Processor);
                responsibility.insert(match (role, processor_activity) {
                    (RecipientRole::Processor, true) => "Sub-Processor",
                    (RecipientRole::Processor, false) => "Processor",
                    _ => "Controller",
                });
                let to_onward: Vec<String> = onward
                    .iter()
                    .filter(|o| o.activity == f.activity)
                    .map(|o| o.recipient.clone())
                    .collect();
                FidesDeclaration {
                    name: Some(format!(
                        "{:03} {}",
                        i + 1,
                        activity.map_or(f.activity.as_str(), |a| a.name.as_str())
                    )),
                    data_categories: fides_categories(&f.data_categories),
                    data_use: activity.map_or("essential.service", data_use_of).to_owned(),
                    data_subjects: f.data_subjects.clone(),
                    egress: (!to_onward.is_empty()).then_some(to_onward),
                    ingress: Some(vec![source(f)]),
                    legal_basis_for_processing: activity
                        .filter(|a| a.organization_role == OrganizationRole::Controller)
                        .and_then(|a| a.legal_basis)
                        .map(|b| fides_legal_basis(b).to_owned()),
                    retention_period: activity.and_then(retention_text),
                    processes_special_category_data: f
                        .data_categories
                        .iter()
                        .any(|c| special.contains(c.as_str())),
                }
            })
            .collect();
        declarations.sort_by(|a, b| a.name.cmp(&b.name));
        let mut transfer_bases: BTreeSet<&str> = BTreeSet::new();
        if let Some(t) = &r.transfer {
            transfer_bases.insert(fides_transfer_basis(t.mechanism));
        }
        for f in &flows {
            for t in &f.transfers {
                transfer_bases.insert(fides_transfer_basis(t.safeguard.mechanism));
            }
        }
        let flow = |(key, categories): (String, BTreeSet<String>)| FidesDataFlow {
            fides_key: key,
            kind: "system".into(),
            data_categories: Some(categories.into_iter().collect()),
        };
        systems.push(FidesSystem {
            fides_key: r.key.clone(),
            name: Some(r.legal_name.clone()),
            description: r.description.clone(),
            organization_fides_key: Some(org_key.clone()),
            system_type: format!("Third party: {}", enum_name(&r.kind)),
            legal_name: Some(r.legal_name.clone()),
            privacy_policy: r.privacy_notice_url.clone(),
            responsibility: responsibility.into_iter().map(str::to_owned).collect(),
            dpa_location: r.dpa_reference.clone(),
            does_international_transfers: !transfer_bases.is_empty(),
            legal_basis_for_transfers: transfer_bases.into_iter().map(str::to_owned).collect(),
            data_security_practices: (!r.certifications.is_empty())
                .then(|| r.certifications.join("; ")),
            ingress: (!ingress.is_empty()).then(|| ingress.into_iter().map(flow).collect()),
            egress: (!egress.is_empty()).then(|| egress.into_iter().map(flow).collect()),
            privacy_declarations: declarations,
            meta: Some(FidesMeta {
                subreg: Some(SubregMeta {
                    recipient: Some(r.clone()),
                    data_flows: flows.into_iter().cloned().collect(),
                    ..SubregMeta::default()
                }),
            }),
        });
    }
    FidesManifest {
        organization: vec![organization],
        data_category: custom_categories,
        data_subject: file
            .data_subjects
            .iter()
            .map(|s| FidesTerm {
                fides_key: s.key.clone(),
                name: Some(s.name.clone()),
                description: s.description.clone(),
                parent_key: None,
                is_default: false,
            })
            .collect(),
        system: systems,
    }
}

fn enum_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The live registry (or the registry at `as_of`) as fideslang manifests, as YAML text.
pub async fn export(
    registry: &Registry,
    as_of: Option<DateTime<Utc>>,
) -> Result<String, RegistryError> {
    let file = match as_of {
        None => {
            let db = registry.pool().ok_or_else(|| {
                RegistryError::Conflict("the registry cannot be exported inside a batch".into())
            })?;
            read::live(db).await?.to_file()?
        }
        Some(at) => read::as_of(registry, at).await?,
    };
    let body = serde_yaml_ng::to_string(&to_fides(&file)).map_err(|e| {
        RegistryError::Database(sea_orm::DbErr::Custom(format!(
            "the registry cannot be written as YAML: {e}"
        )))
    })?;
    Ok(format!(
        "# fideslang manifests of the registry, exported by `subreg export --format fides`.\n# What fideslang cannot express travels in each system's meta.subreg (see README).\n{body}"
    ))
}

fn problem(entry: String, key: Option<String>, field: Option<&str>, message: String) -> Problem {
    Problem {
        line: None,
        entry,
        key,
        field: field.map(str::to_owned),
        message,
    }
}

/// Merges a fideslang manifest into `base` (the live registry), by the rules in the module's
/// documentation.
pub fn merge(base: &mut RegistryFile, manifest: &FidesManifest) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    fn upsert<T: Clone>(list: &mut Vec<T>, item: T, same: impl Fn(&T) -> bool) {
        match list.iter_mut().find(|x| same(x)) {
            Some(slot) => *slot = item,
            None => list.push(item),
        }
    }
    // Systems exported by Subreg: read back as they were.
    let mut replaced_flows: BTreeSet<String> = BTreeSet::new();
    for system in &manifest.system {
        let Some(meta) = system.meta.as_ref().and_then(|m| m.subreg.as_ref()) else {
            continue;
        };
        if let Some(org) = &meta.organization {
            base.organization = org.clone();
        }
        for c in &meta.data_categories {
            upsert(&mut base.data_categories, c.clone(), |x| x.key == c.key);
        }
        for s in &meta.data_subjects {
            upsert(&mut base.data_subjects, s.clone(), |x| x.key == s.key);
        }
        for p in &meta.products {
            upsert(&mut base.products, p.clone(), |x| x.key == p.key);
        }
        for a in &meta.processing_activities {
            upsert(&mut base.processing_activities, a.clone(), |x| {
                x.key == a.key
            });
        }
        if let Some(r) = &meta.recipient {
            upsert(&mut base.recipients, r.clone(), |x| x.key == r.key);
            // The system's flows are the recipient's flows.
            if replaced_flows.insert(r.key.clone()) {
                base.data_flows.retain(|f| f.recipient != r.key);
            }
            base.data_flows.extend(meta.data_flows.iter().cloned());
        }
    }

    // Any other system: a recipient, its declarations flows.
    let org_country = base.organization.country.clone();
    let by_fides: HashMap<String, String> = base
        .data_categories
        .iter()
        .filter_map(|c| c.fides_key.clone().map(|f| (f, c.key.clone())))
        .collect();
    let mut by_fides = by_fides;
    let subject_names: HashMap<&str, &FidesTerm> = manifest
        .data_subject
        .iter()
        .map(|s| (s.fides_key.as_str(), s))
        .collect();
    let category_names: HashMap<&str, &FidesTerm> = manifest
        .data_category
        .iter()
        .map(|c| (c.fides_key.as_str(), c))
        .collect();
    for (s, system) in manifest.system.iter().enumerate() {
        if system
            .meta
            .as_ref()
            .and_then(|m| m.subreg.as_ref())
            .is_some()
        {
            continue;
        }
        let entry = format!("system[{s}]");
        let key = registry_key_of(&system.fides_key);
        let source = format!("Fides manifest, system `{}`", system.fides_key);
        let role = if system
            .responsibility
            .iter()
            .any(|r| r == "Processor" || r == "Sub-Processor")
        {
            RecipientRole::Processor
        } else if system.responsibility.iter().any(|r| r == "Controller") {
            RecipientRole::Controller
        } else {
            RecipientRole::Processor
        };
        let country = match base.recipients.iter().find(|r| r.key == key) {
            Some(existing) => existing.country.clone(),
            None => {
                let mut assumptions = vec![
                    format!(
                        "Imported from {source}: fideslang has no kind of recipient; recorded as SERVICE_PROVIDER"
                    ),
                    format!(
                        "fideslang records no country of establishment or processing location: assumed the organization's ({org_country})"
                    ),
                ];
                if system.responsibility.is_empty() {
                    assumptions.push(
                        "fideslang's `responsibility` is not set: assumed a processor".into(),
                    );
                }
                if !system.legal_basis_for_transfers.is_empty()
                    || system.does_international_transfers
                {
                    assumptions.push(format!(
                        "fideslang gives the transfer bases per system ({}), not the mechanism of each destination country: none recorded; add each country's mechanism (Chapter V GDPR)",
                        system.legal_basis_for_transfers.join(", ")
                    ));
                }
                base.recipients.push(RecipientInput {
                    key: key.clone(),
                    legal_name: system
                        .legal_name
                        .clone()
                        .or_else(|| system.name.clone())
                        .unwrap_or_else(|| system.fides_key.clone()),
                    kind: RecipientKind::ServiceProvider,
                    default_role: role,
                    description: system.description.clone(),
                    country: org_country.clone(),
                    processing_locations: vec![org_country.clone()],
                    transfer: None,
                    dpa_reference: system.dpa_location.clone(),
                    certifications: Vec::new(),
                    dpf_certified: false,
                    website: None,
                    privacy_notice_url: system
                        .privacy_policy
                        .clone()
                        .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
                    // Imported recipients are planning: the notice period starts with their
                    // announcement.
                    status: RecipientStatus::Proposed,
                    public: false,
                    assumptions,
                    sources: vec![source.clone()],
                });
                org_country.clone()
            }
        };
        for (d, declaration) in system.privacy_declarations.iter().enumerate() {
            let entry = format!("{entry}.privacy_declarations[{d}]");
            // The data categories, made where the registry has none.
            let mut categories = Vec::new();
            for fides in &declaration.data_categories {
                if let Some(k) = by_fides.get(fides) {
                    categories.push(k.clone());
                    continue;
                }
                // Under the nearest ancestor the registry knows, else from the root.
                let segments: Vec<&str> = fides.split('.').collect();
                let mut made = String::new();
                for depth in 1..=segments.len() {
                    let prefix = segments[..depth].join(".");
                    if let Some(k) = by_fides.get(&prefix) {
                        made = k.clone();
                        continue;
                    }
                    let key = if made.is_empty() {
                        registry_key_of(segments[depth - 1])
                    } else {
                        format!("{made}.{}", registry_key_of(segments[depth - 1]))
                    };
                    let name = category_names
                        .get(prefix.as_str())
                        .and_then(|t| t.name.clone())
                        .unwrap_or_else(|| segments[depth - 1].replace('_', " "));
                    base.data_categories.push(DataCategoryInput {
                        key: key.clone(),
                        name,
                        description: Some(format!(
                            "fideslang data category `{prefix}`, imported from a Fides manifest"
                        )),
                        special_category: false,
                        fides_key: Some(prefix.clone()),
                    });
                    by_fides.insert(prefix, key.clone());
                    made = key;
                }
                categories.push(made);
            }
            categories.sort();
            categories.dedup();
            let mut subjects = Vec::new();
            for fides in &declaration.data_subjects {
                let k = registry_key_of(fides);
                if !base.data_subjects.iter().any(|s| s.key == k) {
                    let term = subject_names.get(fides.as_str());
                    base.data_subjects.push(TermInput {
                        key: k.clone(),
                        name: term
                            .and_then(|t| t.name.clone())
                            .unwrap_or_else(|| fides.replace('_', " ")),
                        description: Some(format!(
                            "fideslang data subject `{fides}`, imported from a Fides manifest"
                        )),
                    });
                }
                subjects.push(k);
            }
            subjects.sort();
            subjects.dedup();
            if categories.is_empty() || subjects.is_empty() {
                problems.push(problem(
                    entry.clone(),
                    Some(system.fides_key.clone()),
                    Some(if categories.is_empty() { "data_categories" } else { "data_subjects" }),
                    "a data flow sends at least one data category about at least one data subject category".into(),
                ));
                continue;
            }
            // The activity of the data use.
            let activity_key = registry_key_of(&format!("fides_{}", declaration.data_use));
            let basis = declaration
                .legal_basis_for_processing
                .as_deref()
                .and_then(legal_basis_of);
            match base
                .processing_activities
                .iter_mut()
                .find(|a| a.key == activity_key)
            {
                Some(activity) => {
                    for c in &categories {
                        if !activity.data_categories.iter().any(|a| crate::registry::rules::category_covers(a, c)) {
                            activity.data_categories.push(c.clone());
                        }
                    }
                    for s in &subjects {
                        if !activity.data_subjects.contains(s) {
                            activity.data_subjects.push(s.clone());
                        }
                    }
                }
                None => base.processing_activities.push(ActivityInput {
                    key: activity_key.clone(),
                    name: format!("{} (fideslang data use)", declaration.data_use),
                    description: None,
                    organization_role: OrganizationRole::Controller,
                    controllers: Vec::new(),
                    purposes: vec![declaration
                        .name
                        .clone()
                        .unwrap_or_else(|| declaration.data_use.clone())],
                    legal_basis: basis,
                    data_subjects: subjects.clone(),
                    data_categories: categories.clone(),
                    products: Vec::new(),
                    retention_period: None,
                    retention_from: None,
                    retention_reason: declaration.retention_period.clone(),
                    security_measures: Vec::new(),
                    special_category_condition: None,
                    assumptions: vec![
                        format!("Imported from {source}: fideslang has no processing activity; one per data use (`{}`)", declaration.data_use),
                        "fideslang does not say whether the organization acts as controller or processor: assumed controller".into(),
                    ],
                    sources: vec![source.clone()],
                }),
            }
            let flow = FlowInput {
                activity: activity_key,
                recipient: key.clone(),
                via: None,
                exporter: None,
                role: None,
                purpose: declaration.name.clone(),
                data_categories: categories,
                data_subjects: subjects,
                countries: vec![country.clone()],
                transfers: Vec::new(),
                assumptions: vec![format!(
                    "fideslang records no destination country: assumed the recipient's country ({country})"
                )],
                sources: vec![format!(
                    "{source}, privacy declaration `{}`",
                    declaration.name.as_deref().unwrap_or(&declaration.data_use)
                )],
            };
            let identity = read::FlowIdentity::of(&flow);
            match base
                .data_flows
                .iter_mut()
                .find(|f| read::FlowIdentity::of(f) == identity)
            {
                Some(existing) => *existing = flow,
                None => base.data_flows.push(flow),
            }
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems),
    }
}

/// The line (from 1) of the system in `text` whose `fides_key` is `key`: where a problem with
/// it is shown. Only the `system:` section is searched (a dataset may share the key).
fn line_naming(text: &str, key: &str) -> Option<usize> {
    let mut in_systems = false;
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with([' ', '-', '#']) && !line.trim().is_empty() {
            in_systems = line.trim_end().trim_end_matches(':') == "system";
            continue;
        }
        let item = line.trim_start().trim_start_matches("- ").trim_start();
        let value = item.strip_prefix("fides_key:").map(|v| {
            let v = v.split(" #").next().unwrap_or_default().trim();
            v.trim_matches(|c| c == '"' || c == '\'')
        });
        if in_systems && value == Some(key) {
            return Some(i + 1);
        }
    }
    None
}

/// Plans (`commit == false`) or applies a fideslang manifest: merged into the live registry,
/// then run as a registry manifest.
pub async fn run_text(
    registry: &Registry,
    text: &str,
    options: Options,
    actor: &Actor,
    reason: Option<&str>,
    commit: bool,
) -> Result<Plan, ManifestError> {
    let manifest: FidesManifest = serde_yaml_ng::from_str(text).map_err(|e| {
        ManifestError::Invalid(vec![Problem {
            line: e.location().map(|l| l.line()),
            entry: String::new(),
            key: None,
            field: None,
            message: format!("not a fideslang manifest: {e}"),
        }])
    })?;
    let db = registry.pool().ok_or_else(|| {
        RegistryError::Conflict("a manifest cannot be applied inside a batch".into())
    })?;
    let mut file = read::live(db).await?.to_file().map_err(|_| {
        ManifestError::Invalid(vec![problem(
            "organization".into(),
            None,
            None,
            "the registry has no organization yet, and fideslang's has no country: load a registry first".into(),
        )])
    })?;
    merge(&mut file, &manifest).map_err(|mut problems| {
        for p in &mut problems {
            p.line = p.key.as_deref().and_then(|key| line_naming(text, key));
        }
        ManifestError::Invalid(problems)
    })?;
    let parsed = Parsed {
        file,
        locator: Locator::default(),
    };
    match super::plan::run(registry, &parsed, options, actor, reason, commit).await {
        // The registry's refusals name the entries the systems became: shown on the system's
        // line.
        Err(ManifestError::Invalid(mut problems)) => {
            for p in &mut problems {
                let system = manifest
                    .system
                    .iter()
                    .find(|s| p.key.as_deref() == Some(registry_key_of(&s.fides_key).as_str()));
                if p.line.is_none()
                    && let Some(system) = system
                {
                    p.line = line_naming(text, &system.fides_key);
                }
            }
            Err(ManifestError::Invalid(problems))
        }
        outcome => outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::line_naming;

    #[test]
    fn a_problem_with_a_system_is_shown_on_the_line_that_names_it() {
        let text = "dataset:\n- fides_key: crm\nsystem:\n- fides_key: shop\n  name: Shop\n-   fides_key: 'crm'  # the CRM\n  name: CRM\n";
        assert_eq!(line_naming(text, "shop"), Some(4));
        assert_eq!(line_naming(text, "crm"), Some(6));
        assert_eq!(line_naming(text, "other"), None);
    }
}
