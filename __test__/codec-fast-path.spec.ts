/**
 * `encodeObject`'s fast path (a flat object copied and written by
 * `JSON.stringify` without a replacer) must answer exactly as the general
 * path: the same JSON, the same refusals in the same order, each member
 * read once. Each case is checked against a proxy of the same object, which
 * always takes the general path.
 */
import { describe, expect, it } from 'vitest';
import { encodeObject, encodePartitionKey } from '../lib/codec.js';

/** What `encodeObject` answers: its JSON text or its error's code and message. */
function outcome(v: object): string {
  try {
    return `ok ${encodeObject(v, 'patch')}`;
  } catch (e) {
    const err = e as { code?: string; message: string };
    return `err ${err.code} ${err.message}`;
  }
}

/** The same object behind a proxy with no traps: the general path. */
const general = (v: object): string => outcome(new Proxy(v, {}));

describe('codec fast path', () => {
  const cases: Array<[string, () => object]> = [
    ['flat primitives', () => ({ a: 'x', b: 1, c: true, d: null, e: undefined, 1: 'n', é: -0 })],
    ['empty', () => ({})],
    ['nested object mid-way', () => ({ a: 1, b: { c: [1, { d: 'x' }] }, e: 'y' })],
    ['NaN after an object', () => ({ a: { b: 1 }, c: Number.NaN })],
    ['NaN before an object', () => ({ a: Number.NaN, b: { c: 1 } })],
    ['bad value inside an object before a bad root value', () => ({ a: { b: 1n }, c: Number.POSITIVE_INFINITY })],
    ['lone surrogate value', () => ({ a: 'ok', b: '\uD800' })],
    ['lone surrogate key', () => ({ a: 1, '\uDC00': 2 })],
    ['function', () => ({ a: () => 1 })],
    ['symbol', () => ({ a: Symbol('s') })],
    ['bigint', () => ({ a: 2n })],
    ['boxed primitives', () => ({ a: new Number(1), b: new String('s'), c: new Boolean(false) })],
    ['a Map', () => ({ a: 1, m: new Map() })],
    ['a Date', () => ({ d: new Date(0), n: 1 })],
    ['nested toJSON', () => ({ a: { toJSON: () => 'j' }, b: 2 })],
    ['own __proto__ member', () => JSON.parse('{"a":1,"__proto__":{"x":1},"b":2}') as object],
  ];
  for (const [name, make] of cases) {
    it(name, () => {
      expect(outcome(make())).toBe(general(make()));
    });
  }

  it('a cycle back to the root is refused at the same path as before', () => {
    const a: Record<string, unknown> = { x: 1 };
    a['self'] = { back: a };
    // (Not compared with a proxy: there the root the caller passed is the proxy, not `a`.)
    expect(outcome(a)).toBe('err invalid_argument patch.self.back refers back to an enclosing object (a cycle)');
  });

  it('every member is read once, in order, also after an object', () => {
    const reads: string[] = [];
    const obj = {};
    for (const [k, v] of [['a', 1], ['b', { c: 2 }], ['d', 'x'], ['e', null]] as const) {
      Object.defineProperty(obj, k, {
        enumerable: true,
        get: () => {
          reads.push(k);
          return v;
        },
      });
    }
    expect(outcome(obj)).toBe('ok {"a":1,"b":{"c":2},"d":"x","e":null}');
    expect(reads).toEqual(['a', 'b', 'd', 'e']);
  });

  it('a throwing getter is invalid_argument, on either side of an object', () => {
    for (const before of [true, false]) {
      const obj: Record<string, unknown> = before ? {} : { o: {} };
      Object.defineProperty(obj, 'g', { enumerable: true, get: () => { throw new Error('boom'); } });
      expect(outcome(obj)).toBe('err invalid_argument patch could not be read as JSON: boom');
    }
  });

  it('a root toJSON is still called once', () => {
    let calls = 0;
    const obj = {
      a: 1,
      toJSON: () => {
        calls++;
        return { b: 2 };
      },
    };
    expect(outcome(obj)).toBe('ok {"b":2}');
    expect(calls).toBe(1);
  });

  it('a member named "undefined" before a nested object is read once', () => {
    // The members after the one that stops the copy become getters: exactly those, not one past the end (keys[n]).
    let reads = 0;
    const obj = {
      get undefined(): unknown {
        reads++;
        return reads === 1 ? 'first' : 10n;
      },
      a: { b: 1 },
    };
    expect(outcome(obj)).toBe('ok {"undefined":"first","a":{"b":1}}');
    expect(reads).toBe(1);
  });

  it('an own accessor named __proto__ holding an object is read once', () => {
    let reads = 0;
    const obj = {
      a: 1,
      get __proto__(): unknown {
        reads++;
        return reads === 1 ? { b: 2 } : 10n;
      },
    };
    expect(outcome(obj)).toBe('ok {"a":1,"__proto__":{"b":2}}');
    expect(reads).toBe(1);
  });

  it('a getter that gives Object.prototype a toJSON while the members are read: still the members written', () => {
    // JSON.stringify looks up the root's toJSON before it reads a member; the copy must not pick one up later.
    const obj = {
      a: 1,
      get g(): number {
        Object.defineProperty(Object.prototype, 'toJSON', { configurable: true, writable: true, value: () => ({ id: 'other' }) });
        return 2;
      },
    };
    let fast: string;
    let slow: string;
    try {
      fast = outcome(obj);
    } finally {
      delete (Object.prototype as { toJSON?: unknown }).toJSON;
    }
    try {
      slow = general(obj);
    } finally {
      delete (Object.prototype as { toJSON?: unknown }).toJSON;
    }
    expect(fast).toBe('ok {"a":1,"g":2}');
    expect(fast).toBe(slow);
  });

  // Both paths share checkValue, so the comparisons above cannot tell when it lets one of these through:
  // JSON.stringify would write a Map, Set or buffer as {} (or its indices) and a boxed lone surrogate escaped.
  it('collections, buffers and boxed strings with a lone surrogate are refused by name, at the root and nested', () => {
    const values: Array<[string, () => unknown, string]> = [
      ['Map', () => new Map([[1, 2]]), 'is a Map, which JSON would not store faithfully'],
      ['Set', () => new Set([1]), 'is a Set, which JSON would not store faithfully'],
      ['ArrayBuffer', () => new ArrayBuffer(2), 'is a ArrayBuffer, which JSON would not store faithfully'],
      ['Uint8Array', () => new Uint8Array([1]), 'is a Uint8Array, which JSON would not store faithfully'],
      ['DataView', () => new DataView(new ArrayBuffer(1)), 'is a DataView, which JSON would not store faithfully'],
      ['boxed lone surrogate', () => new String('a\uD800'), 'is a string with a lone surrogate (not well-formed UTF-16)'],
    ];
    for (const [name, make, says] of values) {
      expect(outcome({ a: 1, m: make() }), name).toBe(`err invalid_argument patch.m ${says}`);
      expect(outcome({ a: { b: [1, make()] } }), name).toBe(`err invalid_argument patch.a.b[1] ${says}`);
    }
  });

  // The store refuses most of these too, but with its own words (or a conversion error): lib/ names the argument.
  it('a partition key that is not a string, a finite number or a boolean is refused here, by name', () => {
    for (const [pk, got] of [[Number.NaN, 'number'], [Number.POSITIVE_INFINITY, 'number'], [{}, 'a Object'], [null, 'null'], [undefined, 'undefined'], [1n, 'bigint'], [[1], 'an array']] as const) {
      expect(() => encodePartitionKey(pk), String(pk)).toThrow(`partitionKey must be a string, a finite number or a boolean, got ${got}`);
    }
    expect(encodePartitionKey(-0)).toBe('0');
    expect(encodePartitionKey(false)).toBe('false');
  });
});
