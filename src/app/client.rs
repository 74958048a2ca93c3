//! Who a request comes from: its address, the API key it presents, and whether it is within
//! its rate limits. Refusals are answered here, before any GraphQL work.

use super::AppState;
use crate::graphql::auth::Caller;
use crate::graphql::error::{FORBIDDEN, UNAUTHENTICATED};
use crate::metrics::Metrics;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

pub const RATE_LIMITED: &str = "RATE_LIMITED";

/// An error document with a status, in the GraphQL error shape clients already parse.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// Why a request is refused before any GraphQL work.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A key that is malformed, unknown or revoked: never silently served as anonymous (401).
    #[error("{0}")]
    InvalidKey(&'static str),
    /// Over a rate limit (429 with Retry-After).
    #[error("too many requests from this {what}: retry in {seconds} s")]
    RateLimited { what: &'static str, seconds: u64 },
    /// A batch larger than the key's burst could ever allow (429).
    #[error("this batch is larger than the key's rate limit allows at once")]
    BatchOverLimit,
    /// The key could not be checked (503).
    #[error("the API key cannot be checked now; try again shortly")]
    KeyCheckFailed,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let message = self.to_string();
        match self {
            Self::InvalidKey(_) => {
                let mut response =
                    error_response(StatusCode::UNAUTHORIZED, UNAUTHENTICATED, &message);
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                response
            }
            Self::RateLimited { seconds, .. } => {
                let mut response =
                    error_response(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED, &message);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
            Self::BatchOverLimit => {
                error_response(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED, &message)
            }
            Self::KeyCheckFailed => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                &message,
            ),
        }
    }
}

/// The caller of an HTTP request, authenticated and within its rate limits.
pub struct Client {
    pub address: IpAddr,
    pub caller: Caller,
}

impl FromRequestParts<AppState> for Client {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let inner = &state.inner;
        let address = client_address(parts, inner.settings.trust_forwarded_for);
        inner.rate_limits.check_address(address, &inner.metrics)?;
        let caller = match bearer_token(&parts.headers) {
            Ok(None) => Caller::anonymous(),
            Ok(Some(secret)) => Caller::from_key(&authenticate(state, secret).await?),
            Err(message) => {
                inner.metrics.observe_rejection();
                return Err(Refusal::InvalidKey(message));
            }
        };
        if let Some(key) = &caller.0 {
            inner.rate_limits.check_key(key.key_id, 1, &inner.metrics)?;
        }
        Ok(Client { address, caller })
    }
}

impl Client {
    /// The answer of an HTTP endpoint outside GraphQL to a caller below `role`, if this one
    /// is: 401 without a key, 403 with a key of too low a role.
    pub fn refusal_below(&self, role: entity::Role) -> Option<Response> {
        let err = self.caller.require(role).err()?;
        let (status, code) = match self.caller.0 {
            Some(_) => (StatusCode::FORBIDDEN, FORBIDDEN),
            None => (StatusCode::UNAUTHORIZED, UNAUTHENTICATED),
        };
        Some(error_response(status, code, &err.message))
    }
}

/// The key behind `secret`, or why it is refused.
pub async fn authenticate(
    state: &AppState,
    secret: &str,
) -> Result<entity::api_key::Model, Refusal> {
    match state.inner.registry.authenticate(secret).await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => {
            state.inner.metrics.observe_rejection();
            Err(Refusal::InvalidKey(
                "the API key is not valid: it is unknown or was revoked",
            ))
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot check an API key");
            Err(Refusal::KeyCheckFailed)
        }
    }
}

/// The bearer token of the `Authorization` header: none, one, or an error for a header that
/// is there but not a bearer token.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not valid text")?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err("send the API key as `Authorization: Bearer <key>`"),
    }
}

pub(super) fn client_address(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for
        && let Some(address) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return address;
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Requests a minute, with bursts of a sixth of it (ten seconds' worth).
fn quota(per_minute: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new((per_minute / 6).max(1))?;
    Some(Quota::per_minute(rate).allow_burst(burst))
}

/// The per-key and per-address rate limits (GCRA, via `governor`).
pub struct RateLimits {
    per_key: Option<DefaultKeyedRateLimiter<i32>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

fn too_many(wait: std::time::Duration, what: &'static str) -> Refusal {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Refusal::RateLimited {
        what,
        seconds: seconds.max(1),
    }
}

impl RateLimits {
    pub fn new(key_per_minute: u32, address_per_minute: u32) -> Self {
        Self {
            per_key: quota(key_per_minute).map(RateLimiter::hashmap),
            per_address: quota(address_per_minute).map(RateLimiter::hashmap),
        }
    }

    pub fn check_address(&self, address: IpAddr, metrics: &Metrics) -> Result<(), Refusal> {
        let Some(limiter) = &self.per_address else {
            return Ok(());
        };
        limiter.check_key(&address).map_err(|not_until| {
            metrics.observe_rate_limited("address");
            too_many(
                not_until.wait_time_from(DefaultClock::default().now()),
                "address",
            )
        })
    }

    /// Charges `n` requests to a key (a batch counts each operation).
    pub fn check_key(&self, key: i32, n: u32, metrics: &Metrics) -> Result<(), Refusal> {
        let (Some(limiter), Some(n)) = (&self.per_key, NonZeroU32::new(n)) else {
            return Ok(());
        };
        match limiter.check_key_n(&key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                metrics.observe_rate_limited("key");
                Err(too_many(
                    not_until.wait_time_from(DefaultClock::default().now()),
                    "API key",
                ))
            }
            Err(_) => {
                metrics.observe_rate_limited("key");
                Err(Refusal::BatchOverLimit)
            }
        }
    }

    /// Forgets clients that are back within their limits, so idle ones take no memory.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.per_key {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
        }
    }
}

/// Whose WebSocket connections are counted together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionOwner {
    Key(i32),
    Address(IpAddr),
}

/// Open WebSocket connections per key (per address without a key).
pub struct ConnectionSlots {
    max: usize,
    open: Mutex<HashMap<ConnectionOwner, usize>>,
}

/// One open connection's place; given back when dropped.
pub struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    owner: ConnectionOwner,
}

impl ConnectionSlots {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more connection of `owner`, if it has fewer than the most allowed.
    pub fn acquire(self: &Arc<Self>, owner: ConnectionOwner) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(owner.clone()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            slots: self.clone(),
            owner,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.owner) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.owner);
            }
        }
    }
}
