//! Notices to customers over GraphQL: editors add customers' contractual notice addresses and
//! register webhook endpoints for named customers; a customer with a SUBSCRIBER key registers
//! and manages its own endpoints; and the notice register, per change and per customer, is the
//! evidence that each was told (GDPR Art. 28(2)). A SUBSCRIBER sees its own endpoints and their
//! deliveries only; anything else of another customer answers as if it did not exist.

use super::Limits;
use super::auth::{Caller, EDITOR, SUBSCRIBER, VIEWER};
use super::connection::{Connection, PageItem, TotalCount};
use super::cursor::decode_after;
use super::error::{ApiResult, bad_input};
use super::relay::{expect_id, global_id};
use crate::changes::ChangeKey;
use crate::registry::Registry;
use crate::registry::notices::{
    DeliveryKey, NewEndpoint, NewSubscription, RegisterEntry, RegisterFilter, SubscriberFilter,
};
use crate::settings::NoticeSettings;
use async_graphql::{Context, Enum, Guard, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{NoticeChannel, Role, notice_attempt, notice_subscriber};

/// Which public changes a subscriber is told of.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::NoticeScope")]
pub enum NoticeScope {
    /// Announcements of new subprocessors only (GDPR Art. 28(2)).
    Announcements,
    /// Every change on the public feed.
    AllPublicChanges,
}

/// Where a subscriber stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::SubscriberStatus")]
pub enum SubscriberStatus {
    /// Waiting for the address's owner to confirm (double opt-in).
    Pending,
    /// Receives notices.
    Active,
    /// Unsubscribed by its owner, or removed.
    Unsubscribed,
    /// A webhook endpoint that answered 410 Gone or kept failing.
    Disabled,
}

/// What a delivery carries.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::NoticeKind")]
pub enum NoticeKind {
    /// A public change of the log.
    Change,
    /// The double opt-in confirmation request.
    Confirmation,
    /// The notice to an endpoint's owner that it was disabled.
    EndpointDisabled,
}

/// Where a delivery stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::DeliveryStatus")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Queued,
    /// The mail server or the endpoint accepted it.
    Accepted,
    /// Refused for good by the mail server (5xx).
    Bounced,
    /// Every retry failed, or the endpoint is gone.
    Failed,
    /// Not sent: the subscriber left before its turn.
    Cancelled,
}

/// What one attempt came to.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::AttemptOutcome")]
pub enum AttemptOutcome {
    /// Accepted (SMTP 2xx, HTTP 2xx, or written to the mail directory).
    Accepted,
    /// A temporary failure (SMTP 4xx, HTTP 429 or 5xx, a timeout): retried.
    Deferred,
    /// Refused for good (SMTP 5xx, HTTP 410 Gone).
    Refused,
}

/// Lets through a customer's own SUBSCRIBER key and editors, not viewers (read-only tools do
/// not register endpoints).
pub struct EndpointManagerGuard;

impl Guard for EndpointManagerGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = Caller::of(ctx);
        if caller.role() == Some(Role::Subscriber) {
            return Ok(());
        }
        caller.require(Role::Editor)
    }
}

/// The SUBSCRIBER key whose own things the caller may see; `None` for viewers and up.
fn owner(ctx: &Context<'_>) -> Option<i32> {
    let caller = Caller::of(ctx);
    match &caller.0 {
        Some(key) if key.role == Role::Subscriber => Some(key.key_id),
        _ => None,
    }
}

pub struct NoticeContact(notice_subscriber::Model);

/// A customer's email address that receives notices.
#[Object(guard = "VIEWER")]
impl NoticeContact {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id("NoticeContact", self.0.id)
    }
    /// The customer, when known.
    async fn customer(&self) -> Option<&str> {
        self.0.customer.as_deref()
    }
    /// The address.
    async fn email(&self) -> &str {
        &self.0.address
    }
    /// Which changes it is told of.
    async fn scope(&self) -> NoticeScope {
        self.0.scope.into()
    }
    /// Only changes concerning these products (keys); all when empty.
    async fn products(&self) -> &[String] {
        &self.0.products.0
    }
    /// Where it stands.
    async fn status(&self) -> SubscriberStatus {
        self.0.status.into()
    }
    /// Who added it: the address's owner on the public page, or an editor.
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    /// When it was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the owner confirmed it (or an editor added it).
    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.0.confirmed_at
    }
}

pub struct WebhookEndpoint(notice_subscriber::Model);

