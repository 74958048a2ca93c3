//! Subscribers: email addresses (by double opt-in, or added by an editor as a customer's
//! contractual notice address) and webhook endpoints (registered by an editor for a named
//! customer, or by the customer itself with a SUBSCRIBER key).

use super::super::error::{RegistryError, Result};
use super::super::{Actor, Registry, validate};
use super::{random_token, ssrf, token_hash};
use entity::{
    NoticeChannel, NoticeScope, SubscriberSource, SubscriberStatus, TextList, notice_subscriber,
    product,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// What a subscription asks for.
#[derive(Clone, Debug)]
pub struct NewSubscription {
    pub email: String,
    pub customer: Option<String>,
    pub scope: NoticeScope,
    pub products: Vec<String>,
}

/// A webhook endpoint to register.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    pub url: String,
    pub customer: String,
    pub scope: NoticeScope,
    pub products: Vec<String>,
    /// Where the owner is told when the endpoint is disabled.
    pub contact_email: Option<String>,
}

/// What a self-service subscription came to. The page answers the same in every case, so that
/// nobody learns whether an address is subscribed.
pub enum SubscribeOutcome {
    /// A new or still-pending subscription: send it this confirmation token.
    Confirm {
        subscriber: Box<notice_subscriber::Model>,
        token: String,
    },
    /// The address already receives notices: nothing to send.
    AlreadyActive,
}

/// Which subscribers to list.
#[derive(Clone, Debug, Default)]
pub struct SubscriberFilter {
    pub channel: Option<NoticeChannel>,
    /// Only those registered with this SUBSCRIBER key.
    pub owner_key_id: Option<i32>,
    pub customer: Option<String>,
}

/// An email address, as stored: trimmed, lower case.
pub fn email(field: &str, value: &str) -> Result<String> {
    let value = validate::name(field, value)?.to_lowercase();
    match value.parse::<lettre::Address>() {
        Ok(_) if value.len() <= 254 => Ok(value),
        _ => Err(RegistryError::invalid(
            field,
            "must be an email address, such as privacy@example.com",
        )),
    }
}

impl Registry {
    /// Checks the product keys of a subscription against the registry.
    async fn check_products(&self, field: &str, products: &[String]) -> Result<Vec<String>> {
        let keys = validate::keys(field, products)?;
        let known: Vec<String> = product::Entity::find()
            .select_only()
            .column(product::Column::Key)
            .filter(product::Column::Key.is_in(keys.iter().map(String::as_str)))
            .into_tuple()
            .all(self.db())
            .await?;
        match keys.iter().enumerate().find(|(_, k)| !known.contains(k)) {
            Some((i, k)) => Err(RegistryError::invalid(
                format!("{field}[{i}]"),
                format!("there is no product `{k}`"),
            )),
            None => Ok(keys),
        }
    }

    /// A self-service subscription: the address gets a confirmation token and starts receiving
    /// notices only once it confirms (double opt-in). A pending one gets a new token (the old
    /// one stops working) and the preferences asked for now.
    pub async fn request_subscription(&self, input: NewSubscription) -> Result<SubscribeOutcome> {
        let address = email("email", &input.email)?;
        let products = self.check_products("products", &input.products).await?;
        let token = random_token()?;
        let now = self.now();
        let write = self.write().await?;
        let existing = notice_subscriber::Entity::find()
            .filter(notice_subscriber::Column::Channel.eq(NoticeChannel::Email))
            .filter(notice_subscriber::Column::Address.eq(address.as_str()))
            .filter(
                notice_subscriber::Column::Status
                    .is_in([SubscriberStatus::Pending, SubscriberStatus::Active]),
            )
            .one(&write.txn)
            .await?;
        let row = match existing {
            Some(active) if active.status == SubscriberStatus::Active => {
                return Ok(SubscribeOutcome::AlreadyActive);
            }
            Some(pending) => {
                let mut row: notice_subscriber::ActiveModel = pending.into();
                row.scope = Set(input.scope);
                row.products = Set(TextList(products));
                row.confirm_token_hash = Set(Some(token_hash(&token)));
                row.updated_at = Set(now);
                row.update(&write.txn).await?
            }
            None => {
                let row = new_row(NoticeChannel::Email, address, input.scope, products, now);
                notice_subscriber::ActiveModel {
                    status: Set(SubscriberStatus::Pending),
                    source: Set(SubscriberSource::SelfService),
                    customer: Set(input.customer),
                    confirm_token_hash: Set(Some(token_hash(&token))),
                    created_by: Set("the address's owner, on the public page".into()),
                    ..row
                }
                .insert(&write.txn)
                .await?
            }
        };
        self.commit(write, None).await?;
        Ok(SubscribeOutcome::Confirm {
            subscriber: Box::new(row),
            token,
        })
    }

