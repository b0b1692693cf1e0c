/**
 * Counts the datastore calls the service makes, per container and method,
 * so the bench can report store requests per completed job. The calls go
 * to the real providers unchanged.
 */

import type { FleetStores } from '../modules/fleet/stores.js';

export type StoreCallCounts = Record<string, number>;

export function countStoreCalls(stores: FleetStores): { stores: FleetStores; counts: StoreCallCounts } {
  const counts: StoreCallCounts = {};
  const wrap = <P extends object>(container: string, provider: P): P =>
    new Proxy(provider, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string' || property === 'close') {
          return typeof value === 'function' ? value.bind(target) : value;
        }
        const method = value as (...args: unknown[]) => unknown;
        const key = `${container}.${property}`;
        // Bound to the provider itself: its methods check `this`.
        return (...args: unknown[]): unknown => {
          counts[key] = (counts[key] ?? 0) + 1;
          return method.apply(target, args);
        };
      },
    });
  return {
    counts,
    stores: {
      jobs: wrap('jobs', stores.jobs),
      runs: wrap('runs', stores.runs),
      leases: wrap('leases', stores.leases),
      locks: wrap('locks', stores.locks),
      container: stores.container === null ? null : wrap('container', stores.container),
    },
  };
}
