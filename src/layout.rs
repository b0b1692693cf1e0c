//! Where a stored body's members are, kept beside the body by the merge
//! that wrote it, so the next merge of that document finds its members
//! without scanning the text.
//!
//! Finding the members of a 300-byte body (`doc::stored_members`: a
//! `memchr` per string, a byte loop per number) was most of a merge, and a
//! merge ~20 % of an `updateIfMatch` on the Memory store (CPU time, A/B in
//! one process). A layout costs 8 bytes per member, only for documents
//! that have been merged; a body written any other way has none and is
//! scanned, once, by its first merge.

use crate::doc::{push_key, write_object_noting, Members, Piece};

/// For each member of a compact JSON object text, in order: the offset of
/// its key's opening quote and of its value. Only for a text written by
/// `write` or `Layout::merge`, whose keys needed no escape (a key's text
/// between its quotes is the key itself) and with no whitespace between
/// members (a value ends one byte before the next member's key, or before
/// the closing brace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout(Box<[u32]>);

impl Layout {
    /// `body`'s members, keys and values as text, read off the offsets.
    /// `None` when they do not fit the text (never for the body that was
    /// written with them; then the caller scans it).
    pub fn members<'b>(&self, body: &'b str) -> Option<Vec<(&'b str, &'b str)>> {
        let at = &self.0;
        let mut out = Vec::with_capacity(at.len() / 2 + 4);
        for (i, pair) in at.chunks_exact(2).enumerate() {
            let (key, value) = (pair[0] as usize, pair[1] as usize);
            let end = match at.get(2 * i + 2) {
                Some(&next) => (next as usize).checked_sub(1)?,
                None => body.len().checked_sub(1)?,
            };
            // `"key":` — the key is between its quotes, before the colon.
            out.push((
                body.get(key + 1..value.checked_sub(2)?)?,
                body.get(value..end)?,
            ));
        }
        Some(out)
    }

    /// `body` with `patch` shallow-merged, exactly as `doc::merge_stored`
    /// writes it, with the result's layout: the text the patch leaves alone
    /// is copied in runs, between the values it replaces, and the offsets
    /// of the members after each are moved by what it changed in length.
    /// `None` when the layout does not fit the text.
    pub fn merge(&self, body: &str, patch: &Members<'_>) -> Option<Merged> {
        let stored = self.members(body)?;
        // Which stored member each patch member replaces (the first of
        // that name; the last value given wins), or what it appends.
        let mut put: Vec<(usize, &str)> = Vec::with_capacity(patch.0.len());
        let mut added: Vec<(&str, &str)> = Vec::new();
        for (pk, pv) in &patch.0 {
            let (k, v) = (pk.as_ref(), pv.get());
            if let Some(i) = stored.iter().position(|(sk, _)| *sk == k) {
                match put.iter_mut().find(|(pi, _)| *pi == i) {
                    Some(slot) => slot.1 = v,
                    None => put.push((i, v)),
                }
            } else {
                match added.iter_mut().find(|(ak, _)| *ak == k) {
                    Some(slot) => slot.1 = v,
                    None => added.push((k, v)),
                }
            }
        }
        put.sort_unstable_by_key(|&(i, _)| i);
        let grown: usize = put.iter().map(|&(_, v)| v.len()).sum::<usize>()
            + added
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>();
        let shrunk: usize = put.iter().map(|&(i, _)| stored[i].1.len()).sum();
        let mut out = String::with_capacity((body.len() + grown).checked_sub(shrunk)?);
        let mut at = Vec::with_capacity(self.0.len() + 2 * added.len());
        // The stored members, each replaced value written in its place.
        let (mut from, mut next) = (0, put.iter().peekable());
        for (i, pair) in self.0.chunks_exact(2).enumerate() {
            let (key, value) = (pair[0] as usize, pair[1] as usize);
            let moved = (out.len() + key).checked_sub(from)?;
            at.push(offset(moved));
            at.push(offset(moved + value.checked_sub(key)?));
            if let Some(&(_, v)) = next.next_if(|(pi, _)| *pi == i) {
                out.push_str(body.get(from..value)?);
                out.push_str(v);
                from = value + stored[i].1.len();
            }
        }
        out.push_str(body.get(from..body.len().checked_sub(1)?)?);
        // The new members, appended.
        let mut plain = true;
        for (k, v) in added {
            if out.len() > 1 {
                out.push(',');
            }
            let key_at = out.len();
            plain &= !push_key(&mut out, k);
            out.push(':');
            at.push(offset(key_at));
            at.push(offset(out.len()));
            out.push_str(v);
        }
        out.push('}');
        let fits = u32::try_from(out.len()).is_ok();
        Some(Merged {
            layout: (plain && fits).then(|| Layout(at.into_boxed_slice())),
            body: out,
        })
    }
}

/// A merge's result: the new body and, when its keys allow one, its layout.
#[derive(Debug, PartialEq, Eq)]
pub struct Merged {
    pub body: String,
    pub layout: Option<Layout>,
}

