//! Documents as JSON text: their top-level members (borrowed, values left as
//! raw JSON), the system fields the datastore owns, and the shallow merge.
//!
//! Documents cross the JS boundary and are stored as JSON text (see
//! the README's "Performance": ~2x cheaper than object conversion and ~5x more
//! compact than `serde_json::Value`). A shallow merge only needs top-level
//! members, so nested values are never parsed into a tree.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{DsError, DsResult};
use crate::layout::{self, Layout, Merged};

/// Fields the datastore owns: a caller's value for them is overwritten on
/// `create`/`upsert`/`replace`, and refused in a patch.
pub const REV: &str = "rev";
/// Cosmos DB's own system properties, written by the server.
pub const COSMOS_SYSTEM: [&str; 6] = ["_rid", "_self", "_etag", "_attachments", "_ts", "_lsn"];

/// The top-level members of a JSON object, in order, values as raw JSON.
#[derive(Debug)]
pub struct Members<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// Parses `text` as a JSON object. `what` names it in the error
    /// ("document", "patch").
    pub fn parse(text: &'a str, what: &str) -> DsResult<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        let members = de
            .deserialize_map(MembersVisitor)
            .map_err(|e| DsError::invalid(format!("{what} must be a JSON object ({e})")))?;
        de.end()
            .map_err(|e| DsError::invalid(format!("{what} is not valid JSON ({e})")))?;
        Ok(members)
    }

    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        // Last one wins, as in JSON.parse.
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Drops the fields the datastore owns (`rev`, Cosmos system fields).
    pub fn without_system_fields(mut self) -> Self {
        self.0.retain(|(k, _)| !is_system_field(k));
        self
    }

    /// Serializes back to a compact JSON object.
    pub fn to_json(&self) -> String {
        write_object(self.pieces(), false)
    }

    /// `to_json` for a new document's body (what `write::prepare` builds,
    /// for either provider): a large one is written into pages mapped
    /// beforehand (`pages::populate`), as it fills them all at once.
    pub fn to_body(&self) -> String {
        write_object(self.pieces(), true)
    }

    fn pieces(&self) -> impl Iterator<Item = (&str, Piece<'_>)> + Clone {
        self.0
            .iter()
            .map(|(k, v)| (k.as_ref(), Piece::Json(v.get())))
    }

    /// `to_body`, with the members named in `values` written as given
    /// there instead of their own.
    pub fn to_body_with(&self, values: &[(&str, Piece<'_>)]) -> String {
        write_object(
            self.0.iter().map(|(k, v)| {
                let k = k.as_ref();
                let given = values.iter().find(|(vk, _)| *vk == k);
                (k, given.map_or(Piece::Json(v.get()), |&(_, p)| p))
            }),
            true,
        )
    }

    /// Shallow merge: members of `patch` replace same-named members of
    /// `self` in place, new ones are appended.
    pub fn merge(&self, patch: &Members<'_>) -> String {
        let merged = apply(
            self.0.iter().map(|(k, v)| (k.as_ref(), v.get())).collect(),
            patch,
        );
        write_object(merged.into_iter().map(|(k, v)| (k, Piece::Json(v))), false)
    }
}

/// `members` with `patch` shallow-merged: same-named members replaced in
/// place (the first of that name), new ones appended.
fn apply<'k>(
    mut merged: Vec<(&'k str, &'k str)>,
    patch: &'k Members<'_>,
) -> Vec<(&'k str, &'k str)> {
    for (pk, pv) in &patch.0 {
        match merged.iter_mut().find(|(k, _)| *k == pk.as_ref()) {
            Some(slot) => slot.1 = pv.get(),
            None => merged.push((pk.as_ref(), pv.get())),
        }
    }
    merged
}

/// A stored body (a JSON object this crate wrote) shallow-merged with
/// `patch`, exactly as `Members::parse(body)?.merge(patch)` would write it,
/// without parsing the body: its members are read off its `layout` when it
/// has one, else found by `stored_members`. The result comes with its own
/// layout. `None` when the body is not shaped as expected (then parse it).
pub fn merge_stored(body: &str, layout: Option<&Layout>, patch: &Members<'_>) -> Option<Merged> {
    if let Some(merged) = layout.and_then(|l| l.merge(body, patch)) {
        return Some(merged);
    }
    let members = stored_members(body)?;
    let members = members.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
    Some(layout::write(&apply(members, patch)))
}

