//! The public subprocessor page's forms, server-rendered without JavaScript (the list itself,
//! `/subprocessors`, is in [`super::list`]): the email subscription with double opt-in
//! (`/subprocessors/subscribe`, `/subprocessors/confirm`), one-click unsubscribe
//! (`/subprocessors/unsubscribe`, RFC 8058) and objections (`/subprocessors/objections`).
//!
//! Forms carry a signed double-submit token (a random cookie and its HMAC in a hidden field)
//! and a POST whose `Origin` is another site is refused, so another site cannot make a
//! visitor's browser send them. Form posts are rate limited per client address, confirmation
//! emails per email address. A subscription is answered the same whether the address is known
//! or not, so the form cannot be used to learn who is subscribed.

use super::AppState;
use super::assets::PAGE_POLICY;
use super::client::Client;
use crate::notices::mail::Email;
use crate::registry::RegistryError;
use crate::registry::notices::{NewSubscription, SubscribeOutcome, random_token};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use entity::NoticeScope;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;

const FORM_COOKIE: &str = "subreg_form";

/// The pages' rate limits.
pub struct FormLimits {
    per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_address: Option<DefaultKeyedRateLimiter<String>>,
}

impl FormLimits {
    pub fn new(posts_per_hour: u32, confirmations_per_hour: u32) -> Self {
        let quota = |n| NonZeroU32::new(n).map(Quota::per_hour);
        Self {
            per_client: quota(posts_per_hour).map(RateLimiter::hashmap),
            per_address: quota(confirmations_per_hour).map(RateLimiter::hashmap),
        }
    }

    fn client_ok(&self, address: IpAddr) -> bool {
        self.per_client
            .as_ref()
            .is_none_or(|l| l.check_key(&address).is_ok())
    }

    fn address_ok(&self, email: &str) -> bool {
        self.per_address
            .as_ref()
            .is_none_or(|l| l.check_key(&email.to_lowercase()).is_ok())
    }

    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_client {
            l.retain_recent();
        }
        if let Some(l) = &self.per_address {
            l.retain_recent();
        }
    }
}

/// An HTML page under the pages' policy; never cached (it may carry a form token).
pub(super) fn html(status: StatusCode, body: impl Into<Bytes>, cookie: Option<String>) -> Response {
    let mut response = (status, body.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The form fields of a urlencoded body (a field may repeat).
fn fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

impl AppState {
    fn notices(&self) -> &crate::notices::dispatch::Context {
        &self.inner.dispatcher.context
    }

    /// Renders `template` with the organization's name and `context`; a 500 page if it fails.
    pub(super) async fn render(
        &self,
        template: &str,
        context: impl serde::Serialize,
    ) -> Result<String, Response> {
        let organization = match self.inner.registry.organization().await {
            Ok(org) => org
                .map(|o| o.name)
                .unwrap_or_else(|| "the organization".into()),
            Err(err) => {
                tracing::error!(error = %err, "cannot read the organization");
                return Err(failure());
            }
        };
        // Straight into the template engine's values: no JSON document in between.
        let context = minijinja::context! {
            organization => organization,
            ..minijinja::Value::from(minijinja::value::Serde(context))
        };
        self.notices()
            .templates
            .render(template, context)
            .map_err(|err| {
                tracing::error!(error = %err, template, "cannot render a page");
                failure()
            })
    }

    /// A message page (with a button that POSTs `form`, if any).
    pub(super) async fn message(&self, status: StatusCode, heading: &str, text: &str) -> Response {
        match self
            .render("message.html", json!({ "heading": heading, "text": text }))
            .await
        {
            Ok(body) => html(status, body, None),
            Err(response) => response,
        }
    }

    /// The form token for the visitor's cookie, and the cookie to set when it has none.
    pub(super) fn form_token(&self, headers: &HeaderMap) -> Option<(String, Option<String>)> {
        if let Some(nonce) = cookie(headers, FORM_COOKIE) {
            return Some((self.notices().links.sign("form", nonce), None));
        }
        let nonce = random_token().ok()?;
        let secure = if self.notices().settings.public_url.starts_with("https") {
            "; Secure"
        } else {
            ""
        };
        let set = format!(
            "{FORM_COOKIE}={nonce}; Path=/subprocessors; HttpOnly; SameSite=Strict{secure}"
        );
        Some((self.notices().links.sign("form", &nonce), Some(set)))
    }

    /// Whether a form post comes from this site's own form.
    fn form_is_ours(&self, headers: &HeaderMap, fields: &[(String, String)]) -> bool {
        // No Origin, or the opaque "null" of a privacy-minded browser: the token decides.
        let same_origin = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None | Some("null") => true,
            Some(origin) => {
                let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
                let public = &self.notices().settings.public_url;
                origin == public.as_str()
                    || host.is_some_and(|h| origin.ends_with(&format!("//{h}")))
            }
        };
        let token = field(fields, "csrf").unwrap_or_default();
        let signed = cookie(headers, FORM_COOKIE)
            .is_some_and(|nonce| self.notices().links.verify("form", nonce, token));
        same_origin && signed
    }

    /// Refuses a post that is not from our form, or over its client's rate limit.
    async fn check_post(
        &self,
        client: &Client,
        headers: &HeaderMap,
        fields: &[(String, String)],
    ) -> Option<Response> {
        if !self.inner.form_limits.client_ok(client.address) {
            return Some(
                self.message(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    "This address has sent many forms in the last hour; try again later.",
                )
                .await,
            );
        }
        if !self.form_is_ours(headers, fields) {
            return Some(
                self.message(
                    StatusCode::FORBIDDEN,
                    "The form has expired",
                    "Open the page again and send the form from there.",
                )
                .await,
            );
        }
        None
    }
}

pub(super) fn failure() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the page cannot be shown now; try again shortly",
    )
        .into_response()
}

