//! The portable query, run over the Memory store. Matching entries are
//! copied under each shard's lock and filtered,
//! sorted and serialized outside it.

use serde_json::Value;

use super::store::{format_etag, Entry, Store};
use crate::doc::{json_array, Members};
use crate::error::{DsError, DsResult};
use crate::query::{values_equal, QueryFilter};

impl Store {
    /// Runs `filter` and returns the matching documents as a JSON array.
    /// Without `orderBy`, documents come oldest write first.
    pub fn query(&self, filter: &QueryFilter) -> DsResult<String> {
        let hits = self.snapshot(filter, 0);
        let wheres = has_where(filter);
        let mut rows: Vec<(Option<Value>, Entry)> = Vec::with_capacity(hits.len());
        for e in hits {
            if !wheres && filter.order_by.is_none() {
                rows.push((None, e));
                continue;
            }
            let members = Members::parse(&e.body, "stored document")?;
            if keeps(filter, &e, &members) {
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

    /// One page of `filter`'s documents in write order: at most `max` of
    /// those written after the version `after` (an etag; 0 for the first
    /// page), and the etag to continue after when more may follow. A key,
    /// not an offset: a document deleted or rewritten between pages never
    /// makes another be skipped (a rewritten one comes again, at the end).
    /// The filter's `limit` is the caller's to count across pages.
    pub fn query_page(
        &self,
        filter: &QueryFilter,
        after: u64,
        max: usize,
    ) -> DsResult<(String, Option<u64>)> {
        if filter.order_by.is_some() {
            return Err(DsError::invalid(
                "query page: orderBy cannot be paged; use query() for an ordered result",
            ));
        }
        let mut hits = self.snapshot(filter, after);
        hits.sort_unstable_by_key(|e| e.etag);
        let mut page: Vec<Entry> = Vec::with_capacity(max.min(hits.len()));
        let mut more = false;
        let wheres = has_where(filter);
        for e in hits {
            if wheres && !keeps(filter, &e, &Members::parse(&e.body, "stored document")?) {
                continue;
            }
            if page.len() == max {
                more = true;
                break;
            }
            page.push(e);
        }
        let next = if more {
            page.last().map(|e| e.etag)
        } else {
            None
        };
        Ok((json_array(page.iter().map(Entry::to_json)), next))
    }

    /// The entries of `filter`'s partition (or all) written after the
    /// version `after`, copied under each shard's lock and looked at outside it.
    fn snapshot(&self, filter: &QueryFilter, after: u64) -> Vec<Entry> {
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
                    .filter(|(k, e)| {
                        e.etag > after && prefix.as_deref().is_none_or(|p| k.starts_with(p))
                    })
                    .map(|(_, e)| e.clone()),
            );
        }
        hits
    }
}

/// Whether the filter has a `where` clause (else no body need be parsed).
fn has_where(filter: &QueryFilter) -> bool {
    filter.where_.as_ref().is_some_and(|w| !w.is_empty())
}

/// Whether `e` (its body parsed as `members`) meets every `where` clause.
fn keeps(filter: &QueryFilter, e: &Entry, members: &Members<'_>) -> bool {
    filter.where_.as_ref().is_none_or(|w| {
        w.iter()
            .all(|(f, want)| field(e, members, f).is_some_and(|v| values_equal(&v, want)))
    })
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

    fn page(s: &Store, filter: &str, after: u64, max: usize) -> (Vec<String>, Option<u64>) {
        let f = QueryFilter::parse(Some(filter)).unwrap();
        let (json, next) = s.query_page(&f, after, max).unwrap();
        let out: Value = serde_json::from_str(&json).unwrap();
        let ids = out
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        (ids, next)
    }

    #[test]
    fn pages_go_on_after_a_version_not_an_offset() {
        let s = Store::new(PartitionKeyPath::parse("/t").unwrap());
        for (id, n) in [("a", 1), ("b", 0), ("c", 1), ("d", 1), ("e", 0)] {
            s.create(&format!(r#"{{"id":"{id}","t":"x","n":{n}}}"#))
                .unwrap();
        }
        let (first, next) = page(&s, "{}", 0, 2);
        assert_eq!(first, ["a", "b"]);
        s.delete("a", "\"x\"").unwrap();
        let (second, next) = page(&s, "{}", next.unwrap(), 2);
        assert_eq!(second, ["c", "d"], "deleting a seen document skips none");
        let (last, next) = page(&s, "{}", next.unwrap(), 2);
        assert_eq!((last, next), (vec!["e".to_owned()], None));
        // `more` only when another match exists beyond the page.
        let (hits, next) = page(&s, r#"{"where":{"n":1}}"#, 0, 2);
        assert_eq!(
            (hits, next.is_none()),
            (vec!["c".to_owned(), "d".to_owned()], true)
        );
        let (hits, next) = page(&s, r#"{"where":{"n":0}}"#, 0, 1);
        assert_eq!(hits, ["b"]);
        assert_eq!(page(&s, r#"{"where":{"n":0}}"#, next.unwrap(), 1).0, ["e"]);
        assert!(s
            .query_page(
                &QueryFilter::parse(Some(r#"{"orderBy":{"field":"n"}}"#)).unwrap(),
                0,
                2
            )
            .is_err());
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
