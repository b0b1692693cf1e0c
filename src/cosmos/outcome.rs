//! The verdict on a write whose answer was ambiguous (a lost response, a
//! reset, a timeout, a 5xx; or any answer to a resend, which may be meeting
//! the first attempt): from a re-read of the document, did our write land,
//! can it still land, or has the document moved on without it? A definite
//! answer to the first attempt (412, 409, 404, 429) needs no verdict: the
//! SDK is told not to resend writes, so that answer is about this request.
//!
//! Every write is conditional on the state it was computed from — an
//! `If-Match` on the etag it read, or (for a create) on the document not
//! existing — and carries a token that lands in the document's ring. So:
//! - our token is in the ring: it landed (e.g. an SDK retry of a write that
//!   had in fact landed answered 412);
//! - the document is still at the etag we wrote against (or still absent,
//!   for a create): ours has not landed; resending the identical request is
//!   safe, because at most one of the two can match the condition;
//! - the document moved on and the ring reaches back to our revision
//!   without our token: another write took that revision; ours can never
//!   land (etags do not repeat);
//! - the document is gone: ours may have landed and been deleted since, or
//!   never landed; and for a create, resending could create it a second
//!   time after someone else's delete: unknown; a create that meets another
//!   document cannot tell whether theirs came first or after ours was
//!   deleted: unknown;
//! - anything else (the ring was overwritten, revisions reset by a
//!   delete + create): unknown, and the caller is told so.

use super::token::{Ring, Token};

/// What a write was conditional on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Create: the document must not exist.
    Absent,
    /// Replace with `If-Match` on this etag.
    Etag(String),
}

/// The document as re-read.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub etag: &'a str,
    pub rev: u64,
    pub ring: &'a Ring,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Our write is in the document.
    Landed,
    /// Another write won; ours did not land and never will.
    Superseded,
    /// The condition still holds: ours has not landed; resending is safe.
    Pending,
    /// Cannot tell.
    Unknown,
}

