//! The Chapter V rules of a transfer, each written once and called by the validation, the
//! findings and the API: who exports it (and so under which regime), which SCC module the
//! parties' roles give, whether the recipient receives it as an importer at all, and which
//! derogations the EDPB reads as for occasional transfers only.
//!
//! - **Exporter.** The organization (or one of its establishments, an affiliate the flow names
//!   as its `exporter`) for a direct flow; the forwarding recipient (`via`) for an onward flow.
//! - **Regime.** The exporter's country's: EU GDPR in the EEA, UK GDPR in the United Kingdom,
//!   Swiss FADP in Switzerland. An exporter elsewhere (a recipient in a third country passing
//!   data on) makes an onward transfer, which stays under the regime the data left: the
//!   organization's (GDPR Art. 44, "including for onward transfers").
//! - **Module.** Decision (EU) 2021/914: controller to controller 1, controller to processor 2,
//!   processor to processor 3, processor to controller 4, the last only where the importer is
//!   the controller the exporter processes for (a customer, in this registry). A processor
//!   sending to a third party acting as an independent controller (a carrier's own billing and
//!   fraud prevention) has no module.
//! - **Mere conduit.** A recipient that only conveys the data is neither controller nor
//!   processor of it, so the flow is no transfer under Chapter V (EDPB Guidelines 05/2021,
//!   criterion 2: the importer is a controller, joint controller or processor).

use crate::reference::Regime;
use entity::{Derogation, OrganizationRole, RecipientKind, RecipientRole};

/// Who sends the data across the border.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExporterParty {
    /// The organization that keeps the registry.
    Organization,
    /// One of the organization's establishments (an affiliate) sending the data itself.
    Establishment,
    /// The recipient that forwards the data in an onward flow.
    Forwarder,
}

/// The exporter's role for the data: what decides the SCC module on its side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExporterRole {
    Controller,
    Processor,
    /// A forwarder that only conveys the data: it decides nothing, so no module follows.
    Conduit,
}

/// The exporter of a flow's transfers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exporter {
    pub party: ExporterParty,
    /// The exporter's legal name.
    pub name: String,
    /// Its country of establishment (ISO 3166-1 alpha-2).
    pub country: String,
    pub role: ExporterRole,
    /// The law the transfer is made under.
    pub regime: Regime,
}

/// A party named by its legal name and country.
#[derive(Clone, Copy, Debug)]
pub struct Party<'a> {
    pub name: &'a str,
    pub country: &'a str,
}

/// The regime of an exporter in `exporter_country`: its own if it has one of the three, else
/// (an onward transfer from a third country) the organization's; the EU GDPR when the
/// organization is not recorded either.
pub fn regime_of(exporter_country: &str, organization_country: Option<&str>) -> Regime {
    Regime::of_country(exporter_country)
        .or_else(|| organization_country.and_then(Regime::of_country))
        .unwrap_or(Regime::EuGdpr)
}

/// The role a forwarder plays for an activity's data, from its roles in the activity's flows
/// to it (its default role when the activity sends it nothing directly): a processor if it
/// processes any of it for the activity, else a controller if it controls any, else a conduit.
pub fn forwarder_role(
    roles_in_activity: impl IntoIterator<Item = RecipientRole>,
    default_role: RecipientRole,
) -> ExporterRole {
    let roles: Vec<RecipientRole> = roles_in_activity.into_iter().collect();
    let roles = if roles.is_empty() {
        vec![default_role]
    } else {
        roles
    };
    if roles.contains(&RecipientRole::Processor) {
        ExporterRole::Processor
    } else if roles.iter().any(|r| {
        matches!(
            r,
            RecipientRole::Controller | RecipientRole::JointController
        )
    }) {
        ExporterRole::Controller
    } else {
        ExporterRole::Conduit
    }
}

/// The organization's role in an activity, as an exporter's.
pub fn organization_exporter_role(role: OrganizationRole) -> ExporterRole {
    match role {
        OrganizationRole::Controller => ExporterRole::Controller,
        OrganizationRole::Processor => ExporterRole::Processor,
    }
}

