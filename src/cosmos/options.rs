//! Connection options: where the account is, how to authenticate, and
//! whether it is a local emulator (which relaxes TLS and protocol settings,
//! so it is refused for any host that is not loopback).

use std::fmt;
use std::net::IpAddr;

use azure_data_cosmos::AccountEndpoint;

use super::errors::Redactor;
use crate::error::{DsError, DsResult};
use crate::validate::PartitionKeyPath;

/// The account key. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountKey(String);

impl AccountKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKey(<redacted>)")
    }
}

/// Validated connection options.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Normalized endpoint URL text (`https://host:port/`).
    pub endpoint: String,
    /// How requests are signed: with the account key, or with tokens from a
    /// credential (Entra ID) the caller passed.
    pub auth: Auth,
    pub database: String,
    pub container: String,
    pub partition_key: PartitionKeyPath,
    pub emulator: bool,
    pub create_if_not_exists: bool,
    /// Every request's deadline, end to end (retries included).
    pub timeout: Option<std::time::Duration>,
    /// Regions to try first, in order, normalized (`westus2`).
    pub preferred_regions: Vec<String>,
    /// The consistency reads ask for; `None`: the account's default.
    pub consistency: Option<Consistency>,
}

/// The read consistency a provider asks for, as `@azure/cosmos`'s
/// `consistencyLevel` names it, limited to what the pinned SDK can ask
/// for (its `ReadConsistencyStrategy`, sent on reads only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// The SDK's `GlobalStrong`: only on accounts whose default is Strong
    /// (the SDK refuses it before sending otherwise, as the service would).
    Strong,
    Session,
    Eventual,
}

impl Consistency {
    fn parse(level: &str) -> DsResult<Self> {
        match level {
            "Strong" => Ok(Consistency::Strong),
            "Session" => Ok(Consistency::Session),
            "Eventual" => Ok(Consistency::Eventual),
            "BoundedStaleness" | "ConsistentPrefix" => Err(DsError::invalid(format!(
                "consistencyLevel {level:?} cannot be asked for: the pinned azure_data_cosmos SDK (1.1.0-beta.1) asks for read consistency only as Strong, Session or Eventual; leave it unset to read at the account's default"
            ))),
            _ => Err(DsError::invalid(format!(
                "consistencyLevel must be one of \"Strong\", \"BoundedStaleness\", \"Session\", \"Eventual\", \"ConsistentPrefix\" (as @azure/cosmos spells them), got {level:?}"
            ))),
        }
    }
}

/// Azure region names: letters, digits and spaces (`West US 2`, `eastus2`).
/// Names the SDK does not know are allowed (regions are added), but not
/// text that cannot be one.
fn parse_regions(regions: Vec<String>) -> DsResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(regions.len());
    for r in regions {
        let ok = !r.trim().is_empty()
            && r.len() <= 64
            && r.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ');
        if !ok {
            return Err(DsError::invalid(format!(
                "preferredRegions: {r:?} is not an Azure region name (like \"West US 2\" or \"eastus2\")"
            )));
        }
        let normalized = azure_data_cosmos::options::Region::new(r.clone())
            .as_str()
            .to_owned();
        if out.contains(&normalized) {
            return Err(DsError::invalid(format!(
                "preferredRegions names {r:?} twice"
            )));
        }
        out.push(normalized);
    }
    Ok(out)
}

/// How a provider authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Auth {
    Key(AccountKey),
    /// An Entra ID token credential, by the number the TypeScript layer gave
    /// its object (the same object, the same number: one client per credential).
    Credential(u32),
}

impl Auth {
    /// The key, when authenticating with one: what every message is scrubbed of.
    pub fn key(&self) -> Option<&str> {
        match self {
            Auth::Key(k) => Some(k.expose()),
            Auth::Credential(_) => None,
        }
    }
}

/// What JavaScript passed, before validation.
#[derive(Default)]
pub struct RawOptions {
    pub endpoint: Option<String>,
    pub key: Option<String>,
    pub connection_string: Option<String>,
    /// Set when a `credential` was passed instead of a key.
    pub credential_id: Option<u32>,
    pub database: String,
    pub container: String,
    pub partition_key_path: String,
    pub emulator: bool,
    pub create_if_not_exists: bool,
    /// `timeoutMs`, checked by the TypeScript layer (a whole number ≥ 1).
    pub timeout_ms: Option<u32>,
    pub preferred_regions: Option<Vec<String>>,
    pub consistency_level: Option<String>,
}

