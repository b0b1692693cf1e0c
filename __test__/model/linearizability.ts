/**
 * A linearizability checker for one document: the Wing & Gong search with
 * memoisation (as porcupine does it), over a history of every provider call
 * on that document, recorded with call and return times. A history is
 * linearizable when some order of its operations (a) respects real time: an
 * operation that returned before another was called comes first, and (b)
 * replayed on the model, gives every recorded answer, including the document
 * a successful write returned. An operation whose outcome is unknown may take
 * effect at any point after its call, or never.
 *
 * Linearizability is local (Herlihy & Wing), so a history over several
 * documents is checked one document at a time.
 */

/** The document: absent, or its revision and the value the last write set. */
export type DocState = null | { rev: number; value: string };

export type Action =
  | { kind: 'read' }
  | { kind: 'create'; value: string }
  | { kind: 'upsert'; value: string }
  | { kind: 'replace'; value: string }
  | { kind: 'update'; value: string }
  | { kind: 'updateIfMatch'; expectRev: number; value: string }
  | { kind: 'delete' }
  | { kind: 'deleteIfMatch'; expectRev: number };

/**
 * `ok`: the call succeeded (`delete` answered `true`); `false`: `delete`
 * answered `false`; `unknown`: it rejected with `timeout` / `unavailable`.
 */
export type Outcome = 'ok' | 'conflict' | 'not_found' | 'false' | 'unknown';

export interface HistoryOp {
  key: string;
  call: number;
  ret: number;
  action: Action;
  out: Outcome;
  /** What a read returned, or the document a successful write returned. */
  seen?: DocState;
}

const same = (a: DocState | undefined, b: DocState): boolean =>
  a !== undefined && (a === null ? b === null : b !== null && a.rev === b.rev && a.value === b.value);

/** The state `action` leads to from `s` when it succeeds, or `undefined` when it cannot succeed there. */
function effect(s: DocState, a: Action): DocState | undefined {
  switch (a.kind) {
    case 'read':
      return s;
    case 'create':
      return s === null ? { rev: 1, value: a.value } : undefined;
    case 'upsert':
      return { rev: s === null ? 1 : s.rev + 1, value: a.value };
    case 'replace':
    case 'update':
      return s === null ? undefined : { rev: s.rev + 1, value: a.value };
    case 'updateIfMatch':
      return s !== null && s.rev === a.expectRev ? { rev: s.rev + 1, value: a.value } : undefined;
    case 'delete':
      return s === null ? undefined : null;
    case 'deleteIfMatch':
      return s !== null && s.rev === a.expectRev ? null : undefined;
  }
}

/** Whether a refusal `out` of `a` is the right answer in state `s`. */
function refusalHolds(s: DocState, a: Action, out: Outcome): boolean {
  switch (out) {
    case 'not_found':
      return s === null && a.kind !== 'create' && a.kind !== 'upsert' && a.kind !== 'delete';
    case 'false':
      return s === null && a.kind === 'delete';
    case 'conflict':
      if (a.kind === 'create') return s !== null;
      if (a.kind === 'updateIfMatch' || a.kind === 'deleteIfMatch') return s !== null && s.rev !== a.expectRev;
      return false;
    default:
      return false;
  }
}

/** The states `op` may lead to from `s`, given its recorded answer. */
function steps(s: DocState, op: HistoryOp): DocState[] {
  if (op.out === 'ok') {
    const next = effect(s, op.action);
    if (next === undefined) return [];
    // A read returns the state; a write, the version it made; a delete, nothing.
    const returnsNothing = op.action.kind === 'delete' || op.action.kind === 'deleteIfMatch';
    return returnsNothing || same(op.seen, next) ? [next] : [];
  }
  if (op.out === 'unknown') {
    const next = effect(s, op.action);
    return next === undefined ? [s] : [next, s];
  }
  return refusalHolds(s, op.action, op.out) ? [s] : [];
}

export interface Verdict {
  linearizable: boolean;
  /** Search states explored, for the record. */
  explored: number;
}

const stateKey = (s: DocState): string => (s === null ? '-' : `${s.rev}:${s.value}`);

/** Checks the history of one document, starting from `init`. */
export function checkLinearizable(history: readonly HistoryOp[], init: DocState): Verdict {
  const ops = [...history].sort((a, b) => a.call - b.call);
  const done = new Uint8Array(ops.length);
  const failed = new Set<string>();
  let explored = 0;

  const search = (s: DocState, left: number): boolean => {
    if (left === 0) return true;
    const key = `${done.join('')}|${stateKey(s)}`;
    if (failed.has(key)) return false;
    explored++;
    // Only an operation called before every pending one has returned can go
    // next; an unknown one has no return that bounds the others.
    let firstReturn = Infinity;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (done[i] === 0 && op !== undefined && op.out !== 'unknown') firstReturn = Math.min(firstReturn, op.ret);
    }
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (done[i] === 1 || op === undefined) continue;
      if (op.call > firstReturn) break; // sorted by call
      for (const next of steps(s, op)) {
        done[i] = 1;
        const ok = search(next, left - 1);
        done[i] = 0;
        if (ok) return true;
      }
    }
    failed.add(key);
    return false;
  };

  return { linearizable: search(init, ops.length), explored };
}

/** Checks each document's history on its own (linearizability is local). */
export function checkPerKey(history: readonly HistoryOp[], init: (key: string) => DocState): Map<string, Verdict> {
  const byKey = new Map<string, HistoryOp[]>();
  for (const op of history) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  const verdicts = new Map<string, Verdict>();
  for (const [key, ops] of byKey) verdicts.set(key, checkLinearizable(ops, init(key)));
  return verdicts;
}