/// The top-level members of a JSON object text, keys unescaped and values
/// as raw text, found by searching for quotes and brackets (memchr) rather
/// than by validating every byte: for text already known to be JSON (a
/// stored body). `None` when the text is not an object shaped as expected.
pub fn stored_members(text: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(16);
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let raw_key = text.get(i + 1..key_end)?;
        let key = if raw_key.contains('\\') {
            Cow::Owned(serde_json::from_str::<String>(text.get(i..=key_end)?).ok()?)
        } else {
            Cow::Borrowed(raw_key)
        };
        i = skip_ws(b, key_end + 1);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let value_end = value_end(b, i)?;
        out.push((key, text.get(i..value_end)?));
        i = skip_ws(b, value_end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return (skip_ws(b, i + 1) == b.len()).then_some(out),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index of the quote closing the string that opens at `b[open]`.
fn string_end(b: &[u8], open: usize) -> Option<usize> {
    let mut j = open + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[k] == b'"' {
            return Some(k);
        }
        j = k + 2; // an escape: the next byte is never the closing quote
    }
}

/// The index just past the value that starts at `b[start]`.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    match *b.get(start)? {
        b'"' => Some(string_end(b, start)? + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = start;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => j = string_end(b, j)?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = start;
            while let Some(&c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            (j > start).then_some(j)
        }
    }
}

/// A member's value as `write_object` writes it.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    /// JSON text, written as it is.
    Json(&'a str),
    /// A string with no byte JSON escapes (`needs_escape` is false),
    /// written between quotes: a long string goes into the object in one
    /// copy rather than first into a literal of its own.
    Plain(&'a str),
}

impl Piece<'_> {
    fn len(self) -> usize {
        match self {
            Piece::Json(v) => v.len(),
            Piece::Plain(s) => s.len() + 2,
        }
    }
}

/// Writes members as a compact JSON object; with `populate`, into pages
/// mapped beforehand when it is large (a new document's body).
fn write_object<'k>(
    members: impl Iterator<Item = (&'k str, Piece<'k>)> + Clone,
    populate: bool,
) -> String {
    write_object_noting(members, populate, |_, _, _| {})
}

/// `write_object`, telling `note` where each member's key (its opening
/// quote) and value start, and whether the key needed escaping (what a
/// `layout::Layout` keeps).
pub(crate) fn write_object_noting<'k>(
    members: impl Iterator<Item = (&'k str, Piece<'k>)> + Clone,
    populate: bool,
    mut note: impl FnMut(usize, usize, bool),
) -> String {
    // Exact when no key needs escaping: the Memory store keeps the text as
    // a `Box<str>`, and spare capacity would cost a reallocation there.
    let (n, len) = members.clone().fold((0usize, 0usize), |(n, len), (k, v)| {
        (n + 1, len + k.len() + v.len() + 3)
    });
    let cap = len + n.saturating_sub(1) + 2;
    let mut out = String::with_capacity(cap);
    if populate {
        crate::pages::populate(&mut out);
    }
    out.push('{');
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let key_at = out.len();
        let escaped = push_key(&mut out, k);
        out.push(':');
        note(key_at, out.len(), escaped);
        match v {
            Piece::Json(v) => out.push_str(v),
            Piece::Plain(s) => push_quoted(&mut out, s),
        }
    }
    out.push('}');
    out
}

/// True for `rev` and the Cosmos system properties.
pub fn is_system_field(key: &str) -> bool {
    key == REV || COSMOS_SYSTEM.contains(&key)
}

