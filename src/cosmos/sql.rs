//! The portable query as parameterized Cosmos SQL. Values always travel as
//! parameters; field names (already restricted to identifiers by
//! `crate::query`) are written as `c["name"]`, which also works for names
//! that are SQL keywords.
//!
//! The server filters; `orderBy` (and `limit` with it) is applied by the
//! provider with `crate::query::compare_values`, for two reasons: the order
//! must be the Memory provider's (Cosmos drops or places documents missing
//! the field differently depending on indexing), and a cross-partition
//! ORDER BY or TOP needs a gateway query plan, which test servers lack.
//! Without `orderBy`, a `limit` scoped to one partition is sent as `TOP`.

use serde_json::Value;

use crate::doc::Members;
use crate::error::{DsError, DsResult};
use crate::query::QueryFilter;

/// A SQL text and its parameters, in order.
#[derive(Debug, PartialEq)]
pub struct SqlQuery {
    pub text: String,
    pub params: Vec<(String, Value)>,
}

/// Builds the SQL for `filter`. `pk_field` is the container's partition key
/// field, matched against `filter.partitionKey` (which also scopes the query
/// to that partition).
pub fn build(filter: &QueryFilter, pk_field: &str) -> DsResult<SqlQuery> {
    let mut params: Vec<(String, Value)> = Vec::new();
    let mut text = String::from("SELECT");
    if let (Some(limit), None, Some(_)) = (filter.limit, &filter.order_by, &filter.partition_key) {
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
    if !conds.is_empty() {
        text.push_str(" WHERE ");
        text.push_str(&conds.join(" AND "));
    }
    Ok(SqlQuery { text, params })
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
}
