//! The Memory provider's store and its compare-and-write.
//!
//! Documents are kept as JSON text in shards, each a `parking_lot::Mutex`
//! over a map keyed by partition key and id. Every write is decided and
//! applied inside one lock section, on the calling thread, so no JavaScript
//! turn and no other thread can land between a compare and its write.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use crate::doc::{now_secs, with_system_fields, Members};
use crate::error::{DsError, DsResult};
use crate::layout::{Layout, Merged};
use crate::validate::{check_patch, validate_id, validate_pk_value, PartitionKeyPath};
use crate::write::{
    already_exists, does_not_exist, merge_stored, prepare, prepare_with, Expectation, WriteOutcome,
};

use super::shard::Shard;

/// Enough shards that two threads on different documents rarely meet on a lock.
const SHARDS: usize = 32;

/// A stored body of up to this many bytes is merged inside the lock
/// section that writes it: merging it takes less time than copying it out
/// and locking again.
const MERGE_IN_LOCK: usize = 4096;

/// Etags are unique across every store in the process, so a document that is
/// deleted and created again never matches an etag of its earlier life.
///
/// Every change to any store's documents takes a number from here inside
/// its lock section (a write for its etag, a delete by `bump`), so while
/// the counter has not moved, no document anywhere has changed: the
/// TypeScript layer reads it (`write_count`) to answer from a version it
/// holds without a native call.
static NEXT_ETAG: AtomicU64 = AtomicU64::new(1);

/// Marks a change that takes no etag (a delete); call it inside the lock
/// section that makes the change.
pub(super) fn bump() {
    NEXT_ETAG.fetch_add(1, Ordering::Relaxed);
}

/// The counter every change moves: equal readings mean no document in the
/// process changed between them. A write of etag `n` leaves it at `n + 1`
/// or more.
pub fn write_count() -> u64 {
    NEXT_ETAG.load(Ordering::SeqCst)
}

#[derive(Clone)]
pub(super) struct Entry {
    /// The caller's fields as a JSON object; system fields are added on read.
    /// A `Box`, not an `Arc`: reads copy it out under the lock instead of
    /// bumping a reference count, which would make threads reading
    /// different documents fight over cache lines.
    pub(super) body: Box<str>,
    /// Where `body`'s members are, when a merge wrote it (`layout`).
    pub(super) layout: Option<Layout>,
    pub(super) rev: u64,
    pub(super) etag: u64,
    pub(super) ts: u64,
}

impl Entry {
    pub(super) fn new(body: String, rev: u64) -> Self {
        Entry::merged(Merged { body, layout: None }, rev)
    }

    /// A merge's result, its layout kept for the next merge.
    pub(super) fn merged(merged: Merged, rev: u64) -> Self {
        Entry {
            body: merged.body.into(),
            layout: merged.layout,
            rev,
            etag: NEXT_ETAG.fetch_add(1, Ordering::Relaxed),
            ts: now_secs(),
        }
    }

    /// The document as callers see it, with its system fields.
    pub(super) fn to_json(&self) -> String {
        with_system_fields(&self.body, self.rev, &format_etag(self.etag), self.ts)
    }

    /// Only the system fields and the shard's `stamp` (`fields_text`): what
    /// a caller holding the rest of this version needs.
    fn fields(&self, stamp: u64) -> String {
        fields_text(self.rev, self.etag, self.ts, stamp)
    }

    /// A write's answer: only the system fields (and the `stamp` of the
    /// shard it left) when it landed on the version the caller holds, else
    /// the whole document.
    fn reply(&self, onto_known: bool, stamp: u64) -> Reply {
        if onto_known {
            Reply::Fields(self.fields(stamp))
        } else {
            Reply::Doc(self.to_json())
        }
    }
}

/// `Reply::Fields`'s text: `+`, the etag (18 characters, its quotes
/// included), the rev, `,`, the `_ts`, `,`, the shard's stamp. Not JSON:
/// parsing a JSON object of three members was ~15 % of a 300-byte
/// `updateIfMatch` (perf); `writtenFields` in lib/doc-cache.ts reads this
/// by position.
fn fields_text(rev: u64, etag: u64, ts: u64, stamp: u64) -> String {
    let mut out = String::with_capacity(1 + 18 + 3 * 21);
    out.push('+');
    push_etag(&mut out, etag);
    let mut num = itoa::Buffer::new();
    out.push_str(num.format(rev));
    out.push(',');
    out.push_str(num.format(ts));
    out.push(',');
    out.push_str(num.format(stamp));
    out
}

/// A stamp: a shard's change count and the shard's index in one number,
/// exact in a JavaScript number until a shard has changed 2^48 times.
fn stamp(index: usize, changes: u64) -> u64 {
    changes
        .wrapping_mul(SHARDS as u64)
        .wrapping_add(index as u64)
}

/// A read or write answered to a caller that holds a version of the
/// document already (the TypeScript layer's cache of parsed documents).
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The whole document as JSON.
    Doc(String),
    /// The caller's version is the current one (a read), with the stamp
    /// of the shard that holds it (`Store::stamp_holds`).
    Unchanged(u64),
    /// A write onto the caller's version: only the new system fields, as
    /// `fields_text` writes them. The document is that version
    /// shallow-merged with the patch.
    Fields(String),
}

/// Whether `e` is the version `x` expects. An etag that is not one of ours
/// never matches.
pub(super) fn matches(x: &Expectation, e: &Entry) -> bool {
    x.matches_with(|t| parse_etag(t) == Some(e.etag), e.rev)
}

pub struct Store {
    pk: PartitionKeyPath,
    hasher: RandomState,
    /// Padded so that two threads working different shards do not share a cache line.
    shards: Box<[CachePadded<Shard>]>,
}