/// Whether `s` holds a byte JSON escapes (serde_json escapes only these).
/// Checked 64 bytes at a time, the tests of a byte combined with `|` on
/// integers and no early exit inside a block, which the compiler turns
/// into vector compares. The same loop written with `||` and `bool` was
/// not vectorised: it scanned a 64 KB prompt in ~45 µs against 3.5 µs
/// (29 % of a 64 KB `create` in a `perf` profile).
pub fn needs_escape(s: &[u8]) -> bool {
    let escaped = |c: u8| u8::from(c < 0x20) | u8::from(c == b'"') | u8::from(c == b'\\');
    let mut blocks = s.chunks_exact(64);
    for block in &mut blocks {
        if block.iter().fold(0u8, |hit, &c| hit | escaped(c)) != 0 {
            return true;
        }
    }
    blocks.remainder().iter().any(|&c| escaped(c) != 0)
}

/// Appends `s`, which holds nothing JSON escapes, between quotes.
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(s);
    out.push('"');
}

/// Appends `s` as a JSON string literal.
pub fn push_json_string(out: &mut String, s: &str) {
    // Nothing to escape: no allocation.
    if !needs_escape(s.as_bytes()) {
        push_quoted(out, s);
        return;
    }
    // serde_json's escaping, so keys round-trip exactly as JSON.stringify wrote them.
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""), // unreachable: a &str always serializes
    }
}

/// Appends `key` as a JSON string literal; whether it needed escaping
/// (then its text between the quotes is not the key itself).
pub(crate) fn push_key(out: &mut String, key: &str) -> bool {
    let at = out.len();
    push_json_string(out, key);
    // An escape always writes more than the character it stands for.
    out.len() - at != key.len() + 2
}

/// A JSON array of JSON texts.
pub fn json_array<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    out
}

/// Seconds since the epoch: a document's `_ts`.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Appends the datastore's system fields to a JSON object text (which must
/// end in `}`): `rev`, `_etag`, `_ts`.
pub fn with_system_fields(body: &str, rev: u64, etag: &str, ts: u64) -> String {
    let mut out = String::with_capacity(body.len() + 64 + etag.len());
    let inner = body.strip_suffix('}').unwrap_or(body);
    out.push_str(inner);
    if inner.len() > 1 {
        out.push(',');
    }
    // itoa, not `write!`: this runs on every write (see `format_etag`).
    let mut num = itoa::Buffer::new();
    out.push_str("\"rev\":");
    out.push_str(num.format(rev));
    out.push_str(",\"_etag\":");
    push_json_string(&mut out, etag);
    out.push_str(",\"_ts\":");
    out.push_str(num.format(ts));
    out.push('}');
    out
}

struct MembersVisitor;

