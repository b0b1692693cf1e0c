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
//! count unmoved saw no change to any document of the shard.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};

use super::store::Entry;

pub(super) type Docs = HashMap<Box<str>, Entry>;

#[derive(Default)]
pub(super) struct Shard {
    docs: Mutex<Docs>,
    changes: AtomicU64,
}

impl Shard {
    pub(super) fn lock(&self) -> ShardGuard<'_> {
        ShardGuard {
            docs: self.docs.lock(),
            changes: &self.changes,
            changed: false,
        }
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
    changed: bool,
}

impl ShardGuard<'_> {
    /// The entry at `key`, to look at and perhaps replace (`EntryMut::set`,
    /// which counts the change).
    pub(super) fn get_mut(&mut self, key: &str) -> Option<EntryMut<'_>> {
        let entry = self.docs.get_mut(key)?;
        Some(EntryMut {
            entry,
            changed: &mut self.changed,
        })
    }

    pub(super) fn insert(&mut self, key: Box<str>, entry: Entry) -> Option<Entry> {
        self.changed = true;
        self.docs.insert(key, entry)
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<Entry> {
        let removed = self.docs.remove(key);
        self.changed |= removed.is_some();
        removed
    }

    /// Takes every document out, to be dropped after the lock is released
    /// (freeing a large shard's bodies is slow; no other call waits on it).
    pub(super) fn take_all(&mut self) -> Docs {
        self.changed |= !self.docs.is_empty();
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
}

impl<'g> EntryMut<'g> {
    /// Replaces the entry; the new one, to answer from.
    pub(super) fn set(self, new: Entry) -> &'g Entry {
        *self.changed = true;
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
    }
}
