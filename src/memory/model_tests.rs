//! Property test (proptest): the Memory store against a plain model (a `BTreeMap` of
//! `(partition key, id) -> (rev, caller fields)`), over random sequences of
//! every write, with ids and partition keys that include the hostile ones
//! (`.`, `..`, control characters, a trailing space, `%41`, unicode). Both
//! must give the same answers and end in the same state; a refused call must
//! write nothing.

use std::collections::BTreeMap;

use crate::error::{Code, DsError};
use crate::memory::Store;
use crate::validate::PartitionKeyPath;
use crate::write::{Expectation, WriteOutcome};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const IDS: &[&str] = &[
    "a",
    "b",
    ".",
    "..",
    "...",
    "a\tb",
    "ab",
    "a\nb",
    "trailing ",
    "%41",
    "A",
    "a b",
    "é",
    "a/b",
    "",
];
const PKS: &[&str] = &[r#""x""#, r#""y""#, "1", r#""1""#, "true", r#""""#];

#[derive(Debug, Clone)]
enum Op {
    Create(usize, usize, i64),
    Upsert(usize, usize, i64),
    Replace(usize, usize, i64),
    Update(usize, usize, i64),
    UpdateIfRev(usize, usize, u64, i64),
    DeleteIfRev(usize, usize, u64),
    Delete(usize, usize),
    /// `Store::clear` (what `memoryRelease` does): the model is emptied.
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0..IDS.len();
    let pk = 0..PKS.len();
    prop_oneof![
        4 => (id.clone(), pk.clone(), any::<i64>()).prop_map(|(i, p, n)| Op::Create(i, p, n)),
        4 => (id.clone(), pk.clone(), any::<i64>()).prop_map(|(i, p, n)| Op::Upsert(i, p, n)),
        4 => (id.clone(), pk.clone(), any::<i64>()).prop_map(|(i, p, n)| Op::Replace(i, p, n)),
        4 => (id.clone(), pk.clone(), any::<i64>()).prop_map(|(i, p, n)| Op::Update(i, p, n)),
        4 => (id.clone(), pk.clone(), 0..4u64, any::<i64>())
            .prop_map(|(i, p, r, n)| Op::UpdateIfRev(i, p, r, n)),
        4 => (id.clone(), pk.clone(), 0..4u64).prop_map(|(i, p, r)| Op::DeleteIfRev(i, p, r)),
        4 => (id, pk).prop_map(|(i, p)| Op::Delete(i, p)),
        1 => Just(Op::Clear),
    ]
}

/// What the model says of an id: refused ids never reach the map.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && !id.ends_with(' ')
        && !id.chars().any(|c| c.is_control() || "/\\?#".contains(c))
}

type Model = BTreeMap<(String, String), (u64, i64)>;

/// A comparable answer: the stored `(rev, n)`, a miss, or an error code.
#[derive(Debug, PartialEq)]
enum Answer {
    Doc(u64, i64),
    Bool(bool),
    Count(usize),
    Conflict,
    NotFound,
    Err(Code),
}

fn doc_answer(r: Result<String, DsError>) -> Answer {
    match r {
        Ok(text) => {
            let v: Value = serde_json::from_str(&text).expect("the store returns JSON");
            Answer::Doc(v["rev"].as_u64().unwrap_or(0), v["n"].as_i64().unwrap_or(0))
        }
        Err(e) => Answer::Err(e.code),
    }
}

fn body(id: &str, pk: &str, n: i64) -> String {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("t".into(), serde_json::from_str(pk).expect("pk is JSON"));
    m.insert("n".into(), json!(n));
    Value::Object(m).to_string()
}

