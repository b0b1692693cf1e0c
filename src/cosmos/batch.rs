//! The Cosmos provider's batch: one transactional batch request.
//!
//! The crate's `TransactionalBatch` has create, upsert, replace, read and
//! delete, but no patch, so the batch is planned here first:
//! - every document the batch touches is read before (unless its first
//!   operation is a create, or it is the caller's etag's version this
//!   process last saw), and its first operation in the batch is pinned to
//!   that version: `ifMatch` on the etag read, or a create when it was
//!   absent. So the server applies the batch only if none of those
//!   documents changed since, and the `rev`, ring and merges computed from
//!   the reads are the ones that land;
//! - an `update` is sent as a replace of the merged document, and an
//!   `upsert` as a replace (or a create when absent), as single writes are;
//! - every write carries the next `rev` and the same fresh token in its
//!   ring (`token.rs`), so one re-read tells whether a batch whose answer
//!   was lost landed (all its writes land together);
//! - the caller's conditions are compared with the versions the batch is
//!   pinned to (etags never repeat, so an etag that is not the pinned one is
//!   stale); a missing document fails the batch before it is sent.
//!
//! A pin that fails on the server (the document moved since the read) is
//! the caller's `conflict` when the caller gave that etag; otherwise the
//! batch is planned again from fresh reads, as unconditional single writes
//! retry.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use azure_data_cosmos::models::TransactionalBatchOperationResult;
use azure_data_cosmos::options::{
    BatchDeleteOptions, BatchOptions, BatchReadOptions, BatchReplaceOptions, Precondition,
};
use azure_data_cosmos::{PartitionKey, TransactionalBatch};

use super::call::Call;
use super::errors::{classify, from_cosmos, is_definite_rejection, status_of};
use super::outcome::{judge, Condition, Verdict};
use super::store::{
    operation_options, partition_key, CosmosStore, Current, Failure, MAX_RESENDS, MAX_ROUNDS,
};
use super::token::{for_caller, stamp, Ring, Token};
use crate::batch::{at, check_batch_size, Batch, BatchOutcome, Op, Reason};
use crate::doc::Members;
use crate::error::{DsError, DsResult};
use crate::write::merge;

/// A document as the batch sees it before one of its operations.
#[derive(Clone)]
struct View {
    /// `None`: absent.
    state: Option<Present>,
}

#[derive(Clone)]
struct Present {
    /// The stored etag, for the version read before the batch; `None` for a
    /// version an earlier operation of this batch wrote.
    etag: Option<String>,
    rev: u64,
    ring: Ring,
    body: String,
    /// As callers see it, with its system fields.
    doc: String,
}

/// What a document's first operation in the batch is pinned to.
#[derive(Clone)]
enum Pin {
    Absent,
    /// The etag, and the rev and token of that version (to tell it from
    /// another life of the document), when known.
    Etag(String, Option<(u64, String)>),
}

/// A batch ready to send, and what judging its outcome needs.
struct Plan {
    request: TransactionalBatch,
    token: Token,
    /// Per written document: its pin and the `rev` the batch leaves it at
    /// (`None` when the batch deletes it last).
    written: Vec<(String, Pin, Option<u64>)>,
    /// Per operation: the document it produces, with an etag that names no
    /// version (for an answer decided by a re-read), or `None` for a delete.
    fallback: Vec<Option<String>>,
    /// Per operation: the last write of its document in the batch.
    last_write: Vec<bool>,
    /// Per operation: whether the caller's own etag is the pin (a failed pin
    /// is then the caller's conflict).
    caller_pin: Vec<bool>,
    /// Per operation: an upsert sent as a create or replace (its failure is
    /// a race with another writer, not the caller's).
    derived: Vec<bool>,
}

enum Planned {
    Send(Plan),
    Failed(usize, Reason),
}

/// What one attempt ended in.
enum Sent {
    Done(BatchOutcome),
    /// The pinned versions moved on: plan again.
    Replan,
}

/// Options of the batch request: the SDK must not resend it, and the
/// provider's deadline applies (`operation_options` in store.rs: the
/// provider owns the outcome).
fn batch_options(call: &Call) -> BatchOptions {
    BatchOptions::default().with_operation_options(operation_options(call.request_deadline(), true))
}

