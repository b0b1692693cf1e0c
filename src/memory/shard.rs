//! A shard of a Memory store: its documents behind one lock, and a count of
//! their changes that can be read without it.
//!
//! The count lets the TypeScript layer's cache tell that a version it holds
//! is still current by looking at the one shard that holds it (a *stamp*,
//! see `Store::stamp_holds`), where the process-wide write count moves with
//! every write anywhere: with two threads writing different documents, a
//! read answered from the cache on one needed a native read whenever the
//! other had written.
//!
//! Every change goes through `ShardGuard`, which moves the count when the
//! guard is dropped, still inside the lock section: a reader that sees the
//! count unmoved saw no change to any document of the shard. The guard
//! also keeps the shard's size in bytes (about), which the binding reports
//! to V8 for a store of its own (`binding::store_handle`).

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

use super::store::Entry;

pub(super) type Docs = HashMap<Box<str>, Entry>;

#[derive(Default)]
pub(super) struct Shard {
    docs: Mutex<Docs>,
    changes: AtomicU64,
    /// The documents' size in bytes, about (`cost`); written only by the lock holder.
    bytes: AtomicUsize,
}

/// What a document takes in memory, about: its key and body, and the map
/// slot and heap headers around them.
fn cost(key: &str, entry: &Entry) -> usize {
    key.len() + entry.body.len() + SLOT
}

/// A map slot (key and entry headers, rounded) and two heap headers.
const SLOT: usize = 96;

impl Shard {
    pub(super) fn lock(&self) -> ShardGuard<'_> {
        ShardGuard {
            docs: self.docs.lock(),
            changes: &self.changes,
            bytes: &self.bytes,
            changed: false,
            grown: 0,
        }
    }

    /// `bytes`, counted again from the documents (for tests).
    #[cfg(test)]
    pub(super) fn recount_bytes(&self) -> usize {
        self.docs.lock().iter().map(|(k, e)| cost(k, e)).sum()
    }

    /// The documents' size in bytes, about, as the last lock section left it.
    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// How many lock sections have changed this shard's documents so far.
    pub(super) fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }
}

/// The shard's documents, locked. Reads through `Deref`; a change only
/// through the methods here, which note it.
pub(super) struct ShardGuard<'a> {
    docs: MutexGuard<'a, Docs>,
    changes: &'a AtomicU64,
    bytes: &'a AtomicUsize,
    changed: bool,
    /// Bytes added (or, negative, freed) by this lock section.
    grown: isize,
}

impl ShardGuard<'_> {
    /// The entry at `key`, to look at and perhaps replace (`EntryMut::set`,
    /// which counts the change).
    pub(super) fn get_mut(&mut self, key: &str) -> Option<EntryMut<'_>> {
        let entry = self.docs.get_mut(key)?;
        Some(EntryMut {
            entry,
            changed: &mut self.changed,
            grown: &mut self.grown,
        })
    }

    pub(super) fn insert(&mut self, key: Box<str>, entry: Entry) -> Option<Entry> {
        self.changed = true;
        let added = cost(&key, &entry);
        let key_len = key.len();
        let old = self.docs.insert(key, entry); // keeps the key it had, if any
        let freed = old.as_ref().map_or(0, |e| key_len + e.body.len() + SLOT);
        self.grown += added as isize - freed as isize;
        old
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<Entry> {
        let removed = self.docs.remove(key);
        if let Some(e) = &removed {
            self.changed = true;
            self.grown -= cost(key, e) as isize;
        }
        removed
    }

    /// Takes every document out, to be dropped after the lock is released
    /// (freeing a large shard's bodies is slow; no other call waits on it).
    pub(super) fn take_all(&mut self) -> Docs {
        self.changed |= !self.docs.is_empty();
        // Every byte counted goes: the count is exactly the sum this guard and the ones before kept.
        self.grown = -(self.bytes.load(Ordering::Relaxed) as isize);
        std::mem::take(&mut *self.docs)
    }

    /// The shard's change count as this lock section leaves it when it
    /// changes a document (exact: no other section runs meanwhile).
    pub(super) fn changes_after_change(&self) -> u64 {
        self.changes.load(Ordering::Relaxed) + 1
    }
}

/// An entry in a locked shard: read through `Deref`, replaced only with
/// `set`, which counts the change.
pub(super) struct EntryMut<'g> {
    entry: &'g mut Entry,
    changed: &'g mut bool,
    grown: &'g mut isize,
}

impl<'g> EntryMut<'g> {
    /// Replaces the entry; the new one, to answer from.
    pub(super) fn set(self, new: Entry) -> &'g Entry {
        *self.changed = true;
        *self.grown += new.body.len() as isize - self.entry.body.len() as isize;
        *self.entry = new;
        self.entry
    }
}

impl Deref for EntryMut<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        self.entry
    }
}

impl Deref for ShardGuard<'_> {
    type Target = Docs;
    fn deref(&self) -> &Docs {
        &self.docs
    }
}

impl Drop for ShardGuard<'_> {
    fn drop(&mut self) {
        // Before the lock is released (the guard's fields drop after this).
        // A load and a store, not an atomic add: only the lock holder writes it.
        if self.changed {
            let n = self.changes.load(Ordering::Relaxed);
            self.changes.store(n + 1, Ordering::Release);
        }
        if self.grown != 0 {
            let b = self.bytes.load(Ordering::Relaxed);
            self.bytes
                .store(b.saturating_add_signed(self.grown), Ordering::Relaxed);
        }
    }
}