fn run(store: &Store, model: &mut Model, op: &Op) -> (Answer, Answer) {
    let (i, p) = match op {
        Op::Create(i, p, _)
        | Op::Upsert(i, p, _)
        | Op::Replace(i, p, _)
        | Op::Update(i, p, _)
        | Op::UpdateIfRev(i, p, _, _)
        | Op::DeleteIfRev(i, p, _)
        | Op::Delete(i, p) => (*i, *p),
        Op::Clear => {
            let want = Answer::Count(model.len());
            model.clear();
            return (Answer::Count(store.clear()), want);
        }
    };
    let (id, pk) = (IDS[i], PKS[p]);
    let key = (pk.to_owned(), id.to_owned());
    let ok = valid_id(id);
    let invalid = Answer::Err(Code::InvalidArgument);
    let current = model.get(&key).copied();
    match *op {
        Op::Create(_, _, n) => {
            let want = match (ok, current) {
                (false, _) => invalid,
                (true, Some(_)) => Answer::Err(Code::Conflict),
                (true, None) => {
                    model.insert(key, (1, n));
                    Answer::Doc(1, n)
                }
            };
            (doc_answer(store.create(&body(id, pk, n))), want)
        }
        Op::Upsert(_, _, n) => {
            let want = if ok {
                let rev = current.map_or(1, |(r, _)| r + 1);
                model.insert(key, (rev, n));
                Answer::Doc(rev, n)
            } else {
                invalid
            };
            (doc_answer(store.upsert(&body(id, pk, n))), want)
        }
        Op::Replace(_, _, n) => {
            let want = match (ok, current) {
                (false, _) => invalid,
                (true, None) => Answer::Err(Code::NotFound),
                (true, Some((r, _))) => {
                    model.insert(key, (r + 1, n));
                    Answer::Doc(r + 1, n)
                }
            };
            (doc_answer(store.replace(&body(id, pk, n))), want)
        }
        Op::Update(_, _, n) => {
            let want = match (ok, current) {
                (false, _) => invalid,
                (true, None) => Answer::Err(Code::NotFound),
                (true, Some((r, _))) => {
                    model.insert(key, (r + 1, n));
                    Answer::Doc(r + 1, n)
                }
            };
            let patch = json!({ "n": n }).to_string();
            (doc_answer(store.update(id, pk, &patch)), want)
        }
        Op::UpdateIfRev(_, _, rev, n) => {
            let want = match (ok, current) {
                (false, _) => invalid,
                (true, None) => Answer::NotFound,
                (true, Some((r, _))) if r != rev => Answer::Conflict,
                (true, Some((r, _))) => {
                    model.insert(key, (r + 1, n));
                    Answer::Doc(r + 1, n)
                }
            };
            let expected = Expectation::new(None, Some(rev)).expect("rev given");
            let patch = json!({ "n": n }).to_string();
            let got = match store.update_if_match(id, pk, &expected, &patch) {
                Ok(WriteOutcome::Written(doc)) => doc_answer(Ok(doc)),
                Ok(WriteOutcome::Conflict) => Answer::Conflict,
                Ok(WriteOutcome::NotFound) => Answer::NotFound,
                Err(e) => Answer::Err(e.code),
            };
            (got, want)
        }
        Op::DeleteIfRev(_, _, rev) => {
            let want = match (ok, current) {
                (false, _) => invalid,
                (true, None) => Answer::NotFound,
                (true, Some((r, _))) if r != rev => Answer::Conflict,
                (true, Some(_)) => {
                    model.remove(&key);
                    Answer::Bool(true)
                }
            };
            let expected = Expectation::new(None, Some(rev)).expect("rev given");
            let got = match store.delete_if_match(id, pk, &expected) {
                Ok(WriteOutcome::Written(())) => Answer::Bool(true),
                Ok(WriteOutcome::Conflict) => Answer::Conflict,
                Ok(WriteOutcome::NotFound) => Answer::NotFound,
                Err(e) => Answer::Err(e.code),
            };
            (got, want)
        }
        Op::Clear => unreachable!("answered before the match"),
        Op::Delete(..) => {
            let want = if ok {
                Answer::Bool(model.remove(&key).is_some())
            } else {
                invalid
            };
            let got = match store.delete(id, pk) {
                Ok(b) => Answer::Bool(b),
                Err(e) => Answer::Err(e.code),
            };
            (got, want)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn memory_store_matches_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let store = Store::new(PartitionKeyPath::parse("/t").expect("valid path"));
        let mut model = Model::new();
        for (step, op) in ops.iter().enumerate() {
            let (got, want) = run(&store, &mut model, op);
            prop_assert_eq!(got, want, "step {}: {:?}", step, op);
        }
        // Same final state: every (pk, id) the model holds, and nothing else.
        for id in IDS {
            for pk in PKS {
                let held = if valid_id(id) { store.get(id, pk).ok().flatten() } else { None };
                let got = held.map(|d| doc_answer(Ok(d)));
                let want = model.get(&((*pk).to_owned(), (*id).to_owned())).map(|(r, n)| Answer::Doc(*r, *n));
                prop_assert_eq!(got, want, "final state of {:?} in {}", id, pk);
            }
        }
    }
}
