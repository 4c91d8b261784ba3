//! Signed, expiring download links for exported dashboards: the API hands
//! out `/exports/<id>?expires=<unix seconds>&signature=<hex>` and the
//! server serves the file only while the signature matches and the time
//! has not passed. The signature is HMAC-SHA256 over `<id>.<expires>`
//! under a key derived from the server's secret for this purpose alone,
//! so no other signature the server makes (tokens, Shopify states) can
//! pass for one; it is compared in constant time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// What the server's secret is tagged with to derive the signing key.
const PURPOSE: &[u8] = b"alatar export download v1";

/// How long an export's link works unless configured
/// (`dashboards.export_ttl_secs`).
pub const DEFAULT_EXPORT_TTL: Duration = Duration::from_secs(900);

/// Signs and checks download links.
#[derive(Clone)]
pub struct DownloadSigner {
    key: [u8; 32],
    /// How long a link works.
    pub ttl: Duration,
}

impl std::fmt::Debug for DownloadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadSigner").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// Why a link opens nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The signature is not ours for this id and time.
    #[error("the link's signature does not match")]
    BadSignature,
    /// Signed, but its time has passed.
    #[error("the link has expired")]
    Expired,
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("hmac accepts any key length"))
}

impl DownloadSigner {
    /// A signer whose key is derived from `secret` (the JWT secret).
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut m = mac(secret);
        m.update(PURPOSE);
        Self { key: m.finalize().into_bytes().into(), ttl }
    }

    fn tag(&self, id: Uuid, expires: i64) -> HmacSha256 {
        let mut m = mac(&self.key);
        m.update(format!("{id}.{expires}").as_bytes());
        m
    }

    /// The path and query that download export `id` until `expires`.
    pub fn url(&self, id: Uuid, expires: DateTime<Utc>) -> String {
        let at = expires.timestamp();
        let signature = hex::encode(self.tag(id, at).finalize().into_bytes());
        format!("/exports/{id}?expires={at}&signature={signature}")
    }

    /// Whether `signature` signs export `id` until `expires`, and that time
    /// is still to come at `now`.
    pub fn check(&self, id: Uuid, expires: i64, signature: &str, now: DateTime<Utc>) -> Result<(), LinkError> {
        let given = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        self.tag(id, expires).verify_slice(&given).map_err(|_| LinkError::BadSignature)?;
        if now.timestamp() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// [`check`](Self::check) at the present time.
    pub fn check_now(&self, id: Uuid, expires: i64, signature: &str) -> Result<(), LinkError> {
        self.check(id, expires, signature, Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (i64, String) {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse().unwrap_or_default(),
                Some(("signature", v)) => signature = v.to_owned(),
                _ => {}
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_link_opens_until_it_expires_and_only_for_its_export() {
        let signer = DownloadSigner::new(b"a secret of at least thirty-two bytes!!", DEFAULT_EXPORT_TTL);
        let id = Uuid::now_v7();
        let now = Utc::now();
        let expires = now + chrono::Duration::seconds(60);
        let url = signer.url(id, expires);
        assert!(url.starts_with(&format!("/exports/{id}?expires=")));
        let (at, signature) = parts(&url);
        assert_eq!(signer.check(id, at, &signature, now), Ok(()));
        assert_eq!(signer.check(id, at, &signature, expires), Err(LinkError::Expired));
        assert_eq!(signer.check(Uuid::now_v7(), at, &signature, now), Err(LinkError::BadSignature));
        assert_eq!(signer.check(id, at + 3600, &signature, now), Err(LinkError::BadSignature));
        assert_eq!(signer.check(id, at, "zz", now), Err(LinkError::BadSignature));
        let other = DownloadSigner::new(b"another secret of thirty-two bytes or more", DEFAULT_EXPORT_TTL);
        assert_eq!(other.check(id, at, &signature, now), Err(LinkError::BadSignature));
    }
}