impl CosmosStore {
    pub async fn batch(&self, call: &Call, batch: &Batch) -> DsResult<BatchOutcome> {
        let pk = partition_key(&batch.pk_json)?;
        let _slot = self.admit(call, "batch").await?;
        for round in 0..MAX_ROUNDS {
            let plan = match self.plan(call, batch, pk.clone(), round == 0).await? {
                Planned::Failed(i, reason) => return Ok(BatchOutcome::Failed(i, reason)),
                Planned::Send(plan) => plan,
            };
            match self.send(call, batch, pk.clone(), &plan).await? {
                Sent::Done(out) => return Ok(out),
                Sent::Replan => {
                    tokio::time::sleep(Duration::from_millis(u64::from(round.min(20)))).await
                }
            }
        }
        Err(DsError::new(
            crate::error::Code::Unavailable,
            format!(
                "batch: gave up after {MAX_ROUNDS} rounds of concurrent writes to its documents"
            ),
        ))
    }

    /// Reads what the batch needs and builds the request, or finds the
    /// first operation that fails on what was read.
    async fn plan(
        &self,
        call: &Call,
        batch: &Batch,
        pk: PartitionKey,
        use_cache: bool,
    ) -> DsResult<Planned> {
        let pk_json = batch.pk_json.as_str();
        // The documents to read: each one's first operation, unless a create.
        let mut first: Vec<(&str, usize)> = Vec::new();
        for (i, op) in batch.ops.iter().enumerate() {
            if !first.iter().any(|(id, _)| *id == op.id()) {
                first.push((op.id(), i));
            }
        }
        let reads = first.iter().map(|&(id, i)| {
            let op = &batch.ops[i];
            let pk = pk.clone();
            async move {
                if matches!(op, Op::Create(_)) {
                    return Ok(None);
                }
                // The caller's etag names the version this process last saw: no read.
                let cached = self.cache.get(pk_json, id).filter(|v| {
                    use_cache && op.expected().and_then(|x| x.etag.as_ref()) == Some(&v.etag)
                });
                if let Some(v) = cached {
                    let doc = crate::doc::with_system_fields(
                        &v.body,
                        v.rev,
                        &v.etag,
                        crate::doc::now_secs(),
                    );
                    return Ok(Some(Some(Present {
                        etag: Some(v.etag),
                        rev: v.rev,
                        ring: v.ring,
                        body: v.body.to_string(),
                        doc,
                    })));
                }
                let cur = self.read(call, id, pk_json, pk, "batch").await?;
                Ok::<_, DsError>(Some(cur.map(present)))
            }
        });
        let read: Vec<Option<Option<Present>>> = futures::future::try_join_all(reads).await?;
        let mut views: HashMap<&str, View> = HashMap::new();
        let mut pins: HashMap<&str, Pin> = HashMap::new();
        for ((id, _), r) in first.iter().zip(read) {
            let state = r.flatten();
            pins.insert(
                id,
                match &state {
                    Some(Present {
                        etag: Some(e),
                        rev,
                        ring,
                        ..
                    }) => Pin::Etag(e.clone(), ring.token_at(*rev).map(|t| (*rev, t.to_owned()))),
                    _ => Pin::Absent,
                },
            );
            views.insert(id, View { state });
        }

        let token = Token::fresh();
        let n = batch.ops.len();
        let mut request = TransactionalBatch::new(pk);
        let mut fallback = Vec::with_capacity(n);
        let mut caller_pin = vec![false; n];
        let mut derived = vec![false; n];
        let mut touched: Vec<&str> = Vec::new();
        let mut bytes = 0usize;
        for (i, op) in batch.ops.iter().enumerate() {
            let id = op.id();
            let is_first = !touched.contains(&id);
            touched.push(id);
            let Some(view) = views.get_mut(id) else {
                return Err(DsError::internal("batch: planned an unread document"));
            };
            // The pin, on the first operation of each document.
            let pin_etag = match (is_first, pins.get(id)) {
                (true, Some(Pin::Etag(e, _))) => Some(e.clone()),
                _ => None,
            };
            let miss = match (op, &view.state) {
                (Op::Create(_), Some(_)) => Some(Reason::Conflict),
                (Op::Create(_) | Op::Upsert(_), _) => None,
                (_, None) => Some(Reason::NotFound),
                (_, Some(p)) => op.expected().and_then(|x| {
                    let etag_ok = x.etag.as_ref().is_none_or(|e| p.etag.as_ref() == Some(e));
                    (!(etag_ok && x.rev.is_none_or(|r| r == p.rev))).then_some(Reason::Conflict)
                }),
            };
            if let Some(reason) = miss {
                return Ok(Planned::Failed(i, reason));
            }
            caller_pin[i] = pin_etag.is_some() && op.expected().is_some_and(|x| x.etag.is_some());
            let if_match = |e: &Option<String>| e.clone().map(|e| Precondition::IfMatch(e.into()));
            let (rev, ring) = match &view.state {
                Some(p) => (p.rev + 1, p.ring.with(p.rev + 1, &token)),
                None => (1, Ring::default().with(1, &token)),
            };
            let body = match op {
                Op::Create(p) | Op::Upsert(p) | Op::Replace(p, _) => Some(p.body.clone()),
                Op::Update(id, patch, _) => {
                    let base = view.state.as_ref().map_or("{}", |p| p.body.as_str());
                    let patch = Members::parse(patch, "patch").map_err(|e| at(i, e))?;
                    Some(merge(base, &patch, id).map_err(|e| at(i, e))?)
                }
                Op::Delete(..) | Op::Read(_) => None,
            };
            match (op, body) {
                (Op::Read(_), _) => {
                    let opts = BatchReadOptions::default();
                    let opts = match if_match(&pin_etag) {
                        Some(p) => opts.with_precondition(p),
                        None => opts,
                    };
                    request = request.read_item(id.to_owned(), Some(opts));
                    fallback.push(view.state.as_ref().map(|p| p.doc.clone()));
                }
                (Op::Delete(..), _) => {
                    let opts = BatchDeleteOptions::default();
                    let opts = match if_match(&pin_etag) {
                        Some(p) => opts.with_precondition(p),
                        None => opts,
                    };
                    request = request.delete_item(id.to_owned(), Some(opts));
                    fallback.push(None);
                    view.state = None;
                }
                (_, Some(body)) => {
                    bytes += body.len();
                    let doc = stamp(&body, rev, &ring)?;
                    let mine = Current::superseded(&doc, rev)?;
                    let exists = view.state.is_some();
                    derived[i] = matches!(op, Op::Upsert(_));
                    request = if exists {
                        let opts = BatchReplaceOptions::default();
                        let opts = match if_match(&pin_etag) {
                            Some(p) => opts.with_precondition(p),
                            None => opts,
                        };
                        request.replace_item(
                            id.to_owned(),
                            body_value(&doc).map_err(|e| at(i, e))?,
                            Some(opts),
                        )
                    } else {
                        request.create_item(body_value(&doc).map_err(|e| at(i, e))?)
                    }
                    .map_err(|e| {
                        DsError::internal(format!(
                            "batch ops[{i}]: could not build the request ({e})"
                        ))
                    })?;
                    fallback.push(Some(mine.doc.clone()));
                    view.state = Some(Present {
                        etag: None,
                        rev,
                        ring,
                        body,
                        doc: mine.doc,
                    });
                }
                (_, None) => return Err(DsError::internal("batch: a write without a body")),
            }
        }
        check_batch_size(bytes)?;

        let mut last_write = vec![false; n];
        let mut written: Vec<(String, Pin, Option<u64>)> = Vec::new();
        for (i, op) in batch.ops.iter().enumerate().rev() {
            let id = op.id();
            if !op.is_write() || written.iter().any(|(w, _, _)| w == id) {
                continue;
            }
            last_write[i] = true;
            let end = views.get(id).and_then(|v| v.state.as_ref()).map(|p| p.rev);
            let pin = pins.get(id).cloned().unwrap_or(Pin::Absent);
            written.push((id.to_owned(), pin, end));
        }
        for &(id, _) in &first {
            self.cache.forget(pk_json, id);
        }
        Ok(Planned::Send(Plan {
            request,
            token,
            written,
            fallback,
            last_write,
            caller_pin,
            derived,
        }))
    }

