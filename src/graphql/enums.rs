//! The API's enums, mirrored from the stored ones so that the two can evolve apart.

use async_graphql::Enum;

/// The stored values of an optional list of API enum values (a filter's): none when absent.
pub fn stored<T, U: From<T>>(values: Option<Vec<T>>) -> Vec<U> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(U::from)
        .collect()
}

/// What kind of party a recipient is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::RecipientKind")]
pub enum RecipientKind {
    /// A company of the organization's own group.
    Affiliate,
    /// A payment service provider (Stripe, Mollie, Adyen...).
    PaymentServiceProvider,
    /// A telecom operator, aggregator, carrier or over-the-top messaging provider.
    TelecomOperator,
    /// An analytics or advertising provider.
    AnalyticsProvider,
    /// A cloud or hosting provider.
    HostingProvider,
    /// Any other service provider.
    ServiceProvider,
    /// A public authority that receives data under a legal obligation.
    PublicAuthority,
    /// A customer receiving its own data back: the controller the organization processes for
    /// (a transfer to it from an activity performed for customers is SCC module 4).
    Customer,
}

/// The role a recipient plays for the data it receives.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::RecipientRole")]
pub enum RecipientRole {
    /// Decides the purposes and means of its own processing (GDPR Art. 4(7)).
    Controller,
    /// Decides the purposes and means together with the organization (Art. 26).
    JointController,
    /// Processes on the organization's behalf and instructions (Art. 4(8), Art. 28).
    Processor,
    /// Only conveys the data (a carrier, for message content): neither controller nor processor
    /// of it, so a flow to it is no transfer under GDPR Chapter V and takes no mechanism (EDPB
    /// Guidelines 05/2021: an importer is a controller, joint controller or processor). What the
    /// same recipient processes for its own purposes (billing, fraud prevention) is a flow in
    /// its controller role, with its transfers.
    MereConduit,
}

/// The organization's own role in a processing activity.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::OrganizationRole")]
pub enum OrganizationRole {
    /// Its own processing (billing, marketing...): recorded under Art. 30(1).
    Controller,
    /// Processing on customers' behalf: recorded under Art. 30(2).
    Processor,
}

/// A recipient's lifecycle.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::RecipientStatus")]
pub enum RecipientStatus {
    /// Under consideration; not yet told to customers.
    Proposed,
    /// Told to customers; the notice period for objections is running.
    Announced,
    /// Receiving personal data.
    Active,
    /// No longer receiving personal data.
    Retired,
}

/// The lawful basis of a processing activity (GDPR Art. 6(1)).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::LegalBasis")]
pub enum LegalBasis {
    /// Art. 6(1)(a).
    Consent,
    /// Art. 6(1)(b).
    Contract,
    /// Art. 6(1)(c).
    LegalObligation,
    /// Art. 6(1)(d).
    VitalInterests,
    /// Art. 6(1)(e).
    PublicTask,
    /// Art. 6(1)(f).
    LegitimateInterests,
}

/// The GDPR Chapter V instrument a transfer outside the EEA relies on.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::TransferMechanism")]
pub enum TransferMechanism {
    /// An adequacy finding of the exporter's regime: a European Commission decision (Art. 45
    /// GDPR), UK adequacy regulations, or the Swiss Federal Council's list (Annex 1 DPO).
    AdequacyDecision,
    /// Standard contractual clauses, Decision 2021/914 (Art. 46(2)(c) GDPR); under the Swiss
    /// FADP, with the FDPIC's amendments of 27 August 2021. Under the UK GDPR they need the UK
    /// Addendum.
    StandardContractualClauses,
    /// The UK International Data Transfer Agreement: an instrument of the UK GDPR only.
    UkIdta,
    /// The UK Addendum to the EU standard contractual clauses (with their module): an
    /// instrument of the UK GDPR only.
    UkAddendum,
    /// Binding corporate rules (Art. 47).
    BindingCorporateRules,
    /// An approved code of conduct (Art. 46(2)(e)).
    CodeOfConduct,
    /// An approved certification mechanism (Art. 46(2)(f)).
    Certification,
    /// Clauses authorised by a supervisory authority (Art. 46(3)(a)).
    AdHocClauses,
    /// A derogation for a specific situation (Art. 49).
    Derogation,
}

