//! The portable query as parameterized Cosmos SQL. Values always travel as
//! parameters; field names (already restricted to identifiers by
//! `crate::query`) are written as `c["name"]`, which also works for names
//! that are SQL keywords.
//!
//! Who orders an `orderBy`:
//! - Across partitions, the provider (`order_and_limit`, Memory's order):
//!   the pinned SDK runs no query plan, so a cross-partition ORDER BY or
//!   TOP could not be merged.
//! - In one partition (the filter names `partitionKey`), the server first:
//!   `ORDER BY` and `TOP` on the documents that have the field, and a
//!   second query for those that lack it (Cosmos drops or places them by
//!   indexing policy; the test server drops them). `server_ordered` accepts
//!   the answer only when it is Memory's order by construction (every key a
//!   null, boolean, number, or string without a code point at or above
//!   U+D800, where UTF-16 and code point order agree, and the keys sorted);
//!   otherwise the provider reads the partition's matches and orders them
//!   itself.
//!
//! Without `orderBy`, a `limit` scoped to one partition is sent as `TOP`.

use std::cmp::Ordering;

use serde_json::Value;

use crate::doc::Members;
use crate::error::{DsError, DsResult};
use crate::query::{compare_values, Direction, QueryFilter};

/// A SQL text and its parameters, in order.
#[derive(Debug, PartialEq)]
pub struct SqlQuery {
    pub text: String,
    pub params: Vec<(String, Value)>,
}

/// Builds the SQL for `filter`, unordered. `pk_field` is the container's
/// partition key field, matched against `filter.partitionKey` (which also
/// scopes the query to that partition).
pub fn build(filter: &QueryFilter, pk_field: &str) -> DsResult<SqlQuery> {
    let top = match (&filter.order_by, &filter.partition_key) {
        (None, Some(_)) => filter.limit,
        _ => None,
    };
    build_with(filter, pk_field, top, None)
}

/// Which half of a server-ordered query: the documents that have the
/// `orderBy` field (ordered by the server), or those that lack it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    Defined,
    Missing,
}

/// One half of a server-ordered single-partition query, cut to `limit` by
/// `TOP`. `None` when the filter is not one the server orders (no
/// `orderBy`, or no `partitionKey`).
pub fn build_ordered(
    filter: &QueryFilter,
    pk_field: &str,
    half: Half,
) -> DsResult<Option<SqlQuery>> {
    if filter.order_by.is_none() || filter.partition_key.is_none() {
        return Ok(None);
    }
    build_with(filter, pk_field, filter.limit, Some(half)).map(Some)
}

fn build_with(
    filter: &QueryFilter,
    pk_field: &str,
    top: Option<u64>,
    half: Option<Half>,
) -> DsResult<SqlQuery> {
    let mut params: Vec<(String, Value)> = Vec::new();
    let mut text = String::from("SELECT");
    if let Some(limit) = top {
        text.push_str(" TOP @limit");
        params.push(("@limit".into(), Value::from(limit)));
    }
    text.push_str(" * FROM c");

    let mut conds: Vec<String> = Vec::new();
    if let Some(pk) = &filter.partition_key {
        let v: Value = serde_json::from_str(pk.get())
            .map_err(|e| DsError::invalid(format!("query filter: partitionKey: {e}")))?;
        let name = format!("@p{}", params.len());
        conds.push(format!("{} = {name}", field(pk_field)));
        params.push((name, v));
    }
    if let Some(w) = &filter.where_ {
        for (f, v) in w {
            if v.is_null() {
                // `= null` never matches a missing field in Cosmos; make that explicit.
                conds.push(format!("IS_NULL({})", field(f)));
                continue;
            }
            let name = format!("@p{}", params.len());
            conds.push(format!("{} = {name}", field(f)));
            params.push((name, v.clone()));
        }
    }
    let order = filter.order_by.as_ref().filter(|_| half.is_some());
    if let (Some(o), Some(half)) = (order, half) {
        conds.push(match half {
            Half::Defined => format!("IS_DEFINED({})", field(&o.field)),
            Half::Missing => format!("NOT IS_DEFINED({})", field(&o.field)),
        });
    }
    if !conds.is_empty() {
        text.push_str(" WHERE ");
        text.push_str(&conds.join(" AND "));
    }
    if let (Some(o), Some(Half::Defined)) = (order, half) {
        text.push_str(" ORDER BY ");
        text.push_str(&field(&o.field));
        text.push_str(match o.direction {
            Direction::Asc => " ASC",
            Direction::Desc => " DESC",
        });
    }
    Ok(SqlQuery { text, params })
}

