//! Input checks shared by every provider: what Cosmos DB would refuse is
//! refused here first, with `invalid_argument` (or `too_large`) and a
//! message naming the argument, before anything is written.

use serde_json::value::RawValue;

use crate::doc::{is_system_field, Members, REV};
use crate::error::{Code, DsError, DsResult};

/// Cosmos DB refuses ids longer than this (characters).
pub const MAX_ID_CHARS: usize = 255;
/// Cosmos DB's item size limit.
pub const MAX_DOCUMENT_BYTES: usize = 2 * 1024 * 1024;
/// What a caller's document (its own fields as compact JSON, system fields
/// dropped) may take of that limit. The rest is kept for what the providers
/// add (`rev`, `_etag`, `_ts`; on Cosmos also `_rid`, `_self` and the write
/// tokens), so one limit holds on every provider: a document that fits on
/// Memory fits on Cosmos.
pub const MAX_BODY_BYTES: usize = MAX_DOCUMENT_BYTES - 1024;
/// Cosmos DB's limit on a partition key value (large partition keys), in UTF-8 bytes.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Characters Cosmos DB refuses in an id.
const FORBIDDEN_ID_CHARS: [char; 4] = ['/', '\\', '?', '#'];

/// A top-level partition key path such as `/tenantId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKeyPath {
    field: String,
}

impl PartitionKeyPath {
    pub fn parse(path: &str) -> DsResult<Self> {
        let field = path.strip_prefix('/').ok_or_else(|| {
            DsError::invalid(format!(
                "partitionKeyPath must start with '/', got {path:?}"
            ))
        })?;
        if field.is_empty() || field.contains('/') {
            return Err(DsError::invalid(format!(
                "partitionKeyPath must name one top-level field, like '/tenantId'; got {path:?} (nested paths are not supported)"
            )));
        }
        if field == "id" || field == REV || field.starts_with('_') {
            return Err(DsError::invalid(format!(
                "partitionKeyPath {path:?} names a field the datastore owns"
            )));
        }
        Ok(PartitionKeyPath {
            field: field.to_owned(),
        })
    }

    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn path(&self) -> String {
        format!("/{}", self.field)
    }
}

/// Checks an id. Refused: what Cosmos DB refuses, and what would address
/// something other than the document through its URL (`…/docs/{id}`): `.`
/// and `..` are path segments, and HTTP stacks strip TAB, LF and CR from
/// URLs, so `'a\tb'` would reach `'ab'`. Both providers refuse the same ids.
pub fn validate_id(id: &str) -> DsResult<()> {
    if id.is_empty() {
        return Err(DsError::invalid("id must be a non-empty string"));
    }
    if id == "." || id == ".." {
        return Err(DsError::invalid(format!(
            "id {id:?} is not allowed: it is a path segment, not a name"
        )));
    }
    if let Some(c) = id.chars().find(|c| c.is_control()) {
        return Err(DsError::invalid(format!(
            "id {id:?} contains the control character {c:?}, which ids may not contain"
        )));
    }
    if id.ends_with(' ') {
        return Err(DsError::invalid(format!(
            "id {id:?} ends with a space, which Cosmos DB does not allow"
        )));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(DsError::invalid(format!(
            "id is longer than {MAX_ID_CHARS} characters: {:?}...",
            id.chars().take(32).collect::<String>()
        )));
    }
    if let Some(c) = id.chars().find(|c| FORBIDDEN_ID_CHARS.contains(c)) {
        return Err(DsError::invalid(format!(
            "id {id:?} contains {c:?}, which Cosmos DB does not allow"
        )));
    }
    Ok(())
}

/// A partition key value must be a JSON string (of at most
/// `MAX_PARTITION_KEY_BYTES`), number or boolean.
pub fn validate_pk_value(raw: &str, field: &str) -> DsResult<()> {
    match raw.as_bytes().first() {
        Some(b'"') => {
            let s: String = serde_json::from_str(raw).map_err(|_| {
                DsError::invalid(format!(
                    "partition key {field:?} is not a well-formed string"
                ))
            })?;
            if s.len() > MAX_PARTITION_KEY_BYTES {
                return Err(DsError::invalid(format!(
                    "partition key {field:?} is {} bytes long; the limit is {MAX_PARTITION_KEY_BYTES}",
                    s.len()
                )));
            }
            Ok(())
        }
        Some(b't') | Some(b'f') | Some(b'-') | Some(b'0'..=b'9') => Ok(()),
        _ => Err(DsError::invalid(format!(
            "partition key {field:?} must be a string, number or boolean, got {}",
            truncate(raw)
        ))),
    }
}