    /// Sends the planned request and resolves its answer; an ambiguous one
    /// (a lost response, a reset, a timeout, a 5xx, any answer to a resend)
    /// by re-reading the written documents.
    async fn send(
        &self,
        call: &Call,
        batch: &Batch,
        pk: PartitionKey,
        plan: &Plan,
    ) -> DsResult<Sent> {
        let mut resends = 0;
        let mut ambiguous = false;
        loop {
            if let (false, Some(stop)) = (ambiguous, call.stopped()) {
                return Err(stop.before_sent("batch"));
            }
            let sent = call
                .run(
                    self.container.execute_transactional_batch(
                        plan.request.clone(),
                        Some(batch_options(call)),
                    ),
                )
                .await;
            let failure = match sent {
                Err(stop) => Some(Failure::Stopped(stop)),
                Ok(Ok(resp)) => {
                    call.heard(resp.status(), resp.headers());
                    let status = u16::from(resp.status().status_code());
                    let results = resp.into_model().map_err(|e| {
                        DsError::internal(format!("batch: unreadable response ({e})"))
                    })?;
                    let results = results.results();
                    if results.len() != batch.ops.len() {
                        return Err(DsError::internal(format!(
                            "batch: {} results for {} operations",
                            results.len(),
                            batch.ops.len()
                        )));
                    }
                    // The failing operation; the others of a failed batch answer 424.
                    let failing = results
                        .iter()
                        .position(|r| !r.is_success() && r.status_code() != 424)
                        .or_else(|| results.iter().position(|r| !r.is_success()));
                    match failing {
                        None => return Ok(Sent::Done(self.applied(batch, results)?)),
                        Some(j) if !ambiguous => {
                            return self.failed(batch, plan, j, &results[j], status)
                        }
                        // A resend's failure may be meeting our own first attempt.
                        Some(_) => None,
                    }
                }
                Ok(Err(e)) => {
                    call.heard_error(&e);
                    let (status, sub_status) = status_of(&e);
                    if is_definite_rejection(status, sub_status) || (!ambiguous && status == 429) {
                        return Err(from_cosmos(&e, "batch", &self.redactor));
                    }
                    Some(Failure::Sdk(e))
                }
            };
            ambiguous = true;
            if plan.written.is_empty() {
                // Reads only: nothing to resolve, resending changes nothing.
                if resends < MAX_RESENDS && call.stopped().is_none() {
                    resends += 1;
                    continue;
                }
                return Err(match failure {
                    Some(Failure::Sdk(e)) => from_cosmos(&e, "batch", &self.redactor),
                    Some(Failure::Stopped(stop)) => stop.read("batch"),
                    None => DsError::new(crate::error::Code::Unavailable, "batch: no answer"),
                });
            }
            let unknown = |why: &str| {
                match &failure {
                Some(f) => self.unknown(f, "batch", why),
                None => DsError::new(
                    crate::error::Code::Unavailable,
                    format!("batch: the outcome is unknown ({why}); the batch may or may not have been applied"),
                ),
            }
            };
            let resolving = call.resolving();
            let mut seen = Vec::with_capacity(plan.written.len());
            for (id, _, _) in &plan.written {
                let cur = self
                    .read(&resolving, id, &batch.pk_json, pk.clone(), "batch")
                    .await
                    .map_err(|_| unknown("a document could not be re-read"))?;
                seen.push(cur);
            }
            match verdict(plan, &seen) {
                Verdict::Landed => return Ok(Sent::Done(landed(batch, plan, &seen)?)),
                Verdict::Superseded => return Ok(Sent::Replan),
                Verdict::Pending if resends < MAX_RESENDS && call.stopped().is_none() => {
                    resends += 1
                }
                Verdict::Pending if call.stopped().is_some() => {
                    return Err(unknown(
                        "not landed when re-read, but the abandoned request may yet arrive",
                    ))
                }
                Verdict::Pending => return Err(unknown("resending did not get an answer")),
                Verdict::Unknown => {
                    return Err(unknown(
                        "its documents were deleted or rewritten since, and no longer record it",
                    ))
                }
            }
        }
    }