/// A member's key, borrowed from the text when it has no escape: serde's
/// own `Cow<str>` always allocates a `String`, one per member.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
}

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(Cow<'de, str>, &'de RawValue)> =
            Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            out.push((key, value));
        }
        Ok(Members(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_fields_on_an_empty_object_and_a_full_one() {
        assert_eq!(
            with_system_fields("{}", 1, "\"e\"", 5),
            r#"{"rev":1,"_etag":"\"e\"","_ts":5}"#
        );
        assert_eq!(
            with_system_fields(r#"{"id":"a"}"#, 2, "\"f\"", 6),
            r#"{"id":"a","rev":2,"_etag":"\"f\"","_ts":6}"#
        );
    }

    #[test]
    fn a_non_object_is_refused_saying_what_was_expected() {
        let e = Members::parse("[1]", "patch").unwrap_err();
        assert!(
            e.message.contains("expected a JSON object"),
            "{}",
            e.message
        );
    }

    #[test]
    fn parses_members_in_order_with_raw_values() {
        let m = Members::parse(r#"{"id":"a","n":{"x":[1,2]},"s":"q\"uote"}"#, "document").unwrap();
        let keys: Vec<&str> = m.0.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["id", "n", "s"]);
        assert_eq!(m.get("n").unwrap().get(), r#"{"x":[1,2]}"#);
        assert_eq!(m.to_json(), r#"{"id":"a","n":{"x":[1,2]},"s":"q\"uote"}"#);
    }

    #[test]
    fn rejects_non_objects() {
        for bad in ["[1]", "1", "null", "\"s\"", "{", "{} x"] {
            assert!(Members::parse(bad, "document").is_err(), "{bad}");
        }
    }

    #[test]
    fn escaped_keys_compare_unescaped() {
        let m = Members::parse(r#"{"a\u0062":1}"#, "patch").unwrap();
        assert!(m.get("ab").is_some());
    }

    #[test]
    fn merge_replaces_in_place_and_appends() {
        let d = Members::parse(r#"{"id":"a","s":"queued","n":1}"#, "d").unwrap();
        let p = Members::parse(r#"{"s":"assigned","who":"x"}"#, "p").unwrap();
        assert_eq!(d.merge(&p), r#"{"id":"a","s":"assigned","n":1,"who":"x"}"#);
    }

    #[test]
    fn strips_system_fields_only() {
        let d = Members::parse(r#"{"id":"a","rev":9,"_etag":"e","_ts":1,"_mine":2}"#, "d")
            .unwrap()
            .without_system_fields();
        assert_eq!(d.to_json(), r#"{"id":"a","_mine":2}"#);
    }

    use proptest::prelude::*;
    use serde_json::Value;

    /// Strings with what JSON escapes: quotes, backslashes, control characters, non-ASCII.
    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-z\"\\\\\u{0}-\u{1f}é\u{2028}😀 {}\\[\\],:]{0,8}")
            .unwrap()
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn object() -> impl Strategy<Value = Value> {
        proptest::collection::btree_map(text(), json(), 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        /// `stored_members` finds what the parser finds, compact or pretty.
        #[test]
        fn stored_members_agree_with_the_parser(doc in object(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&doc) } else { serde_json::to_string(&doc) }.unwrap();
            let parsed = Members::parse(&text, "d").unwrap();
            let expected: Vec<(&str, &str)> = parsed.0.iter().map(|(k, v)| (k.as_ref(), v.get())).collect();
            let found = stored_members(&text).unwrap();
            let found: Vec<(&str, &str)> = found.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
            prop_assert_eq!(found, expected);
        }

        /// `merge_stored` against the parse-and-merge, keys drawn from a handful, so that the patch
        /// replaces members, repeats its own keys, meets a body with a key
        /// twice, escaped keys (canonical or not) and spaces, none of which
        /// two random maps would hit.
        #[test]
        fn merge_stored_agrees_with_merge_on_overlapping_keys(
            doc in proptest::collection::vec((0..6usize, json()), 0..8),
            patch in proptest::collection::vec((0..6usize, json()), 0..5),
            spaces in proptest::collection::vec(0..4u8, 8),
        ) {
            const KEYS: [&str; 6] = ["a", "b", "id", "q\"k", "é", "\u{1}"];
            let member = |(k, v): &(usize, Value)| (KEYS[*k], serde_json::to_string(v).unwrap());
            let mut text = String::from("{");
            for (i, (k, v)) in doc.iter().map(member).enumerate() {
                // Compact, a space around the colon, one after the comma, or the key's first character escaped.
                if i > 0 { text.push_str(if spaces[i] == 2 { ", " } else { "," }); }
                match (spaces[i], k.chars().next()) {
                    (3, Some(c)) if c.is_ascii_alphanumeric() => {
                        text.push_str(&format!("\"\\u{:04x}", u32::from(c)));
                        text.push_str(&serde_json::to_string(&k[1..]).unwrap()[1..]);
                    }
                    _ => push_json_string(&mut text, k),
                }
                text.push_str(if spaces[i] == 1 { " : " } else { ":" });
                text.push_str(&v);
            }
            text.push('}');
            let patch_text = format!("{{{}}}", patch.iter().map(member).map(|(k, v)| {
                let mut m = String::new();
                push_json_string(&mut m, k);
                format!("{m}:{v}")
            }).collect::<Vec<_>>().join(","));
            let patch = Members::parse(&patch_text, "p").unwrap();
            let merged = Members::parse(&text, "d").unwrap().merge(&patch);
            prop_assert_eq!(merge_stored(&text, None, &patch).map(|m| m.body), Some(merged));
        }

        /// `merge_stored` writes what the parse-and-merge writes.
        #[test]
        fn merge_stored_agrees_with_merge(doc in object(), patch in object()) {
            let text = serde_json::to_string(&doc).unwrap();
            let patch_text = serde_json::to_string(&patch).unwrap();
            let patch = Members::parse(&patch_text, "p").unwrap();
            let merged = Members::parse(&text, "d").unwrap().merge(&patch);
            prop_assert_eq!(merge_stored(&text, None, &patch).map(|m| m.body), Some(merged));
        }

        /// Keys are written with serde_json's escaping, with or without the shortcut.
        #[test]
        fn keys_are_escaped_as_serde_json_escapes(key in text()) {
            let mut out = String::new();
            push_json_string(&mut out, &key);
            prop_assert_eq!(out, serde_json::to_string(&key).unwrap());
        }

        /// The block-wise scan finds a byte to escape wherever it sits in a
        /// long string: in a 64-byte block, at its edges, in the remainder.
        #[test]
        fn one_byte_to_escape_is_found_anywhere_in_a_long_string(
            len in 0usize..200,
            at in 0usize..200,
            c in prop::sample::select(vec!['"', '\\', '\n', '\u{0}', '\u{1f}', 'a', '\u{7f}', 'é']),
        ) {
            let mut s: String = "p".repeat(len);
            s.insert(at.min(len), c);
            let mut out = String::new();
            push_json_string(&mut out, &s);
            prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn stored_members_of_edge_shapes() {
        let m =
            stored_members(r#" { "a\u0062" : 1 , "a":"x","a":[ "]" ,{"}":"\"" } ] } "#).unwrap();
        let m: Vec<(&str, &str)> = m.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
        assert_eq!(
            m,
            [
                ("ab", "1"),
                ("a", r#""x""#),
                ("a", r#"[ "]" ,{"}":"\"" } ]"#)
            ]
        );
        assert_eq!(stored_members("{}").unwrap().len(), 0);
        for bad in [
            "",
            "[1]",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1"#,
            r#"{"a":1}x"#,
            r#"{"a":"x}"#,
            r#"{"a":[1}"#,
        ] {
            assert!(stored_members(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn appends_system_fields() {
        assert_eq!(
            with_system_fields(r#"{"id":"a"}"#, 3, "\"e1\"", 7),
            r#"{"id":"a","rev":3,"_etag":"\"e1\"","_ts":7}"#
        );
    }

    /// Two bytes to escape in one 64-byte block are found too: the block's
    /// tests are combined with `|`, and with `^` two would cancel out.
    #[test]
    fn two_bytes_to_escape_in_one_block_are_found() {
        for (a, b) in [('"', '"'), ('\\', '\n'), ('\u{1}', '"')] {
            for (len, i, j) in [(64, 0, 1), (64, 0, 63), (128, 70, 100), (100, 10, 20)] {
                let s: String = (0..len)
                    .map(|at| match at {
                        _ if at == i => a,
                        _ if at == j => b,
                        _ => 'p',
                    })
                    .collect();
                let mut out = String::new();
                push_json_string(&mut out, &s);
                assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
            }
        }
    }

    /// `write_object` allocates exactly the text it writes when no key
    /// needs escaping: the Memory store keeps it as a `Box<str>`, and
    /// spare capacity would cost a reallocation there.
    #[test]
    fn an_object_is_written_into_exactly_its_capacity() {
        let objects: [&[(&str, &str)]; 4] = [
            &[],
            &[("a", "1")],
            &[("id", "\"a\""), ("n", "[1,2]"), ("", "{}")],
            &[("long key", "\"a longer value\""), ("k", "null")],
        ];
        for members in objects {
            let out = write_object(members.iter().map(|&(k, v)| (k, Piece::Json(v))), true);
            assert_eq!(
                serde_json::from_str::<Value>(&out)
                    .unwrap()
                    .as_object()
                    .map(|o| o.len()),
                Some(members.len()),
                "{out}"
            );
            assert_eq!(out.capacity(), out.len(), "{out}");
        }
    }
}
