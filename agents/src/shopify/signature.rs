//! HMAC-SHA256 signatures Shopify puts on OAuth redirects (hex, over the
//! sorted query parameters) and on webhooks (base64, over the raw body),
//! and the app's own signatures over the same secret (`sign_own`), under a
//! key derived per purpose so that none can pass for one of Shopify's.
//! Verification compares in constant time (`Mac::verify_slice`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("hmac accepts any key length"))
}

/// The signed message of an OAuth redirect: every parameter except `hmac`
/// (and the legacy `signature`), sorted by name, as `name=value` joined by `&`.
pub fn query_message(params: &[(String, String)]) -> String {
    let mut kept: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "hmac" && k != "signature").collect();
    kept.sort();
    kept.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The `hmac` Shopify would put on these parameters.
pub fn sign_query(secret: &[u8], params: &[(String, String)]) -> String {
    let mut m = mac(secret);
    m.update(query_message(params).as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Whether the parameters carry a valid `hmac`.
pub fn verify_query(secret: &[u8], params: &[(String, String)]) -> bool {
    let Some((_, given)) = params.iter().find(|(k, _)| k == "hmac") else { return false };
    let Ok(given) = hex::decode(given) else { return false };
    let mut m = mac(secret);
    m.update(query_message(params).as_bytes());
    m.verify_slice(&given).is_ok()
}

/// The `X-Shopify-Hmac-Sha256` of a webhook body.
pub fn sign_body(secret: &[u8], body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(body);
    STANDARD.encode(m.finalize().into_bytes())
}

/// Whether `header` is the body's valid `X-Shopify-Hmac-Sha256`.
pub fn verify_body(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Ok(given) = STANDARD.decode(header.trim()) else { return false };
    let mut m = mac(secret);
    m.update(body);
    m.verify_slice(&given).is_ok()
}

/// The key of the app's own signatures for `purpose`: HMAC(secret, purpose).
fn own_mac(secret: &[u8], purpose: &str) -> HmacSha256 {
    let mut derive = mac(secret);
    derive.update(b"alatar/");
    derive.update(purpose.as_bytes());
    mac(&derive.finalize().into_bytes())
}

/// The app's own signature of `message` for `purpose` (URL-safe base64):
/// nothing Shopify signs with the secret verifies as it, nor the reverse.
pub fn sign_own(secret: &[u8], purpose: &str, message: &[u8]) -> String {
    let mut m = own_mac(secret, purpose);
    m.update(message);
    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// Whether `given` is [`sign_own`]'s signature of `message` for `purpose`.
pub fn verify_own(secret: &[u8], purpose: &str, message: &[u8], given: &str) -> bool {
    let Ok(given) = URL_SAFE_NO_PAD.decode(given.trim()) else { return false };
    let mut m = own_mac(secret, purpose);
    m.update(message);
    m.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn shopify_documented_example() {
        // From Shopify's OAuth documentation (secret "hush").
        let p = params(&[
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
            ("hmac", "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"),
            ("shop", "some-shop.myshopify.com"),
            ("state", "0.6784241404160823"),
            ("timestamp", "1337178173"),
        ]);
        assert!(verify_query(b"hush", &p));
        assert_eq!(sign_query(b"hush", &p), "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf");
    }

    #[test]
    fn any_change_breaks_the_query_signature() {
        let mut p = params(&[("code", "c"), ("shop", "a.myshopify.com"), ("state", "s"), ("timestamp", "1")]);
        let sig = sign_query(b"secret", &p);
        p.push(("hmac".into(), sig));
        assert!(verify_query(b"secret", &p));
        assert!(!verify_query(b"other", &p));
        p[1].1 = "b.myshopify.com".into();
        assert!(!verify_query(b"secret", &p));
        assert!(!verify_query(b"secret", &params(&[("shop", "a")])));
        assert!(!verify_query(b"secret", &params(&[("shop", "a"), ("hmac", "zz")])));
    }

    #[test]
    fn webhook_bodies() {
        let sig = sign_body(b"secret", b"{\"id\":1}");
        assert!(verify_body(b"secret", b"{\"id\":1}", &sig));
        assert!(!verify_body(b"secret", b"{\"id\":2}", &sig));
        assert!(!verify_body(b"secret", b"{\"id\":1}", "not base64!"));
        assert!(!verify_body(b"secret", b"{\"id\":1}", ""));
    }

    #[test]
    fn own_signatures_are_bound_to_their_purpose() {
        let sig = sign_own(b"secret", "state", b"nonce");
        assert!(verify_own(b"secret", "state", b"nonce", &sig));
        assert!(!verify_own(b"secret", "other", b"nonce", &sig));
        assert!(!verify_own(b"secret", "state", b"nonce2", &sig));
        assert!(!verify_own(b"other", "state", b"nonce", &sig));
        assert!(!verify_own(b"secret", "state", b"nonce", "nonce"));
        // Never one of Shopify's over the same secret and message.
        assert!(!verify_body(b"secret", b"nonce", &STANDARD.encode(URL_SAFE_NO_PAD.decode(&sig).unwrap_or_default())));
    }
}