/// The caller's fields of a whole document: the datastore's own fields
/// (`rev` and the Cosmos system properties) are dropped, since a document
/// read back carries them; any other field starting with `_` is refused,
/// as it is in a patch, so no provider keeps what another would drop.
pub fn document_fields(doc: Members<'_>) -> DsResult<Members<'_>> {
    if let Some((key, _)) = doc
        .0
        .iter()
        .find(|(k, _)| k.starts_with('_') && !is_system_field(k))
    {
        return Err(DsError::invalid(format!(
            "document may not set {:?}: fields starting with '_' are reserved for the datastore",
            key.as_ref()
        )));
    }
    Ok(doc.without_system_fields())
}

/// The id and the partition key (as raw JSON text) of a whole document.
pub fn doc_key<'a>(doc: &Members<'a>, pk: &PartitionKeyPath) -> DsResult<(String, &'a RawValue)> {
    let id_raw = doc
        .get("id")
        .ok_or_else(|| DsError::invalid("document has no 'id'"))?;
    let id: String = serde_json::from_str(id_raw.get()).map_err(|_| {
        DsError::invalid(format!(
            "document 'id' must be a string, got {}",
            truncate(id_raw.get())
        ))
    })?;
    validate_id(&id)?;
    let pk_raw = doc.get(pk.field()).ok_or_else(|| {
        DsError::invalid(format!(
            "document {id:?} has no partition key field {:?}",
            pk.field()
        ))
    })?;
    validate_pk_value(pk_raw.get(), pk.field())?;
    Ok((id, pk_raw))
}

/// A patch may not change `id`, the partition key, `rev`, or `_*` fields.
/// `id` and the partition key may appear only with their current values.
pub fn check_patch(
    patch: &Members<'_>,
    id: &str,
    pk: &PartitionKeyPath,
    pk_json: &str,
) -> DsResult<()> {
    for (key, value) in &patch.0 {
        let key = key.as_ref();
        if key == REV || key.starts_with('_') {
            return Err(DsError::invalid(format!(
                "patch may not set {key:?}: it is owned by the datastore"
            )));
        }
        if key == "id" {
            let same = serde_json::from_str::<String>(value.get()).is_ok_and(|v| v == id);
            if !same {
                return Err(DsError::invalid(format!(
                    "patch may not change 'id' of {id:?}"
                )));
            }
        }
        if key == pk.field() && value.get() != pk_json {
            return Err(DsError::invalid(format!(
                "patch may not change the partition key {:?} of {id:?}",
                pk.field()
            )));
        }
    }
    Ok(())
}

/// Refuses a caller's document (its fields as compact JSON, `len` bytes)
/// over `MAX_BODY_BYTES`, before sending or storing it.
pub fn check_size(len: usize, id: &str) -> DsResult<()> {
    if len > MAX_BODY_BYTES {
        return Err(DsError::new(
            Code::TooLarge,
            format!("document {id:?} is {len} bytes; the limit is {MAX_BODY_BYTES}"),
        ));
    }
    Ok(())
}

/// `expected.rev` from JavaScript: a non-negative whole number.
pub fn expected_rev(rev: f64) -> DsResult<u64> {
    if rev.is_finite() && rev >= 0.0 && rev.fract() == 0.0 && rev <= MAX_SAFE_INTEGER {
        Ok(rev as u64)
    } else {
        Err(DsError::invalid(format!(
            "expected.rev must be a whole number from 0 to {MAX_SAFE_INTEGER}, got {rev}"
        )))
    }
}