    /// Every operation succeeded: their documents, as the server returned them.
    fn applied(
        &self,
        batch: &Batch,
        results: &[TransactionalBatchOperationResult],
    ) -> DsResult<BatchOutcome> {
        let mut docs = Vec::with_capacity(results.len());
        for (op, r) in batch.ops.iter().zip(results) {
            if matches!(op, Op::Delete(..)) {
                docs.push(None);
                continue;
            }
            let body = r.resource_body().ok_or_else(|| {
                DsError::internal(format!("batch: no document in the answer to {:?}", op.id()))
            })?;
            let cur = Current::parse(body.get().to_owned())?;
            if op.is_write() {
                self.cache.put(&batch.pk_json, op.id(), cur.version());
            }
            docs.push(Some(for_caller(&cur.doc)?));
        }
        Ok(BatchOutcome::Applied(docs))
    }

    /// The server applied nothing: operation `j` failed with `r`.
    fn failed(
        &self,
        batch: &Batch,
        plan: &Plan,
        j: usize,
        r: &TransactionalBatchOperationResult,
        status: u16,
    ) -> DsResult<Sent> {
        let code = r.status_code();
        let ours = plan.derived[j] || (code == 412 && !plan.caller_pin[j]);
        match (code, &batch.ops[j]) {
            (412 | 409 | 404, _) if ours => Ok(Sent::Replan),
            (412 | 409, _) => Ok(Sent::Done(BatchOutcome::Failed(j, Reason::Conflict))),
            (404, _) => Ok(Sent::Done(BatchOutcome::Failed(j, Reason::NotFound))),
            (code, op) => Err(DsError::new(
                classify(code, None),
                format!(
                    "batch ops[{j}] ({:?}) failed with status {code} (batch status {status})",
                    op.id()
                ),
            )
            .with_status(code)),
        }
    }
}