/// The Art. 49 derogation a transfer relies on.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::Derogation")]
pub enum Derogation {
    /// Art. 49(1)(a): the data subject's explicit consent.
    ExplicitConsent,
    /// Art. 49(1)(b): necessary for a contract with the data subject.
    ContractWithDataSubject,
    /// Art. 49(1)(c): necessary for a contract in the data subject's interest.
    ContractInDataSubjectInterest,
    /// Art. 49(1)(d): important reasons of public interest.
    ImportantPublicInterest,
    /// Art. 49(1)(e): legal claims.
    LegalClaims,
    /// Art. 49(1)(f): vital interests.
    VitalInterests,
    /// Art. 49(1)(g): transfer from a public register.
    PublicRegister,
    /// Art. 49(1), second subparagraph: compelling legitimate interests, with documented
    /// safeguards.
    CompellingLegitimateInterests,
}

/// The law a transfer is made under: the exporter's.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::reference::Regime")]
pub enum Regime {
    /// Regulation (EU) 2016/679: an exporter in the EEA, whose free-flow area is the EEA.
    EuGdpr,
    /// The UK GDPR and the Data Protection Act 2018: an exporter in the United Kingdom.
    UkGdpr,
    /// The Swiss Federal Act on Data Protection: an exporter in Switzerland.
    SwissFadp,
}

/// Who sends a transfer's data across the border.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::registry::transfers::ExporterParty")]
pub enum ExporterParty {
    /// The organization that keeps the registry.
    Organization,
    /// One of the organization's establishments (an affiliate), sending the data of a direct
    /// flow itself.
    Establishment,
    /// The recipient that forwards the data in an onward flow.
    Forwarder,
}

/// The exporter's role for the data, which gives the SCC module on its side.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::registry::transfers::ExporterRole")]
pub enum ExporterRole {
    /// It decides the purposes and means (the organization in its own processing).
    Controller,
    /// It processes on someone else's behalf (the organization for its customers, a
    /// subprocessor passing data on).
    Processor,
    /// A forwarder that only conveys the data.
    Conduit,
}

/// What a retention period runs from (Art. 30(1)(f)).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::RetentionStart")]
pub enum RetentionStart {
    /// From the collection of the data.
    Collection,
    /// From the end of the contract.
    EndOfContract,
    /// From the data subject's last activity (last contact, last login).
    LastActivity,
    /// From the event a legal obligation names (such as the end of a financial year).
    LegalObligationEvent,
    /// For the duration of the contract, with no period: the data is erased when it ends.
    DurationOfContract,
}

/// What an adequacy decision covers.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::reference::AdequacyScope")]
pub enum AdequacyScope {
    /// Every importer the country's general law covers.
    Full,
    /// Only organisations subject to the country's commercial privacy law (Canada, PIPEDA):
    /// not public authorities.
    CommercialOrganisations,
    /// Only the private sector (Japan, business operators under the APPI): not public
    /// authorities.
    PrivateSector,
    /// Only organisations certified under the decision's framework (US: the EU-U.S. Data
    /// Privacy Framework, its UK Extension, the Swiss-U.S. framework).
    CertifiedOrganisations,
}

/// Where a customer's objection stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::ObjectionStatus")]
pub enum ObjectionStatus {
    /// Received; not yet looked at.
    Received,
    /// Being reviewed with the customer.
    UnderReview,
    /// Accommodated: the customer's data will not go to the subprocessor, or it was withdrawn.
    Accommodated,
    /// Rejected, with the reasons given to the customer.
    Rejected,
}

/// What an API key lets its holder do; each role includes the ones before it. Without a key,
/// a caller sees the public subprocessor list and its changes only.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::Role")]
pub enum Role {
    /// A customer's own key: the public view, plus its own webhook endpoints and their
    /// deliveries.
    Subscriber,
    /// Reads everything: all recipients and data flows, the record, the findings.
    Viewer,
    /// Also changes the registry.
    Editor,
    /// Also creates and revokes API keys.
    Admin,
}
