//! The portable query: `{ partitionKey?, where?, orderBy?, limit? }`, parsed
//! and checked once, then run by each provider (Memory in Rust, Cosmos as
//! parameterized SQL).

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{DsError, DsResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    pub field: String,
    #[serde(default)]
    pub direction: Direction,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryFilter {
    /// Kept as the caller's JSON text: the Memory store keys documents by it.
    pub partition_key: Option<Box<RawValue>>,
    #[serde(rename = "where")]
    pub where_: Option<Map<String, Value>>,
    pub order_by: Option<OrderBy>,
    pub limit: Option<u64>,
}

/// Largest `limit` accepted (Cosmos `TOP` takes a 32-bit count).
pub const MAX_LIMIT: u64 = i32::MAX as u64;

impl QueryFilter {
    /// Parses and checks a filter given as JSON text (`None`: everything).
    pub fn parse(json: Option<&str>) -> DsResult<Self> {
        let Some(json) = json else {
            return Ok(Self::default());
        };
        let raw: Map<String, Value> = serde_json::from_str(json)
            .map_err(|_| DsError::invalid("query filter must be an object"))?;
        check_shape(&raw)?;
        let filter: QueryFilter = serde_json::from_str(json)
            .map_err(|e| DsError::invalid(format!("query filter: {e}")))?;
        if let Some(pk) = &filter.partition_key {
            crate::validate::validate_pk_value(pk.get(), "partitionKey")?;
        }
        if let Some(w) = &filter.where_ {
            for (field, value) in w {
                check_field_name(field, "where")?;
                if matches!(value, Value::Array(_) | Value::Object(_)) {
                    return Err(DsError::invalid(format!(
                        "query filter: where.{field} must be a string, number, boolean or null"
                    )));
                }
            }
        }
        if let Some(o) = &filter.order_by {
            check_field_name(&o.field, "orderBy.field")?;
        }
        // `limit` was checked by `check_shape`, on the caller's JSON value.
        Ok(filter)
    }
}

/// Checks the filter's members one by one, so a mistake is named plainly
/// (serde would say "expected value at line 1 column 37"), and so a
/// `partitionKey` that is present but `null` is refused rather than read as
/// "every partition".
fn check_shape(raw: &Map<String, Value>) -> DsResult<()> {
    for (key, value) in raw {
        match key.as_str() {
            "partitionKey" if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
                return Err(DsError::invalid(format!(
                    "query filter: partitionKey must be a string, number or boolean, got {}",
                    kind(value)
                )))
            }
            "where" if !value.is_object() => {
                return Err(DsError::invalid(format!(
                    "query filter: where must be an object of field: value, got {}",
                    kind(value)
                )))
            }
            "orderBy" => {
                let Some(o) = value.as_object() else {
                    return Err(DsError::invalid(format!(
                        "query filter: orderBy must be an object like {{ field, direction }}, got {}",
                        kind(value)
                    )));
                };
                if let Some(other) = o.keys().find(|k| *k != "field" && *k != "direction") {
                    return Err(DsError::invalid(format!(
                        "query filter: orderBy has an unknown member {other:?} (known: field, direction)"
                    )));
                }
                if !o.get("field").is_some_and(Value::is_string) {
                    return Err(DsError::invalid(
                        "query filter: orderBy.field must be a field name",
                    ));
                }
                match o.get("direction") {
                    None => {}
                    Some(Value::String(d)) if d == "asc" || d == "desc" => {}
                    Some(d) => {
                        return Err(DsError::invalid(format!(
                            "query filter: orderBy.direction must be 'asc' or 'desc', got {d}"
                        )))
                    }
                }
            }
            "limit" if !value.as_u64().is_some_and(|l| l > 0 && l <= MAX_LIMIT) => {
                return Err(DsError::invalid(format!(
                    "query filter: limit must be a whole number between 1 and {MAX_LIMIT}, got {value}"
                )))
            }
            "partitionKey" | "where" | "limit" => {}
            other => {
                return Err(DsError::invalid(format!(
                    "query filter: unknown member {other:?} (known: partitionKey, where, orderBy, limit)"
                )))
            }
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Field names are limited to identifiers so every provider can address them
/// the same way (Cosmos SQL cannot take a property name as a parameter).
fn check_field_name(name: &str, what: &str) -> DsResult<()> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ok {
        Ok(())
    } else {
        Err(DsError::invalid(format!(
            "query filter: {what} {name:?} must be a top-level field name (letters, digits, '_', '$')"
        )))
    }
}

impl QueryFilter {
    /// Orders `rows` by their sort keys (`compare_values`, then `direction`)
    /// when the filter asks for an order; a stable sort, so rows with equal
    /// keys keep the order they came in. Then applies `limit`.
    pub fn order_and_limit<T>(&self, rows: &mut Vec<(Option<Value>, T)>) {
        if let Some(o) = &self.order_by {
            rows.sort_by(|(a, _), (b, _)| {
                let ord = compare_values(a.as_ref(), b.as_ref());
                if o.direction == Direction::Desc {
                    ord.reverse()
                } else {
                    ord
                }
            });
        }
        if let Some(limit) = self.limit {
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
    }
}

/// Cosmos DB's ORDER BY order across types: missing < null < false < true <
/// numbers < strings (arrays and objects after, by their JSON text).
pub fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            None => 0,
            Some(Value::Null) => 1,
            Some(Value::Bool(_)) => 2,
            Some(Value::Number(_)) => 3,
            Some(Value::String(_)) => 4,
            Some(Value::Array(_)) => 5,
            Some(Value::Object(_)) => 6,
        }
    }
    match (a, b) {
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (
            Some(x @ (Value::Array(_) | Value::Object(_))),
            Some(y @ (Value::Array(_) | Value::Object(_))),
        ) if rank(a) == rank(b) => x.to_string().cmp(&y.to_string()),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Equality as a `where` clause means it: numbers by value, others exactly.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_full_filter() {
        let f = QueryFilter::parse(Some(
            r#"{"partitionKey":"t1","where":{"status":"queued","n":1},"orderBy":{"field":"n","direction":"desc"},"limit":5}"#,
        ))
        .unwrap();
        assert_eq!(f.partition_key.unwrap().get(), "\"t1\"");
        assert_eq!(f.order_by.unwrap().direction, Direction::Desc);
        assert_eq!(f.limit, Some(5));
    }

    #[test]
    fn rejects_bad_filters() {
        for bad in [
            r#"{"partitionKey":{"a":1}}"#,
            r#"{"where":{"a":[1]}}"#,
            r#"{"where":{"a b":1}}"#,
            r#"{"orderBy":{"field":"x","direction":"up"}}"#,
            r#"{"orderBy":{"field":"a.b"}}"#,
            r#"{"limit":0}"#,
            r#"{"limit":-1}"#,
            r#"{"orderby":{"field":"x"}}"#,
            r#"{"partitionKey":null}"#,
            r#"{"limit":1.5}"#,
        ] {
            assert!(QueryFilter::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_what_is_wrong() {
        let msg = |f: &str| QueryFilter::parse(Some(f)).unwrap_err().message;
        assert!(msg(r#"{"orderBy":{"field":"x","direction":"up"}}"#).contains("'asc' or 'desc'"));
        assert!(msg(r#"{"partitionKey":null}"#).contains("partitionKey"));
        assert!(msg(r#"{"limt":3}"#).contains("\"limt\""));
    }

    #[test]
    fn orders_across_types_like_cosmos() {
        let vals = [json!("a"), json!(2), json!(true), json!(false), json!(null)];
        let mut refs: Vec<Option<&Value>> = vals.iter().map(Some).collect();
        refs.push(None);
        refs.sort_by(|a, b| compare_values(*a, *b));
        assert_eq!(
            refs,
            vec![
                None,
                Some(&json!(null)),
                Some(&json!(false)),
                Some(&json!(true)),
                Some(&json!(2)),
                Some(&json!("a"))
            ]
        );
    }

    #[test]
    fn numbers_equal_by_value() {
        assert!(values_equal(&json!(1), &json!(1.0)));
        assert!(!values_equal(&json!(1), &json!("1")));
        assert!(!values_equal(&json!(1), &json!(2)));
        assert!(values_equal(&json!("a"), &json!("a")));
        assert!(!values_equal(&json!(null), &json!(false)));
    }

    fn message(filter: &str) -> String {
        QueryFilter::parse(Some(filter)).unwrap_err().message
    }

    fn accepts(filter: &str) -> QueryFilter {
        QueryFilter::parse(Some(filter)).unwrap_or_else(|e| panic!("{filter}: {}", e.message))
    }

    #[test]
    fn limit_bounds_are_inclusive() {
        assert_eq!(accepts(r#"{"limit":1}"#).limit, Some(1));
        assert_eq!(
            accepts(&format!(r#"{{"limit":{MAX_LIMIT}}}"#)).limit,
            Some(MAX_LIMIT)
        );
        assert_eq!(MAX_LIMIT, 2_147_483_647);
        for bad in ["0", "-1", "1.5", "\"3\"", "null"] {
            let m = message(&format!(r#"{{"limit":{bad}}}"#));
            assert!(
                m.contains("limit must be a whole number between 1 and 2147483647"),
                "{bad}: {m}"
            );
        }
        assert!(QueryFilter::parse(Some(&format!(r#"{{"limit":{}}}"#, MAX_LIMIT + 1))).is_err());
    }

    #[test]
    fn every_member_is_checked_and_named() {
        assert!(QueryFilter::parse(None).unwrap().where_.is_none());
        assert_eq!(message("[]"), "query filter must be an object");
        assert_eq!(message("{"), "query filter must be an object");
        for (filter, says) in [
            (
                r#"{"partitionKey":null}"#,
                "partitionKey must be a string, number or boolean, got null",
            ),
            (r#"{"partitionKey":[1]}"#, "got an array"),
            (r#"{"partitionKey":{}}"#, "got an object"),
            (
                r#"{"where":3}"#,
                "where must be an object of field: value, got a number",
            ),
            (r#"{"where":"a"}"#, "got a string"),
            (r#"{"where":true}"#, "got a boolean"),
            (
                r#"{"where":{"a":[1]}}"#,
                "where.a must be a string, number, boolean or null",
            ),
            (r#"{"where":{"a":{"b":1}}}"#, "where.a must be"),
            (
                r#"{"orderBy":"x"}"#,
                "orderBy must be an object like { field, direction }, got a string",
            ),
            (
                r#"{"orderBy":{"field":"x","dir":"asc"}}"#,
                "orderBy has an unknown member \"dir\"",
            ),
            (r#"{"orderBy":{}}"#, "orderBy.field must be a field name"),
            (
                r#"{"orderBy":{"field":1}}"#,
                "orderBy.field must be a field name",
            ),
            (
                r#"{"orderBy":{"field":"x","direction":"ASC"}}"#,
                "'asc' or 'desc', got \"ASC\"",
            ),
            (
                r#"{"orderBy":{"field":"x","direction":null}}"#,
                "'asc' or 'desc', got null",
            ),
            (
                r#"{"orderBy":{"field":"a-b"}}"#,
                "orderBy.field \"a-b\" must be a top-level field name",
            ),
            (
                r#"{"where":{"1a":1}}"#,
                "where \"1a\" must be a top-level field name",
            ),
            (r#"{"where":{"":1}}"#, "where \"\" must be"),
            (r#"{"where":{"é":1}}"#, "where \"é\" must be"),
            (
                r#"{"top":1}"#,
                "unknown member \"top\" (known: partitionKey, where, orderBy, limit)",
            ),
        ] {
            let m = message(filter);
            assert!(m.contains(says), "{filter}: {m}");
            assert!(m.starts_with("query filter"), "{filter}: {m}");
        }
    }

    #[test]
    fn what_is_valid_is_accepted() {
        for pk in ["\"t\"", "1", "true"] {
            let f = accepts(&format!(r#"{{"partitionKey":{pk}}}"#));
            assert_eq!(
                f.partition_key.map(|p| p.get().to_owned()),
                Some(pk.to_owned())
            );
        }
        let f = accepts(r#"{"where":{"_a":null,"$b":true,"c1":"x","D":2,"e_f":1,"g$":1}}"#);
        assert_eq!(f.where_.map(|w| w.len()), Some(6));
        assert_eq!(
            accepts(r#"{"orderBy":{"field":"n"}}"#)
                .order_by
                .map(|o| o.direction),
            Some(Direction::Asc)
        );
        assert_eq!(
            accepts(r#"{"orderBy":{"field":"n","direction":"asc"}}"#)
                .order_by
                .map(|o| o.direction),
            Some(Direction::Asc)
        );
    }

    fn ordered(filter: &str, keys: &[Value]) -> Vec<usize> {
        let mut rows: Vec<(Option<Value>, usize)> = keys
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, k)| (Some(k), i))
            .collect();
        accepts(filter).order_and_limit(&mut rows);
        rows.into_iter().map(|(_, i)| i).collect()
    }

    #[test]
    fn orders_stably_both_ways_then_limits() {
        let keys = [json!(2), json!(1), json!(2), json!(3)];
        assert_eq!(ordered(r#"{"orderBy":{"field":"n"}}"#, &keys), [1, 0, 2, 3]);
        assert_eq!(
            ordered(r#"{"orderBy":{"field":"n","direction":"desc"}}"#, &keys),
            [3, 0, 2, 1]
        );
        assert_eq!(
            ordered(r#"{"orderBy":{"field":"n"},"limit":2}"#, &keys),
            [1, 0]
        );
        assert_eq!(ordered(r#"{"limit":3}"#, &keys), [0, 1, 2]);
        assert_eq!(ordered("{}", &keys), [0, 1, 2, 3]);
    }

    #[test]
    fn compares_within_a_type() {
        use Ordering::*;
        assert_eq!(compare_values(Some(&json!(2)), Some(&json!(10))), Less);
        assert_eq!(compare_values(Some(&json!(1)), Some(&json!(1.0))), Equal);
        assert_eq!(
            compare_values(Some(&json!("b")), Some(&json!("a"))),
            Greater
        );
        assert_eq!(
            compare_values(Some(&json!(true)), Some(&json!(false))),
            Greater
        );
        assert_eq!(
            compare_values(Some(&json!([2])), Some(&json!([10]))),
            Greater,
            "arrays by their JSON text"
        );
        assert_eq!(
            compare_values(Some(&json!({"a":1})), Some(&json!([1]))),
            Greater,
            "objects after arrays"
        );
        assert_eq!(
            compare_values(Some(&json!([1])), Some(&json!("z"))),
            Greater,
            "arrays after strings"
        );
        assert_eq!(compare_values(None, None), Equal);
    }
}