fn present(cur: Current) -> Present {
    Present {
        etag: Some(cur.etag.clone()),
        rev: cur.rev,
        ring: cur.ring.clone(),
        body: cur.body.clone(),
        doc: cur.doc,
    }
}

/// Did the batch land, from a re-read of every document it writes? All its
/// writes land together, so any one document that records the batch's token
/// says it did, and any pinned document still at its pin says it did not.
fn verdict(plan: &Plan, seen: &[Option<Current>]) -> Verdict {
    let mut pending = false;
    let mut superseded = false;
    for ((_, pin, end), cur) in plan.written.iter().zip(seen) {
        let v = match (end, cur) {
            (_, Some(c)) if c.ring.contains(&plan.token) => Verdict::Landed,
            (_, Some(c)) if matches!(pin, Pin::Etag(e, _) if *e == c.etag) => Verdict::Pending,
            (None, _) => Verdict::Unknown,
            (Some(rev), cur) => {
                let (cond, base) = match pin {
                    Pin::Absent => (Condition::Absent, None),
                    Pin::Etag(e, base) => (
                        Condition::Etag(e.clone()),
                        base.as_ref().map(|(r, t)| (*r, t.as_str())),
                    ),
                };
                judge(
                    &cond,
                    *rev,
                    &plan.token,
                    base,
                    cur.as_ref().map(Current::seen),
                )
            }
        };
        match v {
            Verdict::Landed => return Verdict::Landed,
            Verdict::Pending => pending = true,
            Verdict::Superseded => superseded = true,
            Verdict::Unknown => {}
        }
    }
    if superseded {
        Verdict::Superseded
    } else if pending {
        Verdict::Pending
    } else {
        Verdict::Unknown
    }
}

/// The answer of a batch judged landed: each operation's version; the last
/// write of a document as re-read when it is still that version.
fn landed(batch: &Batch, plan: &Plan, seen: &[Option<Current>]) -> DsResult<BatchOutcome> {
    let mut docs = plan.fallback.clone();
    for (i, op) in batch.ops.iter().enumerate() {
        if !plan.last_write[i] {
            continue;
        }
        let Some(w) = plan.written.iter().position(|(id, _, _)| id == op.id()) else {
            continue;
        };
        if let (Some(rev), Some(cur)) = (plan.written[w].2, &seen[w]) {
            if cur.rev == rev && cur.ring.contains(&plan.token) {
                docs[i] = Some(for_caller(&cur.doc)?);
            }
        }
    }
    Ok(BatchOutcome::Applied(docs))
}

/// Containers a document handed to the SDK's batch builder may nest: the
/// datastore's own limit (a value at depth 128, checked before any write)
/// with room to spare; scanned before the parse below, which has no limit.
const MAX_BODY_NESTING: usize = 160;

