//! The last version of each document this process read or wrote: its etag,
//! rev, ring and caller fields. A conditional write whose expected etag is
//! the cached one needs no read first — the etag names exactly that
//! version, so the merge is computed on the right body, and the `If-Match`
//! still decides on the server (a stale entry just meets a 412).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::token::Ring;

/// Entries kept per container before the cache starts over.
const CAPACITY: usize = 16_384;

#[derive(Debug, Clone)]
pub struct Version {
    pub etag: String,
    pub rev: u64,
    pub ring: Ring,
    /// The caller's fields as a JSON object.
    pub body: Arc<str>,
}

#[derive(Default)]
pub struct VersionCache {
    map: Mutex<HashMap<(String, String), Version>>,
}

impl VersionCache {
    pub fn get(&self, pk_json: &str, id: &str) -> Option<Version> {
        self.map
            .lock()
            .get(&(pk_json.to_owned(), id.to_owned()))
            .cloned()
    }

    pub fn put(&self, pk_json: &str, id: &str, v: Version) {
        let mut map = self.map.lock();
        if map.len() >= CAPACITY {
            map.clear(); // simple bound; a miss only costs one read
        }
        map.insert((pk_json.to_owned(), id.to_owned()), v);
    }

    pub fn forget(&self, pk_json: &str, id: &str) {
        self.map.lock().remove(&(pk_json.to_owned(), id.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(etag: &str) -> Version {
        Version {
            etag: etag.to_owned(),
            rev: 1,
            ring: Ring::default(),
            body: Arc::from("{}"),
        }
    }

    fn etag_of(c: &VersionCache, pk: &str, id: &str) -> Option<String> {
        c.get(pk, id).map(|v| v.etag)
    }

    #[test]
    fn keeps_the_last_version_per_partition_and_id() {
        let c = VersionCache::default();
        assert_eq!(etag_of(&c, "\"p\"", "a"), None);
        c.put("\"p\"", "a", version("e1"));
        c.put("\"q\"", "a", version("f1"));
        c.put("\"p\"", "b", version("g1"));
        c.put("\"p\"", "a", version("e2"));
        assert_eq!(etag_of(&c, "\"p\"", "a").as_deref(), Some("e2"));
        assert_eq!(etag_of(&c, "\"q\"", "a").as_deref(), Some("f1"));
        c.forget("\"p\"", "a");
        assert_eq!(etag_of(&c, "\"p\"", "a"), None);
        assert_eq!(etag_of(&c, "\"p\"", "b").as_deref(), Some("g1"));
    }

    #[test]
    fn starts_over_when_full() {
        let c = VersionCache::default();
        for i in 0..CAPACITY {
            c.put("\"p\"", &i.to_string(), version("e"));
        }
        assert!(c.get("\"p\"", "0").is_some(), "full, not yet over");
        c.put("\"p\"", "new", version("n"));
        assert!(c.get("\"p\"", "0").is_none());
        assert_eq!(etag_of(&c, "\"p\"", "new").as_deref(), Some("n"));
    }
}
