//! The Cosmos provider's operations. Every write is conditional (`If-Match`
//! on the etag it was computed from, or create-if-absent) and carries a
//! write token, so `rev` is bumped exactly once per successful write and a
//! lost response is resolved by `outcome::judge` instead of guessed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_util::sync::CancellationToken;

use azure_data_cosmos::clients::ContainerClient;
use azure_data_cosmos::feed::ContinuationToken;
use azure_data_cosmos::models::ItemResponse;
use azure_data_cosmos::options::{
    ItemReadOptions, ItemWriteOptions, MaxItemCountHint, OperationOptions, OperationOptionsBuilder,
    Precondition, QueryOptions,
};
use azure_data_cosmos::{CosmosError, FeedScope, PartitionKey, Query};
use futures::StreamExt;
use serde_json::value::RawValue;
use serde_json::Value;

use super::cache::{Version, VersionCache};
use super::call::{Call, Stop};
use super::client::Credential;
use super::errors::{
    diagnostics_of, from_cosmos, is_definite_rejection, is_missing_document, status_of,
    unknown_outcome, Redactor,
};
use super::options::ConnectOptions;
use super::outcome::{judge, Condition, Seen, Verdict};
use super::sql;
use super::token::{caller_fields, for_caller, stamp, Ring, Token};
use super::turns::Turns;
use crate::doc::{json_array, now_secs, with_system_fields, Members};
use crate::error::{Code, Diagnostics, DsError, DsResult};
use crate::query::QueryFilter;
use crate::validate::{
    check_patch, validate_id, validate_pk_value, PartitionKeyPath, MAX_DOCUMENT_BYTES,
};
use crate::write::{
    already_exists, does_not_exist, merge, prepare, Expectation, Prepared, WriteOutcome,
};

/// Identical resends of a write whose outcome is pending, before giving up.
pub(super) const MAX_RESENDS: u32 = 2;
/// Read-then-conditional-write rounds of an unconditional write under contention.
pub(super) const MAX_ROUNDS: u32 = 200;

/// A document as read or written: the server's JSON and what we need of it.
pub(super) struct Current {
    pub(super) doc: String,
    pub(super) etag: String,
    pub(super) rev: u64,
    pub(super) ring: Ring,
    /// The caller's fields (no system fields, no ring) as a JSON object.
    pub(super) body: String,
}

impl Current {
    pub(super) fn parse(doc: String) -> DsResult<Self> {
        let m = Members::parse(&doc, "stored document")?;
        let etag = m
            .get("_etag")
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
            .ok_or_else(|| DsError::internal("the server returned a document without _etag"))?;
        // A document written by someone else may have no (or a foreign) rev.
        let rev = m
            .get("rev")
            .and_then(|v| serde_json::from_str::<u64>(v.get()).ok())
            .unwrap_or(0);
        let ring = Ring::from_doc(&m);
        let body = caller_fields(m).to_json();
        Ok(Current {
            etag,
            rev,
            ring,
            body,
            doc,
        })
    }

    /// The version a write of ours produced, when the document has moved
    /// on since (its response was lost, and another write landed on top
    /// before the re-read): our body and `rev`, with an etag that matches
    /// no version, as any superseded etag would.
    pub(super) fn superseded(stamped: &RawValue, rev: u64) -> DsResult<Self> {
        let m = Members::parse(stamped.get(), "written document")?;
        let body = caller_fields(m).to_json();
        Ok(Current {
            doc: with_system_fields(&body, rev, SUPERSEDED_ETAG, now_secs()),
            etag: SUPERSEDED_ETAG.to_owned(),
            rev,
            ring: Ring::default(),
            body,
        })
    }

    pub(super) fn version(&self) -> Version {
        Version {
            etag: self.etag.clone(),
            rev: self.rev,
            ring: self.ring.clone(),
            body: self.body.as_str().into(),
        }
    }

    pub(super) fn seen(&self) -> Seen<'_> {
        Seen {
            etag: &self.etag,
            rev: self.rev,
            ring: &self.ring,
        }
    }
}

/// What a write is based on: a version of the document, or its absence.
enum Base {
    Absent,
    Version(Version),
}

/// The etag of a version of ours that another write has already replaced:
/// it names no stored version, so a conditional write on it is a conflict.
const SUPERSEDED_ETAG: &str = "\"superseded\"";

/// The SDK options of one request: the provider's deadline (`timeoutMs`),
/// if it has one, and for a write no resend by the SDK (it would hide the
/// resend from `write`, which owns the outcome: a resent create could
/// recreate a document deleted meanwhile, and a resent delete answers 404
/// for a delete that landed). A write that misses its deadline is
/// ambiguous like a lost response, and resolved the same way.
pub(crate) fn operation_options(deadline: Option<Duration>, write: bool) -> OperationOptions {
    let mut b = OperationOptionsBuilder::new();
    if write {
        b = b.with_max_failover_retry_count(0);
    }
    if let Some(d) = deadline {
        b = b.with_end_to_end_latency_policy(d.into());
    }
    b.build()
}