/// `GET /subprocessors/subscribe`: the subscription form.
pub async fn subscribe_form(
    State(state): State<AppState>,
    _client: Client,
    headers: HeaderMap,
) -> Response {
    let Ok(products) = state.inner.registry.products().await else {
        return failure();
    };
    let products: Vec<Value> = products
        .iter()
        .map(|p| json!({ "key": p.key, "name": p.name }))
        .collect();
    let Some((csrf, set_cookie)) = state.form_token(&headers) else {
        return failure();
    };
    match state
        .render(
            "subscribe.html",
            json!({ "products": products, "csrf": csrf }),
        )
        .await
    {
        Ok(body) => html(StatusCode::OK, body, set_cookie),
        Err(response) => response,
    }
}

/// `POST /subprocessors/subscribe`: starts a double opt-in. Whatever the address, the answer is
/// the same page; the confirmation email goes out in the background.
pub async fn subscribe(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    if let Some(refusal) = state.check_post(&client, &headers, &form).await {
        return refusal;
    }
    let email = field(&form, "email").unwrap_or_default().trim().to_owned();
    let input = NewSubscription {
        email: email.clone(),
        customer: None,
        scope: match field(&form, "scope") {
            Some("all") => NoticeScope::AllPublicChanges,
            _ => NoticeScope::Announcements,
        },
        products: form
            .iter()
            .filter(|(n, _)| n == "products")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    if let Err(RegistryError::Invalid { message, .. }) =
        crate::registry::notices::email("email", &email)
    {
        return state
            .message(StatusCode::BAD_REQUEST, "Not an email address", &message)
            .await;
    }
    if state.inner.form_limits.address_ok(&email) {
        match state.inner.registry.request_subscription(input).await {
            Ok(SubscribeOutcome::Confirm { subscriber, token }) => {
                let subscriber = *subscriber;
                let state = state.clone();
                tokio::spawn(async move { send_confirmation(&state, subscriber, token).await });
            }
            Ok(SubscribeOutcome::AlreadyActive) => {}
            Err(RegistryError::Invalid { message, .. }) => {
                return state
                    .message(StatusCode::BAD_REQUEST, "The form is not valid", &message)
                    .await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot record a subscription");
                return failure();
            }
        }
    }
    state
        .message(
            StatusCode::OK,
            "Check your inbox",
            "If the address can receive notices, an email is on its way with a link to confirm the subscription. Nothing is sent to it until then.",
        )
        .await
}

/// Sends the confirmation email and records it in the register.
async fn send_confirmation(
    state: &AppState,
    subscriber: entity::notice_subscriber::Model,
    token: String,
) {
    let notices = state.notices();
    let public = &notices.settings.public_url;
    let confirm_url = format!("{public}/subprocessors/confirm?t={token}");
    let body = match state
        .render("confirmation.txt", json!({ "confirm_url": confirm_url }))
        .await
    {
        Ok(body) => body,
        Err(_) => return,
    };
    let nonce = random_token().unwrap_or_default();
    let email = Email {
        to: subscriber.address.clone(),
        subject: "Confirm your subscription to subprocessor notices".into(),
        body,
        message_id: format!(
            "confirm.{}.{}@{}",
            subscriber.id,
            &nonce[..12.min(nonce.len())],
            notices.domain
        ),
        unsubscribe_url: None,
    };
    let attempted_at = state.inner.registry.now();
    let sent = state.inner.dispatcher.send_now(email.clone()).await;
    let record = crate::registry::notices::AttemptRecord {
        delivery: entity::notice_delivery::Model {
            id: 0,
            subscriber_id: subscriber.id,
            kind: entity::NoticeKind::Confirmation,
            seq: None,
            message_id: email.message_id.clone(),
            address: email.to.clone(),
            status: entity::DeliveryStatus::Queued,
            attempts: 0,
            queued_at: attempted_at,
            next_attempt_at: attempted_at,
            accepted_at: None,
            content_hash: None,
            transport: None,
        },
        channel: entity::NoticeChannel::Email,
        attempted_at,
        outcome: sent.outcome,
        code: sent.code,
        reply: sent.reply,
        error: sent.error,
        // The token is a secret: the hash covers the message without it.
        content_hash: crate::notices::dispatch::content_hash(
            email.content().replace(&token, "…").as_bytes(),
        ),
        transport: sent.transport.to_owned(),
        retry_after: None,
        replica: notices.replica.clone(),
    };
    if let Err(err) = state
        .inner
        .registry
        .record_sent_notice(
            subscriber.id,
            entity::NoticeKind::Confirmation,
            &email.to,
            record,
        )
        .await
    {
        tracing::error!(error = %err, "cannot record a confirmation email");
    }
}

/// A page with a button that POSTs `action` with `form` (and the form token).
async fn button_page(
    state: &AppState,
    headers: &HeaderMap,
    (heading, text, button): (&str, &str, &str),
    action: &str,
    mut form: serde_json::Map<String, Value>,
) -> Response {
    let Some((csrf, set_cookie)) = state.form_token(headers) else {
        return failure();
    };
    form.insert("csrf".into(), csrf.into());
    let context = json!({ "heading": heading, "text": text, "button": button,
                          "form_action": action, "form_fields": form });
    match state.render("message.html", context).await {
        Ok(body) => html(StatusCode::OK, body, set_cookie),
        Err(response) => response,
    }
}

fn query(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// `GET /subprocessors/confirm?t=…`: a button that confirms. A link alone never confirms, so
/// mail scanners that follow links do not subscribe anyone.
pub async fn confirm_form(
    State(state): State<AppState>,
    _client: Client,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let token = query(raw.as_deref()).remove("t").unwrap_or_default();
    let mut form = serde_json::Map::new();
    form.insert("t".into(), token.into());
    button_page(
        &state,
        &headers,
        (
            "Confirm your subscription",
            "Press the button to start receiving subprocessor notices at this address.",
            "Confirm",
        ),
        "/subprocessors/confirm",
        form,
    )
    .await
}

/// `POST /subprocessors/confirm`: the subscription starts.
pub async fn confirm(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    if let Some(refusal) = state.check_post(&client, &headers, &form).await {
        return refusal;
    }
    let token = field(&form, "t").unwrap_or_default();
    match state.inner.registry.confirm_subscription(token).await {
        Ok(_) => state.message(StatusCode::OK, "Subscribed", "You will be told of every announcement from now on. Each email has a link to unsubscribe.").await,
        Err(RegistryError::Invalid { message, .. }) => state.message(StatusCode::BAD_REQUEST, "The link is not valid", &message).await,
        Err(_) => failure(),
    }
}

/// The subscriber an unsubscribe link names, if its signature holds.
fn unsubscribe_target(state: &AppState, raw: Option<&str>) -> Option<i32> {
    let params = query(raw);
    let id: i32 = params.get("s")?.parse().ok()?;
    let token = params.get("t")?;
    state
        .notices()
        .links
        .verify("unsubscribe", &id.to_string(), token)
        .then_some(id)
}

/// `GET /subprocessors/unsubscribe?s=…&t=…`: a button that unsubscribes.
pub async fn unsubscribe_form(
    State(state): State<AppState>,
    _client: Client,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if unsubscribe_target(&state, raw.as_deref()).is_none() {
        return state
            .message(
                StatusCode::BAD_REQUEST,
                "The link is not valid",
                "Use the link of a notice you received.",
            )
            .await;
    }
    let action = format!("/subprocessors/unsubscribe?{}", raw.unwrap_or_default());
    button_page(
        &state,
        &headers,
        (
            "Unsubscribe",
            "Press the button to stop receiving subprocessor notices at this address.",
            "Unsubscribe",
        ),
        &action,
        serde_json::Map::new(),
    )
    .await
}

/// `POST /subprocessors/unsubscribe?s=…&t=…`: unsubscribes, from the page's button or from a
/// mail client's one-click unsubscribe (RFC 8058: the body is `List-Unsubscribe=One-Click` and
/// no cookie comes with it; the signed link is the authority).
pub async fn unsubscribe(
    State(state): State<AppState>,
    _client: Client,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(id) = unsubscribe_target(&state, raw.as_deref()) else {
        return state
            .message(
                StatusCode::BAD_REQUEST,
                "The link is not valid",
                "Use the link of a notice you received.",
            )
            .await;
    };
    match state
        .inner
        .registry
        .end_subscription(id, "unsubscribed by the address's owner")
        .await
    {
        Ok(_) => {
            state
                .message(
                    StatusCode::OK,
                    "Unsubscribed",
                    "No more subprocessor notices will be sent to this address.",
                )
                .await
        }
        Err(_) => failure(),
    }
}

/// `POST /subprocessors/objections`: a customer objects to an announced subprocessor
/// (GDPR Art. 28(2)), through the registry's objection workflow.
pub async fn object(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    if let Some(refusal) = state.check_post(&client, &headers, &form).await {
        return refusal;
    }
    let registry = &state.inner.registry;
    let key = field(&form, "recipient").unwrap_or_default();
    let recipient = match registry.recipient_by_key(key).await {
        Ok(Some(r)) if crate::registry::visibility::shown_to_public(&r) => r,
        Ok(_) => {
            return state
                .message(
                    StatusCode::NOT_FOUND,
                    "No such subprocessor",
                    "The subprocessor objected to is not on the list.",
                )
                .await;
        }
        Err(_) => return failure(),
    };
    let objected = registry
        .object_to_subprocessor(
            recipient.id,
            field(&form, "customer").unwrap_or_default(),
            field(&form, "contact").unwrap_or_default(),
            field(&form, "reason").unwrap_or_default(),
        )
        .await;
    match objected {
        Ok(_) => {
            state
                .message(
                    StatusCode::OK,
                    "Objection received",
                    &format!(
                        "Your objection to {} is recorded; we will answer at the address you gave.",
                        recipient.legal_name
                    ),
                )
                .await
        }
        Err(RegistryError::Invalid { message, .. }) => {
            state
                .message(
                    StatusCode::BAD_REQUEST,
                    "The objection is not complete",
                    &message,
                )
                .await
        }
        Err(RegistryError::Conflict(message)) => {
            state
                .message(StatusCode::CONFLICT, "Objections are closed", &message)
                .await
        }
        Err(_) => failure(),
    }
}