impl ConnectOptions {
    /// Validates `raw`. No error names the endpoint, key or connection
    /// string as given: a caller who swapped `endpoint` and `key`, or passed
    /// a connection string as `endpoint`, would otherwise see the key in
    /// the message. Every message is scrubbed of them all the same.
    pub fn parse(raw: RawOptions) -> DsResult<Self> {
        let secrets: Vec<String> = [&raw.key, &raw.connection_string, &raw.endpoint]
            .into_iter()
            .flatten()
            .flat_map(|s| secret_parts(s))
            .collect();
        Self::parse_unscrubbed(raw).map_err(|mut e| {
            e.message = Redactor::new(secrets).scrub(&e.message);
            e
        })
    }

    fn parse_unscrubbed(raw: RawOptions) -> DsResult<Self> {
        let given_key = raw.key.is_some() || raw.connection_string.is_some();
        if raw.credential_id.is_some() && given_key {
            return Err(DsError::invalid(
                "give either a key (key or connectionString) or a credential, not both",
            ));
        }
        let (endpoint, auth) = match (raw.connection_string, raw.endpoint, raw.key) {
            (Some(cs), None, None) => {
                let (e, k) = parse_connection_string(&cs)?;
                (e, Auth::Key(AccountKey(k)))
            }
            (None, Some(e), Some(k)) => (e, Auth::Key(AccountKey(k))),
            (Some(_), _, _) => {
                return Err(DsError::invalid(
                    "give either connectionString or endpoint + key, not both",
                ))
            }
            (None, None, _) => {
                return Err(DsError::invalid(
                    "endpoint (with key or credential) or connectionString is required",
                ))
            }
            (None, Some(e), None) => match raw.credential_id {
                Some(id) => (e, Auth::Credential(id)),
                None => {
                    return Err(DsError::invalid(
                        "key (or credential) is required with endpoint",
                    ))
                }
            },
        };
        if auth.key().is_some_and(|k| k.trim().is_empty()) {
            return Err(DsError::invalid("key must not be empty"));
        }
        let parsed: AccountEndpoint = endpoint.parse().map_err(|_| {
            DsError::invalid(
                "endpoint is not a valid URL (expected one like https://<account>.documents.azure.com:443/)",
            )
        })?;
        let url = parsed.url();
        if url.scheme() != "https" {
            return Err(DsError::invalid(format!(
                "endpoint must use https, not {:?}",
                url.scheme()
            )));
        }
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || url.path() != "/"
        {
            return Err(DsError::invalid(
                "endpoint must be the account URL alone (https://host:port/), with no user, password, path or query",
            ));
        }
        let host = url.host_str().unwrap_or_default();
        if raw.emulator && !is_loopback(host) {
            return Err(DsError::invalid(format!(
                "emulator: true relaxes TLS checks and is only allowed for a loopback host; {host:?} is not loopback"
            )));
        }
        check_name(&raw.database, "database")?;
        check_name(&raw.container, "container")?;
        Ok(ConnectOptions {
            endpoint: url.to_string(),
            auth,
            database: raw.database,
            container: raw.container,
            partition_key: PartitionKeyPath::parse(&raw.partition_key_path)?,
            emulator: raw.emulator,
            create_if_not_exists: raw.create_if_not_exists,
            timeout: match raw.timeout_ms {
                Some(0) => return Err(DsError::invalid("timeoutMs must be at least 1")),
                Some(ms) => Some(std::time::Duration::from_millis(u64::from(ms))),
                None => None,
            },
            preferred_regions: parse_regions(raw.preferred_regions.unwrap_or_default())?,
            consistency: raw
                .consistency_level
                .as_deref()
                .map(Consistency::parse)
                .transpose()?,
        })
    }
}

/// `AccountEndpoint=https://...;AccountKey=...;` (order free, trailing `;`
/// optional). The key is base64 and may itself end in `=`, so each part is
/// split at its first `=` only. Errors never echo the string.
fn parse_connection_string(cs: &str) -> DsResult<(String, String)> {
    let mut endpoint = None;
    let mut key = None;
    for part in cs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(DsError::invalid(
                "connectionString must look like AccountEndpoint=...;AccountKey=...;",
            ));
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "accountendpoint" => endpoint = Some(value.trim().to_owned()),
            "accountkey" => key = Some(value.trim().to_owned()),
            _ => {} // other parts (e.g. Database=) are not ours to judge
        }
    }
    match (endpoint, key) {
        (Some(e), Some(k)) if !e.is_empty() && !k.is_empty() => Ok((e, k)),
        _ => Err(DsError::invalid(
            "connectionString needs both AccountEndpoint and AccountKey",
        )),
    }
}

