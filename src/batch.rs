//! What both providers' `batch` shares: the operations as parsed and
//! checked before anything is applied, the limits (Cosmos DB's transactional
//! batch limits, enforced identically on Memory), and the outcome as
//! JavaScript receives it.
//!
//! The providers differ only in where the batch is decided: one lock section
//! over every touched shard (Memory), or one transactional batch request
//! (Cosmos).

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::doc::{json_array, Members};
use crate::error::{Code, DsError, DsResult};
use crate::validate::{check_patch, validate_id, validate_pk_value, PartitionKeyPath};
use crate::write::{prepare, Expectation, Prepared};

/// Cosmos DB's limit on operations in one transactional batch.
pub const MAX_BATCH_OPS: usize = 100;
/// Cosmos DB's limit on a batch request (2 MB), less what each operation adds
/// beyond the caller's document (the envelope, `rev`, the write ring, an
/// `If-Match` etag): the caller's documents in one batch, as stored (an
/// update counts its merged document), may take at most this many bytes, on
/// every provider.
pub const MAX_BATCH_BODY_BYTES: usize = crate::validate::MAX_DOCUMENT_BYTES - MAX_BATCH_OPS * 1024;

/// One operation of a batch, checked.
#[derive(Debug)]
pub enum Op {
    Create(Prepared),
    Upsert(Prepared),
    Replace(Prepared, Option<Expectation>),
    /// The id and the patch as JSON text (checked against the id and the
    /// batch's partition key).
    Update(String, String, Option<Expectation>),
    Delete(String, Option<Expectation>),
    Read(String),
}

impl Op {
    pub fn id(&self) -> &str {
        match self {
            Op::Create(p) | Op::Upsert(p) | Op::Replace(p, _) => &p.id,
            Op::Update(id, _, _) | Op::Delete(id, _) | Op::Read(id) => id,
        }
    }

    /// The caller's condition, if any.
    pub fn expected(&self) -> Option<&Expectation> {
        match self {
            Op::Replace(_, x) | Op::Update(_, _, x) | Op::Delete(_, x) => x.as_ref(),
            _ => None,
        }
    }

    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Read(_))
    }
}

/// A checked batch: every operation addresses the partition `pk_json`.
#[derive(Debug)]
pub struct Batch {
    /// The partition key value as JSON text.
    pub pk_json: String,
    pub ops: Vec<Op>,
}

/// Why a batch applied nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Conflict,
    NotFound,
}

/// How a batch ended.
#[derive(Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Every operation applied: a document per operation (`None` for a delete).
    Applied(Vec<Option<String>>),
    /// Nothing applied: the first failing operation and why.
    Failed(usize, Reason),
}

impl BatchOutcome {
    /// The `BatchResult` object `lib/batch.ts` decodes, as JSON text.
    pub fn to_json(&self) -> String {
        match self {
            BatchOutcome::Applied(docs) => format!(
                "{{\"ok\":true,\"results\":{}}}",
                json_array(docs.iter().map(|d| d.as_deref().unwrap_or("null")))
            ),
            BatchOutcome::Failed(index, reason) => format!(
                "{{\"ok\":false,\"index\":{index},\"reason\":\"{}\"}}",
                match reason {
                    Reason::Conflict => "conflict",
                    Reason::NotFound => "not_found",
                }
            ),
        }
    }
}

/// An operation as `lib/batch.ts` encodes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOp<'a> {
    op: String,
    #[serde(borrow, default)]
    doc: Option<&'a RawValue>,
    #[serde(default)]
    id: Option<String>,
    #[serde(borrow, default)]
    patch: Option<&'a RawValue>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    rev: Option<f64>,
}

/// Parses and checks a batch: the partition key, the count, every
/// operation (ids, documents in the batch's partition, patches, conditions)
/// and the size of the documents it carries. Errors name the operation
/// (`ops[3]`). Nothing about the stored documents is looked at.
pub fn parse(pk_json: &str, ops_json: &str, pk: &PartitionKeyPath) -> DsResult<Batch> {
    validate_pk_value(pk_json, pk.field())?;
    let wire: Vec<WireOp<'_>> = serde_json::from_str(ops_json).map_err(|e| {
        DsError::invalid(format!(
            "batch operations must be an array of operations ({e})"
        ))
    })?;
    if wire.is_empty() {
        return Err(DsError::invalid("batch needs at least one operation"));
    }
    if wire.len() > MAX_BATCH_OPS {
        return Err(DsError::invalid(format!(
            "batch has {} operations; the limit is {MAX_BATCH_OPS}",
            wire.len()
        )));
    }
    let pk_value = scalar(pk_json)?;
    let mut ops = Vec::with_capacity(wire.len());
    let mut carried = 0usize;
    for (i, w) in wire.into_iter().enumerate() {
        let op = parse_op(w, pk_json, &pk_value, pk).map_err(|e| at(i, e))?;
        carried += match &op {
            Op::Create(p) | Op::Upsert(p) | Op::Replace(p, _) => p.body.len(),
            _ => 0,
        };
        ops.push(op);
    }
    check_batch_size(carried)?;
    Ok(Batch {
        pk_json: pk_json.to_owned(),
        ops,
    })
}