/// Joins the two halves of a server-ordered query (`defined`: the
/// server's ORDER BY answer; `missing`: the documents without the field,
/// first when ascending and last when descending, as in Memory) and cuts
/// them to `limit`. `None` when the server's answer cannot be shown to be
/// Memory's order: a key that is not portable (see `portable_key`), keys
/// out of order, a `defined` document whose caller-visible copy lacks the
/// field, or a `missing` one that has it. The caller then orders in process.
pub fn server_ordered(
    filter: &QueryFilter,
    defined: Vec<String>,
    missing: Vec<String>,
) -> Option<Vec<String>> {
    let o = filter.order_by.as_ref()?;
    let mut prev: Option<Value> = None;
    for d in &defined {
        let key = sort_key(d, &o.field)?;
        if !portable_key(&key) {
            return None;
        }
        if let Some(p) = &prev {
            let ord = compare_values(Some(p), Some(&key));
            let ord = if o.direction == Direction::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord == Ordering::Greater {
                return None;
            }
        }
        prev = Some(key);
    }
    if missing.iter().any(|d| sort_key(d, &o.field).is_some()) {
        return None;
    }
    let mut out = match o.direction {
        Direction::Asc => [missing, defined].concat(),
        Direction::Desc => [defined, missing].concat(),
    };
    if let Some(limit) = filter.limit {
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Some(out)
}

/// A key the server orders exactly as `compare_values` does, against any
/// other value: null, booleans, numbers, and strings whose code points are
/// all below U+D800 (at or above it, UTF-16 order, which the test server
/// and the Cosmos SDKs use, and code point order, Memory's, can disagree).
/// Arrays and objects are not: Cosmos orders them by a hash.
fn portable_key(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
        Value::String(s) => s.chars().all(|c| u32::from(c) < 0xD800),
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// Orders `docs` (JSON texts) by `filter.orderBy` and cuts them to
/// `filter.limit`, as the Memory store does. Ties keep the server's order.
pub fn order_and_limit(filter: &QueryFilter, docs: Vec<String>) -> Vec<String> {
    let mut rows: Vec<(Option<Value>, String)> = docs
        .into_iter()
        .map(|d| {
            let key = filter
                .order_by
                .as_ref()
                .and_then(|o| sort_key(&d, &o.field));
            (key, d)
        })
        .collect();
    filter.order_and_limit(&mut rows);
    rows.into_iter().map(|(_, d)| d).collect()
}

fn sort_key(doc: &str, field: &str) -> Option<Value> {
    let m = Members::parse(doc, "document").ok()?;
    m.get(field)
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
}

/// `c["name"]` for an identifier-shaped field name.
fn field(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 6);
    out.push_str("c[");
    crate::doc::push_json_string(&mut out, name);
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sql(filter: &str) -> SqlQuery {
        build(&QueryFilter::parse(Some(filter)).unwrap(), "tenantId").unwrap()
    }

    #[test]
    fn everything_is_a_parameter() {
        let q = sql(
            r#"{"partitionKey":"t1","where":{"status":"queued","n":2},"orderBy":{"field":"n","direction":"desc"},"limit":5}"#,
        );
        assert_eq!(
            q.text,
            r#"SELECT * FROM c WHERE c["tenantId"] = @p0 AND c["n"] = @p1 AND c["status"] = @p2"#
        );
        assert_eq!(
            q.params,
            vec![
                ("@p0".into(), json!("t1")),
                ("@p1".into(), json!(2)),
                ("@p2".into(), json!("queued")),
            ]
        );
        let top = sql(r#"{"partitionKey":"t1","limit":3}"#);
        assert_eq!(
            top.text,
            r#"SELECT TOP @limit * FROM c WHERE c["tenantId"] = @p1"#
        );
        assert_eq!(top.params[0], ("@limit".into(), json!(3)));
        // Across partitions, the provider applies the limit.
        assert_eq!(sql(r#"{"limit":3}"#).text, "SELECT * FROM c");
    }

    #[test]
    fn orders_like_memory_and_limits() {
        let f = QueryFilter::parse(Some(
            r#"{"orderBy":{"field":"n","direction":"desc"},"limit":3}"#,
        ))
        .unwrap();
        let docs = [
            r#"{"id":"a","n":1}"#,
            r#"{"id":"b"}"#,
            r#"{"id":"c","n":"s"}"#,
            r#"{"id":"d","n":null}"#,
            r#"{"id":"e","n":2}"#,
        ];
        let out = order_and_limit(&f, docs.iter().map(|d| (*d).to_owned()).collect());
        assert_eq!(out, vec![docs[2], docs[4], docs[0]]);
    }

    #[test]
    fn hostile_values_stay_out_of_the_text() {
        let q = sql(r#"{"where":{"name":"x' OR 1=1 --"}}"#);
        assert_eq!(q.text, r#"SELECT * FROM c WHERE c["name"] = @p0"#);
        assert_eq!(q.params[0].1, json!("x' OR 1=1 --"));
    }

    #[test]
    fn empty_filter_and_null() {
        assert_eq!(sql("{}").text, "SELECT * FROM c");
        let q = sql(r#"{"where":{"owner":null,"value":1}}"#);
        assert_eq!(
            q.text,
            r#"SELECT * FROM c WHERE IS_NULL(c["owner"]) AND c["value"] = @p0"#
        );
        assert_eq!(q.params.len(), 1);
    }

    fn ordered_sql(filter: &str, half: Half) -> Option<SqlQuery> {
        build_ordered(&QueryFilter::parse(Some(filter)).unwrap(), "tenantId", half).unwrap()
    }

    #[test]
    fn a_single_partition_order_goes_to_the_server_in_two_halves() {
        let f = r#"{"partitionKey":"t1","where":{"s":"q"},"orderBy":{"field":"n","direction":"desc"},"limit":2}"#;
        let d = ordered_sql(f, Half::Defined).unwrap();
        assert_eq!(
            d.text,
            r#"SELECT TOP @limit * FROM c WHERE c["tenantId"] = @p1 AND c["s"] = @p2 AND IS_DEFINED(c["n"]) ORDER BY c["n"] DESC"#
        );
        assert_eq!(d.params[0], ("@limit".into(), json!(2)));
        let m = ordered_sql(f, Half::Missing).unwrap();
        assert_eq!(
            m.text,
            r#"SELECT TOP @limit * FROM c WHERE c["tenantId"] = @p1 AND c["s"] = @p2 AND NOT IS_DEFINED(c["n"])"#
        );
        let asc = ordered_sql(
            r#"{"partitionKey":1,"orderBy":{"field":"n"}}"#,
            Half::Defined,
        )
        .unwrap();
        assert_eq!(
            asc.text,
            r#"SELECT * FROM c WHERE c["tenantId"] = @p0 AND IS_DEFINED(c["n"]) ORDER BY c["n"] ASC"#
        );
        // Across partitions, or without an order, the server does not order.
        assert!(ordered_sql(r#"{"orderBy":{"field":"n"}}"#, Half::Defined).is_none());
        assert!(ordered_sql(r#"{"partitionKey":"t1","limit":2}"#, Half::Missing).is_none());
    }

    fn docs(keys: &[Option<Value>]) -> Vec<String> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| match k {
                Some(v) => format!(r#"{{"id":"d{i}","n":{v}}}"#),
                None => format!(r#"{{"id":"d{i}"}}"#),
            })
            .collect()
    }

    fn joined(
        filter: &str,
        defined: &[Option<Value>],
        missing: &[Option<Value>],
    ) -> Option<Vec<String>> {
        server_ordered(
            &QueryFilter::parse(Some(filter)).unwrap(),
            docs(defined),
            docs(missing),
        )
    }

    #[test]
    fn the_missing_half_goes_first_ascending_and_last_descending() {
        let defined = [
            Some(json!(null)),
            Some(json!(false)),
            Some(json!(1)),
            Some(json!("a")),
        ];
        let asc = joined(
            r#"{"partitionKey":"t","orderBy":{"field":"n"},"limit":3}"#,
            &defined,
            &[None],
        )
        .unwrap();
        assert_eq!(
            asc,
            vec![
                r#"{"id":"d0"}"#,
                r#"{"id":"d0","n":null}"#,
                r#"{"id":"d1","n":false}"#
            ]
        );
        let rev: Vec<_> = defined.iter().rev().cloned().collect();
        let desc = joined(
            r#"{"partitionKey":"t","orderBy":{"field":"n","direction":"desc"}}"#,
            &rev,
            &[None],
        )
        .unwrap();
        assert_eq!(desc.len(), 5);
        assert_eq!(desc[0], r#"{"id":"d0","n":"a"}"#);
        assert_eq!(desc[4], r#"{"id":"d0"}"#);
    }

    #[test]
    fn an_answer_not_provably_memorys_order_is_refused() {
        let f = r#"{"partitionKey":"t","orderBy":{"field":"n"}}"#;
        // UTF-16 order (the test server's) puts U+1F600 before U+FFFF; code point order after.
        assert!(joined(f, &[Some(json!("\u{1F600}")), Some(json!("\u{FFFF}"))], &[]).is_none());
        assert!(joined(f, &[Some(json!("a")), Some(json!("\u{D7FF}"))], &[]).is_some());
        assert!(joined(f, &[Some(json!("\u{E000}"))], &[]).is_none());
        assert!(joined(f, &[Some(json!([1]))], &[]).is_none());
        assert!(joined(f, &[Some(json!({"a":1}))], &[]).is_none());
        // Out of order, a defined half without the field, a missing half with it.
        assert!(joined(f, &[Some(json!(2)), Some(json!(1))], &[]).is_none());
        assert!(joined(f, &[None], &[]).is_none());
        assert!(joined(f, &[], &[Some(json!(1))]).is_none());
        // Ties and an empty answer are fine.
        assert!(joined(f, &[Some(json!(1)), Some(json!(1.0))], &[]).is_some());
        assert_eq!(joined(f, &[], &[]), Some(vec![]));
    }
}