/// How a write ended, once resolved, with the diagnostics of the server's
/// answer that decided it (none when a re-read decided).
struct Written {
    outcome: WriteOutcome<Current>,
    diagnostics: Diagnostics,
}

impl Written {
    fn by(outcome: WriteOutcome<Current>, diagnostics: Diagnostics) -> Self {
        Written {
            outcome,
            diagnostics,
        }
    }
}

/// Why a request got no answer a write can take as it is.
pub(super) enum Failure {
    /// The SDK's error (a lost response, a 5xx, a timeout, ...).
    Sdk(CosmosError),
    /// The call stopped waiting (its signal fired or its deadline passed).
    Stopped(Stop),
}

/// What the failed answer to a write's request says on its own.
enum Answer {
    /// The server's verdict on the only attempt so far.
    Conflict(Diagnostics),
    NotFound(Diagnostics),
    /// Refused for a reason that holds whatever landed before: the error.
    Rejected(DsError),
    /// Says nothing about the outcome: resolve it by re-reading.
    Ambiguous,
}

impl CosmosStore {
    /// Classifies the failure of a write's request. A definite rejection
    /// (a bad request, auth) ends the write at any attempt. A 404, a 412
    /// (and 409 when `conflict_409`) or a 429 decides only the first
    /// attempt: after a lost response or a resend, it may be about an
    /// earlier attempt of ours that landed, so it is re-read instead.
    fn first_answer(
        &self,
        failure: &Failure,
        earlier_ambiguous: bool,
        conflict_409: bool,
        what: &str,
    ) -> Answer {
        let Failure::Sdk(err) = failure else {
            return Answer::Ambiguous;
        };
        let (status, sub_status) = status_of(err);
        if is_definite_rejection(status, sub_status) {
            return Answer::Rejected(from_cosmos(err, what, &self.redactor));
        }
        if earlier_ambiguous {
            return Answer::Ambiguous;
        }
        match status {
            412 => Answer::Conflict(diagnostics_of(err)),
            409 if conflict_409 => Answer::Conflict(diagnostics_of(err)),
            404 => Answer::NotFound(diagnostics_of(err)),
            429 => Answer::Rejected(from_cosmos(err, what, &self.redactor)),
            _ => Answer::Ambiguous,
        }
    }

    /// The rejection of a write whose outcome the re-read could not tell.
    pub(super) fn unknown(&self, f: &Failure, what: &str, why: &str) -> DsError {
        match f {
            Failure::Sdk(e) => unknown_outcome(e, what, why, &self.redactor),
            Failure::Stopped(s) => s.unknown(what, why),
        }
    }
}

/// Requests one provider keeps in flight at most; callers beyond it wait
/// their turn. Without a bound, 10,000 concurrent calls opened thousands of
/// connections and held hundreds of megabytes.
pub const MAX_IN_FLIGHT: usize = 64;

pub struct CosmosStore {
    pub(super) container: ContainerClient,
    in_flight: Semaphore,
    pk: PartitionKeyPath,
    pub(super) redactor: Arc<Redactor>,
    pub(super) cache: VersionCache,
    turns: Turns,
    /// Every request's deadline (`timeoutMs`).
    pub(super) deadline: Option<Duration>,
}

impl CosmosStore {
    pub async fn connect(opts: ConnectOptions, credential: Option<Credential>) -> DsResult<Self> {
        let key = opts.auth.key().map(str::to_owned);
        if let Some(k) = &key {
            super::trace::remember_secret(k);
        }
        super::trace::install_from_env();
        let redactor = Arc::new(Redactor::new(key));
        let container = super::client::container(&opts, credential, &redactor).await?;
        Ok(CosmosStore {
            container,
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            pk: opts.partition_key,
            redactor,
            cache: VersionCache::default(),
            turns: Turns::default(),
            deadline: opts.timeout,
        })
    }

    /// A call under this provider's per-request deadline, with the call's
    /// own `timeout` and abort token when given.
    pub fn call(&self, timeout: Option<Duration>, abort: Option<CancellationToken>) -> Call {
        Call::new(self.deadline, timeout, abort)
    }

    fn write_options(&self, call: &Call, precondition: Option<Precondition>) -> ItemWriteOptions {
        let opts = ItemWriteOptions::default()
            .with_operation_options(operation_options(call.request_deadline(), true));
        match precondition {
            Some(p) => opts.with_precondition(p),
            None => opts,
        }
    }

    pub fn partition_key(&self) -> &PartitionKeyPath {
        &self.pk
    }