impl Store {
    pub fn new(pk: PartitionKeyPath) -> Self {
        Store {
            pk,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Shard::default()))
                .collect(),
        }
    }

    pub fn partition_key(&self) -> &PartitionKeyPath {
        &self.pk
    }

    pub(super) fn shards(&self) -> impl Iterator<Item = &Shard> {
        self.shards.iter().map(|s| &**s)
    }

    fn shard(&self, key: &str) -> &Shard {
        &self.shards[self.shard_index(key)]
    }

    /// The index of the shard holding `key` (batches lock shards in index order).
    pub(super) fn shard_index(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) as usize) % self.shards.len()
    }

    pub(super) fn shard_at(&self, index: usize) -> &Shard {
        &self.shards[index]
    }

    pub fn get(&self, id: &str, pk_json: &str) -> DsResult<Option<String>> {
        let key = self.key(id, pk_json)?;
        Ok(self
            .shard(&key)
            .lock()
            .get(key.as_str())
            .map(Entry::to_json))
    }

    /// `get`, for a caller holding the version `known` (an etag) of the
    /// document at map `key` (see `update_if_match_at`): `Unchanged` when
    /// that is still the current one, instead of copying it out.
    pub fn get_fresh_at(&self, key: &str, known: Option<&str>) -> DsResult<Option<Reply>> {
        self.split_key(key)?;
        Ok(self.fresh(key, known))
    }

    fn fresh(&self, key: &str, known: Option<&str>) -> Option<Reply> {
        let known = known.and_then(parse_etag);
        let index = self.shard_index(key);
        let shard = self.shard_at(index);
        let guard = shard.lock();
        guard.get(key).map(|e| {
            if known == Some(e.etag) {
                Reply::Unchanged(stamp(index, shard.changes()))
            } else {
                Reply::Doc(e.to_json())
            }
        })
    }

    /// Whether no document of the shard `stamp` names has changed since
    /// that stamp was given (by a read that found a version current, or a
    /// write that made it): then that version is still the current one.
    pub fn stamp_holds(&self, given: u64) -> bool {
        let index = (given % SHARDS as u64) as usize;
        self.shards
            .get(index)
            .is_some_and(|s| stamp(index, s.changes()) == given)
    }

    pub fn create(&self, doc_json: &str) -> DsResult<String> {
        self.create_answering(doc_json, |e, _| e.to_json())
    }

    /// `create`, answering only the new document's system fields and the
    /// stamp of its shard, as `fields_text` writes them: for a caller that
    /// has the rest (the document it sent) and holds the new version.
    pub fn create_fields(&self, doc_json: &str) -> DsResult<String> {
        self.create_answering(doc_json, Entry::fields)
    }

    /// `create_fields` for a document whose long strings come apart from
    /// its text (`write::prepare_with`).
    pub fn create_fields_with(&self, doc_json: &str, strings: &[&str]) -> DsResult<String> {
        let p = prepare_with(doc_json, &self.pk, strings)?;
        self.insert_new(map_key(&p.pk_json, &p.id), p.id, p.body, Entry::fields)
    }

    fn create_answering(
        &self,
        doc_json: &str,
        answer: fn(&Entry, u64) -> String,
    ) -> DsResult<String> {
        let (key, id, body) = self.prepare_doc(doc_json)?;
        self.insert_new(key, id, body, answer)
    }

    fn insert_new(
        &self,
        key: String,
        id: String,
        body: String,
        answer: fn(&Entry, u64) -> String,
    ) -> DsResult<String> {
        let index = self.shard_index(&key);
        let mut shard = self.shard_at(index).lock();
        if shard.contains_key(key.as_str()) {
            return Err(already_exists(&id));
        }
        let entry = Entry::new(body, 1);
        let out = answer(&entry, stamp(index, shard.changes_after_change()));
        shard.insert(key.into_boxed_str(), entry);
        Ok(out)
    }

    pub fn upsert(&self, doc_json: &str) -> DsResult<String> {
        let (key, _, body) = self.prepare_doc(doc_json)?;
        let mut shard = self.shard(&key).lock();
        let rev = shard.get(key.as_str()).map_or(1, |e| e.rev + 1);
        let entry = Entry::new(body, rev);
        let out = entry.to_json();
        shard.insert(key.into_boxed_str(), entry);
        Ok(out)
    }

    pub fn replace(&self, doc_json: &str) -> DsResult<String> {
        let (key, id, body) = self.prepare_doc(doc_json)?;
        let mut shard = self.shard(&key).lock();
        let entry = shard
            .get_mut(key.as_str())
            .ok_or_else(|| does_not_exist(&id))?;
        let rev = entry.rev + 1;
        Ok(entry.set(Entry::new(body, rev)).to_json())
    }

    /// Unconditional shallow merge.
    pub fn update(&self, id: &str, pk_json: &str, patch_json: &str) -> DsResult<String> {
        let key = self.key(id, pk_json)?;
        match self.merge_write(&key, id, pk_json, patch_json, None, None)? {
            WriteOutcome::Written(Reply::Doc(doc)) => Ok(doc),
            WriteOutcome::Written(other) => Err(DsError::internal(format!(
                "update without a known version answered {other:?}"
            ))),
            WriteOutcome::NotFound => Err(does_not_exist(id)),
            WriteOutcome::Conflict => Err(DsError::internal(
                "unconditional update reported a conflict",
            )),
        }
    }

    /// The conditional write: shallow-merges `patch` only if the document
    /// still matches `expected`.
    pub fn update_if_match(
        &self,
        id: &str,
        pk_json: &str,
        expected: &Expectation,
        patch_json: &str,
    ) -> DsResult<WriteOutcome> {
        Ok(
            match self.update_if_match_from(id, pk_json, expected, patch_json, None)? {
                WriteOutcome::Written(Reply::Doc(doc)) => WriteOutcome::Written(doc),
                WriteOutcome::Written(other) => {
                    return Err(DsError::internal(format!(
                        "updateIfMatch without a known version answered {other:?}"
                    )))
                }
                WriteOutcome::Conflict => WriteOutcome::Conflict,
                WriteOutcome::NotFound => WriteOutcome::NotFound,
            },
        )
    }

    /// `update_if_match` for a caller holding the version `known` (an
    /// etag): when the write lands on that version, the answer is only the
    /// new system fields (`Reply::Fields`), not the whole document.
    pub fn update_if_match_from(
        &self,
        id: &str,
        pk_json: &str,
        expected: &Expectation,
        patch_json: &str,
        known: Option<&str>,
    ) -> DsResult<WriteOutcome<Reply>> {
        let key = self.key(id, pk_json)?;
        self.merge_write(
            &key,
            id,
            pk_json,
            patch_json,
            Some(expected),
            known.and_then(parse_etag),
        )
    }

    /// `update_if_match_from` addressed by the map key itself (`map_key`:
    /// the partition key's JSON, a newline, the id), which the TypeScript
    /// layer keeps for its cache anyway: one string crosses, not two.
    pub fn update_if_match_at(
        &self,
        key: &str,
        expected: &Expectation,
        patch_json: &str,
        known: Option<&str>,
    ) -> DsResult<WriteOutcome<Reply>> {
        let (pk_json, id) = self.split_key(key)?;
        self.merge_write(
            key,
            id,
            pk_json,
            patch_json,
            Some(expected),
            known.and_then(parse_etag),
        )
    }

    /// Merge-writes with an optional condition, the condition checked with
    /// the write in one lock section. A body of up to `MERGE_IN_LOCK` bytes
    /// is merged inside that section too. A larger one is copied out and
    /// merged outside the lock (to keep lock sections short), then written
    /// if nothing landed since the copy, else merged again onto the new
    /// state.
    fn merge_write(
        &self,
        key: &str,
        id: &str,
        pk_json: &str,
        patch_json: &str,
        expected: Option<&Expectation>,
        known: Option<u64>,
    ) -> DsResult<WriteOutcome<Reply>> {
        let patch = Members::parse(patch_json, "patch")?;
        check_patch(&patch, id, &self.pk, pk_json)?;
        let index = self.shard_index(key);
        let shard = self.shard_at(index);
        // A large body merged outside the lock: the etag it was merged onto, and the result.
        let mut outside: Option<(u64, Merged)> = None;
        loop {
            // The compare-and-write: one lock section.
            let mut guard = shard.lock();
            let now = stamp(index, guard.changes_after_change());
            let Some(current) = guard.get_mut(key) else {
                return Ok(WriteOutcome::NotFound);
            };
            if expected.is_some_and(|x| !matches(x, &current)) {
                return Ok(WriteOutcome::Conflict);
            }
            let merged = match outside.take() {
                Some((etag, merged)) if etag == current.etag => merged,
                _ if current.body.len() <= MERGE_IN_LOCK => {
                    merge_stored(&current.body, current.layout.as_ref(), &patch, id)?
                }
                // Not yet merged, or another write landed since: merge (again) outside the lock.
                _ => {
                    let etag = current.etag;
                    let (body, layout) = (current.body.clone(), current.layout.clone());
                    drop(guard);
                    outside = Some((etag, merge_stored(&body, layout.as_ref(), &patch, id)?));
                    continue;
                }
            };
            let onto_known = known == Some(current.etag);
            let rev = current.rev + 1;
            let written = current.set(Entry::merged(merged, rev));
            return Ok(WriteOutcome::Written(written.reply(onto_known, now)));
        }
    }

    pub fn delete(&self, id: &str, pk_json: &str) -> DsResult<bool> {
        let key = self.key(id, pk_json)?;
        let mut shard = self.shard(&key).lock();
        let removed = shard.remove(key.as_str()).is_some();
        if removed {
            bump();
        }
        Ok(removed)
    }

    /// Deletes every document; how many there were. Each shard is emptied
    /// in its own lock section, its documents freed after it.
    pub fn clear(&self) -> usize {
        let mut removed = 0;
        for shard in self.shards() {
            let docs = {
                let mut guard = shard.lock();
                let docs = guard.take_all();
                if !docs.is_empty() {
                    bump(); // inside the lock section, as every delete
                }
                docs
            };
            removed += docs.len();
        }
        removed
    }

    /// The conditional delete: compare and remove in one lock section.
    pub fn delete_if_match(
        &self,
        id: &str,
        pk_json: &str,
        expected: &Expectation,
    ) -> DsResult<WriteOutcome<()>> {
        let key = self.key(id, pk_json)?;
        let mut shard = self.shard(&key).lock();
        Ok(match shard.get(key.as_str()) {
            None => WriteOutcome::NotFound,
            Some(e) if !matches(expected, e) => WriteOutcome::Conflict,
            Some(_) => {
                shard.remove(key.as_str());
                bump();
                WriteOutcome::Written(())
            }
        })
    }

    /// Parses a whole document, drops system fields, checks id, partition
    /// key and size. Returns the map key, the id and the body to store.
    fn prepare_doc(&self, doc_json: &str) -> DsResult<(String, String, String)> {
        let p = prepare(doc_json, &self.pk)?;
        Ok((map_key(&p.pk_json, &p.id), p.id, p.body))
    }

    pub(super) fn key(&self, id: &str, pk_json: &str) -> DsResult<String> {
        validate_id(id)?;
        validate_pk_value(pk_json, self.pk.field())?;
        Ok(map_key(pk_json, id))
    }

    /// The partition key's JSON and the id of a map key (`map_key`), each
    /// checked as `key` checks them.
    fn split_key<'k>(&self, key: &'k str) -> DsResult<(&'k str, &'k str)> {
        // The partition key's JSON never holds a raw newline: the first one ends it.
        let (pk_json, id) = key.split_once('\n').ok_or_else(|| {
            DsError::invalid("a document key is the partition key's JSON, a newline, then the id")
        })?;
        validate_id(id)?;
        validate_pk_value(pk_json, self.pk.field())?;
        Ok((pk_json, id))
    }
}

