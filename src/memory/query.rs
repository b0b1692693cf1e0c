//! The portable query, run over the Memory store. Matching entries are
//! snapshotted under each shard's lock (cheap `Arc` clones) and filtered,
//! sorted and serialized outside it.

use serde_json::Value;

use super::store::{format_etag, Entry, Store};
use crate::doc::{json_array, Members};
use crate::error::DsResult;
use crate::query::{values_equal, QueryFilter};

impl Store {
    /// Runs `filter` and returns the matching documents as a JSON array.
    /// Without `orderBy`, documents come oldest write first.
    pub fn query(&self, filter: &QueryFilter) -> DsResult<String> {
        let prefix = filter
            .partition_key
            .as_ref()
            .map(|pk| format!("{}\n", pk.get()));
        let mut hits: Vec<Entry> = Vec::new();
        for shard in self.shards() {
            let guard = shard.lock();
            hits.extend(
                guard
                    .iter()
                    .filter(|(k, _)| prefix.as_deref().is_none_or(|p| k.starts_with(p)))
                    .map(|(_, e)| e.clone()),
            );
        }

        let wheres = filter.where_.as_ref().filter(|w| !w.is_empty());
        let mut rows: Vec<(Option<Value>, Entry)> = Vec::with_capacity(hits.len());
        for e in hits {
            if wheres.is_none() && filter.order_by.is_none() {
                rows.push((None, e));
                continue;
            }
            let members = Members::parse(&e.body, "stored document")?;
            let keep = wheres.is_none_or(|w| {
                w.iter()
                    .all(|(f, want)| field(&e, &members, f).is_some_and(|v| values_equal(&v, want)))
            });
            if keep {
                let sort_key = filter
                    .order_by
                    .as_ref()
                    .and_then(|o| field(&e, &members, &o.field));
                rows.push((sort_key, e));
            }
        }

        // Oldest write first (etags grow with every write), which the
        // stable order below keeps among equal keys.
        rows.sort_by_key(|(_, e)| e.etag);
        filter.order_and_limit(&mut rows);
        Ok(json_array(rows.iter().map(|(_, e)| e.to_json())))
    }
}

/// A top-level field's value, the system fields included.
fn field(e: &Entry, members: &Members<'_>, name: &str) -> Option<Value> {
    match name {
        "rev" => Some(Value::from(e.rev)),
        "_ts" => Some(Value::from(e.ts)),
        "_etag" => Some(Value::from(format_etag(e.etag))),
        _ => members
            .get(name)
            .and_then(|raw| serde_json::from_str(raw.get()).ok()),
    }
}

#[cfg(test)]
mod tests {
    use crate::memory::Store;
    use crate::query::QueryFilter;
    use crate::validate::PartitionKeyPath;
    use serde_json::Value;

    fn ids(s: &Store, filter: &str) -> Vec<String> {
        let out: Value =
            serde_json::from_str(&s.query(&QueryFilter::parse(Some(filter)).unwrap()).unwrap())
                .unwrap();
        out.as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn filters_orders_limits_and_partitions() {
        let s = Store::new(PartitionKeyPath::parse("/t").unwrap());
        for (id, t, st, n) in [
            ("a", "x", "queued", 3),
            ("b", "x", "done", 1),
            ("c", "x", "queued", 2),
            ("d", "y", "queued", 0),
        ] {
            s.create(&format!(
                r#"{{"id":"{id}","t":"{t}","status":"{st}","n":{n}}}"#
            ))
            .unwrap();
        }
        assert_eq!(ids(&s, "{}"), ["a", "b", "c", "d"], "oldest write first");
        assert_eq!(ids(&s, r#"{"partitionKey":"x"}"#), ["a", "b", "c"]);
        assert_eq!(
            ids(
                &s,
                r#"{"where":{"status":"queued"},"orderBy":{"field":"n"}}"#
            ),
            ["d", "c", "a"]
        );
        assert_eq!(
            ids(
                &s,
                r#"{"partitionKey":"x","where":{"status":"queued"},"orderBy":{"field":"n","direction":"desc"},"limit":1}"#
            ),
            ["a"]
        );
        assert_eq!(ids(&s, r#"{"where":{"rev":1,"n":1.0}}"#), ["b"]);
        assert!(
            ids(&s, r#"{"where":{"missing":null}}"#).is_empty(),
            "a missing field is not null"
        );
    }

    #[test]
    fn system_fields_can_be_matched_and_ordered_on() {
        let s = Store::new(PartitionKeyPath::parse("/t").unwrap());
        let mut docs = Vec::new();
        for id in ["a", "b", "c"] {
            let d = s.create(&format!(r#"{{"id":"{id}","t":"x"}}"#)).unwrap();
            docs.push(serde_json::from_str::<Value>(&d).unwrap());
        }
        // The stored body holds the caller's fields only: these come from the entry.
        let b_etag = docs[1]["_etag"].clone();
        assert_eq!(
            ids(&s, &format!(r#"{{"where":{{"_etag":{b_etag}}}}}"#)),
            ["b"]
        );
        let a_ts = docs[0]["_ts"].clone();
        assert!(ids(&s, &format!(r#"{{"where":{{"_ts":{a_ts}}}}}"#)).contains(&"a".to_owned()));
        s.update("a", "\"x\"", r#"{"n":1}"#).unwrap();
        assert_eq!(
            ids(
                &s,
                r#"{"orderBy":{"field":"rev","direction":"desc"},"limit":1}"#
            ),
            ["a"]
        );
        assert_eq!(
            ids(&s, r#"{"orderBy":{"field":"_etag","direction":"desc"}}"#),
            ["a", "c", "b"]
        );
    }
}
