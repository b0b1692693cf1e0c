/**
 * A linearizability checker for one document used as a register with a
 * revision: the Wing & Gong search with memoisation (as porcupine does it),
 * over a history of reads and conditional writes recorded with their call and
 * return times. A history is linearizable when some order of its operations
 * (a) respects real time: an operation that returned before another was
 * called comes first, and (b) replayed on the model, gives every recorded
 * answer. An operation whose outcome is unknown may take effect at any point
 * after its call, or never.
 */

/** The document: its revision and the value the last write set. */
export interface RegisterState {
  rev: number;
  value: string;
}

export type HistoryOp =
  | { kind: 'read'; call: number; ret: number; out: RegisterState }
  | { kind: 'cas'; call: number; ret: number; expectRev: number; value: string; out: 'ok' | 'conflict' | 'unknown' };

/** Applies `op` to `s`: the next state, or `undefined` when the recorded answer is impossible here. */
function step(s: RegisterState, op: HistoryOp): RegisterState | undefined {
  if (op.kind === 'read') return op.out.rev === s.rev && op.out.value === s.value ? s : undefined;
  const matches = s.rev === op.expectRev;
  if (op.out === 'ok') return matches ? { rev: s.rev + 1, value: op.value } : undefined;
  if (op.out === 'conflict') return matches ? undefined : s;
  // unknown: it took effect here (if it could), or it never will.
  return matches ? { rev: s.rev + 1, value: op.value } : s;
}

export interface Verdict {
  linearizable: boolean;
  /** Search states explored, for the record. */
  explored: number;
}

export function checkLinearizable(history: readonly HistoryOp[], init: RegisterState): Verdict {
  const ops = [...history].sort((a, b) => a.call - b.call);
  const done = new Array<boolean>(ops.length).fill(false);
  const failed = new Set<string>();
  let explored = 0;

  const search = (s: RegisterState, left: number): boolean => {
    if (left === 0) return true;
    const key = `${done.map((d) => (d ? 1 : 0)).join('')}|${s.rev}|${s.value}`;
    if (failed.has(key)) return false;
    explored++;
    // Only an operation called before every pending one has returned can go next.
    let firstReturn = Infinity;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (!done[i] && op !== undefined && op.out !== 'unknown') firstReturn = Math.min(firstReturn, op.ret);
    }
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (done[i] || op === undefined || op.call > firstReturn) continue;
      const next = step(s, op);
      // An unknown write may also never take effect: drop it without applying.
      const choices = op.kind === 'cas' && op.out === 'unknown' ? [next, s] : [next];
      for (const c of choices) {
        if (c === undefined) continue;
        done[i] = true;
        const ok = search(c, left - 1);
        done[i] = false;
        if (ok) return true;
      }
    }
    failed.add(key);
    return false;
  };

  return { linearizable: search(init, ops.length), explored };
}