/// Refuses a batch whose documents (as stored) take more than
/// `MAX_BATCH_BODY_BYTES`.
pub fn check_batch_size(bytes: usize) -> DsResult<()> {
    if bytes > MAX_BATCH_BODY_BYTES {
        return Err(DsError::new(
            Code::TooLarge,
            format!("batch writes {bytes} bytes of documents; the limit is {MAX_BATCH_BODY_BYTES}"),
        ));
    }
    Ok(())
}

/// The error `e` of operation `i`, saying so.
pub fn at(i: usize, mut e: DsError) -> DsError {
    e.message = format!("batch ops[{i}]: {}", e.message);
    e
}

fn scalar(json: &str) -> DsResult<serde_json::Value> {
    serde_json::from_str(json)
        .map_err(|e| DsError::invalid(format!("partition key is not valid JSON ({e})")))
}

fn parse_op(
    w: WireOp<'_>,
    pk_json: &str,
    pk_value: &serde_json::Value,
    pk: &PartitionKeyPath,
) -> DsResult<Op> {
    let allowed: &[&str] = match w.op.as_str() {
        "create" | "upsert" => &["doc"],
        "replace" => &["doc", "expected"],
        "update" => &["id", "patch", "expected"],
        "delete" => &["id", "expected"],
        "read" => &["id"],
        other => {
            return Err(DsError::invalid(format!(
                "unknown operation {other:?} (use create, upsert, replace, update, delete or read)"
            )))
        }
    };
    let given = [
        ("doc", w.doc.is_some()),
        ("id", w.id.is_some()),
        ("patch", w.patch.is_some()),
        ("expected", w.etag.is_some() || w.rev.is_some()),
    ];
    if let Some((name, _)) = given.iter().find(|(n, g)| *g && !allowed.contains(n)) {
        return Err(DsError::invalid(format!("{:?} takes no {name:?}", w.op)));
    }
    let expected = if w.etag.is_some() || w.rev.is_some() {
        Some(Expectation::from_js(w.etag, w.rev)?)
    } else {
        None
    };
    let need = |v: Option<String>, what: &str| {
        v.ok_or_else(|| DsError::invalid(format!("{:?} needs {what:?}", w.op)))
    };
    Ok(match w.op.as_str() {
        "create" | "upsert" | "replace" => {
            let doc = w
                .doc
                .ok_or_else(|| DsError::invalid(format!("{:?} needs \"doc\"", w.op)))?;
            let p = prepare(doc.get(), pk)?;
            if scalar(&p.pk_json)? != *pk_value {
                return Err(DsError::invalid(format!(
                    "document {:?} has partition key {} {}, not the batch's {pk_json}",
                    p.id,
                    pk.field(),
                    p.pk_json
                )));
            }
            match w.op.as_str() {
                "create" => Op::Create(p),
                "upsert" => Op::Upsert(p),
                _ => Op::Replace(p, expected),
            }
        }
        "update" => {
            let id = need(w.id, "id")?;
            validate_id(&id)?;
            let patch = w
                .patch
                .ok_or_else(|| DsError::invalid("\"update\" needs \"patch\""))?;
            check_patch(&Members::parse(patch.get(), "patch")?, &id, pk, pk_json)?;
            Op::Update(id, patch.get().to_owned(), expected)
        }
        "delete" => {
            let id = need(w.id, "id")?;
            validate_id(&id)?;
            Op::Delete(id, expected)
        }
        _ => {
            let id = need(w.id, "id")?;
            validate_id(&id)?;
            Op::Read(id)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_size_limit_is_inclusive() {
        assert!(check_batch_size(MAX_BATCH_BODY_BYTES).is_ok());
        let e = check_batch_size(MAX_BATCH_BODY_BYTES + 1).unwrap_err();
        assert_eq!(e.code, Code::TooLarge);
    }

    fn pk() -> PartitionKeyPath {
        PartitionKeyPath::parse("/t").unwrap()
    }

    #[test]
    fn parses_every_kind() {
        let b = parse(
            "\"x\"",
            r#"[{"op":"create","doc":{"id":"a","t":"x"}},
                {"op":"upsert","doc":{"id":"b","t":"x","rev":9}},
                {"op":"replace","doc":{"id":"a","t":"x","n":1},"etag":"\"e\""},
                {"op":"update","id":"a","patch":{"n":2},"rev":3},
                {"op":"delete","id":"b"},
                {"op":"read","id":"a"}]"#,
            &pk(),
        )
        .unwrap();
        assert_eq!(b.ops.len(), 6);
        assert!(matches!(&b.ops[1], Op::Upsert(p) if p.body == r#"{"id":"b","t":"x"}"#));
        assert!(b.ops[2].expected().is_some_and(|x| x.etag.is_some()));
        assert!(b.ops[3].expected().is_some_and(|x| x.rev == Some(3)));
        assert!(b.ops[4].expected().is_none() && b.ops[4].is_write());
        assert!(!b.ops[5].is_write());
    }

    #[test]
    fn refuses_bad_batches_naming_the_operation() {
        let cases = [
            ("{}", "array"),
            ("[]", "at least one"),
            (r#"[{"op":"drop","id":"a"}]"#, "unknown operation"),
            (r#"[{"op":"read"}]"#, "needs"),
            (r#"[{"op":"read","id":"a/b"}]"#, "ops[0]"),
            (r#"[{"op":"read","id":"a","doc":{}}]"#, "takes no"),
            (
                r#"[{"op":"create","doc":{"id":"a","t":"x"},"etag":"e"}]"#,
                "takes no",
            ),
            (
                r#"[{"op":"read","id":"a"},{"op":"create","doc":{"id":"a","t":"y"}}]"#,
                "ops[1]",
            ),
            (
                r#"[{"op":"create","doc":{"id":"a","t":1}}]"#,
                "partition key",
            ),
            (
                r#"[{"op":"update","id":"a","patch":{"t":"y"}}]"#,
                "partition key",
            ),
            (r#"[{"op":"update","id":"a","patch":{"rev":1}}]"#, "rev"),
            (r#"[{"op":"update","id":"a","patch":[1]}]"#, "patch"),
            (r#"[{"op":"delete","id":"a","rev":1.5}]"#, "rev"),
            (r#"[{"op":"read","id":"a","extra":1}]"#, "unknown field"),
        ];
        for (ops, want) in cases {
            let e = parse("\"x\"", ops, &pk()).unwrap_err();
            assert_eq!(e.code, Code::InvalidArgument, "{ops}");
            assert!(e.message.contains(want), "{ops}: {}", e.message);
        }
        let many = format!(
            "[{}]",
            vec![r#"{"op":"read","id":"a"}"#; MAX_BATCH_OPS + 1].join(",")
        );
        assert_eq!(
            parse("\"x\"", &many, &pk()).unwrap_err().code,
            Code::InvalidArgument
        );
        let enough = format!(
            "[{}]",
            vec![r#"{"op":"read","id":"a"}"#; MAX_BATCH_OPS].join(",")
        );
        assert!(parse("\"x\"", &enough, &pk()).is_ok());
        assert!(parse("null", r#"[{"op":"read","id":"a"}]"#, &pk()).is_err());
    }

    #[test]
    fn the_documents_of_a_batch_share_one_size_limit() {
        let blob = "x".repeat(MAX_BATCH_BODY_BYTES / 2);
        let doc =
            |id: &str| format!(r#"{{"op":"upsert","doc":{{"id":"{id}","t":"x","b":"{blob}"}}}}"#);
        let e = parse("\"x\"", &format!("[{},{}]", doc("a"), doc("b")), &pk()).unwrap_err();
        assert_eq!(e.code, Code::TooLarge);
        assert!(parse("\"x\"", &format!("[{}]", doc("a")), &pk()).is_ok());
        assert_eq!(MAX_BATCH_BODY_BYTES, 1_994_752);
    }

    #[test]
    fn outcomes_as_json() {
        let ok = BatchOutcome::Applied(vec![Some(r#"{"id":"a"}"#.into()), None]);
        assert_eq!(ok.to_json(), r#"{"ok":true,"results":[{"id":"a"},null]}"#);
        assert_eq!(
            BatchOutcome::Failed(2, Reason::NotFound).to_json(),
            r#"{"ok":false,"index":2,"reason":"not_found"}"#
        );
    }
}