/// The map key: the partition key's JSON text, a newline (which JSON text
/// never contains raw), then the id.
pub(super) fn map_key(pk_json: &str, id: &str) -> String {
    let mut k = String::with_capacity(pk_json.len() + 1 + id.len());
    k.push_str(pk_json);
    k.push('\n');
    k.push_str(id);
    k
}

/// `"` + `seq` as 16 lowercase hex digits + `"`. By hand, not `format!`:
/// every write makes one, and the formatting machinery was ~5 % of a
/// 300-byte `updateIfMatch` (perf).
pub(super) fn format_etag(seq: u64) -> String {
    let mut out = String::with_capacity(18);
    push_etag(&mut out, seq);
    out
}

/// Appends `format_etag(seq)` to `out`.
fn push_etag(out: &mut String, seq: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for shift in (0..16).rev() {
        out.push(char::from(HEX[((seq >> (shift * 4)) & 0xf) as usize]));
    }
    out.push('"');
}

fn parse_etag(etag: &str) -> Option<u64> {
    let hex = etag.strip_prefix('"')?.strip_suffix('"')?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use serde_json::Value;
    use std::sync::{Arc, Barrier};
    use std::thread;

    #[test]
    fn etags_are_sixteen_lowercase_hex_digits_in_quotes_and_read_back() {
        for seq in [0, 1, 0xa, 0x0123_4567_89ab_cdef, u64::MAX] {
            let e = format_etag(seq);
            assert_eq!(e, format!("\"{seq:016x}\""));
            assert_eq!(parse_etag(&e), Some(seq));
        }
    }

    fn store() -> Store {
        Store::new(PartitionKeyPath::parse("/t").unwrap())
    }

    #[test]
    fn clear_deletes_every_document_and_moves_every_count_it_changes() {
        let s = store();
        assert_eq!(s.clear(), 0);
        let ids: Vec<String> = (0..200).map(|i| format!("d{i}")).collect();
        for id in &ids {
            s.create(&format!(r#"{{"id":"{id}","t":"p"}}"#)).unwrap();
        }
        let stamps: Vec<u64> = ids
            .iter()
            .map(|id| match s.fresh(&map_key("\"p\"", id), None) {
                Some(Reply::Doc(_)) => {
                    let i = s.shard_index(&map_key("\"p\"", id));
                    stamp(i, s.shard_at(i).changes())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        let count = write_count();
        assert_eq!(s.clear(), 200);
        assert!(write_count() > count);
        for (id, st) in ids.iter().zip(stamps) {
            assert_eq!(s.get(id, "\"p\"").unwrap(), None);
            assert!(!s.stamp_holds(st), "{id}: its shard's stamp still holds");
        }
        // The store works on: the same ids can be created again.
        s.create(r#"{"id":"d0","t":"p"}"#).unwrap();
        assert_eq!(s.clear(), 1);
    }

    fn expected(etag: Option<&str>, rev: Option<u64>) -> DsResult<Expectation> {
        Expectation::new(etag.map(str::to_owned), rev)
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn create_sets_system_fields_and_refuses_duplicates() {
        let s = store();
        let d = parse(
            &s.create(r#"{"id":"a","t":"x","rev":99,"_etag":"forged"}"#)
                .unwrap(),
        );
        assert_eq!(d["rev"], 1);
        assert_ne!(d["_etag"], "forged");
        assert!(d["_ts"].as_u64().unwrap() > 1_600_000_000);
        assert_eq!(
            s.create(r#"{"id":"a","t":"x"}"#).unwrap_err().code,
            Code::Conflict
        );
        // Same id, other partition: a different document.
        assert!(s.create(r#"{"id":"a","t":"y"}"#).is_ok());
    }

    #[test]
    fn every_write_bumps_rev_and_etag() {
        let s = store();
        let a = parse(&s.create(r#"{"id":"a","t":"x"}"#).unwrap());
        let b = parse(&s.replace(r#"{"id":"a","t":"x","n":1}"#).unwrap());
        let c = parse(&s.upsert(r#"{"id":"a","t":"x","n":2}"#).unwrap());
        let d = parse(&s.update("a", "\"x\"", r#"{"n":3}"#).unwrap());
        let revs: Vec<_> = [&a, &b, &c, &d]
            .iter()
            .map(|v| v["rev"].as_u64().unwrap())
            .collect();
        assert_eq!(revs, [1, 2, 3, 4]);
        let mut etags: Vec<_> = [&a, &b, &c, &d]
            .iter()
            .map(|v| v["_etag"].to_string())
            .collect();
        etags.dedup();
        assert_eq!(etags.len(), 4);
    }

    #[test]
    fn update_if_match_outcomes() {
        let s = store();
        let a = parse(&s.create(r#"{"id":"a","t":"x","status":"queued"}"#).unwrap());
        let etag = a["_etag"].as_str().unwrap();
        let by_etag = expected(Some(etag), None).unwrap();
        let out = s
            .update_if_match("a", "\"x\"", &by_etag, r#"{"status":"assigned"}"#)
            .unwrap();
        let WriteOutcome::Written(doc) = out else {
            panic!("{out:?}")
        };
        assert_eq!(parse(&doc)["status"], "assigned");
        // Same etag again: stale, and nothing is written.
        assert_eq!(
            s.update_if_match("a", "\"x\"", &by_etag, r#"{"status":"stolen"}"#)
                .unwrap(),
            WriteOutcome::Conflict
        );
        assert_eq!(
            parse(&s.get("a", "\"x\"").unwrap().unwrap())["status"],
            "assigned"
        );
        let by_rev = expected(None, Some(2)).unwrap();
        assert!(matches!(
            s.update_if_match("a", "\"x\"", &by_rev, "{}").unwrap(),
            WriteOutcome::Written(_)
        ));
        let missing = s.update_if_match("zz", "\"x\"", &by_rev, "{}").unwrap();
        assert_eq!(missing, WriteOutcome::NotFound);
        assert!(expected(None, None).is_err());
        let foreign = expected(Some("\"not-ours\""), None).unwrap();
        assert_eq!(
            s.update_if_match("a", "\"x\"", &foreign, "{}").unwrap(),
            WriteOutcome::Conflict
        );
    }

    #[test]
    fn delete_if_match_outcomes() {
        let s = store();
        let a = parse(&s.create(r#"{"id":"a","t":"x"}"#).unwrap());
        let etag = a["_etag"].as_str().unwrap();
        let stale_etag = expected(Some("\"0000000000000000\""), Some(1)).unwrap();
        let stale_rev = expected(Some(etag), Some(2)).unwrap();
        for stale in [&stale_etag, &stale_rev] {
            assert_eq!(
                s.delete_if_match("a", "\"x\"", stale).unwrap(),
                WriteOutcome::Conflict
            );
            assert!(s.get("a", "\"x\"").unwrap().is_some(), "nothing deleted");
        }
        let both = expected(Some(etag), Some(1)).unwrap();
        assert_eq!(
            s.delete_if_match("a", "\"x\"", &both).unwrap(),
            WriteOutcome::Written(())
        );
        assert!(s.get("a", "\"x\"").unwrap().is_none());
        assert_eq!(
            s.delete_if_match("a", "\"x\"", &both).unwrap(),
            WriteOutcome::NotFound
        );
    }

    #[test]
    fn recreated_document_does_not_match_old_etag() {
        let s = store();
        let a = parse(&s.create(r#"{"id":"a","t":"x"}"#).unwrap());
        assert!(s.delete("a", "\"x\"").unwrap());
        assert!(!s.delete("a", "\"x\"").unwrap());
        s.create(r#"{"id":"a","t":"x"}"#).unwrap();
        let old = expected(a["_etag"].as_str(), Some(1)).unwrap();
        assert_eq!(
            s.update_if_match("a", "\"x\"", &old, "{}").unwrap(),
            WriteOutcome::Conflict
        );
    }

    #[test]
    fn rejected_input_writes_nothing() {
        let s = store();
        s.create(r#"{"id":"a","t":"x","n":1}"#).unwrap();
        let e = expected(None, Some(1)).unwrap();
        assert!(s.update_if_match("a", "\"x\"", &e, r#"{"rev":5}"#).is_err());
        assert!(s.update("a", "\"x\"", r#"{"t":"moved"}"#).is_err());
        let big = format!(
            r#"{{"blob":"{}"}}"#,
            "x".repeat(crate::validate::MAX_DOCUMENT_BYTES)
        );
        assert_eq!(
            s.update("a", "\"x\"", &big).unwrap_err().code,
            Code::TooLarge
        );
        let d = parse(&s.get("a", "\"x\"").unwrap().unwrap());
        assert_eq!((d["rev"].as_u64(), d["n"].as_u64()), (Some(1), Some(1)));
    }

    /// store.rs `merge_write`: the snapshot's compare (`match guard
    /// expected.is_some_and(..)` → `false`) answers a stale token with
    /// `Conflict` before merging, so a stale conditional write is a conflict
    /// even when its merge would have been too large (the mutant merges first
    /// and answers `too_large`).
    #[test]
    fn stale_token_is_a_conflict_before_the_merge_is_checked() {
        let s = store();
        s.create(r#"{"id":"a","t":"x","n":1}"#).unwrap();
        let stale = expected(None, Some(7)).unwrap();
        let big = format!(
            r#"{{"blob":"{}"}}"#,
            "x".repeat(crate::validate::MAX_BODY_BYTES)
        );
        assert_eq!(
            s.update_if_match("a", "\"x\"", &stale, &big).unwrap(),
            WriteOutcome::Conflict
        );
        let d = parse(&s.get("a", "\"x\"").unwrap().unwrap());
        assert_eq!(d["rev"], 1);
    }

    /// The answers to a caller holding a version: `Unchanged` only while
    /// that version is current, and a write's system fields only when the
    /// write landed on it (an older version held gets the whole document).
    #[test]
    fn a_caller_holding_a_version_gets_only_what_it_lacks() {
        let s = store();
        let a = parse(&s.create(r#"{"id":"a","t":"x","n":1}"#).unwrap());
        let e1 = a["_etag"].as_str().unwrap().to_owned();
        let x = "\"x\"";
        assert_eq!(
            s.get_fresh_at(&map_key(x, "a"), Some(&e1)).unwrap(),
            Some(Reply::Unchanged(stamp(
                s.shard_index(&map_key(x, "a")),
                s.shard(&map_key(x, "a")).changes()
            )))
        );
        for other in [Some("\"0000000000000000\""), Some("not ours"), None] {
            let out = s.get_fresh_at(&map_key(x, "a"), other).unwrap();
            assert!(matches!(out, Some(Reply::Doc(_))), "{other:?}: {out:?}");
        }
        assert_eq!(s.get_fresh_at(&map_key(x, "zz"), Some(&e1)).unwrap(), None);

        let by_rev = expected(None, Some(1)).unwrap();
        let out = s
            .update_if_match_from("a", x, &by_rev, r#"{"n":2}"#, Some(&e1))
            .unwrap();
        let WriteOutcome::Written(Reply::Fields(fields)) = out else {
            panic!("{out:?}")
        };
        let now = parse(&s.get("a", x).unwrap().unwrap());
        let (etag, rest) = fields[1..].split_at(18);
        let mut parts = rest.split(',');
        let (rev, ts, given) = (parts.next(), parts.next(), parts.next());
        assert_eq!(&fields[..1], "+");
        assert_eq!(etag, now["_etag"]);
        assert_eq!(rev, Some(now["rev"].to_string().as_str()));
        assert_eq!(ts, Some(now["_ts"].to_string().as_str()));
        // The stamp the write left holds until the shard changes again.
        let given: u64 = given.and_then(|g| g.parse().ok()).unwrap();
        assert!(s.stamp_holds(given));
        s.create(r#"{"id":"elsewhere","t":"x"}"#).unwrap();
        assert_eq!(
            s.stamp_holds(given),
            s.shard_index(&map_key(x, "elsewhere")) != s.shard_index(&map_key(x, "a")),
            "another document's write moves only its own shard's stamp"
        );
        let by_rev = expected(None, Some(2)).unwrap();
        let out = s
            .update_if_match_from("a", x, &by_rev, r#"{"n":3}"#, Some(&e1))
            .unwrap();
        let WriteOutcome::Written(Reply::Doc(doc)) = out else {
            panic!("holding rev 1, a write onto rev 2 needs the whole document: {out:?}")
        };
        assert_eq!(parse(&doc)["n"], 3);
        assert!(!s.stamp_holds(given), "the document's own shard changed");
    }

    /// `create_fields` answers only the new document's system fields (the
    /// caller has the rest), the very ones a read then shows, and the stamp
    /// of its shard, which holds until that shard changes; it refuses a
    /// duplicate as `create` does.
    #[test]
    fn create_fields_answers_the_stored_system_fields_and_a_stamp() {
        let s = store();
        let fields = s.create_fields(r#"{"id":"a","t":"x","n":1}"#).unwrap();
        let d = parse(&s.get("a", "\"x\"").unwrap().unwrap());
        let (etag, rest) = fields[1..].split_at(18);
        let parts: Vec<&str> = rest.split(',').collect();
        assert_eq!(&fields[..1], "+");
        assert_eq!(etag, d["_etag"]);
        assert_eq!(parts[..2], ["1", d["_ts"].to_string().as_str()]);
        assert_eq!(d["n"], 1);
        let given: u64 = parts[2].parse().unwrap();
        assert_eq!(
            given % SHARDS as u64,
            s.shard_index(&map_key("\"x\"", "a")) as u64
        );
        assert!(s.stamp_holds(given));
        assert_eq!(
            s.create_fields(r#"{"id":"a","t":"x"}"#).unwrap_err().code,
            Code::Conflict
        );
        assert!(s.stamp_holds(given), "a refused create changes nothing");
        s.delete("a", "\"x\"").unwrap();
        assert!(!s.stamp_holds(given), "the document's own shard changed");
    }

    /// Every change moves the write count the TypeScript layer trusts to
    /// answer from a version it holds; a delete takes no etag, so it moves
    /// it by itself (without that, a deleted document would still be read).
    #[test]
    fn every_change_moves_the_write_count() {
        let s = store();
        let x = "\"x\"";
        let moved = |what: &str, change: &dyn Fn()| {
            let before = write_count();
            change();
            assert!(
                write_count() > before,
                "{what} did not move the write count"
            );
        };
        let rev = |n| expected(None, Some(n)).unwrap();
        moved("create", &|| {
            drop(s.create(r#"{"id":"a","t":"x"}"#).unwrap())
        });
        moved("upsert", &|| {
            drop(s.upsert(r#"{"id":"a","t":"x","n":1}"#).unwrap())
        });
        moved("replace", &|| {
            drop(s.replace(r#"{"id":"a","t":"x","n":2}"#).unwrap())
        });
        moved("update", &|| drop(s.update("a", x, r#"{"n":3}"#).unwrap()));
        moved("updateIfMatch", &|| {
            drop(s.update_if_match("a", x, &rev(4), r#"{"n":4}"#).unwrap())
        });
        moved("delete", &|| assert!(s.delete("a", x).unwrap()));
        s.create(r#"{"id":"a","t":"x"}"#).unwrap();
        moved("deleteIfMatch", &|| {
            assert_eq!(
                s.delete_if_match("a", x, &rev(1)).unwrap(),
                WriteOutcome::Written(())
            )
        });
        s.create(r#"{"id":"a","t":"x"}"#).unwrap();
        moved("a batch's delete", &|| {
            let b = crate::batch::parse(x, r#"[{"op":"delete","id":"a"}]"#, s.partition_key());
            assert!(s.get("a", x).unwrap().is_some());
            drop(s.batch(&b.unwrap()).unwrap());
            assert!(s.get("a", x).unwrap().is_none());
        });
    }

    /// A stamp holds until a document of its shard changes: every kind of
    /// change moves it, a delete too (it only removes), and nothing else
    /// does: a read, a refused or conflicting write, a delete of nothing,
    /// a change in another shard. The TypeScript cache answers from a
    /// version while its stamp holds.
    #[test]
    fn a_stamp_holds_until_a_document_of_its_shard_changes() {
        use crate::batch::BatchOutcome;
        let s = store();
        let x = "\"x\"";
        let key = map_key(x, "a");
        let index = s.shard_index(&key);
        // Another id in the shard of "a", and one in another shard.
        let id_where = |same: bool| {
            (0..)
                .map(|i| format!("b{i}"))
                .find(|id| (s.shard_index(&map_key(x, id)) == index) == same)
                .unwrap()
        };
        let (twin, other) = (id_where(true), id_where(false));
        let now = || stamp(index, s.shard_at(index).changes());
        let check = |moves: bool, what: &str, call: &dyn Fn()| {
            let before = now();
            assert!(s.stamp_holds(before), "{what}: the stamp before");
            call();
            assert_eq!(
                s.stamp_holds(before),
                !moves,
                "{what}: moves the stamp: {moves}"
            );
        };
        let doc = |id: &str, n: u64| format!(r#"{{"id":"{id}","t":"x","n":{n}}}"#);
        let rev = |n| expected(None, Some(n)).unwrap();
        let batch = |ops: &str| {
            let b = crate::batch::parse(x, ops, s.partition_key()).unwrap();
            s.batch(&b).unwrap()
        };

        check(true, "create", &|| drop(s.create(&doc("a", 1)).unwrap()));
        check(false, "a duplicate create", &|| {
            assert!(s.create(&doc("a", 1)).is_err())
        });
        check(false, "get", &|| drop(s.get("a", x).unwrap().unwrap()));
        let etag = parse(&s.get("a", x).unwrap().unwrap())["_etag"].clone();
        check(false, "a fresh read", &|| {
            assert_eq!(
                s.get_fresh_at(&key, etag.as_str()).unwrap(),
                Some(Reply::Unchanged(now()))
            )
        });
        check(true, "upsert", &|| drop(s.upsert(&doc("a", 2)).unwrap()));
        check(true, "replace", &|| drop(s.replace(&doc("a", 3)).unwrap()));
        check(false, "a replace of nothing", &|| {
            assert!(s.replace(&doc(&twin, 3)).is_err())
        });
        check(true, "update", &|| {
            drop(s.update("a", x, r#"{"n":4}"#).unwrap())
        });
        check(false, "a refused update", &|| {
            assert!(s.update("a", x, r#"{"t":"moved"}"#).is_err())
        });
        check(false, "a conflicting updateIfMatch", &|| {
            assert_eq!(
                s.update_if_match("a", x, &rev(1), "{}").unwrap(),
                WriteOutcome::Conflict
            )
        });
        check(true, "updateIfMatch", &|| {
            drop(s.update_if_match("a", x, &rev(4), "{}").unwrap())
        });
        check(true, "updateIfMatch by map key", &|| {
            drop(s.update_if_match_at(&key, &rev(5), "{}", None).unwrap())
        });
        check(false, "updateIfMatch by map key of nothing", &|| {
            assert_eq!(
                s.update_if_match_at(&map_key(x, &twin), &rev(1), "{}", None)
                    .unwrap(),
                WriteOutcome::NotFound
            )
        });
        check(false, "a change in another shard", &|| {
            drop(s.create(&doc(&other, 1)).unwrap())
        });
        check(true, "a create in the shard", &|| {
            drop(s.create(&doc(&twin, 1)).unwrap())
        });
        check(true, "delete", &|| assert!(s.delete(&twin, x).unwrap()));
        check(false, "a delete of nothing", &|| {
            assert!(!s.delete(&twin, x).unwrap())
        });
        check(false, "a conflicting deleteIfMatch", &|| {
            assert_eq!(
                s.delete_if_match("a", x, &rev(1)).unwrap(),
                WriteOutcome::Conflict
            )
        });
        check(true, "deleteIfMatch", &|| {
            assert_eq!(
                s.delete_if_match("a", x, &rev(6)).unwrap(),
                WriteOutcome::Written(())
            )
        });
        let create_a = format!(r#"[{{"op":"create","doc":{}}}]"#, doc("a", 1));
        check(true, "a batch's create", &|| {
            assert!(matches!(batch(&create_a), BatchOutcome::Applied(_)))
        });
        check(false, "a failed batch (the same create again)", &|| {
            assert!(matches!(batch(&create_a), BatchOutcome::Failed(..)))
        });
        check(true, "a batch's delete", &|| {
            let ops = r#"[{"op":"delete","id":"a"}]"#;
            assert!(matches!(batch(ops), BatchOutcome::Applied(_)))
        });
    }

    /// A map key that the TypeScript layer passes (`update_if_match_at`,
    /// `get_fresh_at`) is checked as the id and partition key it stands
    /// for would be: a malformed one is refused, not looked up.
    #[test]
    fn a_map_key_is_checked_as_its_id_and_partition_key_are() {
        let s = store();
        let x = "\"x\"";
        s.create(r#"{"id":"a","t":"x","n":1}"#).unwrap();
        let out = s
            .update_if_match_at(
                &map_key(x, "a"),
                &expected(None, Some(1)).unwrap(),
                r#"{"n":2}"#,
                None,
            )
            .unwrap();
        assert!(
            matches!(out, WriteOutcome::Written(Reply::Doc(_))),
            "{out:?}"
        );
        assert_eq!(parse(&s.get("a", x).unwrap().unwrap())["n"], 2);
        for bad in [
            "no newline".to_owned(),
            map_key(x, ".."),
            map_key(x, ""),
            map_key(x, "a\nb"),
            map_key("x", "a"),
            map_key("{\"t\":1}", "a"),
        ] {
            let e = expected(None, Some(2)).unwrap();
            let code = |r: DsResult<()>| r.unwrap_err().code;
            assert_eq!(
                code(s.update_if_match_at(&bad, &e, "{}", None).map(drop)),
                Code::InvalidArgument,
                "{bad:?}"
            );
            assert_eq!(
                code(s.get_fresh_at(&bad, None).map(drop)),
                Code::InvalidArgument,
                "{bad:?}"
            );
        }
        assert_eq!(parse(&s.get("a", x).unwrap().unwrap())["rev"], 2);
    }

    /// Threads released together by a barrier race one conditional write on
    /// the same revision, round after round: exactly one wins each round.
    /// (Without the barrier the threads never overlapped, and a store that
    /// compared only on its snapshot passed.)
    #[test]
    fn one_winner_across_threads() {
        const THREADS: usize = 4;
        for round in 0..300 {
            let s = Arc::new(store());
            // Bodies merged inside the lock section, and ones merged outside it.
            let pad = if round % 2 == 0 {
                2000
            } else {
                MERGE_IN_LOCK + 100
            };
            s.create(&format!(
                r#"{{"id":"job","t":"x","owner":null,"pad":"{}"}}"#,
                "p".repeat(pad)
            ))
            .unwrap();
            let barrier = Barrier::new(THREADS);
            let wins: usize = thread::scope(|scope| {
                let handles: Vec<_> = (0..THREADS)
                    .map(|i| {
                        let (s, barrier) = (Arc::clone(&s), &barrier);
                        scope.spawn(move || {
                            let e = expected(None, Some(1)).unwrap();
                            let patch = format!(r#"{{"owner":"agent-{i}"}}"#);
                            barrier.wait();
                            usize::from(matches!(
                                s.update_if_match("job", "\"x\"", &e, &patch),
                                Ok(WriteOutcome::Written(_))
                            ))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
            });
            assert_eq!(wins, 1, "round {round}");
            assert_eq!(parse(&s.get("job", "\"x\"").unwrap().unwrap())["rev"], 2);
        }
    }

    /// Read-modify-conditional-write increments from threads released
    /// together lose nothing.
    #[test]
    fn no_lost_increments_across_threads() {
        const THREADS: usize = 4;
        const EACH: u64 = 2_000;
        let s = Arc::new(store());
        s.create(r#"{"id":"c","t":"x","n":0}"#).unwrap();
        let barrier = Barrier::new(THREADS);
        thread::scope(|scope| {
            for _ in 0..THREADS {
                let (s, barrier) = (Arc::clone(&s), &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    for _ in 0..EACH {
                        loop {
                            let d = parse(&s.get("c", "\"x\"").unwrap().unwrap());
                            let e = expected(d["_etag"].as_str(), None).unwrap();
                            let patch = format!(r#"{{"n":{}}}"#, d["n"].as_u64().unwrap() + 1);
                            if let WriteOutcome::Written(_) =
                                s.update_if_match("c", "\"x\"", &e, &patch).unwrap()
                            {
                                break;
                            }
                        }
                    }
                });
            }
        });
        let d = parse(&s.get("c", "\"x\"").unwrap().unwrap());
        let total = THREADS as u64 * EACH;
        assert_eq!(
            (d["n"].as_u64(), d["rev"].as_u64()),
            (Some(total), Some(total + 1))
        );
    }

    /// Unconditional updates racing from several threads: every one lands
    /// (none is lost to a concurrent merge) and rev counts them all, on a
    /// body merged inside the lock section and on one merged outside it.
    #[test]
    fn concurrent_updates_all_land() {
        for pad in [0, MERGE_IN_LOCK + 1] {
            concurrent_updates_all_land_on(&"p".repeat(pad));
        }
    }

    fn concurrent_updates_all_land_on(pad: &str) {
        const THREADS: usize = 4;
        const EACH: usize = 500;
        let s = Arc::new(store());
        s.create(&format!(r#"{{"id":"u","t":"x","pad":"{pad}"}}"#))
            .unwrap();
        let barrier = Barrier::new(THREADS);
        thread::scope(|scope| {
            for w in 0..THREADS {
                let (s, barrier) = (Arc::clone(&s), &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    for i in 0..EACH {
                        s.update("u", "\"x\"", &format!(r#"{{"w{w}":{i}}}"#))
                            .unwrap();
                    }
                });
            }
        });
        let d = parse(&s.get("u", "\"x\"").unwrap().unwrap());
        assert_eq!(d["rev"].as_u64(), Some(1 + (THREADS * EACH) as u64));
        for w in 0..THREADS {
            assert_eq!(
                d[format!("w{w}")].as_u64(),
                Some(EACH as u64 - 1),
                "thread {w}'s last write was lost"
            );
        }
    }
}

#[cfg(test)]
mod scaling {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    /// Throughput of `get` on two different documents from one and two
    /// threads. A measurement, not a check: run with
    /// `cargo test --release -- --ignored --nocapture scaling`.
    #[test]
    #[ignore]
    fn two_threads_on_disjoint_documents() {
        let store = Arc::new(Store::new(PartitionKeyPath::parse("/t").unwrap()));
        for w in 0..2 {
            store
                .upsert(&format!(r#"{{"id":"d{w}","t":"x","n":0}}"#))
                .unwrap();
        }
        let run = |threads: usize| {
            let n = 1_000_000;
            let t0 = Instant::now();
            std::thread::scope(|s| {
                for w in 0..threads {
                    let store = Arc::clone(&store);
                    s.spawn(move || {
                        let id = format!("d{w}");
                        for _ in 0..n {
                            std::hint::black_box(store.get(&id, "\"x\"").unwrap());
                        }
                    });
                }
            });
            (threads * n) as f64 / t0.elapsed().as_secs_f64()
        };
        let (one, two) = (run(1), run(2));
        println!(
            "get: 1 thread {one:.0}/s, 2 threads {two:.0}/s: {:.2}x",
            two / one
        );
    }
}