/// The exporter of a flow of an activity the organization performs as `activity_role`:
/// `via` (with its role in the activity) for an onward flow, else `establishment`, else the
/// organization itself.
pub fn exporter_of(
    organization: Party<'_>,
    activity_role: OrganizationRole,
    via: Option<(Party<'_>, ExporterRole)>,
    establishment: Option<Party<'_>>,
) -> Exporter {
    let org_country = Some(organization.country).filter(|c| !c.is_empty());
    let (party, who, role) = match (via, establishment) {
        (Some((via, role)), _) => (ExporterParty::Forwarder, via, role),
        (None, Some(establishment)) => (
            ExporterParty::Establishment,
            establishment,
            organization_exporter_role(activity_role),
        ),
        (None, None) => (
            ExporterParty::Organization,
            organization,
            organization_exporter_role(activity_role),
        ),
    };
    Exporter {
        party,
        name: who.name.to_owned(),
        country: who.country.to_owned(),
        role,
        regime: regime_of(who.country, org_country),
    }
}

/// What the parties' roles make of standard contractual clauses (Decision 2021/914).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleRule {
    /// The importer is a mere conduit: the flow is no transfer (EDPB Guidelines 05/2021).
    NotATransfer,
    /// The module the roles give.
    Module(i16),
    /// A processor's transfer to a third party acting as an independent controller: no
    /// module fits.
    NoneFits,
    /// The exporter only conveys the data: the registry cannot name a module.
    Undetermined,
}

/// Whether `importer`, a controller, is the controller the exporter processes for: a
/// customer of the organization receiving its own data back from an activity the
/// organization performs for its customers.
pub fn is_served_controller(activity_role: OrganizationRole, importer_kind: RecipientKind) -> bool {
    activity_role == OrganizationRole::Processor && importer_kind == RecipientKind::Customer
}

/// The SCC module of a transfer from an exporter in `exporter` role to an importer in
/// `importer` role; `served_controller` when the importer is the controller the exporter
/// processes for (see [`is_served_controller`]).
pub fn scc_module(
    exporter: ExporterRole,
    importer: RecipientRole,
    served_controller: bool,
) -> ModuleRule {
    use RecipientRole::*;
    match (exporter, importer) {
        (_, MereConduit) => ModuleRule::NotATransfer,
        (ExporterRole::Conduit, _) => ModuleRule::Undetermined,
        (ExporterRole::Controller, Controller | JointController) => ModuleRule::Module(1),
        (ExporterRole::Controller, Processor) => ModuleRule::Module(2),
        (ExporterRole::Processor, Processor) => ModuleRule::Module(3),
        (ExporterRole::Processor, Controller | JointController) if served_controller => {
            ModuleRule::Module(4)
        }
        (ExporterRole::Processor, Controller | JointController) => ModuleRule::NoneFits,
    }
}

/// What standard contractual clauses make of a flow's parties: an exporter in `exporter`
/// role, for an activity the organization performs as `activity_role`, sending to an importer
/// of `importer_kind` that receives the data as `importer`.
pub fn module_rule(
    exporter: ExporterRole,
    activity_role: OrganizationRole,
    importer: RecipientRole,
    importer_kind: RecipientKind,
) -> ModuleRule {
    scc_module(
        exporter,
        importer,
        is_served_controller(activity_role, importer_kind),
    )
}

/// The module SCCs are recorded with where [`ModuleRule::NoneFits`]: module 1, concluded on
/// behalf of the controllers the exporter processes for (they instruct the disclosure), with
/// that position documented. A judgement call: an authority may see the processor as the
/// exporter, with no module at all.
pub const NONE_FITS_POSITION_MODULE: i16 = 1;

/// A party's role, as a sentence names it.
pub fn role_words(role: RecipientRole) -> &'static str {
    match role {
        RecipientRole::Controller => "an independent controller",
        RecipientRole::JointController => "a joint controller",
        RecipientRole::Processor => "a processor",
        RecipientRole::MereConduit => "a mere conduit",
    }
}

pub fn exporter_role_words(role: ExporterRole) -> &'static str {
    match role {
        ExporterRole::Controller => "controller",
        ExporterRole::Processor => "processor",
        ExporterRole::Conduit => "a mere conduit",
    }
}

/// The parties of an SCC module.
pub fn module_parties(module: i16) -> &'static str {
    match module {
        1 => "controller to controller",
        2 => "controller to processor",
        3 => "processor to processor",
        4 => "processor to controller",
        _ => "not a module of Decision 2021/914",
    }
}

/// The modules an importer's default role allows, for a recipient's summary safeguard, whose
/// exporter's role is not known (the organization may be controller or processor).
pub fn modules_for_default_role(default_role: RecipientRole) -> &'static [i16] {
    match default_role {
        RecipientRole::Processor => &[2, 3],
        RecipientRole::Controller | RecipientRole::JointController => &[1, 4],
        RecipientRole::MereConduit => &[1, 2, 3, 4],
    }
}