    /// Waits for a slot among the `MAX_IN_FLIGHT` operations in flight; the
    /// operation holds it until it ends. Every public operation takes one.
    /// A call that stops while it waits has sent nothing.
    pub(super) async fn admit(&self, call: &Call, what: &str) -> DsResult<SemaphorePermit<'_>> {
        call.run(self.in_flight.acquire())
            .await
            .map_err(|s| s.before_sent(what))?
            .map_err(|_| DsError::internal("the provider's request queue is closed"))
    }

    pub async fn get(&self, call: &Call, id: &str, pk_json: &str) -> DsResult<Option<String>> {
        let pk = self.key(id, pk_json)?;
        let _slot = self.admit(call, "get").await?;
        match self.read(call, id, pk_json, pk, "get").await? {
            Some(cur) => Ok(Some(for_caller(&cur.doc)?)),
            None => Ok(None),
        }
    }

    pub async fn create(&self, call: &Call, doc_json: &str) -> DsResult<String> {
        let Prepared { id, pk_json, body } = prepare(doc_json, &self.pk)?;
        let what = format!("create of {id:?}");
        let _slot = self.admit(call, &what).await?;
        let w = self
            .write(call, &what, &id, &pk_json, &Base::Absent, &body)
            .await?;
        match w.outcome {
            WriteOutcome::Written(cur) => for_caller(&cur.doc),
            WriteOutcome::Conflict => Err(already_exists(&id)
                .with_status(409)
                .with_diagnostics(w.diagnostics)),
            WriteOutcome::NotFound => Err(DsError::internal(format!(
                "{what}: the server reported the new document missing"
            ))),
        }
    }

    pub async fn replace(&self, call: &Call, doc_json: &str) -> DsResult<String> {
        let Prepared { id, pk_json, body } = prepare(doc_json, &self.pk)?;
        self.unconditional(
            call,
            &format!("replace of {id:?}"),
            &id,
            &pk_json,
            false,
            |_| Ok(body.clone()),
        )
        .await
    }

    pub async fn upsert(&self, call: &Call, doc_json: &str) -> DsResult<String> {
        let Prepared { id, pk_json, body } = prepare(doc_json, &self.pk)?;
        self.unconditional(
            call,
            &format!("upsert of {id:?}"),
            &id,
            &pk_json,
            true,
            |_| Ok(body.clone()),
        )
        .await
    }

    /// Unconditional shallow merge.
    pub async fn update(
        &self,
        call: &Call,
        id: &str,
        pk_json: &str,
        patch_json: &str,
    ) -> DsResult<String> {
        self.key(id, pk_json)?;
        let patch = Members::parse(patch_json, "patch")?;
        check_patch(&patch, id, &self.pk, pk_json)?;
        self.unconditional(
            call,
            &format!("update of {id:?}"),
            id,
            pk_json,
            false,
            |base| merge(&base.body, &patch, id),
        )
        .await
    }

    /// The conditional write: a replace with `If-Match` on the etag of the
    /// version the patch is merged onto. When the version this process last
    /// saw matches `expected` (its etag, or given `rev` alone its rev), it is
    /// used without a read: one round trip, and the `If-Match` still decides
    /// on the server. A rev-only write that meets a 412 learns only that the
    /// version it read (or remembered) is gone, so it decides again on a
    /// fresh read.
    pub async fn update_if_match(
        &self,
        call: &Call,
        id: &str,
        pk_json: &str,
        expected: &Expectation,
        patch_json: &str,
    ) -> DsResult<WriteOutcome> {
        let pk = self.key(id, pk_json)?;
        let patch = Members::parse(patch_json, "patch")?;
        check_patch(&patch, id, &self.pk, pk_json)?;
        let what = format!("updateIfMatch of {id:?}");
        let _slot = self.admit(call, &what).await?;

        let mut cached = self
            .cache
            .get(pk_json, id)
            .filter(|v| match &expected.etag {
                Some(e) => v.etag == *e,
                None => expected.rev == Some(v.rev),
            });
        for _ in 0..MAX_ROUNDS {
            let base = match cached.take() {
                Some(v) => v,
                None => match self.read(call, id, pk_json, pk.clone(), &what).await? {
                    Some(cur) => cur.version(),
                    None => return Ok(WriteOutcome::NotFound),
                },
            };
            if !expected.matches(&base.etag, base.rev) {
                return Ok(WriteOutcome::Conflict);
            }
            let merged = merge(&base.body, &patch, id)?;
            let w = self
                .write(call, &what, id, pk_json, &Base::Version(base), &merged)
                .await?;
            match w.outcome {
                WriteOutcome::Written(cur) => {
                    return Ok(WriteOutcome::Written(for_caller(&cur.doc)?))
                }
                // Given `rev` alone, a 412 says only that the version read
                // (or remembered) is gone; the document may have been
                // deleted and created again at the expected `rev`. Decide
                // again on what is there now.
                WriteOutcome::Conflict if expected.etag.is_none() => continue,
                WriteOutcome::Conflict => return Ok(WriteOutcome::Conflict),
                WriteOutcome::NotFound => return Ok(WriteOutcome::NotFound),
            }
        }
        Err(DsError::new(
            Code::Unavailable,
            format!("{what}: gave up after {MAX_ROUNDS} rounds of concurrent writes to the same document"),
        ))
    }

    /// Unconditional delete. `true` only when this call removed the document,
    /// `false` only when there was none; after an ambiguous failure with the
    /// document gone, the outcome is reported unknown (this delete or
    /// another may have removed it).
    pub async fn delete(&self, call: &Call, id: &str, pk_json: &str) -> DsResult<bool> {
        let pk = self.key(id, pk_json)?;
        let what = format!("delete of {id:?}");
        let _slot = self.admit(call, &what).await?;
        Ok(matches!(
            // The version this provider last saw, to tell it from another life after a lost answer.
            self.remove(
                call,
                &what,
                id,
                pk_json,
                pk,
                None,
                self.seen_version(pk_json, id)
            )
            .await?,
            WriteOutcome::Written(())
        ))
    }

    /// The rev and token of the version of a document this provider last
    /// read or wrote, when it remembers one.
    fn seen_version(&self, pk_json: &str, id: &str) -> Option<(u64, String)> {
        let v = self.cache.get(pk_json, id)?;
        v.ring.token_at(v.rev).map(|t| (v.rev, t.to_owned()))
    }

    /// The conditional delete: `If-Match` on the etag of the version that
    /// matched `expected` (given an etag alone, no read first).
    pub async fn delete_if_match(
        &self,
        call: &Call,
        id: &str,
        pk_json: &str,
        expected: &Expectation,
    ) -> DsResult<WriteOutcome<()>> {
        let pk = self.key(id, pk_json)?;
        let what = format!("deleteIfMatch of {id:?}");
        let _slot = self.admit(call, &what).await?;
        for _ in 0..MAX_ROUNDS {
            // The etag to delete, and the version it names (its rev and the
            // token that wrote it) when known: from the read, or remembered.
            let (etag, named) = match (expected.etag.as_deref(), expected.rev) {
                // One round trip: the server compares. Only for an etag that can
                // travel as a header and name a version: a blank If-Match is
                // ignored (an unconditional delete), a control character breaks
                // the request; such an etag is compared after a read instead.
                (Some(etag), None) if is_sendable_etag(etag) => {
                    let named = self
                        .cache
                        .get(pk_json, id)
                        .filter(|v| v.etag == etag)
                        .and_then(|v| v.ring.token_at(v.rev).map(|t| (v.rev, t.to_owned())));
                    (etag.to_owned(), named)
                }
                _ => {
                    let Some(cur) = self.read(call, id, pk_json, pk.clone(), &what).await? else {
                        return Ok(WriteOutcome::NotFound);
                    };
                    if !expected.matches(&cur.etag, cur.rev) {
                        return Ok(WriteOutcome::Conflict);
                    }
                    let named = cur.ring.token_at(cur.rev).map(|t| (cur.rev, t.to_owned()));
                    (cur.etag, named)
                }
            };
            match self
                .remove(call, &what, id, pk_json, pk.clone(), Some(etag), named)
                .await?
            {
                // Given `rev` alone, a 412 says only that the version read is
                // gone (it may be back at the same `rev`): decide again.
                WriteOutcome::Conflict if expected.etag.is_none() => continue,
                outcome => return Ok(outcome),
            }
        }
        Err(DsError::new(
            Code::Unavailable,
            format!("{what}: gave up after {MAX_ROUNDS} rounds of concurrent writes to the same document"),
        ))
    }

    /// Sends a delete (conditional on `etag` when given) and resolves an
    /// ambiguous failure by re-reading: still there (at `etag`, when
    /// conditional) means ours did not land and is resent; gone means it
    /// cannot be told whether ours or another removed it; at another etag,
    /// ours cannot have landed only if that version descends from the one
    /// `etag` names (`named`: its rev and token), else the document may have
    /// been deleted by ours and created again. Unconditional, `named` is the
    /// version last seen, if any: a document there that does not descend from
    /// it is not deleted again.
    #[allow(clippy::too_many_arguments)]
    async fn remove(
        &self,
        call: &Call,
        what: &str,
        id: &str,
        pk_json: &str,
        pk: PartitionKey,
        etag: Option<String>,
        named: Option<(u64, String)>,
    ) -> DsResult<WriteOutcome<()>> {
        self.cache.forget(pk_json, id);
        let mut ambiguous = false;
        let mut resends = 0;
        loop {
            if let (false, Some(stop)) = (ambiguous, call.stopped()) {
                return Err(stop.before_sent(what));
            }
            let opts = self.write_options(call, etag.clone().map(Precondition::if_match));
            let failure = match call
                .run(self.container.delete_item(pk.clone(), id, Some(opts)))
                .await
            {
                Ok(Ok(resp)) => {
                    call.heard(resp.status(), resp.headers());
                    return Ok(WriteOutcome::Written(()));
                }
                Ok(Err(e)) => {
                    call.heard_error(&e);
                    Failure::Sdk(e)
                }
                Err(stop) => Failure::Stopped(stop),
            };
            match self.first_answer(&failure, ambiguous, false, what) {
                Answer::NotFound(_) => return Ok(WriteOutcome::NotFound),
                Answer::Conflict(_) => return Ok(WriteOutcome::Conflict),
                Answer::Rejected(e) => return Err(e),
                Answer::Ambiguous => {}
            }
            ambiguous = true;
            let seen = self
                .read(&call.resolving(), id, pk_json, pk.clone(), what)
                .await
                .map_err(|_| self.unknown(&failure, what, "the document could not be re-read"))?;
            self.cache.forget(pk_json, id);
            match seen {
                None => {
                    return Err(self.unknown(
                        &failure,
                        what,
                        "the document is gone, removed by this delete or by another",
                    ))
                }
                Some(cur) if etag.as_ref().is_some_and(|e| *e != cur.etag) => {
                    // Another version of the life we named: a delete of ours
                    // cannot have landed on it. Of another life (created again
                    // since), or not known to descend from ours: cannot tell.
                    let same_life = named
                        .as_ref()
                        .is_some_and(|(r, t)| cur.ring.token_at(*r) == Some(t.as_str()));
                    if same_life {
                        return Ok(WriteOutcome::Conflict);
                    }
                    return Err(self.unknown(
                        &failure,
                        what,
                        "the document has another version, not known to descend from the one named: this delete may have landed and the document been created again",
                    ));
                }
                // Unconditional, and the version seen before sending is not an
                // ancestor of this one: created again since, perhaps after ours
                // landed; a resend would delete the new document.
                Some(cur)
                    if etag.is_none()
                        && named
                            .as_ref()
                            .is_some_and(|(r, t)| cur.ring.token_at(*r) != Some(t.as_str())) =>
                {
                    return Err(self.unknown(
                        &failure,
                        what,
                        "the document was created again since this delete was sent: it may have landed before",
                    ));
                }
                // Not landed yet: resend, unless the call has stopped (the
                // abandoned request may still land, so it cannot be "not applied").
                Some(_) if resends < MAX_RESENDS && call.stopped().is_none() => resends += 1,
                Some(_) => {
                    return Err(self.unknown(
                        &failure,
                        what,
                        if call.stopped().is_some() {
                            "the document is still there, but the abandoned request may yet arrive"
                        } else {
                            "resending did not get an answer"
                        },
                    ))
                }
            }
        }
    }

    /// `filter` as parameterized SQL, and the feed it reads: its
    /// partition, or the whole container.
    fn prepared(&self, filter: &QueryFilter, what: &str) -> DsResult<(Query, FeedScope)> {
        let q = self.parameterized(sql::build(filter, self.pk.field())?, what)?;
        Ok((q, Self::scope(filter)?))
    }

    fn parameterized(&self, q: sql::SqlQuery, what: &str) -> DsResult<Query> {
        let mut query = Query::from(q.text);
        for (name, value) in q.params {
            query = query
                .with_parameter(name, value)
                .map_err(|e| from_cosmos(&e, what, &self.redactor))?;
        }
        Ok(query)
    }

    fn scope(filter: &QueryFilter) -> DsResult<FeedScope> {
        Ok(match &filter.partition_key {
            Some(pk) => FeedScope::partition(partition_key(pk.get())?),
            None => FeedScope::full_container(),
        })
    }

    /// Runs the portable query as parameterized SQL; returns a JSON array.
    /// A single-partition `orderBy` is ordered by the server when its answer
    /// is provably Memory's order (`sql::server_ordered`), else in process.
    pub async fn query(&self, call: &Call, filter: &QueryFilter) -> DsResult<String> {
        let (query, scope) = self.prepared(filter, "query")?;
        let halves = match (
            sql::build_ordered(filter, self.pk.field(), sql::Half::Defined)?,
            sql::build_ordered(filter, self.pk.field(), sql::Half::Missing)?,
        ) {
            (Some(d), Some(m)) => Some((
                self.parameterized(d, "query")?,
                self.parameterized(m, "query")?,
            )),
            _ => None,
        };
        let _slot = self.admit(call, "query").await?;
        if let Some((defined, missing)) = halves {
            // A 400 here is the server refusing the ORDER BY (on Cosmos DB, a
            // path without a range index); the unordered query still works.
            match self.fetch_all(call, defined, Self::scope(filter)?).await {
                Ok(defined) => {
                    let missing = self.fetch_all(call, missing, Self::scope(filter)?).await?;
                    if let Some(docs) = sql::server_ordered(filter, defined, missing) {
                        return Ok(json_array(docs));
                    }
                }
                Err(e) if e.status == Some(400) => {}
                Err(e) => return Err(e),
            }
        }
        let docs = self.fetch_all(call, query, scope).await?;
        Ok(json_array(sql::order_and_limit(filter, docs)))
    }

    /// Every document `query` answers, all pages, as the caller sees them.
    async fn fetch_all(
        &self,
        call: &Call,
        query: Query,
        scope: FeedScope,
    ) -> DsResult<Vec<String>> {
        let collect =
            async {
                let mut pages =
                    self.container
                        .query_items::<Box<RawValue>>(
                            query,
                            scope,
                            Some(QueryOptions::default().with_operation_options(
                                operation_options(call.request_deadline(), false),
                            )),
                        )
                        .await
                        .map_err(|e| {
                            call.heard_error(&e);
                            from_cosmos(&e, "query", &self.redactor)
                        })?
                        .into_pages();
                let mut items: Vec<Box<RawValue>> = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| {
                        call.heard_error(&e);
                        from_cosmos(&e, "query", &self.redactor)
                    })?;
                    call.heard_page(page.headers());
                    items.extend(page.into_items());
                }
                Ok::<_, DsError>(items)
            };
        let items = call.run(collect).await.map_err(|s| s.read("query"))??;
        items.iter().map(|item| for_caller(item.get())).collect()
    }

    /// One page of the portable query, at most `max_items` documents,
    /// resuming at the SDK's `continuation` token: a JSON object
    /// `{"items":[…],"continuation":"…"|null}`. Without `orderBy` only: the
    /// provider orders in process (Memory's order, and the test server has
    /// no query plan for a cross-partition ORDER BY), which cannot be paged.
    pub async fn query_page(
        &self,
        call: &Call,
        filter: &QueryFilter,
        max_items: u32,
        continuation: Option<String>,
    ) -> DsResult<String> {
        if filter.order_by.is_some() {
            return Err(DsError::invalid(
                "queryPage: orderBy cannot be paged (the provider orders in process, as Memory does); use query() for an ordered result",
            ));
        }
        let max = std::num::NonZeroU32::new(max_items)
            .ok_or_else(|| DsError::invalid("queryPage: maxItems must be at least 1"))?;
        let (query, scope) = self.prepared(filter, "queryPage")?;
        let _slot = self.admit(call, "queryPage").await?;
        let mut opts = QueryOptions::default()
            .with_operation_options(operation_options(call.request_deadline(), false))
            .with_max_item_count(MaxItemCountHint::Limit(max));
        if let Some(t) = continuation {
            opts = opts.with_continuation_token(ContinuationToken::from_string(t));
        }
        let single_partition = filter.partition_key.is_some();
        let fetch = async {
            let fail = |e: CosmosError| {
                call.heard_error(&e);
                let mut err = from_cosmos(&e, "queryPage", &self.redactor);
                if err.code == Code::InvalidArgument {
                    err.message
                        .push_str(" (was the continuation token made by this query?)");
                }
                err
            };
            let mut pages = self
                .container
                .query_items::<Box<RawValue>>(query, scope, Some(opts))
                .await
                .map_err(fail)?
                .into_pages();
            let Some(page) = pages.next().await else {
                return Ok::<_, DsError>((Vec::new(), None));
            };
            let page = page.map_err(fail)?;
            call.heard_page(page.headers());
            // One partition's query is done when the server sends no continuation.
            let done = single_partition && page.headers().continuation().is_none();
            let next = if done {
                None
            } else {
                Some(
                    pages
                        .to_continuation_token()
                        .map_err(fail)?
                        .as_str()
                        .to_owned(),
                )
            };
            Ok((page.into_items(), next))
        };
        let (items, next) = call.run(fetch).await.map_err(|s| s.read("queryPage"))??;
        let docs = items
            .iter()
            .map(|item| for_caller(item.get()))
            .collect::<DsResult<Vec<String>>>()?;
        let next = match next {
            Some(t) => serde_json::to_string(&t)
                .map_err(|e| DsError::internal(format!("queryPage: token ({e})")))?,
            None => "null".to_owned(),
        };
        Ok(format!(
            "{{\"items\":{},\"continuation\":{next}}}",
            json_array(docs)
        ))
    }

    /// A write that must land whatever else is written meanwhile (replace,
    /// update, upsert): read, write conditionally on what was read, and on
    /// losing a race do it again on the new version, so no `rev` bump is lost.
    async fn unconditional(
        &self,
        call: &Call,
        what: &str,
        id: &str,
        pk_json: &str,
        create_if_missing: bool,
        body_for: impl Fn(&Version) -> DsResult<String>,
    ) -> DsResult<String> {
        let pk = partition_key(pk_json)?;
        // The turn before the slot: writers waiting for this document must
        // not hold slots that writes to other documents could use.
        let _turn = call
            .run(self.turns.take(pk_json, id))
            .await
            .map_err(|s| s.before_sent(what))?;
        let _slot = self.admit(call, what).await?;
        for round in 0..MAX_ROUNDS {
            // The first round may start from the cached version; a stale one
            // only costs a 412 and a fresh read.
            let cached = if round == 0 {
                self.cache.get(pk_json, id)
            } else {
                None
            };
            let base = match cached {
                Some(v) => Base::Version(v),
                None => match self.read(call, id, pk_json, pk.clone(), what).await? {
                    Some(cur) => Base::Version(cur.version()),
                    None if create_if_missing => Base::Absent,
                    None => return Err(does_not_exist(id).with_status(404)),
                },
            };
            let body = match &base {
                Base::Version(v) => body_for(v)?,
                Base::Absent => body_for(&Version {
                    etag: String::new(),
                    rev: 0,
                    ring: Ring::default(),
                    body: "{}".into(),
                })?,
            };
            let w = self.write(call, what, id, pk_json, &base, &body).await?;
            match w.outcome {
                WriteOutcome::Written(cur) => return for_caller(&cur.doc),
                WriteOutcome::NotFound if !create_if_missing => {
                    return Err(does_not_exist(id)
                        .with_status(404)
                        .with_diagnostics(w.diagnostics))
                }
                WriteOutcome::Conflict | WriteOutcome::NotFound => {
                    // Spread contending writers out a little.
                    tokio::time::sleep(Duration::from_millis(u64::from(round.min(20)))).await;
                }
            }
        }
        Err(DsError::new(
            Code::Unavailable,
            format!("{what}: gave up after {MAX_ROUNDS} rounds of concurrent writes to the same document"),
        ))
    }

    /// Sends one logical write (create on `Base::Absent`, else replace with
    /// `If-Match`), stamped with the next `rev` and a fresh token, and
    /// resolves any answer but success by re-reading (see `outcome`).
    async fn write(
        &self,
        call: &Call,
        what: &str,
        id: &str,
        pk_json: &str,
        base: &Base,
        body: &str,
    ) -> DsResult<Written> {
        let pk = partition_key(pk_json)?;
        let token = Token::fresh();
        // The version written on, for telling it from another life of the document.
        let base_token = match base {
            Base::Absent => None,
            Base::Version(v) => v.ring.token_at(v.rev).map(|t| (v.rev, t.to_owned())),
        };
        let (cond, rev, ring) = match base {
            Base::Absent => (Condition::Absent, 1, Ring::default().with(1, &token)),
            Base::Version(v) => (
                Condition::Etag(v.etag.clone()),
                v.rev + 1,
                v.ring.with(v.rev + 1, &token),
            ),
        };
        let doc = stamp(body, rev, &ring)?;
        if doc.get().len() > MAX_DOCUMENT_BYTES - 512 {
            // `check_size` on the caller's fields leaves room for these; never send more.
            return Err(DsError::internal(format!(
                "{what}: the stamped document is {} bytes",
                doc.get().len()
            )));
        }

        let mut resends = 0;
        let mut ambiguous = false;
        loop {
            if let (false, Some(stop)) = (ambiguous, call.stopped()) {
                return Err(stop.before_sent(what));
            }
            let send = async {
                match &cond {
                    Condition::Absent => {
                        let opts = self.write_options(call, None);
                        self.container
                            .create_item(pk.clone(), id, &*doc, Some(opts))
                            .await
                    }
                    Condition::Etag(etag) => {
                        let opts =
                            self.write_options(call, Some(Precondition::if_match(etag.clone())));
                        self.container
                            .replace_item(pk.clone(), id, &*doc, Some(opts))
                            .await
                    }
                }
            };
            let failure = match call.run(send).await {
                Ok(Ok(resp)) => {
                    call.heard(resp.status(), resp.headers());
                    let cur = Current::parse(body_text(resp, what)?)?;
                    self.cache.put(pk_json, id, cur.version());
                    return Ok(Written::by(
                        WriteOutcome::Written(cur),
                        Diagnostics::default(),
                    ));
                }
                Ok(Err(e)) => {
                    call.heard_error(&e);
                    Failure::Sdk(e)
                }
                // Abandoned in flight: it may or may not reach the server.
                Err(stop) => Failure::Stopped(stop),
            };
            self.cache.forget(pk_json, id);
            match self.first_answer(&failure, ambiguous, true, what) {
                Answer::Conflict(d) => return Ok(Written::by(WriteOutcome::Conflict, d)),
                Answer::NotFound(d) => return Ok(Written::by(WriteOutcome::NotFound, d)),
                Answer::Rejected(e) => return Err(e),
                Answer::Ambiguous => {}
            }
            ambiguous = true;
            // A lost response, a timeout, an abort, a 5xx, or any answer to
            // a resend: ask the document (whatever stopped the call).
            let seen = match self
                .read(&call.resolving(), id, pk_json, pk.clone(), what)
                .await
            {
                Ok(seen) => seen,
                Err(_) => {
                    return Err(self.unknown(&failure, what, "the document could not be re-read"))
                }
            };
            let base = base_token.as_ref().map(|(r, t)| (*r, t.as_str()));
            match judge(&cond, rev, &token, base, seen.as_ref().map(Current::seen)) {
                Verdict::Landed => match seen {
                    Some(cur) if cur.rev == rev => {
                        return Ok(Written::by(
                            WriteOutcome::Written(cur),
                            Diagnostics::default(),
                        ))
                    }
                    Some(_) => {
                        let ours = Current::superseded(&doc, rev)?;
                        return Ok(Written::by(
                            WriteOutcome::Written(ours),
                            Diagnostics::default(),
                        ));
                    }
                    None => {
                        return Err(DsError::internal(format!(
                            "{what}: judged landed without a document"
                        )))
                    }
                },
                Verdict::Superseded => {
                    return Ok(Written::by(WriteOutcome::Conflict, Diagnostics::default()))
                }
                // Not landed yet: resend, unless the call has stopped (the
                // abandoned request may still land, so it is not "not applied").
                Verdict::Pending if resends < MAX_RESENDS && call.stopped().is_none() => {
                    resends += 1
                }
                Verdict::Pending => {
                    return Err(self.unknown(
                        &failure,
                        what,
                        if call.stopped().is_some() {
                            "not landed when re-read, but the abandoned request may yet arrive"
                        } else {
                            "resending did not get an answer"
                        },
                    ))
                }
                Verdict::Unknown => {
                    return Err(self.unknown(
                        &failure,
                        what,
                        if seen.is_none() {
                            "the document is gone: this write may have landed and been deleted since, or never landed"
                        } else {
                            "the document has moved on and no longer records this write"
                        },
                    ))
                }
            }
        }
    }

    /// Reads a document (`None` when missing) and remembers its version.
    pub(super) async fn read(
        &self,
        call: &Call,
        id: &str,
        pk_json: &str,
        pk: PartitionKey,
        what: &str,
    ) -> DsResult<Option<Current>> {
        let opts = ItemReadOptions::default()
            .with_operation_options(operation_options(call.request_deadline(), false));
        let read = call
            .run(self.container.read_item(pk, id, Some(opts)))
            .await
            .map_err(|s| s.read(what))?;
        match read {
            Ok(resp) => {
                call.heard(resp.status(), resp.headers());
                let cur = Current::parse(body_text(resp, what)?)?;
                self.cache.put(pk_json, id, cur.version());
                Ok(Some(cur))
            }
            Err(e) if is_missing_document(&e) => {
                call.heard_error(&e);
                self.cache.forget(pk_json, id);
                Ok(None)
            }
            Err(e) => {
                call.heard_error(&e);
                Err(from_cosmos(&e, what, &self.redactor))
            }
        }
    }

    fn key(&self, id: &str, pk_json: &str) -> DsResult<PartitionKey> {
        validate_id(id)?;
        validate_pk_value(pk_json, self.pk.field())?;
        partition_key(pk_json)
    }
}