/// A customer's webhook endpoint (Standard Webhooks), without its secret.
#[Object(guard = "SUBSCRIBER")]
impl WebhookEndpoint {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id("WebhookEndpoint", self.0.id)
    }
    /// The customer it belongs to.
    async fn customer(&self) -> Option<&str> {
        self.0.customer.as_deref()
    }
    /// Where notices are POSTed.
    async fn url(&self) -> &str {
        &self.0.address
    }
    /// Which changes it is told of.
    async fn scope(&self) -> NoticeScope {
        self.0.scope.into()
    }
    /// Only changes concerning these products (keys); all when empty.
    async fn products(&self) -> &[String] {
        &self.0.products.0
    }
    /// Where it stands.
    async fn status(&self) -> SubscriberStatus {
        self.0.status.into()
    }
    /// Why it was disabled or removed.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// Where its owner is told when it is disabled.
    async fn contact_email(&self) -> Option<&str> {
        self.0.contact_email.as_deref()
    }
    /// How many secrets sign each request (two while a rotation runs).
    async fn signing_secrets(&self) -> i32 {
        self.0.secrets.0.len() as i32
    }
    /// When it was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An endpoint just registered or given a new secret: store the secret now, it is never shown
/// again.
#[derive(SimpleObject)]
#[graphql(guard = "SUBSCRIBER")]
pub struct WebhookEndpointWithSecret {
    /// The endpoint.
    endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`), shown only now.
    secret: String,
}

pub struct NoticeAttempt(notice_attempt::Model);

/// One attempt to deliver a notice.
#[Object(guard = "SUBSCRIBER")]
impl NoticeAttempt {
    /// When it was made.
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.attempted_at
    }
    /// What came of it.
    async fn outcome(&self) -> AttemptOutcome {
        self.0.outcome.into()
    }
    /// The SMTP reply code or the HTTP status.
    async fn code(&self) -> Option<i32> {
        self.0.code
    }
    /// The SMTP reply text, the HTTP reason, or where the message was written.
    async fn reply(&self) -> Option<&str> {
        self.0.reply.as_deref()
    }
    /// Why it failed without a reply (a refused connection, a timeout).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// SHA-256 (hex) of what was sent.
    async fn content_hash(&self) -> &str {
        &self.0.content_hash
    }
}

pub struct NoticeDelivery(RegisterEntry);

/// One notice to one subscriber: the evidence that a customer was told of a change.
#[Object(guard = "SUBSCRIBER")]
impl NoticeDelivery {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id(
            "NoticeDelivery",
            i32::try_from(self.0.delivery.id).unwrap_or(i32::MAX),
        )
    }
    /// What it carries.
    async fn kind(&self) -> NoticeKind {
        self.0.delivery.kind.into()
    }
    /// The cursor of the change it tells of (the `webhook-id` of a webhook).
    async fn change_cursor(&self) -> Option<String> {
        self.0.change_cursor.clone()
    }
    /// The customer told.
    async fn customer(&self) -> Option<&str> {
        self.0.subscriber.customer.as_deref()
    }
    /// `EMAIL` or `WEBHOOK`.
    async fn channel(&self) -> &'static str {
        match self.0.subscriber.channel {
            NoticeChannel::Email => "EMAIL",
            NoticeChannel::Webhook => "WEBHOOK",
        }
    }
    /// The address or URL it went to.
    async fn address(&self) -> &str {
        &self.0.delivery.address
    }
    /// The Message-ID or `webhook-id` every attempt carried.
    async fn message_id(&self) -> &str {
        &self.0.delivery.message_id
    }
    /// Where it stands.
    async fn status(&self) -> DeliveryStatus {
        self.0.delivery.status.into()
    }
    /// When it was queued.
    async fn queued_at(&self) -> DateTime<Utc> {
        self.0.delivery.queued_at
    }
    /// When it was accepted.
    async fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivery.accepted_at
    }
    /// When the next attempt is due, while it is queued.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.delivery.status == entity::DeliveryStatus::Queued)
            .then_some(self.0.delivery.next_attempt_at)
    }
    /// SHA-256 (hex) of what the last attempt sent.
    async fn content_hash(&self) -> Option<&str> {
        self.0.delivery.content_hash.as_deref()
    }
    /// `smtp`, `file` (written to the mail directory, not sent), `https` or `http`.
    async fn transport(&self) -> Option<&str> {
        self.0.delivery.transport.as_deref()
    }
    /// Every attempt, oldest first.
    async fn attempts(&self) -> Vec<NoticeAttempt> {
        self.0.attempts.iter().cloned().map(NoticeAttempt).collect()
    }
}

impl PageItem for NoticeDelivery {
    type Row = RegisterEntry;
    fn row(&self) -> &Self::Row {
        &self.0
    }
    const READERS: Option<Role> = Some(Role::Subscriber);
    const CONNECTION_DESCRIPTION: &'static str =
        "A page of the notice register, in the order notices were queued.";
    const EDGE_DESCRIPTION: &'static str = "A notice of the register, with its cursor.";
}

/// A customer's contractual notice address.
#[derive(InputObject)]
pub struct NoticeContactInput {
    /// The customer (controller) the address belongs to.
    customer: String,
    /// The email address.
    email: String,
    /// Which changes to send; announcements only by default.
    scope: Option<NoticeScope>,
    /// Only changes concerning these products (keys); all when absent.
    products: Option<Vec<String>>,
}

/// A webhook endpoint to register.
#[derive(InputObject)]
pub struct WebhookEndpointInput {
    /// The customer it belongs to; a SUBSCRIBER key's own name when absent.
    customer: Option<String>,
    /// Where to POST notices: an https URL.
    url: String,
    /// Which changes to send; announcements only by default.
    scope: Option<NoticeScope>,
    /// Only changes concerning these products (keys); all when absent.
    products: Option<Vec<String>>,
    /// Where to tell the owner if the endpoint is disabled.
    contact_email: Option<String>,
}

#[derive(Default)]
pub struct NoticeQuery;

#[Object]
impl NoticeQuery {
    /// Customers' email addresses that receive notices (self-service subscriptions and
    /// contractual notice addresses), oldest first.
    #[graphql(guard = "VIEWER")]
    async fn notice_contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this customer's addresses.")] customer: Option<String>,
    ) -> async_graphql::Result<Vec<NoticeContact>> {
        crate::graphql::CachePolicy::no_store(ctx);
        let filter = SubscriberFilter {
            channel: Some(NoticeChannel::Email),
            customer,
            ..SubscriberFilter::default()
        };
        let registry = ctx.data::<Registry>()?;
        Ok(registry
            .subscribers(&filter)
            .await
            .api()?
            .into_iter()
            .map(NoticeContact)
            .collect())
    }

    /// Webhook endpoints, oldest first: a SUBSCRIBER key's own ones, or every one.
    #[graphql(guard = "SUBSCRIBER")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<WebhookEndpoint>> {
        crate::graphql::CachePolicy::no_store(ctx);
        let filter = SubscriberFilter {
            channel: Some(NoticeChannel::Webhook),
            owner_key_id: owner(ctx),
            ..SubscriberFilter::default()
        };
        let registry = ctx.data::<Registry>()?;
        Ok(registry
            .subscribers(&filter)
            .await
            .api()?
            .into_iter()
            .map(WebhookEndpoint)
            .collect())
    }

    /// The notice register: every notice to every subscriber with each attempt, in the order
    /// they were queued (a SUBSCRIBER key sees its own endpoints' only). The processor's
    /// evidence under GDPR Art. 28(2) that it informed each customer; also at
    /// `/notices/register?format=csv|xlsx|json`.
    #[graphql(guard = "SUBSCRIBER")]
    async fn notice_register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the notices of this change (its cursor).")] change: Option<String>,
        #[graphql(desc = "Only the notices to this customer.")] customer: Option<String>,
        #[graphql(desc = "Page size; the server's default when absent, at most its maximum.")]
        first: Option<i32>,
        #[graphql(desc = "Return the notices after this cursor (an `endCursor` of this list).")]
        after: Option<String>,
    ) -> async_graphql::Result<Connection<NoticeDelivery>> {
        crate::graphql::CachePolicy::no_store(ctx);
        let first = ctx.data::<Limits>()?.page_size(first)?;
        let after = decode_after::<DeliveryKey>(after.as_deref())?;
        let registry = ctx.data::<Registry>()?;
        let seq = match change {
            Some(c) => Some(
                crate::registry::cursor::decode::<ChangeKey>("change", &c)
                    .api()?
                    .seq(registry.db())
                    .await
                    .api()?,
            ),
            None => None,
        };
        let filter = RegisterFilter {
            seq,
            customer,
            subscriber_id: None,
            owner_key_id: owner(ctx),
        };
        let page = registry
            .notice_register(&filter, after, first)
            .await
            .api()?;
        Ok(Connection::new(
            page.map(NoticeDelivery),
            after.as_ref(),
            TotalCount::of(filter, |registry, filter| async move {
                registry.count_notices(&filter).await
            }),
        ))
    }
}

#[derive(Default)]
pub struct NoticeMutation;

fn subscription_input(input: NoticeContactInput) -> NewSubscription {
    NewSubscription {
        email: input.email,
        customer: Some(input.customer),
        scope: input
            .scope
            .map_or(entity::NoticeScope::Announcements, Into::into),
        products: input.products.unwrap_or_default(),
    }
}

#[Object]
impl NoticeMutation {
    /// Adds a customer's contractual notice address: it receives notices at once, without
    /// double opt-in (the contract names it).
    #[graphql(guard = "EDITOR")]
    async fn add_notice_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer and its address.")] input: NoticeContactInput,
    ) -> async_graphql::Result<NoticeContact> {
        let registry = ctx.data::<Registry>()?;
        let actor = ctx.data::<crate::registry::Actor>()?;
        let row = registry
            .add_notice_contact(subscription_input(input), actor)
            .await
            .api()?;
        Ok(NoticeContact(row))
    }

    /// Stops sending notices to an address (its notices stay in the register).
    #[graphql(guard = "EDITOR")]
    async fn remove_notice_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address (its ID).")] id: ID,
    ) -> async_graphql::Result<NoticeContact> {
        let id = expect_id("id", "NoticeContact", &id)?;
        let registry = ctx.data::<Registry>()?;
        let actor = ctx.data::<crate::registry::Actor>()?;
        let row = registry
            .end_subscription(id, &format!("removed by {}", actor.0))
            .await
            .api()?;
        Ok(NoticeContact(row))
    }

    /// Registers a webhook endpoint: an editor for a named customer, or a customer with its
    /// SUBSCRIBER key for itself. The signing secret is returned only now.
    #[graphql(guard = "EndpointManagerGuard")]
    async fn register_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: WebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointWithSecret> {
        let registry = ctx.data::<Registry>()?;
        let actor = ctx.data::<crate::registry::Actor>()?;
        let settings = ctx.data::<NoticeSettings>()?;
        let caller = Caller::of(ctx);
        let owner = owner(ctx);
        let customer = match (input.customer, owner, &caller.0) {
            (Some(customer), _, _) => customer,
            (None, Some(_), Some(key)) => key.name.clone(),
            _ => return Err(bad_input("input.customer", "name the customer")),
        };
        let endpoint = NewEndpoint {
            url: input.url,
            customer,
            scope: input
                .scope
                .map_or(entity::NoticeScope::Announcements, Into::into),
            products: input.products.unwrap_or_default(),
            contact_email: input.contact_email,
        };
        let (row, secret) = registry
            .register_webhook(endpoint, owner, settings.webhook_allow_private, actor)
            .await
            .api()?;
        Ok(WebhookEndpointWithSecret {
            endpoint: WebhookEndpoint(row),
            secret,
        })
    }

    /// Gives an endpoint a new signing secret; the previous one keeps signing (a second
    /// signature) until the next rotation, so the receiver can switch without a gap.
    #[graphql(guard = "EndpointManagerGuard")]
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint (its ID).")] id: ID,
    ) -> async_graphql::Result<WebhookEndpointWithSecret> {
        let id = expect_id("id", "WebhookEndpoint", &id)?;
        let registry = ctx.data::<Registry>()?;
        let (row, secret) = registry.rotate_webhook_secret(id, owner(ctx)).await.api()?;
        Ok(WebhookEndpointWithSecret {
            endpoint: WebhookEndpoint(row),
            secret,
        })
    }

    /// Removes an endpoint (its deliveries stay in the register).
    #[graphql(guard = "EndpointManagerGuard")]
    async fn remove_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint (its ID).")] id: ID,
    ) -> async_graphql::Result<WebhookEndpoint> {
        let id = expect_id("id", "WebhookEndpoint", &id)?;
        let registry = ctx.data::<Registry>()?;
        let actor = ctx.data::<crate::registry::Actor>()?;
        let row = registry.remove_webhook(id, owner(ctx), actor).await.api()?;
        Ok(WebhookEndpoint(row))
    }
}