/// `doc` as the `serde_json::Value` the SDK's batch builder keeps. Handed
/// the raw text, the builder parses it with serde_json's 128-level limit,
/// one level short of the deepest document a single write stores.
fn body_value(doc: &RawValue) -> DsResult<Value> {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &c in doc.get().as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_BODY_NESTING {
        return Err(DsError::invalid(format!(
            "document is nested deeper than {MAX_BODY_NESTING} levels"
        )));
    }
    let mut de = serde_json::Deserializer::from_str(doc.get());
    de.disable_recursion_limit();
    Value::deserialize(&mut de)
        .map_err(|e| DsError::internal(format!("a stamped document did not parse ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[test]
    fn raw_documents_survive_the_batch_builder() {
        // The crate takes `impl Serialize` and keeps a `serde_json::Value`.
        let doc =
            RawValue::from_string(r#"{"id":"a","t":"x","n":1.5,"deep":{"k":[1,"two"]}}"#.into())
                .unwrap();
        let b = TransactionalBatch::new("x").create_item(&*doc).unwrap();
        assert_eq!(b.partition_key(), &PartitionKey::from("x"));
    }

    #[test]
    fn the_sdk_never_resends_a_batch_and_the_deadline_applies() {
        let provider_deadline = Call::new(Some(Duration::from_millis(250)), None, None);
        let o = batch_options(&provider_deadline).operation;
        assert_eq!(o.max_failover_retry_count, Some(0));
        assert!(o.end_to_end_latency_policy.is_some());
        assert!(batch_options(&Call::default())
            .operation
            .end_to_end_latency_policy
            .is_none());
    }

    /// `text` as the raw document `body_value` gets (parsed without a depth limit).
    fn raw(text: &str) -> Box<RawValue> {
        let mut de = serde_json::Deserializer::from_str(text);
        de.disable_recursion_limit();
        Box::<RawValue>::deserialize(&mut de).unwrap()
    }

    /// `n` arrays, each inside the one before.
    fn arrays(n: usize) -> String {
        format!("{}{}", "[".repeat(n), "]".repeat(n))
    }

    /// A document `depth` containers deep: an object holding `depth - 1` arrays.
    fn nested(depth: usize) -> String {
        format!(r#"{{"d":{}}}"#, arrays(depth - 1))
    }

    #[test]
    fn a_batch_takes_documents_nested_up_to_its_limit() {
        let at_limit = nested(MAX_BODY_NESTING);
        let v = body_value(&raw(&at_limit)).unwrap();
        assert_eq!(v.to_string(), at_limit);
        let e = body_value(&raw(&nested(MAX_BODY_NESTING + 1))).unwrap_err();
        assert_eq!(e.code, crate::error::Code::InvalidArgument);
        assert_eq!(e.message, "document is nested deeper than 160 levels");
        // Closed containers give their depth back: many side by side are shallow.
        let wide = format!(r#"{{"d":[{}[]]}}"#, "[],".repeat(2 * MAX_BODY_NESTING));
        assert_eq!(body_value(&raw(&wide)).unwrap().to_string(), wide);
    }

    #[test]
    fn brackets_in_strings_are_not_nesting() {
        // Brackets inside strings, also after an escaped quote, are text.
        let deep = "[".repeat(2 * MAX_BODY_NESTING);
        let text = format!(r#"{{"s":"{deep}","t":"\"{deep}{{"}}"#);
        assert_eq!(body_value(&raw(&text)).unwrap().to_string(), text);
        // A string ends at its closing quote: what follows is counted again.
        let after = format!(r#"{{"s":"a","t":"\\","d":{}}}"#, arrays(MAX_BODY_NESTING));
        assert!(body_value(&raw(&after)).is_err());
    }

    /// A plan as `verdict` and `landed` read it (the request is never sent).
    fn plan(
        token: &Token,
        written: Vec<(&str, Pin, Option<u64>)>,
        fallback: Vec<Option<String>>,
        last_write: Vec<bool>,
    ) -> Plan {
        let n = fallback.len();
        Plan {
            request: TransactionalBatch::new("x"),
            token: token.clone(),
            written: written
                .into_iter()
                .map(|(id, pin, end)| (id.to_owned(), pin, end))
                .collect(),
            fallback,
            last_write,
            caller_pin: vec![false; n],
            derived: vec![false; n],
        }
    }

    /// A document as re-read: `etag`, `rev` and the ring's `(rev, token)` pairs.
    fn stored(id: &str, etag: &str, rev: u64, ring: &[(u64, &str)]) -> Current {
        let ring = ring
            .iter()
            .map(|(r, t)| format!(r#"[{r},"{t}"]"#))
            .collect::<Vec<_>>()
            .join(",");
        Current::parse(format!(
            r#"{{"id":"{id}","t":"x","rev":{rev},"_dsw":[{ring}],"_etag":"{etag}"}}"#
        ))
        .unwrap()
    }

    /// Pinned to `e`, the version written at rev 1 by token `old`.
    fn etag(e: &str) -> Pin {
        Pin::Etag(e.to_owned(), Some((1, "old".to_owned())))
    }

    #[test]
    fn a_lost_batch_is_judged_by_its_documents_as_re_read() {
        let tok = Token::fixed("ours");
        let one = |pin: Pin, end: Option<u64>, cur: Option<Current>| {
            verdict(&plan(&tok, vec![("a", pin, end)], vec![], vec![]), &[cur])
        };
        // Our token in the document: landed, whatever else holds.
        let mine = || Some(stored("a", "e2", 2, &[(1, "old"), (2, "ours")]));
        assert_eq!(one(etag("e1"), Some(2), mine()), Verdict::Landed);
        assert_eq!(one(Pin::Absent, None, mine()), Verdict::Landed);
        // Still at the pinned version: not landed yet, a resend is safe; also
        // for a batch that deletes the document last (no `rev` to judge by).
        let at_pin = || Some(stored("a", "e1", 1, &[(1, "old")]));
        assert_eq!(one(etag("e1"), Some(2), at_pin()), Verdict::Pending);
        assert_eq!(one(etag("e1"), None, at_pin()), Verdict::Pending);
        // Moved on, and the ring reaches back to our rev without our token.
        let other = || Some(stored("a", "e3", 2, &[(1, "old"), (2, "theirs")]));
        assert_eq!(one(etag("e1"), Some(2), other()), Verdict::Superseded);
        assert_eq!(one(etag("e1"), None, other()), Verdict::Unknown);
        assert_eq!(one(etag("e1"), None, None), Verdict::Unknown);
        assert_eq!(one(Pin::Absent, Some(1), None), Verdict::Unknown);
        // Several documents: landed beats all; superseded beats pending.
        let many = |cur: Vec<Option<Current>>| {
            let written = vec![("a", etag("e1"), Some(2)), ("b", etag("f1"), Some(2))];
            verdict(&plan(&tok, written, vec![], vec![]), &cur)
        };
        let a_at_pin = || Some(stored("a", "e1", 1, &[(1, "old")]));
        let b_mine = Some(stored("b", "f2", 2, &[(2, "ours")]));
        let b_theirs = Some(stored("b", "f3", 2, &[(1, "old"), (2, "theirs")]));
        assert_eq!(many(vec![a_at_pin(), b_mine]), Verdict::Landed);
        // Deleted and created again up to our rev: no proof another write won.
        let reborn = || Some(stored("a", "n2", 2, &[(1, "new"), (2, "theirs")]));
        assert_eq!(one(etag("e1"), Some(2), reborn()), Verdict::Unknown);
        assert_eq!(many(vec![a_at_pin(), b_theirs]), Verdict::Superseded);
        assert_eq!(many(vec![a_at_pin(), None]), Verdict::Pending);
    }

    #[test]
    fn a_landed_batch_answers_the_re_read_version_of_each_last_write() {
        let tok = Token::fixed("ours");
        let pk = crate::validate::PartitionKeyPath::parse("/t").unwrap();
        let batch = crate::batch::parse(
            "\"x\"",
            r#"[{"op":"update","id":"a","patch":{"n":1}},
                {"op":"update","id":"a","patch":{"n":2}},
                {"op":"update","id":"b","patch":{"n":1}},
                {"op":"read","id":"c"}]"#,
            &pk,
        )
        .unwrap();
        let fallback: Vec<Option<String>> = ["a@2", "a@3", "b@2", "c@1"]
            .iter()
            .map(|s| Some((*s).to_owned()))
            .collect();
        // Written in reverse op order, as `plan` lists them.
        let p = plan(
            &tok,
            vec![("b", etag("f1"), Some(2)), ("a", etag("e1"), Some(3))],
            fallback,
            vec![false, true, true, false],
        );
        let seen = [
            // b is still the batch's version: its re-read is the answer.
            Some(stored("b", "f2", 2, &[(2, "ours")])),
            // a moved on past the batch's rev 3 since: the batch's own version.
            Some(stored("a", "e4", 4, &[(3, "ours"), (4, "theirs")])),
        ];
        let BatchOutcome::Applied(docs) = landed(&batch, &p, &seen).unwrap() else {
            panic!("not applied");
        };
        let b = r#"{"id":"b","t":"x","rev":2,"_etag":"f2"}"#;
        assert_eq!(
            docs,
            [Some("a@2"), Some("a@3"), Some(b), Some("c@1")].map(|d| d.map(str::to_owned))
        );
    }
}
