//! Enumerations stored as short strings, so that SQLite and PostgreSQL hold the same values and a
//! row stays readable in a plain SQL client.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What kind of party a recipient is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecipientKind {
    #[sea_orm(string_value = "AFFILIATE")]
    Affiliate,
    #[sea_orm(string_value = "PAYMENT_SERVICE_PROVIDER")]
    PaymentServiceProvider,
    #[sea_orm(string_value = "TELECOM_OPERATOR")]
    TelecomOperator,
    #[sea_orm(string_value = "ANALYTICS_PROVIDER")]
    AnalyticsProvider,
    #[sea_orm(string_value = "HOSTING_PROVIDER")]
    HostingProvider,
    #[sea_orm(string_value = "SERVICE_PROVIDER")]
    ServiceProvider,
    #[sea_orm(string_value = "PUBLIC_AUTHORITY")]
    PublicAuthority,
    /// A customer receiving its own data back: the controller the organization processes for.
    #[sea_orm(string_value = "CUSTOMER")]
    Customer,
}

/// The role a recipient plays for the data it receives in a flow.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecipientRole {
    #[sea_orm(string_value = "CONTROLLER")]
    Controller,
    #[sea_orm(string_value = "JOINT_CONTROLLER")]
    JointController,
    #[sea_orm(string_value = "PROCESSOR")]
    Processor,
    #[sea_orm(string_value = "MERE_CONDUIT")]
    MereConduit,
}

/// The organization's own role in a processing activity.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrganizationRole {
    #[sea_orm(string_value = "CONTROLLER")]
    Controller,
    #[sea_orm(string_value = "PROCESSOR")]
    Processor,
}

/// A recipient's lifecycle: proposed, announced to customers (notice period running), active,
/// retired.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecipientStatus {
    #[sea_orm(string_value = "PROPOSED")]
    Proposed,
    #[sea_orm(string_value = "ANNOUNCED")]
    Announced,
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "RETIRED")]
    Retired,
}

/// The lawful basis of a processing activity (GDPR Art. 6(1)(a)-(f)).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LegalBasis {
    #[sea_orm(string_value = "CONSENT")]
    Consent,
    #[sea_orm(string_value = "CONTRACT")]
    Contract,
    #[sea_orm(string_value = "LEGAL_OBLIGATION")]
    LegalObligation,
    #[sea_orm(string_value = "VITAL_INTERESTS")]
    VitalInterests,
    #[sea_orm(string_value = "PUBLIC_TASK")]
    PublicTask,
    #[sea_orm(string_value = "LEGITIMATE_INTERESTS")]
    LegitimateInterests,
}

/// The GDPR Chapter V instrument a transfer outside the EEA relies on.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(40))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransferMechanism {
    #[sea_orm(string_value = "ADEQUACY_DECISION")]
    AdequacyDecision,
    #[sea_orm(string_value = "STANDARD_CONTRACTUAL_CLAUSES")]
    StandardContractualClauses,
    #[sea_orm(string_value = "UK_IDTA")]
    UkIdta,
    #[sea_orm(string_value = "UK_ADDENDUM")]
    UkAddendum,
    #[sea_orm(string_value = "BINDING_CORPORATE_RULES")]
    BindingCorporateRules,
    #[sea_orm(string_value = "CODE_OF_CONDUCT")]
    CodeOfConduct,
    #[sea_orm(string_value = "CERTIFICATION")]
    Certification,
    #[sea_orm(string_value = "AD_HOC_CLAUSES")]
    AdHocClauses,
    #[sea_orm(string_value = "DEROGATION")]
    Derogation,
}

