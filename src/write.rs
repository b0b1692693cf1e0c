//! What every provider's writes share: the outcome of a conditional write,
//! the expectation it compares against, the document a write stores, the
//! merge of a patch, and the messages for a document that exists or not.
//! The providers differ only in where the compare happens (a lock section
//! in Memory, `If-Match` on the server in Cosmos).

use crate::doc::{needs_escape, push_json_string, Members, Piece};
use crate::error::{Code, DsError, DsResult};
use crate::layout::{Layout, Merged};
use crate::validate::{check_size, doc_key, document_fields, expected_rev, PartitionKeyPath};

/// How a conditional write ended: what it wrote (the document, or `()` for
/// a delete), or why it wrote nothing. Unconditional writes report the last
/// two as errors.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome<T = String> {
    Written(T),
    /// The document is not the version expected (another write won).
    Conflict,
    /// The document does not exist.
    NotFound,
}

/// What a conditional write compares the current version against: its
/// etag, its `rev`, or both (then both must match).
#[derive(Debug, Clone)]
pub struct Expectation {
    pub etag: Option<String>,
    pub rev: Option<u64>,
}

impl Expectation {
    pub fn new(etag: Option<String>, rev: Option<u64>) -> DsResult<Self> {
        if etag.is_none() && rev.is_none() {
            return Err(DsError::invalid("expected must give etag, rev, or both"));
        }
        Ok(Expectation { etag, rev })
    }

    /// `expected` as JavaScript passes it (`rev` a number).
    pub fn from_js(etag: Option<String>, rev: Option<f64>) -> DsResult<Self> {
        Self::new(etag, rev.map(expected_rev).transpose()?)
    }

    /// Whether a version with this etag and `rev` is the one expected.
    pub fn matches(&self, etag: &str, rev: u64) -> bool {
        self.matches_with(|e| e == etag, rev)
    }

    /// The same, with the etag compared by `etag_is` (a provider whose
    /// etags are numbers compares without formatting one).
    pub fn matches_with(&self, etag_is: impl FnOnce(&str) -> bool, rev: u64) -> bool {
        self.etag.as_deref().is_none_or(etag_is) && self.rev.is_none_or(|r| r == rev)
    }
}

/// A whole document from a caller, checked and ready to store.
#[derive(Debug)]
pub struct Prepared {
    pub id: String,
    /// The partition key value as JSON text.
    pub pk_json: String,
    /// The caller's fields (system fields dropped) as a JSON object.
    pub body: String,
}

/// Parses a whole document, drops system fields, checks id, partition key
/// and size.
pub fn prepare(doc_json: &str, pk: &PartitionKeyPath) -> DsResult<Prepared> {
    let members = document_fields(Members::parse(doc_json, "document")?)?;
    let (id, pk_raw) = doc_key(&members, pk)?;
    let pk_json = pk_raw.get().to_owned();
    let body = members.to_body();
    check_size(body.len(), &id)?;
    Ok(Prepared { id, pk_json, body })
}

