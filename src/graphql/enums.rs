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
    /// Only transmits the content (a carrier): neither controller nor processor of it.
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
    /// An adequacy decision of the European Commission (Art. 45).
    AdequacyDecision,
    /// Standard contractual clauses, Decision 2021/914 (Art. 46(2)(c)).
    StandardContractualClauses,
    /// The UK International Data Transfer Agreement.
    UkIdta,
    /// The UK Addendum to the EU standard contractual clauses.
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

/// What an adequacy decision covers.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::reference::AdequacyScope")]
pub enum AdequacyScope {
    /// Every recipient in the country.
    Full,
    /// Only organisations subject to the country's commercial privacy law (Canada, PIPEDA).
    CommercialOrganisations,
    /// Only organisations certified under a framework (US: EU-US Data Privacy Framework).
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
