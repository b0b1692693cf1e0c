//! The Memory provider's batch: every operation decided and applied in one
//! critical section over every document it touches.
//!
//! The shards holding those documents are locked in shard-index order (so
//! two batches touching the same documents in opposite orders cannot
//! deadlock), the operations run in order on a staged copy of the touched
//! entries (each sees the earlier ones' effects), and the copy is committed
//! only when every operation succeeded: a failing one leaves the store as
//! it was, and no other thread ever sees part of a batch.

use std::collections::HashMap;

use super::store::{bump, map_key, matches, Entry, Store};
use crate::batch::{at, check_batch_size, Batch, BatchOutcome, Op, Reason};
use crate::doc::Members;
use crate::error::DsResult;
use crate::write::merge_stored;

/// A touched entry as the batch has it so far, and whether it wrote it.
struct Staged {
    entry: Option<Entry>,
    dirty: bool,
}

impl Store {
    pub fn batch(&self, batch: &Batch) -> DsResult<BatchOutcome> {
        let keys: Vec<String> = batch
            .ops
            .iter()
            .map(|op| map_key(&batch.pk_json, op.id()))
            .collect();
        let mut order: Vec<usize> = keys.iter().map(|k| self.shard_index(k)).collect();
        order.sort_unstable();
        order.dedup();
        // The critical section: every touched shard, in index order.
        let mut guards: Vec<_> = order.iter().map(|&i| self.shard_at(i).lock()).collect();

        let mut staged: HashMap<&str, Staged> = HashMap::with_capacity(keys.len());
        let mut results = Vec::with_capacity(batch.ops.len());
        let mut bytes = 0usize;
        for (i, (op, key)) in batch.ops.iter().zip(&keys).enumerate() {
            let s = staged.entry(key.as_str()).or_insert_with(|| {
                let g = order
                    .binary_search(&self.shard_index(key))
                    .map_or(None, |at| guards[at].get(key.as_str()).cloned());
                Staged {
                    entry: g,
                    dirty: false,
                }
            });
            let miss = match (op, &s.entry) {
                (Op::Create(_), Some(_)) => Some(Reason::Conflict),
                (Op::Create(_) | Op::Upsert(_), _) => None,
                (_, None) => Some(Reason::NotFound),
                (_, Some(e)) if op.expected().is_some_and(|x| !matches(x, e)) => {
                    Some(Reason::Conflict)
                }
                _ => None,
            };
            if let Some(reason) = miss {
                return Ok(BatchOutcome::Failed(i, reason));
            }
            let rev = s.entry.as_ref().map_or(1, |e| e.rev + 1);
            let written = match op {
                Op::Create(p) | Op::Upsert(p) | Op::Replace(p, _) => {
                    Some(Entry::new(p.body.clone(), rev))
                }
                Op::Update(id, patch, _) => {
                    let (base, layout) = s
                        .entry
                        .as_ref()
                        .map_or(("{}", None), |e| (&*e.body, e.layout.as_ref()));
                    let patch = Members::parse(patch, "patch").map_err(|e| at(i, e))?;
                    Some(Entry::merged(
                        merge_stored(base, layout, &patch, id).map_err(|e| at(i, e))?,
                        rev,
                    ))
                }
                Op::Delete(..) => None,
                Op::Read(_) => {
                    results.push(s.entry.as_ref().map(Entry::to_json));
                    continue;
                }
            };
            bytes += written.as_ref().map_or(0, |e| e.body.len());
            results.push(written.as_ref().map(Entry::to_json));
            s.entry = written;
            s.dirty = true;
        }
        check_batch_size(bytes)?;

        for (key, s) in staged.into_iter().filter(|(_, s)| s.dirty) {
            let Ok(at) = order.binary_search(&self.shard_index(key)) else {
                continue; // unreachable: every key's shard is locked
            };
            match s.entry {
                Some(e) => guards[at].insert(key.into(), e),
                None => {
                    bump(); // a delete takes no etag
                    guards[at].remove(key)
                }
            };
        }
        Ok(BatchOutcome::Applied(results))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::parse;
    use crate::error::Code;
    use crate::validate::PartitionKeyPath;
    use serde_json::Value;
    use std::sync::{Arc, Barrier};
    use std::thread;

    fn store() -> Store {
        Store::new(PartitionKeyPath::parse("/t").unwrap())
    }

    fn run(s: &Store, ops: &str) -> DsResult<BatchOutcome> {
        s.batch(&parse("\"x\"", ops, s.partition_key())?)
    }

    fn doc(s: &Store, id: &str) -> Option<Value> {
        s.get(id, "\"x\"")
            .unwrap()
            .map(|d| serde_json::from_str(&d).unwrap())
    }

    fn applied(out: BatchOutcome) -> Vec<Option<Value>> {
        match out {
            BatchOutcome::Applied(docs) => docs
                .into_iter()
                .map(|d| d.map(|d| serde_json::from_str(&d).unwrap()))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_kind_in_order_each_seeing_the_earlier_ones() {
        let s = store();
        s.create(r#"{"id":"old","t":"x","n":0}"#).unwrap();
        let out = applied(
            run(
                &s,
                r#"[{"op":"create","doc":{"id":"a","t":"x","n":1}},
                    {"op":"update","id":"a","patch":{"n":2},"rev":1},
                    {"op":"read","id":"a"},
                    {"op":"upsert","doc":{"id":"b","t":"x"}},
                    {"op":"replace","doc":{"id":"old","t":"x","n":5}},
                    {"op":"delete","id":"b"},
                    {"op":"read","id":"old"}]"#,
            )
            .unwrap(),
        );
        let revs: Vec<_> = out
            .iter()
            .map(|d| d.as_ref().map(|d| d["rev"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            revs,
            [Some(1), Some(2), Some(2), Some(1), Some(2), None, Some(2)]
        );
        assert_eq!(out[2], out[1], "a read sees the update before it");
        assert_eq!(doc(&s, "a").as_ref(), out[1].as_ref());
        assert_eq!(doc(&s, "old").unwrap()["n"], 5);
        assert!(doc(&s, "b").is_none());
    }

    #[test]
    fn a_failing_operation_at_any_position_applies_nothing() {
        for (bad, reason) in [
            (
                r#"{"op":"create","doc":{"id":"e","t":"x"}}"#,
                Reason::Conflict,
            ),
            (
                r#"{"op":"update","id":"e","patch":{},"rev":9}"#,
                Reason::Conflict,
            ),
            (
                r#"{"op":"delete","id":"e","etag":"\"0000000000000000\""}"#,
                Reason::Conflict,
            ),
            (
                r#"{"op":"replace","doc":{"id":"m","t":"x"}}"#,
                Reason::NotFound,
            ),
            (r#"{"op":"read","id":"m"}"#, Reason::NotFound),
            (r#"{"op":"delete","id":"m"}"#, Reason::NotFound),
        ] {
            for pos in 0..3 {
                let s = store();
                s.create(r#"{"id":"e","t":"x","n":0}"#).unwrap();
                let mut ops = vec![
                    r#"{"op":"update","id":"e","patch":{"n":1}}"#.to_owned(),
                    r#"{"op":"create","doc":{"id":"new","t":"x"}}"#.to_owned(),
                ];
                ops.insert(pos, bad.to_owned());
                let out = run(&s, &format!("[{}]", ops.join(","))).unwrap();
                assert_eq!(out, BatchOutcome::Failed(pos, reason), "{bad} at {pos}");
                let e = doc(&s, "e").unwrap();
                assert_eq!((e["rev"].as_u64(), e["n"].as_u64()), (Some(1), Some(0)));
                assert!(doc(&s, "new").is_none(), "{bad} at {pos}");
            }
        }
    }

    #[test]
    fn conditions_by_etag_rev_or_both() {
        let s = store();
        let a: Value = serde_json::from_str(&s.create(r#"{"id":"a","t":"x"}"#).unwrap()).unwrap();
        let etag = a["_etag"].as_str().unwrap();
        let with = |x: &str| format!(r#"[{{"op":"update","id":"a","patch":{{"n":1}},{x}}}]"#);
        let stale_etag_current_rev = with(r#""etag":"\"0000000000000000\"","rev":1"#);
        assert_eq!(
            run(&s, &stale_etag_current_rev).unwrap(),
            BatchOutcome::Failed(0, Reason::Conflict)
        );
        let current_etag_stale_rev = with(&format!(r#""etag":{},"rev":2"#, a["_etag"]));
        assert_eq!(
            run(&s, &current_etag_stale_rev).unwrap(),
            BatchOutcome::Failed(0, Reason::Conflict)
        );
        let both = with(&format!(r#""etag":{},"rev":1"#, a["_etag"]));
        let out = applied(run(&s, &both).unwrap());
        assert_ne!(out[0].as_ref().unwrap()["_etag"], etag);
        assert_eq!(doc(&s, "a").unwrap()["rev"], 2);
    }

    #[test]
    fn a_batch_too_large_once_merged_writes_nothing() {
        let s = store();
        let half = "x".repeat(crate::batch::MAX_BATCH_BODY_BYTES / 2);
        s.create(&format!(r#"{{"id":"a","t":"x","b":"{half}"}}"#))
            .unwrap();
        s.create(r#"{"id":"c","t":"x"}"#).unwrap();
        let e = run(
            &s,
            &format!(
                r#"[{{"op":"update","id":"a","patch":{{"n":1}}}},{{"op":"update","id":"c","patch":{{"b":"{half}"}}}}]"#
            ),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::TooLarge);
        assert_eq!(doc(&s, "a").unwrap()["rev"], 1);
        assert_eq!(doc(&s, "c").unwrap()["rev"], 1);
    }

    /// Two batches touching the same documents in opposite orders, from
    /// threads released together, round after round: neither deadlocks, and
    /// each is all or nothing (every batch bumps both counters together).
    #[test]
    fn opposite_orders_across_threads_neither_deadlock_nor_tear() {
        const ROUNDS: usize = 2_000;
        let s = Arc::new(store());
        let ids: Vec<String> = (0..16).map(|i| format!("d{i}")).collect();
        for id in &ids {
            s.create(&format!(r#"{{"id":"{id}","t":"x","n":0}}"#))
                .unwrap();
        }
        let barrier = Barrier::new(3);
        thread::scope(|scope| {
            for dir in 0..2 {
                let (s, barrier, ids) = (Arc::clone(&s), &barrier, &ids);
                scope.spawn(move || {
                    barrier.wait();
                    for r in 0..ROUNDS {
                        let (a, b) = (&ids[r % 16], &ids[(r * 7 + 3) % 16]);
                        let (a, b) = if dir == 0 { (a, b) } else { (b, a) };
                        let ops = format!(
                            r#"[{{"op":"read","id":"{a}"}},{{"op":"update","id":"{a}","patch":{{"w":{dir}}}}},{{"op":"update","id":"{b}","patch":{{"w":{dir}}}}}]"#
                        );
                        assert!(matches!(run(&s, &ops).unwrap(), BatchOutcome::Applied(_)));
                    }
                });
            }
            // A reader batch over every document: the revs always sum to an
            // even count of writes (each batch writes two, or one document twice).
            let (s, barrier, ids) = (Arc::clone(&s), &barrier, &ids);
            scope.spawn(move || {
                barrier.wait();
                let reads = format!(
                    "[{}]",
                    ids.iter()
                        .map(|id| format!(r#"{{"op":"read","id":"{id}"}}"#))
                        .collect::<Vec<_>>()
                        .join(",")
                );
                for _ in 0..ROUNDS {
                    let docs = applied(run(&s, &reads).unwrap());
                    let writes: u64 = docs
                        .iter()
                        .map(|d| d.as_ref().unwrap()["rev"].as_u64().unwrap() - 1)
                        .sum();
                    assert_eq!(writes % 2, 0, "a reader saw half a batch");
                }
            });
        });
        let total: u64 = ids
            .iter()
            .map(|id| doc(&s, id).unwrap()["rev"].as_u64().unwrap() - 1)
            .sum();
        assert_eq!(total, 2 * 2 * ROUNDS as u64);
    }
}

/// The Memory batch against a model: a map of `id → (rev, n)` on which a
/// batch is tried on a copy and kept only if every operation succeeds.
#[cfg(test)]
mod model {
    use super::*;
    use crate::batch::parse;
    use crate::validate::PartitionKeyPath;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum M {
        Create(u8, i64),
        Upsert(u8, i64),
        Replace(u8, i64, Option<u64>),
        Update(u8, i64, Option<u64>),
        Delete(u8, Option<u64>),
        Read(u8),
    }

    fn op() -> impl Strategy<Value = M> {
        let id = 0u8..3;
        let rev = proptest::option::of(1u64..4);
        prop_oneof![
            (id.clone(), any::<i64>()).prop_map(|(i, n)| M::Create(i, n)),
            (id.clone(), any::<i64>()).prop_map(|(i, n)| M::Upsert(i, n)),
            (id.clone(), any::<i64>(), rev.clone()).prop_map(|(i, n, r)| M::Replace(i, n, r)),
            (id.clone(), any::<i64>(), rev.clone()).prop_map(|(i, n, r)| M::Update(i, n, r)),
            (id.clone(), rev).prop_map(|(i, r)| M::Delete(i, r)),
            id.prop_map(M::Read),
        ]
    }

    fn wire(m: &M) -> String {
        let x = |r: &Option<u64>| r.map_or(String::new(), |r| format!(r#","rev":{r}"#));
        match m {
            M::Create(i, n) => {
                format!(r#"{{"op":"create","doc":{{"id":"d{i}","t":"x","n":{n}}}}}"#)
            }
            M::Upsert(i, n) => {
                format!(r#"{{"op":"upsert","doc":{{"id":"d{i}","t":"x","n":{n}}}}}"#)
            }
            M::Replace(i, n, r) => {
                format!(
                    r#"{{"op":"replace","doc":{{"id":"d{i}","t":"x","n":{n}}}{}}}"#,
                    x(r)
                )
            }
            M::Update(i, n, r) => {
                format!(
                    r#"{{"op":"update","id":"d{i}","patch":{{"n":{n}}}{}}}"#,
                    x(r)
                )
            }
            M::Delete(i, r) => format!(r#"{{"op":"delete","id":"d{i}"{}}}"#, x(r)),
            M::Read(i) => format!(r#"{{"op":"read","id":"d{i}"}}"#),
        }
    }

    type State = BTreeMap<u8, (u64, i64)>;
    /// A batch's answer in the model's terms: `(rev, n)` per operation, or the failure.
    type Answer = Result<Vec<Option<(u64, i64)>>, (usize, Reason)>;

    /// The model's batch: the outcome as `(rev, n)` per operation, or the failure.
    fn apply(state: &mut State, ops: &[M]) -> Answer {
        let mut s = state.clone();
        let mut out = Vec::new();
        for (i, m) in ops.iter().enumerate() {
            let (id, cond) = match m {
                M::Create(id, _) | M::Upsert(id, _) | M::Read(id) => (*id, None),
                M::Replace(id, _, r) | M::Update(id, _, r) | M::Delete(id, r) => (*id, *r),
            };
            let cur = s.get(&id).copied();
            match (m, cur) {
                (M::Create(..), Some(_)) => return Err((i, Reason::Conflict)),
                (M::Create(..) | M::Upsert(..), _) => {}
                (_, None) => return Err((i, Reason::NotFound)),
                (_, Some((rev, _))) if cond.is_some_and(|c| c != rev) => {
                    return Err((i, Reason::Conflict))
                }
                _ => {}
            }
            let rev = cur.map_or(1, |(r, _)| r + 1);
            match m {
                M::Create(_, n) | M::Upsert(_, n) | M::Replace(_, n, _) | M::Update(_, n, _) => {
                    s.insert(id, (rev, *n));
                    out.push(Some((rev, *n)));
                }
                M::Delete(..) => {
                    s.remove(&id);
                    out.push(None);
                }
                M::Read(_) => out.push(cur),
            }
        }
        *state = s;
        Ok(out)
    }

    fn rev_n(doc: &str) -> (u64, i64) {
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        (v["rev"].as_u64().unwrap(), v["n"].as_i64().unwrap())
    }

    proptest! {
        #[test]
        fn batches_match_the_model(batches in proptest::collection::vec(proptest::collection::vec(op(), 1..6), 1..12)) {
            let store = Store::new(PartitionKeyPath::parse("/t").unwrap());
            let mut state = State::new();
            for ops in &batches {
                let json = format!("[{}]", ops.iter().map(wire).collect::<Vec<_>>().join(","));
                let got = store.batch(&parse("\"x\"", &json, store.partition_key()).unwrap()).unwrap();
                let got: Answer = match got {
                    BatchOutcome::Applied(docs) => Ok(docs.iter().map(|d| d.as_deref().map(rev_n)).collect()),
                    BatchOutcome::Failed(i, r) => Err((i, r)),
                };
                prop_assert_eq!(got, apply(&mut state, ops), "{}", json);
                for id in 0..3u8 {
                    let held = store.get(&format!("d{id}"), "\"x\"").unwrap().map(|d| rev_n(&d));
                    prop_assert_eq!(held, state.get(&id).copied());
                }
            }
        }
    }
}
