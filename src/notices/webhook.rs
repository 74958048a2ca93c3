//! Webhooks, as the Standard Webhooks specification has them: `webhook-id` (the event's cursor,
//! the receiver's idempotency key), `webhook-timestamp` (seconds), `webhook-signature` (`v1,`
//! and the base64 HMAC-SHA256 of `id.timestamp.body` under each of the endpoint's `whsec_`
//! secrets, space-separated during a rotation). A 2xx accepts; 410 Gone refuses for good (the
//! endpoint is disabled); anything else, a timeout or a refused connection is retried on the
//! schedule, no sooner than a `Retry-After`. Redirects are not followed, and every address a
//! name resolves to is checked against the internal ranges at each attempt (SSRF).

use super::mail::Sent;
use crate::registry::notices::ssrf::is_internal;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use entity::AttemptOutcome;
use hmac::{KeyInit, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

type HmacSha256 = hmac::Hmac<sha2_hmac::Sha256>;

/// Resolves names, leaving out internal addresses unless they are allowed.
struct GuardedResolver {
    allow_internal: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_internal;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow || !is_internal(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Sends webhooks.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    allow_internal: bool,
}

/// The `webhook-signature` header of `body` for each secret.
pub fn signature(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = STANDARD
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .ok()?;
            let mut mac = HmacSha256::new_from_slice(&key).ok()?;
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long `Retry-After` asks to wait (seconds, or an HTTP date).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

impl WebhookSender {
    pub fn new(timeout: Duration, allow_internal: bool) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver { allow_internal }))
            .user_agent(concat!("Subreg/", env!("CARGO_PKG_VERSION"), " (webhooks)"))
            .build()?;
        Ok(Self {
            client,
            allow_internal,
        })
    }

    /// POSTs `body` to `url`, signed with `secrets`: what came of it, and any `Retry-After`.
    pub async fn send(
        &self,
        url: &str,
        secrets: &[String],
        id: &str,
        body: &[u8],
    ) -> (Sent, Option<Duration>) {
        let deferred = |error: String| Sent {
            outcome: AttemptOutcome::Deferred,
            code: None,
            reply: None,
            error: Some(error),
            transport: "https",
        };
        let literal = url::Url::parse(url).ok().and_then(|u| match u.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        });
        if let Some(ip) = literal.filter(|ip| !self.allow_internal && is_internal(*ip)) {
            return (deferred(format!("{ip} is an internal address")), None);
        }
        let timestamp = chrono::Utc::now().timestamp();
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature(secrets, id, timestamp, body))
            .body(body.to_vec());
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) if err.is_timeout() => return (deferred("timed out".into()), None),
            Err(err) => return (deferred(error_chain(&err)), None),
        };
        let status = response.status();
        let wait = retry_after(response.headers());
        let reply = status.canonical_reason().map(str::to_owned);
        let outcome = if status.is_success() {
            AttemptOutcome::Accepted
        } else if status == reqwest::StatusCode::GONE {
            AttemptOutcome::Refused
        } else {
            AttemptOutcome::Deferred
        };
        let sent = Sent {
            outcome,
            code: Some(i32::from(status.as_u16())),
            reply,
            error: None,
            transport: if url.starts_with("https") {
                "https"
            } else {
                "http"
            },
        };
        (sent, wait)
    }
}

/// An error with its causes, for the register.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_specifications_example() {
        // The Standard Webhooks specification's test vector.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let body = br#"{"test": 2432232314}"#;
        let header = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