/// Derogations recital 111 limits to occasional transfers: (1)(b), (1)(c) and (1)(e). The EDPB
/// reads "occasional" as outside the regular course of action, so never a flow the registry
/// records as ongoing processing (Guidelines 2/2018, §1 and §2.2-2.3, §2.5).
pub fn occasional_only(derogation: Derogation) -> bool {
    matches!(
        derogation,
        Derogation::ContractWithDataSubject
            | Derogation::ContractInDataSubjectInterest
            | Derogation::LegalClaims
    )
}

/// Derogations a recurring flow may rest on only with a documented assessment (Art. 49(6))
/// of why they apply, and which the findings report: the occasional-only ones, explicit
/// consent (specific to the transfer and informed of its risks, Guidelines 2/2018 §2.1) and
/// compelling legitimate interests (not repetitive, Art. 49(1) second subparagraph).
pub fn strained_by_recurrence(derogation: Derogation) -> bool {
    occasional_only(derogation)
        || matches!(
            derogation,
            Derogation::ExplicitConsent | Derogation::CompellingLegitimateInterests
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn each_role_pair_gives_its_module() {
        use RecipientRole::*;
        let c = ExporterRole::Controller;
        let p = ExporterRole::Processor;
        assert_eq!(scc_module(c, Controller, false), ModuleRule::Module(1));
        assert_eq!(scc_module(c, JointController, false), ModuleRule::Module(1));
        assert_eq!(scc_module(c, Processor, false), ModuleRule::Module(2));
        assert_eq!(scc_module(p, Processor, false), ModuleRule::Module(3));
        assert_eq!(scc_module(p, Controller, true), ModuleRule::Module(4));
        assert_eq!(scc_module(p, Controller, false), ModuleRule::NoneFits);
        for exporter in [c, p, ExporterRole::Conduit] {
            assert_eq!(
                scc_module(exporter, MereConduit, true),
                ModuleRule::NotATransfer
            );
        }
        assert_eq!(
            scc_module(ExporterRole::Conduit, Processor, false),
            ModuleRule::Undetermined
        );
    }

    #[test]
    fn the_exporter_is_the_forwarder_then_the_establishment_then_the_organization() {
        let org = Party {
            name: "MessageBird B.V.",
            country: "NL",
        };
        let uk = Party {
            name: "MessageBird UK Limited",
            country: "GB",
        };
        let segment = Party {
            name: "Twilio Inc.",
            country: "US",
        };
        let direct = exporter_of(org, OrganizationRole::Controller, None, None);
        assert_eq!(
            (direct.party, direct.regime, direct.role),
            (
                ExporterParty::Organization,
                Regime::EuGdpr,
                ExporterRole::Controller
            )
        );
        let from_uk = exporter_of(org, OrganizationRole::Processor, None, Some(uk));
        assert_eq!(
            (from_uk.party, from_uk.regime, from_uk.role),
            (
                ExporterParty::Establishment,
                Regime::UkGdpr,
                ExporterRole::Processor
            )
        );
        // An onward transfer from a third country stays under the organization's regime.
        let onward = exporter_of(
            org,
            OrganizationRole::Controller,
            Some((segment, ExporterRole::Processor)),
            Some(uk),
        );
        assert_eq!(
            (onward.party, onward.name.as_str(), onward.regime),
            (ExporterParty::Forwarder, "Twilio Inc.", Regime::EuGdpr)
        );
    }

    #[test]
    fn a_forwarder_is_a_processor_if_it_processes_any_of_the_activitys_data() {
        use RecipientRole::*;
        assert_eq!(
            forwarder_role([MereConduit, Processor], Controller),
            ExporterRole::Processor
        );
        assert_eq!(forwarder_role([], Controller), ExporterRole::Controller);
        assert_eq!(
            forwarder_role([MereConduit], Processor),
            ExporterRole::Conduit
        );
    }

    #[test]
    fn recital_111_limits_three_derogations_to_occasional_transfers() {
        let limited: Vec<Derogation> = Derogation::iter().filter(|d| occasional_only(*d)).collect();
        assert_eq!(limited.len(), 3);
        assert!(strained_by_recurrence(Derogation::ExplicitConsent));
        assert!(!strained_by_recurrence(Derogation::VitalInterests));
    }
}
