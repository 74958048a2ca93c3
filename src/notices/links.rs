//! The links notices and pages carry: signed unsubscribe links (so that the token is never
//! stored) and form tokens, both keyed by the registry's link key.

use crate::registry::{Registry, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2_hmac::Sha256>;

/// The key that signs links and forms, the same on every replica.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

impl LinkKey {
    /// The registry's link key (made on first use).
    pub async fn load(registry: &Registry) -> Result<Self> {
        Ok(Self(registry.link_key().await?))
    }

    /// base64url HMAC-SHA256 of `purpose` and `message`.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` is `sign(purpose, message)`, compared in constant time.
    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// The one-click unsubscribe link of subscriber `id` (RFC 8058): valid for as long as the
    /// subscription.
    pub fn unsubscribe_url(&self, public_url: &str, id: i32) -> String {
        format!(
            "{public_url}/subprocessors/unsubscribe?s={id}&t={}",
            self.sign("unsubscribe", &id.to_string())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_purpose_and_message() {
        let key = LinkKey(vec![7; 32]);
        let signature = key.sign("unsubscribe", "12");
        assert!(key.verify("unsubscribe", "12", &signature));
        assert!(!key.verify("unsubscribe", "13", &signature));
        assert!(!key.verify("form", "12", &signature));
        assert!(!key.verify("unsubscribe", "12", "not base64!"));
    }
}