/// Visible ASCII, non-empty: what an etag the server issued looks like.
fn is_sendable_etag(etag: &str) -> bool {
    !etag.is_empty() && etag.bytes().all(|b| b.is_ascii_graphic())
}

fn body_text(resp: ItemResponse, what: &str) -> DsResult<String> {
    let bytes = resp.into_body().single().map_err(|e: CosmosError| {
        DsError::internal(format!("{what}: unreadable response body ({e})"))
    })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| DsError::internal(format!("{what}: the response body is not UTF-8")))
}

/// The SDK's partition key for a JSON scalar.
pub(super) fn partition_key(pk_json: &str) -> DsResult<PartitionKey> {
    let v: Value = serde_json::from_str(pk_json)
        .map_err(|e| DsError::invalid(format!("partition key is not valid JSON ({e})")))?;
    match v {
        Value::String(s) => Ok(PartitionKey::from(s)),
        Value::Bool(b) => Ok(PartitionKey::from(b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(PartitionKey::from(i)),
            (None, Some(f)) => PartitionKey::try_from(f)
                .map_err(|_| DsError::invalid("partition key must be a finite number")),
            (None, None) => Err(DsError::invalid("partition key number is out of range")),
        },
        _ => Err(DsError::invalid(
            "partition key must be a string, number or boolean",
        )),
    }
}