/// Judges a write that intended to produce revision `rev` under `token`,
/// on the version `base` (its `rev` and the token that wrote it, when known).
pub fn judge(
    cond: &Condition,
    rev: u64,
    token: &Token,
    base: Option<(u64, &str)>,
    seen: Option<Seen<'_>>,
) -> Verdict {
    match (cond, seen) {
        (_, Some(s)) if s.ring.contains(token) => Verdict::Landed,
        (_, None) => Verdict::Unknown,
        // Another's create won, or ours landed and was deleted and the
        // document created again: every life starts at rev 1, so no ring tells.
        (Condition::Absent, Some(_)) => Verdict::Unknown,
        (Condition::Etag(e), Some(s)) if s.etag == e => Verdict::Pending,
        (Condition::Etag(_), Some(s)) => {
            // Another write took our revision only in the life of the document
            // we wrote on: its ring still holds our base. Deleted and created
            // again, it reaches our rev with other tokens though ours landed.
            let same_life = base.is_some_and(|(r, t)| s.ring.token_at(r) == Some(t));
            if s.rev >= rev && s.ring.covers(rev) && same_life {
                Verdict::Superseded
            } else {
                Verdict::Unknown
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(pairs: &[(u64, &str)]) -> Ring {
        Ring(pairs.iter().map(|(r, t)| (*r, (*t).to_owned())).collect())
    }

    #[test]
    fn landed_when_our_token_is_in_the_ring() {
        let ours = Token::fixed("ours");
        let r = ring(&[(4, "a"), (5, "ours"), (6, "b")]);
        let seen = Seen {
            etag: "e6",
            rev: 6,
            ring: &r,
        };
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                Some(seen)
            ),
            Verdict::Landed
        );
        let created = ring(&[(1, "ours")]);
        let seen = Seen {
            etag: "e1",
            rev: 1,
            ring: &created,
        };
        assert_eq!(
            judge(&Condition::Absent, 1, &ours, None, Some(seen)),
            Verdict::Landed
        );
    }

    #[test]
    fn pending_while_the_condition_still_holds() {
        let ours = Token::fixed("ours");
        let r = ring(&[(4, "a")]);
        let seen = Seen {
            etag: "e4",
            rev: 4,
            ring: &r,
        };
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                Some(seen)
            ),
            Verdict::Pending
        );
    }

    #[test]
    fn superseded_when_another_write_took_the_revision() {
        let ours = Token::fixed("ours");
        let r = ring(&[(4, "a"), (5, "theirs")]);
        let seen = Seen {
            etag: "e5",
            rev: 5,
            ring: &r,
        };
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                Some(seen)
            ),
            Verdict::Superseded
        );
    }

    #[test]
    fn a_create_meeting_another_document_cannot_tell_whose_create_came_first() {
        // Theirs first (ours met a 409 whose answer was lost), or ours
        // landed and was deleted, and theirs created after: alike.
        let ours = Token::fixed("ours");
        let other = ring(&[(1, "theirs")]);
        let seen = Seen {
            etag: "e1",
            rev: 1,
            ring: &other,
        };
        assert_eq!(
            judge(&Condition::Absent, 1, &ours, None, Some(seen)),
            Verdict::Unknown
        );
    }

    #[test]
    fn another_life_at_our_rev_is_no_proof_that_another_write_won() {
        let ours = Token::fixed("ours");
        // Deleted (after ours landed) and created again, then written up to rev 5.
        let reborn = ring(&[(1, "n1"), (2, "n2"), (3, "n3"), (4, "n4"), (5, "n5")]);
        let seen = Seen {
            etag: "n5",
            rev: 5,
            ring: &reborn,
        };
        let judged = |base| judge(&Condition::Etag("e4".into()), 5, &ours, base, Some(seen));
        assert_eq!(judged(Some((4, "a"))), Verdict::Unknown);
        // Without the base's token, nothing ties the version seen to it.
        assert_eq!(judged(None), Verdict::Unknown);
        // The same life: it holds our base at rev 4, and another token at 5.
        let moved = ring(&[(4, "a"), (5, "theirs")]);
        let seen = Seen {
            etag: "e5",
            rev: 5,
            ring: &moved,
        };
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                Some(seen)
            ),
            Verdict::Superseded
        );
    }

    #[test]
    fn our_base_under_another_etag_is_no_proof_that_another_write_won() {
        let ours = Token::fixed("ours");
        // Still rev 4 with our base's token, but not the etag we wrote against:
        // rewritten without a new revision (a restore of the old body, a writer
        // that keeps no ring). Ours may have landed at 5 and been undone.
        let r = ring(&[(3, "z"), (4, "a")]);
        let seen = Seen {
            etag: "e4-restored",
            rev: 4,
            ring: &r,
        };
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                Some(seen)
            ),
            Verdict::Unknown
        );
    }

    #[test]
    fn unknown() {
        let ours = Token::fixed("ours");
        // Gone: a replace may have landed and been deleted since; a create
        // may have landed and been deleted, and a resend would create it again.
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                None
            ),
            Verdict::Unknown
        );
        assert_eq!(
            judge(&Condition::Absent, 1, &ours, None, None),
            Verdict::Unknown
        );
        // Too many writes since: the ring no longer reaches revision 5.
        let r = ring(&[(7, "a"), (8, "b")]);
        let seen = Seen {
            etag: "e8",
            rev: 8,
            ring: &r,
        };
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                Some(seen)
            ),
            Verdict::Unknown
        );
        // Written by someone who keeps no ring.
        let empty = Ring::default();
        let seen = Seen {
            etag: "x",
            rev: 0,
            ring: &empty,
        };
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                Some(seen)
            ),
            Verdict::Unknown
        );
        // Revisions reset (deleted and created again): ours may have landed on the old one.
        let reset = ring(&[(1, "new")]);
        let seen = Seen {
            etag: "n1",
            rev: 1,
            ring: &reset,
        };
        assert_eq!(
            judge(
                &Condition::Etag("e4".into()),
                5,
                &ours,
                Some((4, "a")),
                Some(seen)
            ),
            Verdict::Unknown
        );
    }
}
