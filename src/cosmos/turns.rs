//! One writer at a time per document, among this provider's unconditional
//! writes (replace, upsert, update). Each of those is a read and an
//! `If-Match` replace, retried on a 412; run concurrently on one document
//! they retry each other out (1,000 concurrent updates took minutes, and
//! some gave up). Taking turns, each starts from the version the previous
//! one wrote (the cache), so every write is one round trip and none
//! retries. Writers in other processes still contend through `If-Match`.
//!
//! A keyed map of `tokio::sync::Mutex`es: the entry is removed by the last
//! holder, so the map holds only documents with a writer waiting or busy.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

type Key = (String, String);

#[derive(Default)]
pub struct Turns {
    map: Mutex<HashMap<Key, Arc<AsyncMutex<()>>>>,
}

/// A document's turn; ends when dropped.
pub struct Turn<'a> {
    turns: &'a Turns,
    key: Key,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Turns {
    /// Waits for the turn on `(pk_json, id)`, in arrival order (tokio's
    /// mutex is fair).
    pub async fn take(&self, pk_json: &str, id: &str) -> Turn<'_> {
        // Made before the wait: a call given up while waiting (an abort,
        // a deadline) still drops a `Turn`, which removes the entry when
        // no one else holds or waits for it.
        let mut turn = Turn {
            turns: self,
            key: (pk_json.to_owned(), id.to_owned()),
            guard: None,
        };
        let lock = Arc::clone(self.map.lock().entry(turn.key.clone()).or_default());
        // `lock_owned` takes the `Arc`: given up mid-wait, it is released
        // before `turn`'s drop counts who still holds the entry.
        turn.guard = Some(lock.lock_owned().await);
        turn
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut map = self.turns.map.lock();
        drop(self.guard.take());
        // Under the map's lock no one can clone the entry: when only the
        // map holds it, no writer waits for this document.
        if map
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "current_thread")]
    async fn one_writer_at_a_time_and_entries_cleaned() {
        let turns = Arc::new(Turns::default());
        let busy = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (turns, busy, max) = (turns.clone(), busy.clone(), max.clone());
            tasks.push(tokio::spawn(async move {
                let _t = turns.take("\"t\"", "a").await;
                let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                busy.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
        assert_eq!(turns.len(), 0);
    }

    /// A writer arriving after the holder left, while another still waits,
    /// must queue behind it: the entry stays while anyone waits.
    #[tokio::test(flavor = "current_thread")]
    async fn a_late_writer_queues_behind_one_still_waiting() {
        let turns = Arc::new(Turns::default());
        let busy = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let writer = |turns: Arc<Turns>, busy: Arc<AtomicUsize>, max: Arc<AtomicUsize>| async move {
            let _t = turns.take("\"t\"", "a").await;
            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(now, Ordering::SeqCst);
            for _ in 0..5 {
                tokio::task::yield_now().await;
            }
            busy.fetch_sub(1, Ordering::SeqCst);
        };
        let first = turns.take("\"t\"", "a").await;
        let waiting = tokio::spawn(writer(turns.clone(), busy.clone(), max.clone()));
        tokio::task::yield_now().await; // it is now queued on the turn
        drop(first);
        let late = tokio::spawn(writer(turns.clone(), busy.clone(), max.clone()));
        waiting.await.unwrap();
        late.await.unwrap();
        assert_eq!(
            max.load(Ordering::SeqCst),
            1,
            "two writers held the turn at once"
        );
        assert_eq!(turns.len(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn other_documents_do_not_wait() {
        let turns = Turns::default();
        let _a = turns.take("\"t\"", "a").await;
        // Would hang if keys shared a lock.
        let _b = turns.take("\"t\"", "b").await;
        let _c = turns.take("\"u\"", "a").await;
        assert_eq!(turns.len(), 3);
    }

    /// A waiter given up (its call aborted) just as the holder left must
    /// not leave the document's entry behind.
    #[tokio::test(flavor = "current_thread")]
    async fn a_waiter_given_up_after_the_holder_left_leaves_no_entry() {
        let turns = Arc::new(Turns::default());
        let first = turns.take("\"t\"", "a").await;
        let t = turns.clone();
        let waiting = tokio::spawn(async move {
            let _t = t.take("\"t\"", "a").await;
        });
        tokio::task::yield_now().await; // it is now queued on the turn
        drop(first); // the turn is handed to the waiter...
        waiting.abort(); // ...which is dropped before it runs again
        assert!(waiting.await.is_err_and(|e| e.is_cancelled()));
        assert_eq!(turns.len(), 0);
    }
}
