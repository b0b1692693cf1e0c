//! Write tokens. Every write this provider makes stores, in a field of the
//! document it owns (`_dsw`), a small ring of the last few `(rev, token)`
//! pairs: `rev` is the revision the write produced and `token` a random id
//! of the logical write. When a write's response is lost, a re-read tells
//! whether that write landed (its token is in the ring), or whether another
//! write took its revision. The field is stripped from every document a
//! caller sees, and a caller cannot set it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde_json::value::RawValue;

use crate::doc::{push_json_string, Members, REV};
use crate::error::{DsError, DsResult};

/// The provider-owned field holding the ring.
pub const FIELD: &str = "_dsw";
/// Pairs kept: enough that a write is still recognisable after a few
/// others have landed on top of it before the re-read.
pub const RING: usize = 8;
/// Upper bound on the ring's JSON size: it must fit, with `rev` and the
/// server's fields, in the 1 KB that `MAX_BODY_BYTES` keeps of the 2 MB.
pub const RING_BYTES: usize = RING * 40 + 16;

/// A random id of one logical write (the same across its resends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// 64 random bits (SipHash keyed randomly per process over a counter and
    /// the time): unique enough that two writes never share one.
    pub fn fresh() -> Self {
        static STATE: OnceLock<RandomState> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let h = STATE.get_or_init(RandomState::new).hash_one((n, t));
        Token(format!("{h:016x}"))
    }

    #[cfg(test)]
    pub fn fixed(s: &str) -> Self {
        Token(s.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The last writes of a document, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ring(pub Vec<(u64, String)>);

impl Ring {
    /// The ring stored in a document; a missing or foreign-shaped field is
    /// an empty ring (the document was written by someone else). So is one
    /// larger than any this provider writes (`RING` pairs, `RING_BYTES`):
    /// kept, another client's oversized `_dsw` would make every later write
    /// of the document too large to send.
    pub fn from_doc(doc: &Members<'_>) -> Self {
        doc.get(FIELD)
            .filter(|raw| raw.get().len() <= RING_BYTES)
            .and_then(|raw| serde_json::from_str::<Vec<(u64, String)>>(raw.get()).ok())
            .filter(|pairs| pairs.len() <= RING)
            .map(Ring)
            .unwrap_or_default()
    }

    /// This ring with `(rev, token)` appended, trimmed to `RING` pairs.
    pub fn with(&self, rev: u64, token: &Token) -> Ring {
        let mut v: Vec<(u64, String)> = self.0.iter().filter(|(r, _)| *r < rev).cloned().collect();
        v.push((rev, token.0.clone()));
        let drop = v.len().saturating_sub(RING);
        v.drain(..drop);
        Ring(v)
    }

    /// The token that produced `rev`, when the ring still holds it.
    pub fn token_at(&self, rev: u64) -> Option<&str> {
        self.0
            .iter()
            .find(|(r, _)| *r == rev)
            .map(|(_, t)| t.as_str())
    }

    pub fn contains(&self, token: &Token) -> bool {
        self.0.iter().any(|(_, t)| *t == token.0)
    }

    /// True when the ring reaches back to `rev` (so a `rev` missing from it
    /// was never written by this provider's writes).
    pub fn covers(&self, rev: u64) -> bool {
        self.0.first().is_some_and(|(first, _)| *first <= rev)
    }

    fn to_json(&self) -> String {
        let mut out = String::from("[");
        for (i, (rev, tok)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            out.push_str(&rev.to_string());
            out.push(',');
            push_json_string(&mut out, tok);
            out.push(']');
        }
        out.push(']');
        out
    }
}

/// The body to send: the caller's fields (system fields and any ring
/// already dropped), then `rev` and the ring.
pub fn stamp(body: &str, rev: u64, ring: &Ring) -> DsResult<Box<RawValue>> {
    let inner = body.strip_suffix('}').unwrap_or(body);
    let mut out = String::with_capacity(body.len() + RING_BYTES + 24);
    out.push_str(inner);
    if inner.trim_end().len() > 1 {
        out.push(',');
    }
    out.push('"');
    out.push_str(REV);
    out.push_str("\":");
    out.push_str(&rev.to_string());
    out.push_str(",\"");
    out.push_str(FIELD);
    out.push_str("\":");
    out.push_str(&ring.to_json());
    out.push('}');
    RawValue::from_string(out)
        .map_err(|e| DsError::internal(format!("built an invalid document: {e}")))
}

/// The caller's own fields of a stored document: no system fields, no ring.
pub fn caller_fields(doc: Members<'_>) -> Members<'_> {
    let mut m = doc.without_system_fields();
    m.0.retain(|(k, _)| k != FIELD);
    m
}

/// A document as callers see it: everything the server returned but the ring.
pub fn for_caller(doc_json: &str) -> DsResult<String> {
    let mut m = Members::parse(doc_json, "stored document")?;
    if m.get(FIELD).is_none() {
        return Ok(doc_json.to_owned());
    }
    m.0.retain(|(k, _)| k != FIELD);
    Ok(m.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_larger_than_ours_is_foreign() {
        let ring_of = |json: &str| {
            let doc = format!(r#"{{"id":"a","_dsw":{json}}}"#);
            Ring::from_doc(&Members::parse(&doc, "d").expect("a JSON object"))
        };
        // The largest this provider writes: RING pairs, revs of 16 digits.
        let ours = Ring(
            (0..RING as u64)
                .map(|i| (1_000_000_000_000_000 + i, Token::fresh().0))
                .collect(),
        );
        assert!(ours.to_json().len() <= RING_BYTES);
        assert_eq!(ring_of(&ours.to_json()), ours);
        let nine = Ring((1..=RING as u64 + 1).map(|i| (i, "t".into())).collect());
        assert_eq!(ring_of(&nine.to_json()), Ring::default());
        let long = format!(r#"[[1,"{}"]]"#, "f".repeat(RING_BYTES));
        assert_eq!(ring_of(&long), Ring::default());
        let at_limit = format!(r#"[[1,"{}"]]"#, "f".repeat(RING_BYTES - 8));
        assert_eq!(at_limit.len(), RING_BYTES);
        assert_eq!(ring_of(&at_limit).0.len(), 1);
    }

    #[test]
    fn tokens_are_distinct() {
        let a = Token::fresh();
        let b = Token::fresh();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 16);
    }

    #[test]
    fn ring_keeps_the_last_writes() {
        let mut ring = Ring::default();
        for rev in 1..=12 {
            ring = ring.with(rev, &Token::fixed(&format!("t{rev}")));
        }
        assert_eq!(ring.0.len(), RING);
        assert_eq!(ring.token_at(12), Some("t12"));
        assert_eq!(ring.token_at(4), None);
        assert!(ring.covers(5) && !ring.covers(4));
        assert!(ring.contains(&Token::fixed("t9")));
    }

    #[test]
    fn a_ring_knows_only_its_own_tokens_and_revisions() {
        let ring = Ring(vec![(3, "a".into()), (4, "b".into())]);
        assert!(ring.contains(&Token::fixed("b")));
        assert!(
            !ring.contains(&Token::fixed("c")),
            "a token not in the ring"
        );
        assert!(ring.covers(3) && ring.covers(4) && ring.covers(9));
        assert!(!ring.covers(2));
        assert!(!Ring::default().covers(0), "an empty ring covers nothing");
        assert_eq!(ring.token_at(3), Some("a"));
        assert_eq!(ring.token_at(5), None);
    }

    #[test]
    fn a_rewrite_of_a_revision_replaces_later_pairs() {
        // A document recreated at rev 1 must not keep pairs of its old life.
        let ring = Ring(vec![(1, "a".into()), (2, "b".into())]).with(1, &Token::fixed("c"));
        assert_eq!(ring.0, vec![(1, "c".to_owned())]);
    }

    #[test]
    fn stamps_and_strips() {
        let ring = Ring::default().with(1, &Token::fixed("abc"));
        let body = stamp(r#"{"id":"a","t":"x"}"#, 1, &ring).unwrap();
        assert_eq!(
            body.get(),
            r#"{"id":"a","t":"x","rev":1,"_dsw":[[1,"abc"]]}"#
        );
        let doc = Members::parse(body.get(), "d").unwrap();
        assert_eq!(Ring::from_doc(&doc), ring);
        assert_eq!(caller_fields(doc).to_json(), r#"{"id":"a","t":"x"}"#);
        let seen = for_caller(r#"{"id":"a","rev":1,"_dsw":[[1,"abc"]],"_etag":"e"}"#).unwrap();
        assert_eq!(seen, r#"{"id":"a","rev":1,"_etag":"e"}"#);
        assert_eq!(
            stamp("{}", 2, &Ring::default()).unwrap().get(),
            r#"{"rev":2,"_dsw":[]}"#
        );
    }

    #[test]
    fn a_full_ring_fits_the_room_kept_for_it() {
        // The largest ring a write can store: RING pairs at the largest rev a
        // caller can name (a JavaScript safe integer), with real tokens.
        let top = (1u64 << 53) - 1;
        let mut ring = Ring::default();
        for rev in top - RING as u64 + 1..=top {
            ring = ring.with(rev, &Token::fresh());
        }
        let json = ring.to_json();
        assert_eq!(ring.0.len(), RING);
        assert!(json.len() <= RING_BYTES, "{} > {RING_BYTES}", json.len());
        // The caller's document may take all but 1 KB of Cosmos' 2 MB: the
        // ring, its key, `rev` and what the server adds (`_rid`, `_self`,
        // `_etag`, `_attachments`, `_ts`: about 200 bytes) must fit in it.
        let reserve = crate::validate::MAX_DOCUMENT_BYTES - crate::validate::MAX_BODY_BYTES;
        let stamped = stamp("{}", top, &ring).unwrap();
        assert!(
            RING_BYTES + stamped.get().len() - json.len() + 256 <= reserve,
            "ring room {RING_BYTES} leaves too little of the {reserve} bytes kept"
        );
    }

    #[test]
    fn foreign_rings_are_empty() {
        let doc = Members::parse(r#"{"_dsw":"nope"}"#, "d").unwrap();
        assert_eq!(Ring::from_doc(&doc), Ring::default());
    }
}
