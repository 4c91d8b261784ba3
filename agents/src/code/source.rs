//! Where a repository may be cloned from. `https` only by default, with
//! no credentials in the URL (they would be stored with the analysis);
//! `file://` only when `code.allow_local_repositories` is set. A host must
//! resolve to public addresses only, unless `code.allow_private_addresses`
//! is set: a URL that reaches loopback, private, link-local, CGNAT,
//! unique-local or multicast addresses (the metadata service at
//! 169.254.169.254, an internal Git server) is refused (SSRF). The
//! addresses found are pinned for the clone (`http.curloptResolve`), so
//! the host cannot resolve to another address between the check and the
//! fetch (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use reqwest::Url;

use super::settings::CodeSettings;

/// Why a URL cannot be cloned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Not a URL, or of a scheme not allowed.
    #[error("{0}")]
    Refused(String),
    /// The host resolves to an address not allowed.
    #[error("the repository's host {host} resolves to {address}, a non-public address: refused")]
    PrivateAddress {
        /// The host.
        host: String,
        /// The address.
        address: IpAddr,
    },
    /// The host does not resolve.
    #[error("the repository's host {0} could not be resolved")]
    Unresolved(String),
}

/// A URL checked for cloning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An `https` remote with its host's checked addresses.
    Remote {
        /// The URL as given (normalised).
        url: Url,
        /// `host:port:address` entries for `http.curloptResolve`.
        pins: Vec<String>,
    },
    /// A repository on this machine.
    Local(PathBuf),
}

impl Source {
    /// What git is told to clone.
    pub fn clone_arg(&self) -> String {
        match self {
            Source::Remote { url, .. } => url.to_string(),
            Source::Local(path) => format!("file://{}", path.display()),
        }
    }
}

/// Whether `address` is one a public repository host can have.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        // 100.64.0.0/10: carrier-grade NAT, internal to a provider.
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24 (protocol assignments) and 198.18.0.0/15 (benchmarking).
        || (a == 192 && b == 0 && v4.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4: reserved.
        || a >= 240)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let first = v6.segments()[0];
    !(v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        // fc00::/7 unique local, fe80::/10 link local, 2001:db8::/32 documentation.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && v6.segments()[1] == 0x0db8))
}

/// Checks `raw` against `settings` (see the module doc), resolving its
/// host.
pub async fn check(raw: &str, settings: &CodeSettings) -> Result<Source, SourceError> {
    let url = Url::parse(raw.trim()).map_err(|e| SourceError::Refused(format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "file" if settings.allow_local_repositories => {
            let path = url.to_file_path().map_err(|()| SourceError::Refused("not a local path".into()))?;
            return Ok(Source::Local(path));
        }
        "file" => {
            return Err(SourceError::Refused(
                "local repositories (file://) are not allowed here (code.allow_local_repositories)".into(),
            ));
        }
        other => return Err(SourceError::Refused(format!("only https repository URLs are allowed, not {other}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SourceError::Refused("credentials in the URL are not accepted".into()));
    }
    let host = url.host_str().ok_or_else(|| SourceError::Refused("the URL has no host".into()))?.to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(literal) => vec![literal],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| SourceError::Unresolved(host.clone()))?
            .map(|a| a.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(SourceError::Unresolved(host));
    }
    if !settings.allow_private_addresses
        && let Some(address) = addresses.iter().copied().find(|a| !is_public(*a))
    {
        return Err(SourceError::PrivateAddress { host, address });
    }
    let pins = addresses
        .iter()
        .map(|a| match a {
            IpAddr::V4(v4) => format!("{bare}:{port}:{v4}"),
            IpAddr::V6(v6) => format!("{bare}:{port}:[{v6}]"),
        })
        .collect();
    Ok(Source::Remote { url, pins })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CodeSettings {
        CodeSettings::default()
    }

    #[tokio::test]
    async fn only_public_https_is_cloned_by_default() {
        for (url, why) in [
            ("http://github.com/a/b", "only https"),
            ("ssh://git@github.com/a/b", "only https"),
            ("git://github.com/a/b", "only https"),
            ("file:///tmp/repo", "file://"),
            ("https://user:token@github.com/a/b", "credentials"),
            ("not a url", "not a URL"),
        ] {
            let refused = check(url, &settings()).await.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(refused.contains(why), "{url}: {refused}");
        }
        for url in [
            "https://127.0.0.1/a/b",
            "https://10.1.2.3/a/b",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/a/b",
            "https://[::ffff:192.168.1.1]/a/b",
            "https://[fd00::1]/a/b",
            "https://100.64.0.1/a/b",
            "https://0.0.0.0/a/b",
            "https://localhost/a/b",
        ] {
            assert!(
                matches!(check(url, &settings()).await, Err(SourceError::PrivateAddress { .. })),
                "{url} must be refused"
            );
        }
        let public = check("https://140.82.112.3/owner/repo.git", &settings()).await;
        let pins = match public {
            Ok(Source::Remote { pins, .. }) => pins,
            other => panic!("{other:?}"),
        };
        assert_eq!(pins, ["140.82.112.3:443:140.82.112.3"]);
    }

    #[tokio::test]
    async fn settings_open_local_and_private_sources() {
        let open = CodeSettings { allow_local_repositories: true, allow_private_addresses: true, ..settings() };
        assert_eq!(check("file:///tmp/repo", &open).await, Ok(Source::Local(PathBuf::from("/tmp/repo"))));
        assert!(check("https://127.0.0.1:8443/a/b", &open).await.is_ok());
    }
}