/// `prepare`, for a document whose long string members come apart from its
/// text (V8's `JSON.stringify` writes long strings slowly; see
/// lib/memory.ts): `doc_json` holds a placeholder for each, and `strings`
/// their keys and values (key, value, key, value…), escaped into the body
/// here. Such a member may not be `id`, the partition key or a field the
/// datastore owns, and must be in `doc_json`.
pub fn prepare_with(doc_json: &str, pk: &PartitionKeyPath, strings: &[&str]) -> DsResult<Prepared> {
    let members = document_fields(Members::parse(doc_json, "document")?)?;
    let (id, pk_raw) = doc_key(&members, pk)?;
    // A string with a byte to escape is escaped into a literal of its own
    // first (rare: prompts are text); the others are copied once, into the body.
    let mut given = Vec::with_capacity(strings.len() / 2);
    for pair in strings.chunks(2) {
        let &[key, value] = pair else {
            return Err(DsError::internal(
                "a document's strings came without their key",
            ));
        };
        if key == "id" || key == pk.field() || members.get(key).is_none() {
            return Err(DsError::internal(format!(
                "a document's string {key:?} came apart from a member it may not replace"
            )));
        }
        let escaped = needs_escape(value.as_bytes()).then(|| {
            let mut text = String::with_capacity(value.len() + 2);
            push_json_string(&mut text, value);
            text
        });
        given.push((key, value, escaped));
    }
    let texts: Vec<(&str, Piece<'_>)> = given
        .iter()
        .map(|(k, v, e)| (*k, e.as_deref().map_or(Piece::Plain(v), Piece::Json)))
        .collect();
    let pk_json = pk_raw.get().to_owned();
    let body = members.to_body_with(&texts);
    check_size(body.len(), &id)?;
    Ok(Prepared { id, pk_json, body })
}

/// `patch` shallow-merged onto a stored body, size-checked.
pub fn merge(body: &str, patch: &Members<'_>, id: &str) -> DsResult<String> {
    let merged = Members::parse(body, "stored document")?.merge(patch);
    check_size(merged.len(), id)?;
    Ok(merged)
}

/// `merge` for a body the Memory store wrote itself, with the layout it
/// keeps beside it: its members are found without a parse
/// (`doc::merge_stored`), and parsed only if that fails.
pub fn merge_stored(
    body: &str,
    layout: Option<&Layout>,
    patch: &Members<'_>,
    id: &str,
) -> DsResult<Merged> {
    let merged = match crate::doc::merge_stored(body, layout, patch) {
        Some(m) => m,
        None => Merged {
            body: Members::parse(body, "stored document")?.merge(patch),
            layout: None,
        },
    };
    check_size(merged.body.len(), id)?;
    Ok(merged)
}

pub fn already_exists(id: &str) -> DsError {
    DsError::new(Code::Conflict, format!("document {id:?} already exists"))
}

pub fn does_not_exist(id: &str) -> DsError {
    DsError::new(Code::NotFound, format!("document {id:?} does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expectation_needs_etag_or_rev_and_both_must_match() {
        assert!(Expectation::new(None, None).is_err());
        assert!(Expectation::from_js(None, Some(1.5)).is_err());
        let both = Expectation::new(Some("\"e\"".into()), Some(2)).unwrap();
        assert!(both.matches("\"e\"", 2));
        assert!(!both.matches("\"e\"", 3), "current etag, stale rev");
        assert!(!both.matches("\"f\"", 2), "stale etag, current rev");
        let rev = Expectation::from_js(None, Some(2.0)).unwrap();
        assert!(rev.matches("\"anything\"", 2));
        assert!(!rev.matches("\"anything\"", 1));
    }

    #[test]
    fn prepare_checks_and_strips() {
        let pk = PartitionKeyPath::parse("/t").unwrap();
        let p = prepare(r#"{"id":"a","t":"x","_etag":"\"e\"","rev":9,"n":1}"#, &pk).unwrap();
        assert_eq!((p.id.as_str(), p.pk_json.as_str()), ("a", "\"x\""));
        assert_eq!(p.body, r#"{"id":"a","t":"x","n":1}"#);
        assert!(prepare(r#"{"t":"x"}"#, &pk).is_err());
    }

    mod strings_apart {
        use super::*;
        use proptest::prelude::*;

        /// Long-ish strings with and without what JSON escapes, ASCII and not.
        fn text() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[a-zP \"\\\u{0}-\u{1f}é\u{2028}😀]{0,200}").unwrap()
        }

        proptest! {
            /// A document whose strings come apart from its text is stored
            /// exactly as the whole document would be, and its body is
            /// written into exactly its capacity (the store keeps a `Box<str>`).
            #[test]
            fn strings_apart_store_what_the_whole_document_stores(
                members in proptest::collection::btree_map("[a-z]{1,6}", (text(), any::<bool>()), 0..6),
            ) {
                let pk = PartitionKeyPath::parse("/t").unwrap();
                let mut whole = serde_json::Map::new();
                let mut apart = serde_json::Map::new();
                let mut strings = Vec::new();
                for (k, v) in [("id", "a"), ("t", "x")] {
                    whole.insert(k.into(), v.into());
                    apart.insert(k.into(), v.into());
                }
                for (k, (v, given_apart)) in &members {
                    if k == "id" || k == "t" || k == "rev" {
                        continue;
                    }
                    whole.insert(k.clone(), v.as_str().into());
                    if *given_apart {
                        apart.insert(k.clone(), 0.into());
                        strings.push(k.as_str());
                        strings.push(v.as_str());
                    } else {
                        apart.insert(k.clone(), v.as_str().into());
                    }
                }
                let expected = prepare(&serde_json::to_string(&whole).unwrap(), &pk).unwrap();
                let got = prepare_with(&serde_json::to_string(&apart).unwrap(), &pk, &strings).unwrap();
                prop_assert_eq!(&got.body, &expected.body);
                prop_assert_eq!(got.body.capacity(), got.body.len());
                prop_assert_eq!((got.id, got.pk_json), (expected.id, expected.pk_json));
            }
        }

        #[test]
        fn a_string_may_not_replace_the_id_the_partition_key_or_a_missing_member() {
            let pk = PartitionKeyPath::parse("/t").unwrap();
            let doc = r#"{"id":"a","t":"x","p":0}"#;
            for strings in [&["id", "b"][..], &["t", "y"], &["q", "z"], &["p"]] {
                assert_eq!(
                    prepare_with(doc, &pk, strings).unwrap_err().code,
                    Code::Internal,
                    "{strings:?}"
                );
            }
            assert!(prepare_with(doc, &pk, &["p", "z"]).is_ok());
        }
    }
}
