/**
 * Spec timeouts are written like `3h`, `90s`, `1h30m` or `250ms`; a bare
 * number means seconds (what YAML gives for `timeout: 600`).
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

export function parseDurationMs(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`duration must be a positive number of seconds, got ${value}`);
    return Math.round(value * 1_000);
  }
  const text = value.trim();
  let total = 0;
  let consumed = 0;
  PART.lastIndex = 0;
  for (let match = PART.exec(text); match !== null; match = PART.exec(text)) {
    const [whole, amount, unit] = match;
    total += Number(amount) * (UNIT_MS[unit ?? ''] ?? Number.NaN);
    consumed += whole.length;
  }
  if (text.length === 0 || consumed !== text.length || !Number.isFinite(total) || total <= 0) {
    throw new RangeError(`cannot read duration ${JSON.stringify(value)}; write e.g. 90s, 30m, 3h or 1h30m`);
  }
  return Math.round(total);
}

/** The inverse of `parseDurationMs` for whole milliseconds: 5_400_000 → `1h30m`. */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms <= 0) throw new RangeError(`duration must be a positive whole number of ms, got ${ms}`);
  let rest = ms;
  let text = '';
  for (const [unit, size] of Object.entries(UNIT_MS).sort(([, a], [, b]) => b - a)) {
    const amount = Math.floor(rest / size);
    if (amount === 0) continue;
    text += `${amount}${unit}`;
    rest -= amount * size;
  }
  return text;
}
