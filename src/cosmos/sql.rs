//! The portable query as parameterized Cosmos SQL. Values always travel as
//! parameters; field names (already restricted to identifiers by
//! `crate::query`) are written as `c["name"]`, which also works for names
//! that are SQL keywords.

use serde_json::Value;

use crate::error::{DsError, DsResult};
use crate::query::{Direction, QueryFilter};

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
    if let Some(limit) = filter.limit {
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
    if let Some(o) = &filter.order_by {
        text.push_str(" ORDER BY ");
        text.push_str(&field(&o.field));
        text.push_str(match o.direction {
            Direction::Asc => " ASC",
            Direction::Desc => " DESC",
        });
    }
    Ok(SqlQuery { text, params })
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
            r#"SELECT TOP @limit * FROM c WHERE c["tenantId"] = @p1 AND c["n"] = @p2 AND c["status"] = @p3 ORDER BY c["n"] DESC"#
        );
        assert_eq!(
            q.params,
            vec![
                ("@limit".into(), json!(5)),
                ("@p1".into(), json!("t1")),
                ("@p2".into(), json!(2)),
                ("@p3".into(), json!("queued")),
            ]
        );
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
        let q = sql(r#"{"where":{"owner":null},"orderBy":{"field":"value"}}"#);
        assert_eq!(
            q.text,
            r#"SELECT * FROM c WHERE IS_NULL(c["owner"]) ORDER BY c["value"] ASC"#
        );
        assert!(q.params.is_empty());
    }
}