/// `localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The text of a secret and its parts a message could carry alone: each
/// `name=value` part of a connection string, and each value.
fn secret_parts(s: &str) -> Vec<String> {
    let mut out = vec![s.trim().to_owned()];
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(part.to_owned());
        if let Some((_, value)) = part.split_once('=') {
            out.push(value.trim().to_owned());
        }
    }
    out
}

/// Database and container ids: what Cosmos DB refuses, and what would
/// address something else through the URL (`.`, `..`, control characters),
/// so `createIfNotExists` never creates a resource under another name.
fn check_name(name: &str, what: &str) -> DsResult<()> {
    if name.is_empty()
        || name.len() > 255
        || name.contains(['/', '\\', '?', '#'])
        || name.contains(char::is_control)
        || name == "."
        || name == ".."
        || name.ends_with(' ')
    {
        return Err(DsError::invalid(format!(
            "{what} {name:?} is not a valid Cosmos DB id"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    const KEY: &str = "c2VjcmV0LWtleQ==";

    #[test]
    fn a_credential_instead_of_a_key() {
        let mut r = raw(Some("https://localhost:8081/"), None, None, true);
        r.credential_id = Some(7);
        let o = ConnectOptions::parse(r).unwrap();
        assert_eq!(o.auth, Auth::Credential(7));
        assert_eq!(o.auth.key(), None);
        let mut both = raw(Some("https://localhost:8081/"), Some(KEY), None, true);
        both.credential_id = Some(7);
        let e = ConnectOptions::parse(both).unwrap_err();
        assert!(e.message.contains("not both"), "{}", e.message);
        assert!(!e.message.contains(KEY));
        let neither = ConnectOptions::parse(raw(Some("https://localhost:8081/"), None, None, true));
        assert!(neither.unwrap_err().message.contains("key (or credential)"));
    }

    fn raw(
        endpoint: Option<&str>,
        key: Option<&str>,
        cs: Option<&str>,
        emulator: bool,
    ) -> RawOptions {
        RawOptions {
            endpoint: endpoint.map(str::to_owned),
            key: key.map(str::to_owned),
            connection_string: cs.map(str::to_owned),
            credential_id: None,
            database: "db".into(),
            container: "c".into(),
            partition_key_path: "/tenantId".into(),
            emulator,
            create_if_not_exists: false,
            timeout_ms: None,
            preferred_regions: None,
            consistency_level: None,
        }
    }

    #[test]
    fn regions_and_consistency() {
        let mut r = raw(Some("https://localhost:1/"), Some(KEY), None, true);
        r.preferred_regions = Some(vec!["West US 2".into(), "eastus".into()]);
        r.consistency_level = Some("Eventual".into());
        let o = ConnectOptions::parse(r).unwrap();
        assert_eq!(o.preferred_regions, ["westus2", "eastus"]);
        assert_eq!(o.consistency, Some(Consistency::Eventual));
        for bad in [vec![""], vec!["east;us"], vec!["eastus", "East US"]] {
            let mut r = raw(Some("https://localhost:1/"), Some(KEY), None, true);
            r.preferred_regions = Some(bad.iter().map(|s| (*s).to_owned()).collect());
            let e = ConnectOptions::parse(r).unwrap_err();
            assert_eq!(e.code, Code::InvalidArgument, "{bad:?}");
        }
        for (level, says) in [
            ("BoundedStaleness", "pinned"),
            ("strong", "one of"),
            ("", "one of"),
        ] {
            let mut r = raw(Some("https://localhost:1/"), Some(KEY), None, true);
            r.consistency_level = Some(level.into());
            let e = ConnectOptions::parse(r).unwrap_err();
            assert!(e.message.contains(says), "{level}: {}", e.message);
        }
    }

    #[test]
    fn endpoint_and_key() {
        let o = ConnectOptions::parse(raw(
            Some("https://acct.documents.azure.com:443/"),
            Some(KEY),
            None,
            false,
        ))
        .unwrap();
        assert_eq!(o.auth.key().unwrap_or_default(), KEY);
        assert_eq!(o.partition_key.field(), "tenantId");
        assert!(
            !format!("{o:?}").contains(KEY),
            "Debug must not show the key"
        );
    }

    #[test]
    fn connection_string_with_padded_key() {
        let cs = format!("AccountEndpoint=https://localhost:8081/;AccountKey={KEY};");
        let o = ConnectOptions::parse(raw(None, None, Some(&cs), true)).unwrap();
        assert_eq!(
            (o.endpoint.as_str(), o.auth.key().unwrap_or_default()),
            ("https://localhost:8081/", KEY)
        );
    }

    #[test]
    fn bad_connection_strings_do_not_echo_the_key() {
        for cs in [
            "AccountKey=abc",
            "nonsense",
            "AccountEndpoint=https://x/;AccountKey=",
        ] {
            let e = ConnectOptions::parse(raw(None, None, Some(cs), false)).unwrap_err();
            assert_eq!(e.code, Code::InvalidArgument);
            assert!(!e.message.contains("abc"), "{}", e.message);
        }
    }

    #[test]
    fn emulator_only_on_loopback() {
        for host in [
            "https://localhost:1/",
            "https://127.0.0.1:1/",
            "https://[::1]:1/",
            "https://127.8.9.1/",
        ] {
            assert!(
                ConnectOptions::parse(raw(Some(host), Some(KEY), None, true)).is_ok(),
                "{host}"
            );
        }
        for host in [
            "https://acct.documents.azure.com/",
            "https://10.0.0.1/",
            "https://localhost.evil.com/",
        ] {
            let e = ConnectOptions::parse(raw(Some(host), Some(KEY), None, true)).unwrap_err();
            assert_eq!(e.code, Code::InvalidArgument, "{host}");
        }
    }

    fn local() -> RawOptions {
        raw(Some("https://localhost:8081/"), Some(KEY), None, true)
    }

    fn refused(r: RawOptions) -> String {
        let e = ConnectOptions::parse(r).unwrap_err();
        assert_eq!(e.code, Code::InvalidArgument, "{}", e.message);
        e.message
    }

    #[test]
    fn every_option_is_carried_over() {
        let mut r = local();
        r.database = "my db".into();
        r.container = "jobs-1".into();
        r.create_if_not_exists = true;
        r.timeout_ms = Some(1500);
        let o = ConnectOptions::parse(r).unwrap();
        assert_eq!(o.endpoint, "https://localhost:8081/");
        assert_eq!(
            (o.database.as_str(), o.container.as_str()),
            ("my db", "jobs-1")
        );
        assert!(o.emulator && o.create_if_not_exists);
        assert_eq!(o.timeout, Some(std::time::Duration::from_millis(1500)));
        assert!(o.preferred_regions.is_empty());
        assert_eq!(o.consistency, None);
        let o = ConnectOptions::parse(raw(Some("https://a/"), Some(KEY), None, false)).unwrap();
        assert!(!o.emulator && !o.create_if_not_exists);
        assert_eq!(o.timeout, None);
        let mut r = local();
        r.timeout_ms = Some(1);
        let o = ConnectOptions::parse(r).unwrap();
        assert_eq!(o.timeout, Some(std::time::Duration::from_millis(1)));
        let mut r = local();
        r.timeout_ms = Some(0);
        assert!(refused(r).contains("timeoutMs"));
        assert_eq!(
            format!("{:?}", AccountKey(KEY.into())),
            "AccountKey(<redacted>)"
        );
    }

    #[test]
    fn each_consistency_level_by_its_name() {
        for (level, want) in [
            ("Strong", Consistency::Strong),
            ("Session", Consistency::Session),
            ("Eventual", Consistency::Eventual),
        ] {
            let mut r = local();
            r.consistency_level = Some(level.into());
            assert_eq!(ConnectOptions::parse(r).unwrap().consistency, Some(want));
        }
        let mut r = local();
        r.consistency_level = Some("ConsistentPrefix".into());
        assert!(refused(r).contains("pinned"));
    }

    #[test]
    fn region_names_up_to_64_letters_digits_and_spaces() {
        let regions = |names: &[&str]| {
            let mut r = local();
            r.preferred_regions = Some(names.iter().map(|s| (*s).to_owned()).collect());
            r
        };
        let long = "a".repeat(64);
        let o = ConnectOptions::parse(regions(&["North Europe", &long])).unwrap();
        assert_eq!(
            o.preferred_regions,
            ["northeurope".to_owned(), long.clone()]
        );
        for bad in ["   ", "east-us", "\u{e9}ast"] {
            assert!(
                refused(regions(&[bad])).contains("not an Azure region"),
                "{bad:?}"
            );
        }
        let too_long = "a".repeat(65);
        assert!(refused(regions(&[&too_long])).contains("not an Azure region"));
        assert!(refused(regions(&["westus", "West US"])).contains("twice"));
    }

    #[test]
    fn a_credential_with_a_connection_string_is_refused() {
        let cs = format!("AccountEndpoint=https://localhost:8081/;AccountKey={KEY}");
        let mut r = raw(None, None, Some(&cs), true);
        r.credential_id = Some(3);
        assert!(refused(r).contains("not both"));
    }

    #[test]
    fn a_blank_key_is_refused() {
        let r = raw(Some("https://localhost:1/"), Some("  "), None, true);
        assert!(refused(r).contains("key must not be empty"));
    }

    #[test]
    fn the_endpoint_is_the_account_url_alone() {
        for url in [
            "https://user@localhost:1/",
            "https://:pw@localhost:1/",
            "https://localhost:1/?x=1",
            "https://localhost:1/#top",
            "https://localhost:1/dbs",
        ] {
            let msg = refused(raw(Some(url), Some(KEY), None, true));
            assert!(msg.contains("account URL alone"), "{url}: {msg}");
        }
    }

    #[test]
    fn connection_string_parts_in_any_case_and_order() {
        let cs =
            format!(" accountkey = {KEY} ; Database=x;ACCOUNTENDPOINT=https://localhost:8081/");
        let o = ConnectOptions::parse(raw(None, None, Some(&cs), true)).unwrap();
        assert_eq!(
            (o.endpoint.as_str(), o.auth.key().unwrap_or_default()),
            ("https://localhost:8081/", KEY)
        );
        for cs in [
            "AccountEndpoint=https://localhost:8081/;AccountKey=",
            "AccountEndpoint=;AccountKey=abcdefgh",
            "AccountEndpoint=https://localhost:8081/",
        ] {
            let msg = refused(raw(None, None, Some(cs), true));
            assert!(msg.contains("needs both"), "{cs}: {msg}");
        }
    }

    /// Messages that would echo a secret (here a database or container name
    /// holding the key) are scrubbed of the key, of a connection string's
    /// parts and of their values.
    #[test]
    fn a_message_never_carries_a_secret() {
        let secret = "s3cret-key-value";
        let mut r = raw(Some("https://localhost:1/"), Some(secret), None, true);
        r.database = format!("{secret}/");
        let msg = refused(r);
        assert!(!msg.contains(secret) && msg.contains("<redacted>"), "{msg}");
        let cs = format!("AccountEndpoint=https://localhost:1/;AccountKey={secret}");
        let mut r = raw(None, None, Some(&cs), true);
        r.container = format!("{secret}?");
        let msg = refused(r);
        assert!(!msg.contains(secret) && msg.contains("<redacted>"), "{msg}");
    }

    #[test]
    fn database_and_container_ids_cosmos_accepts() {
        let named = |name: &str| {
            let mut r = local();
            r.database = name.to_owned();
            r
        };
        let longest = "d".repeat(255);
        for good in ["a", "a.b", "...", "a b", longest.as_str()] {
            assert!(ConnectOptions::parse(named(good)).is_ok(), "{good:?}");
        }
        let too_long = "d".repeat(256);
        for bad in [
            "", &too_long, "a/b", "a\\b", "a?b", "a#b", "a\u{1}b", ".", "..", "a ",
        ] {
            assert!(
                refused(named(bad)).contains("not a valid Cosmos DB id"),
                "{bad:?}"
            );
        }
        let mut r = local();
        r.container = "c/d".into();
        assert!(refused(r).contains("container"));
    }

    #[test]
    fn refuses_incomplete_or_insecure_options() {
        assert!(ConnectOptions::parse(raw(Some("https://a/"), None, None, false)).is_err());
        assert!(ConnectOptions::parse(raw(None, None, None, false)).is_err());
        assert!(ConnectOptions::parse(raw(Some("http://a/"), Some(KEY), None, false)).is_err());
        assert!(ConnectOptions::parse(raw(Some("not a url"), Some(KEY), None, false)).is_err());
        let cs = format!("AccountEndpoint=https://a/;AccountKey={KEY}");
        assert!(
            ConnectOptions::parse(raw(Some("https://a/"), Some(KEY), Some(&cs), false)).is_err()
        );
    }
}