/// The Art. 49 derogation a transfer relies on when no Art. 45 or 46 instrument applies.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(40))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Derogation {
    #[sea_orm(string_value = "EXPLICIT_CONSENT")]
    ExplicitConsent,
    #[sea_orm(string_value = "CONTRACT_WITH_DATA_SUBJECT")]
    ContractWithDataSubject,
    #[sea_orm(string_value = "CONTRACT_IN_DATA_SUBJECT_INTEREST")]
    ContractInDataSubjectInterest,
    #[sea_orm(string_value = "IMPORTANT_PUBLIC_INTEREST")]
    ImportantPublicInterest,
    #[sea_orm(string_value = "LEGAL_CLAIMS")]
    LegalClaims,
    #[sea_orm(string_value = "VITAL_INTERESTS")]
    VitalInterests,
    #[sea_orm(string_value = "PUBLIC_REGISTER")]
    PublicRegister,
    #[sea_orm(string_value = "COMPELLING_LEGITIMATE_INTERESTS")]
    CompellingLegitimateInterests,
}

/// What a change-log row records.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    #[sea_orm(string_value = "RECIPIENT_CREATED")]
    RecipientCreated,
    #[sea_orm(string_value = "RECIPIENT_UPDATED")]
    RecipientUpdated,
    #[sea_orm(string_value = "RECIPIENT_ANNOUNCED")]
    RecipientAnnounced,
    #[sea_orm(string_value = "RECIPIENT_ACTIVATED")]
    RecipientActivated,
    #[sea_orm(string_value = "RECIPIENT_RETIRED")]
    RecipientRetired,
    #[sea_orm(string_value = "RECIPIENT_DELETED")]
    RecipientDeleted,
    #[sea_orm(string_value = "FLOW_CREATED")]
    FlowCreated,
    #[sea_orm(string_value = "FLOW_UPDATED")]
    FlowUpdated,
    #[sea_orm(string_value = "FLOW_DELETED")]
    FlowDeleted,
    #[sea_orm(string_value = "ACTIVITY_CREATED")]
    ActivityCreated,
    #[sea_orm(string_value = "ACTIVITY_UPDATED")]
    ActivityUpdated,
    #[sea_orm(string_value = "ACTIVITY_DELETED")]
    ActivityDeleted,
}

/// What a retention period runs from (Art. 30(1)(f)): the event that starts it, or, for
/// data kept for the duration of the contract, the contract itself.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetentionStart {
    /// The period runs from the collection of the data.
    #[sea_orm(string_value = "COLLECTION")]
    Collection,
    /// The period runs from the end of the contract.
    #[sea_orm(string_value = "END_OF_CONTRACT")]
    EndOfContract,
    /// The period runs from the data subject's last activity (last contact, last login).
    #[sea_orm(string_value = "LAST_ACTIVITY")]
    LastActivity,
    /// The period runs from the event a legal obligation names (the end of a financial year).
    #[sea_orm(string_value = "LEGAL_OBLIGATION_EVENT")]
    LegalObligationEvent,
    /// The data is kept for the duration of the contract and erased when it ends: no period.
    #[sea_orm(string_value = "DURATION_OF_CONTRACT")]
    DurationOfContract,
}

/// What a change-log row is about. Follows from the event's kind (see
/// [`ChangeKind::entity_type`]); stored beside it so that an entity's history is one index range.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    #[sea_orm(string_value = "RECIPIENT")]
    Recipient,
    #[sea_orm(string_value = "DATA_FLOW")]
    DataFlow,
    #[sea_orm(string_value = "PROCESSING_ACTIVITY")]
    ProcessingActivity,
}

impl ChangeKind {
    /// The kind of entity an event of this kind is about.
    pub fn entity_type(self) -> EntityType {
        use ChangeKind::*;
        match self {
            RecipientCreated | RecipientUpdated | RecipientAnnounced | RecipientActivated
            | RecipientRetired | RecipientDeleted => EntityType::Recipient,
            FlowCreated | FlowUpdated | FlowDeleted => EntityType::DataFlow,
            ActivityCreated | ActivityUpdated | ActivityDeleted => EntityType::ProcessingActivity,
        }
    }
}