/// Writes `members` as a compact JSON object (`doc::write_object`, into
/// exactly its capacity) with its layout: none when a key needed escaping,
/// as its text would not be the key.
pub fn write(members: &[(&str, &str)]) -> Merged {
    let mut at = Vec::with_capacity(2 * members.len());
    let mut plain = true;
    let body = write_object_noting(
        members.iter().map(|&(k, v)| (k, Piece::Json(v))),
        false,
        |key, value, escaped| {
            at.push(offset(key));
            at.push(offset(value));
            plain &= !escaped;
        },
    );
    // A body past 4 GiB (far beyond any size check) keeps no layout either.
    let fits = u32::try_from(body.len()).is_ok();
    Merged {
        body,
        layout: (plain && fits).then(|| Layout(at.into_boxed_slice())),
    }
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{merge_stored, stored_members, Members};

    #[test]
    fn a_layout_reads_back_what_was_written() {
        let members = [
            ("id", "\"a\""),
            ("n", "[1,{\"x\":2}]"),
            ("", "{}"),
            ("s", "\"a,b\""),
        ];
        let m = write(&members);
        assert_eq!(m.body, r#"{"id":"a","n":[1,{"x":2}],"":{},"s":"a,b"}"#);
        assert_eq!(m.body.capacity(), m.body.len());
        let layout = m.layout.expect("plain keys");
        assert_eq!(layout.members(&m.body).unwrap(), members);
        let empty = write(&[]);
        assert_eq!(empty.body, "{}");
        assert_eq!(empty.layout.unwrap().members("{}").unwrap(), []);
    }

    #[test]
    fn a_merge_through_a_layout_appends_to_an_empty_object_and_keeps_the_last_value() {
        let empty = write(&[]);
        let layout = empty.layout.expect("no keys");
        let patch = Members::parse(r#"{"a":1,"b":[2],"a":3}"#, "patch").unwrap();
        let m = layout.merge(&empty.body, &patch).unwrap();
        assert_eq!(m.body, r#"{"a":3,"b":[2]}"#);
        let again = Members::parse(r#"{"b":null,"b":"x","c":{}}"#, "patch").unwrap();
        let m2 = m.layout.unwrap().merge(&m.body, &again).unwrap();
        assert_eq!(m2.body, r#"{"a":3,"b":"x","c":{}}"#);
        assert_eq!(m2.body.capacity(), m2.body.len());
        let scanned = stored_members(&m2.body).unwrap();
        let scanned: Vec<(&str, &str)> = scanned.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
        assert_eq!(m2.layout.unwrap().members(&m2.body), Some(scanned));
    }

    #[test]
    fn a_key_that_needs_escaping_leaves_no_layout() {
        let m = write(&[("a", "1"), ("q\"k", "2")]);
        assert_eq!(m.body, r#"{"a":1,"q\"k":2}"#);
        assert_eq!(m.layout, None);
    }

    #[test]
    fn a_layout_that_does_not_fit_the_text_reads_nothing() {
        let layout = write(&[("abc", "1"), ("d", "2")]).layout.unwrap();
        assert!(layout.members("{}").is_none());
        assert!(layout.members("").is_none());
    }

    use proptest::prelude::*;

    /// A patch from keys drawn from a handful: plain ones, one that needs
    /// escaping (a body that takes it keeps no layout), the empty key.
    fn patch() -> impl Strategy<Value = String> {
        const KEYS: [&str; 6] = ["a", "b", "id", "", "é", "q\"k"];
        let value = prop_oneof![
            Just("null".to_owned()),
            (-50i64..50).prop_map(|n| n.to_string()),
            "[a-z,:{}\\[\\] ]{0,5}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            Just(r#"{"a":[1,{"b":"}"}]}"#.to_owned()),
        ];
        proptest::collection::vec((0..KEYS.len(), value), 0..4).prop_map(|members| {
            let members: Vec<String> = members
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{v}",
                        serde_json::to_string(KEYS[*k]).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", members.join(","))
        })
    }

    proptest! {
        /// Merge after merge, each onto the layout the last one left, writes
        /// what parsing the body and merging writes; and each layout reads
        /// what a scan finds.
        #[test]
        fn merges_through_layouts_agree_with_parse_and_merge(
            first in "\\{(\"(a|b|c)\":[1-9][0-9]{0,2},){0,4}\"id\":\"x\"\\}",
            patches in proptest::collection::vec(patch(), 1..6),
        ) {
            let mut body = first;
            let mut layout: Option<Layout> = None;
            for p in &patches {
                let patch = Members::parse(p, "patch").expect("a patch");
                let expected = Members::parse(&body, "d").expect("a body").merge(&patch);
                let merged = merge_stored(&body, layout.as_ref(), &patch).expect("a body");
                prop_assert_eq!(&merged.body, &expected);
                if let Some(l) = &merged.layout {
                    let scanned = stored_members(&merged.body).expect("an object");
                    let scanned: Vec<(&str, &str)> = scanned.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
                    prop_assert_eq!(l.members(&merged.body), Some(scanned));
                }
                prop_assert_eq!(merged.layout.is_some(), !merged.body.contains("q\\\"k"));
                body = merged.body;
                layout = merged.layout;
            }
        }

        /// What a layout reads is what a scan of the text finds.
        #[test]
        fn a_layout_agrees_with_the_scan(
            members in proptest::collection::vec(("[a-z_é]{0,6}", "(null|true|-?[0-9]{1,4}|\"[a-z,:{}\\[\\] ]{0,6}\"|\\[[0-9]{0,3}\\])"), 0..8),
        ) {
            let members: Vec<(&str, &str)> = members.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let m = write(&members);
            let layout = m.layout.expect("plain keys");
            let scanned = stored_members(&m.body).expect("an object");
            let scanned: Vec<(&str, &str)> = scanned.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
            prop_assert_eq!(layout.members(&m.body), Some(scanned));
        }
    }
}