    /// Confirms a subscription by the token its confirmation email carried: it receives the
    /// public changes committed from now on. A token confirms once.
    pub async fn confirm_subscription(&self, token: &str) -> Result<notice_subscriber::Model> {
        let head = super::super::latest_seq(self.db()).await?;
        let write = self.write().await?;
        let pending = notice_subscriber::Entity::find()
            .filter(notice_subscriber::Column::ConfirmTokenHash.eq(token_hash(token)))
            .filter(notice_subscriber::Column::Status.eq(SubscriberStatus::Pending))
            .one(&write.txn)
            .await?
            .ok_or_else(|| {
                RegistryError::invalid(
                    "token",
                    "this confirmation link is not valid (any more): subscribe again",
                )
            })?;
        let mut row: notice_subscriber::ActiveModel = pending.into();
        row.status = Set(SubscriberStatus::Active);
        row.confirm_token_hash = Set(None);
        row.cursor = Set(head);
        row.confirmed_at = Set(Some(self.now()));
        row.updated_at = Set(self.now());
        let row = row.update(&write.txn).await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    /// Ends a subscription: no notice is sent to it any more (those queued are cancelled).
    /// Its deliveries stay in the register.
    pub async fn end_subscription(
        &self,
        id: i32,
        reason: &str,
    ) -> Result<notice_subscriber::Model> {
        let write = self.write().await?;
        let existing = write
            .find::<notice_subscriber::Entity>("NoticeSubscriber", id)
            .await?;
        if existing.status == SubscriberStatus::Unsubscribed {
            return Ok(existing);
        }
        let mut row: notice_subscriber::ActiveModel = existing.into();
        row.status = Set(SubscriberStatus::Unsubscribed);
        row.confirm_token_hash = Set(None);
        row.disabled_reason = Set(Some(reason.to_owned()));
        row.updated_at = Set(self.now());
        let row = row.update(&write.txn).await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    /// Adds a customer's contractual notice address, active at once (the contract is the
    /// customer's consent to be told).
    pub async fn add_notice_contact(
        &self,
        input: NewSubscription,
        actor: &Actor,
    ) -> Result<notice_subscriber::Model> {
        let customer = match input.customer.as_deref() {
            Some(name) => validate::name("customer", name)?,
            None => return Err(RegistryError::invalid("customer", "name the customer")),
        };
        let address = email("email", &input.email)?;
        let products = self.check_products("products", &input.products).await?;
        let head = super::super::latest_seq(self.db()).await?;
        let now = self.now();
        let write = self.write().await?;
        let row = notice_subscriber::ActiveModel {
            status: Set(SubscriberStatus::Active),
            source: Set(SubscriberSource::Editor),
            customer: Set(Some(customer)),
            created_by: Set(actor.0.clone()),
            cursor: Set(head),
            confirmed_at: Set(Some(now)),
            ..new_row(NoticeChannel::Email, address, input.scope, products, now)
        }
        .insert(&write.txn)
        .await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    /// Registers a webhook endpoint, active at once, and returns its signing secret (shown only
    /// now). `owner`: the SUBSCRIBER key registering its own endpoint.
    pub async fn register_webhook(
        &self,
        input: NewEndpoint,
        owner: Option<i32>,
        allow_internal: bool,
        actor: &Actor,
    ) -> Result<(notice_subscriber::Model, String)> {
        let customer = validate::name("customer", &input.customer)?;
        let url = ssrf::check_target("url", input.url.trim(), allow_internal).await?;
        let contact = input
            .contact_email
            .as_deref()
            .map(|c| email("contactEmail", c))
            .transpose()?;
        let products = self.check_products("products", &input.products).await?;
        let secret = new_webhook_secret()?;
        let head = super::super::latest_seq(self.db()).await?;
        let now = self.now();
        let write = self.write().await?;
        let row = notice_subscriber::ActiveModel {
            status: Set(SubscriberStatus::Active),
            source: Set(match owner {
                Some(_) => SubscriberSource::SubscriberKey,
                None => SubscriberSource::Editor,
            }),
            owner_key_id: Set(owner),
            customer: Set(Some(customer)),
            contact_email: Set(contact),
            secrets: Set(TextList(vec![secret.clone()])),
            created_by: Set(actor.0.clone()),
            cursor: Set(head),
            confirmed_at: Set(Some(now)),
            ..new_row(
                NoticeChannel::Webhook,
                url.to_string(),
                input.scope,
                products,
                now,
            )
        }
        .insert(&write.txn)
        .await?;
        self.commit(write, None).await?;
        Ok((row, secret))
    }

    /// Gives an endpoint a new signing secret. Until the next rotation the previous one signs
    /// too (a request carries both signatures), so the receiver can switch without a gap.
    pub async fn rotate_webhook_secret(
        &self,
        id: i32,
        owner: Option<i32>,
    ) -> Result<(notice_subscriber::Model, String)> {
        let secret = new_webhook_secret()?;
        let write = self.write().await?;
        let existing = self.owned_endpoint(&write.txn, id, owner).await?;
        let previous = existing.secrets.0.first().cloned();
        let mut row: notice_subscriber::ActiveModel = existing.into();
        row.secrets = Set(TextList(
            std::iter::once(secret.clone()).chain(previous).collect(),
        ));
        row.updated_at = Set(self.now());
        let row = row.update(&write.txn).await?;
        self.commit(write, None).await?;
        Ok((row, secret))
    }

    /// Removes an endpoint (its deliveries stay in the register).
    pub async fn remove_webhook(
        &self,
        id: i32,
        owner: Option<i32>,
        actor: &Actor,
    ) -> Result<notice_subscriber::Model> {
        {
            let write = self.write().await?;
            self.owned_endpoint(&write.txn, id, owner).await?;
        }
        self.end_subscription(id, &format!("removed by {}", actor.0))
            .await
    }

    /// The endpoint `id`, if `owner` (when given) registered it; NOT_FOUND otherwise, so that
    /// one customer cannot learn of another's endpoints.
    async fn owned_endpoint(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        id: i32,
        owner: Option<i32>,
    ) -> Result<notice_subscriber::Model> {
        notice_subscriber::Entity::find_by_id(id)
            .one(txn)
            .await?
            .filter(|s| s.channel == NoticeChannel::Webhook)
            .filter(|s| owner.is_none() || s.owner_key_id == owner)
            .ok_or_else(|| RegistryError::not_found("WebhookEndpoint", id))
    }

    /// Subscribers, oldest first.
    pub async fn subscribers(
        &self,
        filter: &SubscriberFilter,
    ) -> Result<Vec<notice_subscriber::Model>> {
        let mut query =
            notice_subscriber::Entity::find().order_by_asc(notice_subscriber::Column::Id);
        if let Some(channel) = filter.channel {
            query = query.filter(notice_subscriber::Column::Channel.eq(channel));
        }
        if let Some(owner) = filter.owner_key_id {
            query = query.filter(notice_subscriber::Column::OwnerKeyId.eq(owner));
        }
        if let Some(customer) = &filter.customer {
            query = query.filter(notice_subscriber::Column::Customer.eq(customer.as_str()));
        }
        Ok(query.all(self.db()).await?)
    }

    /// One subscriber.
    pub async fn subscriber(&self, id: i32) -> Result<Option<notice_subscriber::Model>> {
        Ok(notice_subscriber::Entity::find_by_id(id)
            .one(self.db())
            .await?)
    }
}

/// A subscriber's row with what every kind shares.
fn new_row(
    channel: NoticeChannel,
    address: String,
    scope: NoticeScope,
    products: Vec<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> notice_subscriber::ActiveModel {
    notice_subscriber::ActiveModel {
        channel: Set(channel),
        address: Set(address),
        scope: Set(scope),
        products: Set(TextList(products)),
        owner_key_id: Set(None),
        contact_email: Set(None),
        confirm_token_hash: Set(None),
        secrets: Set(TextList::default()),
        cursor: Set(0),
        lease_until: Set(None),
        leased_by: Set(None),
        disabled_reason: Set(None),
        created_at: Set(now),
        confirmed_at: Set(None),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// A Standard Webhooks signing secret: `whsec_` and 24 random bytes, base64.
fn new_webhook_secret() -> Result<String> {
    use base64::Engine as _;
    let bytes = super::random_bytes::<24>()?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}