/// Where a customer's objection stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ObjectionStatus {
    #[sea_orm(string_value = "RECEIVED")]
    Received,
    #[sea_orm(string_value = "UNDER_REVIEW")]
    UnderReview,
    #[sea_orm(string_value = "ACCOMMODATED")]
    Accommodated,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

/// What an API key lets its holder do. Each role includes the ones before it: a caller without a
/// key sees only the public subprocessor list and its changes.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// A customer's own key: the public view, plus its own webhook endpoints and their
    /// deliveries.
    #[sea_orm(string_value = "SUBSCRIBER")]
    Subscriber,
    /// Reads everything: all recipients and data flows, the record, the findings.
    #[sea_orm(string_value = "VIEWER")]
    Viewer,
    /// Also changes the registry.
    #[sea_orm(string_value = "EDITOR")]
    Editor,
    /// Also creates and revokes API keys.
    #[sea_orm(string_value = "ADMIN")]
    Admin,
}

/// How a notice reaches a customer.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoticeChannel {
    /// An email address.
    #[sea_orm(string_value = "EMAIL")]
    Email,
    /// A webhook endpoint (Standard Webhooks).
    #[sea_orm(string_value = "WEBHOOK")]
    Webhook,
}

/// Which public changes a subscriber is told of.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoticeScope {
    /// Announcements of new subprocessors only (GDPR Art. 28(2)).
    #[sea_orm(string_value = "ANNOUNCEMENTS")]
    Announcements,
    /// Every change on the public feed.
    #[sea_orm(string_value = "ALL_PUBLIC_CHANGES")]
    AllPublicChanges,
}

/// Where a subscriber stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriberStatus {
    /// Waiting for the address's owner to confirm (double opt-in).
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Receives notices.
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    /// Unsubscribed by its owner or removed by an editor.
    #[sea_orm(string_value = "UNSUBSCRIBED")]
    Unsubscribed,
    /// A webhook endpoint that answered 410 Gone or kept failing.
    #[sea_orm(string_value = "DISABLED")]
    Disabled,
}

/// How a subscriber came to be.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriberSource {
    /// Subscribed on the public page, confirmed by double opt-in.
    #[sea_orm(string_value = "SELF_SERVICE")]
    SelfService,
    /// Added by an editor (a contractual notice address, an endpoint for a named customer).
    #[sea_orm(string_value = "EDITOR")]
    Editor,
    /// Registered by the customer itself with a SUBSCRIBER key.
    #[sea_orm(string_value = "SUBSCRIBER_KEY")]
    SubscriberKey,
}

/// What a delivery carries.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoticeKind {
    /// A public change of the log.
    #[sea_orm(string_value = "CHANGE")]
    Change,
    /// The double opt-in confirmation request.
    #[sea_orm(string_value = "CONFIRMATION")]
    Confirmation,
    /// The owner of a webhook endpoint is told it was disabled.
    #[sea_orm(string_value = "ENDPOINT_DISABLED")]
    EndpointDisabled,
}

/// Where a delivery stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    #[sea_orm(string_value = "QUEUED")]
    Queued,
    /// The mail server or the endpoint accepted it.
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    /// Refused for good (SMTP 5xx).
    #[sea_orm(string_value = "BOUNCED")]
    Bounced,
    /// Every retry failed, or the endpoint is gone.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// Not sent: the subscriber left before its turn.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// What one attempt came to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptOutcome {
    /// Accepted (SMTP 2xx, HTTP 2xx, or written to the mail directory).
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    /// A temporary failure (SMTP 4xx, HTTP 429 or 5xx, a timeout, a refused connection):
    /// retried.
    #[sea_orm(string_value = "DEFERRED")]
    Deferred,
    /// A permanent refusal (SMTP 5xx, HTTP 410 Gone).
    #[sea_orm(string_value = "REFUSED")]
    Refused,
}