/// `Number.MAX_SAFE_INTEGER`: the largest `rev` JavaScript holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_key_paths() {
        assert_eq!(
            PartitionKeyPath::parse("/tenantId").unwrap().field(),
            "tenantId"
        );
        for bad in ["tenantId", "/", "/a/b", "/id", "/_etag", "/rev", ""] {
            assert_eq!(
                PartitionKeyPath::parse(bad).unwrap_err().code,
                Code::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_cosmos_would_refuse() {
        assert!(validate_id("job-1").is_ok());
        assert!(validate_id(&"x".repeat(255)).is_ok());
        assert!(
            validate_id(&"é".repeat(255)).is_ok(),
            "counts characters, not bytes"
        );
        for bad in [
            "",
            "a/b",
            "a\\b",
            "a?b",
            "a#b",
            ".",
            "..",
            "a\tb",
            "a\nb",
            "a\rb",
            "\u{0}",
            "a\u{7f}",
            "a\u{85}",
            "trailing ",
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        for good in [
            "...", ".a", "a.", "a b", "a%2Fb", "%41", "a+b", "é", "\u{fffd}",
        ] {
            assert!(validate_id(good).is_ok(), "{good:?}");
        }
        assert!(validate_id(&"x".repeat(256)).is_err());
    }

    #[test]
    fn partition_key_values() {
        let at_limit = serde_json::to_string(&"k".repeat(MAX_PARTITION_KEY_BYTES)).unwrap();
        let over = serde_json::to_string(&"é".repeat(MAX_PARTITION_KEY_BYTES / 2 + 1)).unwrap();
        assert!(validate_pk_value(&at_limit, "t").is_ok());
        assert!(
            validate_pk_value(&over, "t").is_err(),
            "bytes, not characters"
        );
        for ok in ["1", "-2.5", "true", "false", "\"\""] {
            assert!(validate_pk_value(ok, "t").is_ok(), "{ok}");
        }
        for bad in ["null", "{}", "[1]", "\"\\ud800\""] {
            assert!(validate_pk_value(bad, "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn document_fields_drop_system_fields_and_refuse_other_underscores() {
        let m = Members::parse(
            r#"{"id":"a","rev":3,"_etag":"e","_ts":1,"_rid":"r","n":1}"#,
            "d",
        )
        .unwrap();
        assert_eq!(document_fields(m).unwrap().to_json(), r#"{"id":"a","n":1}"#);
        for bad in [
            r#"{"id":"a","_foo":1}"#,
            r#"{"id":"a","_dsw":[]}"#,
            r#"{"_":1}"#,
        ] {
            let m = Members::parse(bad, "d").unwrap();
            assert_eq!(
                document_fields(m).unwrap_err().code,
                Code::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn doc_key_requires_string_id_and_scalar_pk() {
        let pk = PartitionKeyPath::parse("/t").unwrap();
        let ok = Members::parse(r#"{"id":"a","t":"x"}"#, "d").unwrap();
        let (id, raw) = doc_key(&ok, &pk).unwrap();
        assert_eq!((id.as_str(), raw.get()), ("a", "\"x\""));
        for bad in [
            r#"{"t":"x"}"#,
            r#"{"id":1,"t":"x"}"#,
            r#"{"id":"a"}"#,
            r#"{"id":"a","t":null}"#,
            r#"{"id":"a","t":{"k":1}}"#,
            r#"{"id":"a","t":[1]}"#,
        ] {
            let m = Members::parse(bad, "d").unwrap();
            assert_eq!(
                doc_key(&m, &pk).unwrap_err().code,
                Code::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn patch_rules() {
        let pk = PartitionKeyPath::parse("/t").unwrap();
        let check = |p: &str| check_patch(&Members::parse(p, "patch").unwrap(), "a", &pk, "\"x\"");
        assert!(check(r#"{"status":"assigned"}"#).is_ok());
        assert!(
            check(r#"{"id":"a","t":"x","s":1}"#).is_ok(),
            "unchanged id/pk are allowed"
        );
        for bad in [
            r#"{"id":"b"}"#,
            r#"{"t":"y"}"#,
            r#"{"rev":2}"#,
            r#"{"_etag":"e"}"#,
            r#"{"_x":1}"#,
        ] {
            assert_eq!(check(bad).unwrap_err().code, Code::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn sizes_and_revs() {
        assert!(check_size(MAX_BODY_BYTES, "a").is_ok());
        assert_eq!(
            check_size(MAX_BODY_BYTES + 1, "a").unwrap_err().code,
            Code::TooLarge
        );
        assert_eq!(expected_rev(3.0).unwrap(), 3);
        assert_eq!(expected_rev(MAX_SAFE_INTEGER).unwrap(), (1 << 53) - 1);
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, MAX_SAFE_INTEGER + 1.0] {
            assert!(expected_rev(bad).is_err());
        }
    }

    // Pinned by mutation testing (docs/testing.md): each of these let a
    // mutant of the checks above survive the tests before them.

    /// validate.rs `PartitionKeyPath::path`: replaced with `String::new()` or
    /// `"xyzzy"` (the Cosmos provider sends it when creating a container).
    #[test]
    fn partition_key_path_round_trips() {
        let pk = PartitionKeyPath::parse("/tenantId").unwrap();
        assert_eq!(pk.path(), "/tenantId");
        assert_eq!(pk.field(), "tenantId");
    }

    /// validate.rs `truncate` (used in messages): `> 40` boundary and the
    /// replacement of its result. A bad partition key value is named in the
    /// message, cut at 40 characters with `...`.
    #[test]
    fn bad_values_are_named_and_truncated_in_messages() {
        let short = validate_pk_value("null", "t").unwrap_err();
        assert_eq!(short.code, Code::InvalidArgument);
        assert!(short.message.ends_with("got null"), "{}", short.message);

        let exactly_40 = format!("[{}]", "1,".repeat(18) + "11"); // 40 characters
        assert_eq!(exactly_40.chars().count(), 40);
        let e = validate_pk_value(&exactly_40, "t").unwrap_err();
        assert!(
            e.message.ends_with(&format!("got {exactly_40}")),
            "{}",
            e.message
        );

        let long = format!("[{}]", "1,".repeat(30) + "1");
        let e = validate_pk_value(&long, "t").unwrap_err();
        let cut: String = long.chars().take(40).collect();
        assert!(
            e.message.ends_with(&format!("got {cut}...")),
            "{}",
            e.message
        );
    }

    /// validate.rs constants: `2 * 1024 * 1024` (`*` → `+`) and
    /// `MAX_DOCUMENT_BYTES - 1024` (`-` → `/`). The crate's own tests use the
    /// constants symbolically, so a wrong limit passed them: pin the numbers
    /// (Cosmos DB's 2 MB item limit, 1 KB kept for the system fields).
    #[test]
    fn size_limits_are_cosmos_limits() {
        assert_eq!(MAX_DOCUMENT_BYTES, 2_097_152);
        assert_eq!(MAX_BODY_BYTES, 2_096_128);
        assert!(check_size(2_096_128, "a").is_ok());
        assert_eq!(check_size(2_096_129, "a").unwrap_err().code, Code::TooLarge);
    }
}
