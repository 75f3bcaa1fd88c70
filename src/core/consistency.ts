/**
 * Consistency levels (Dynamo 2007 section 4.5; the data-center levels after
 * Cassandra): how many replica answers a read (R) or acknowledgements a write
 * (W) needs, as a number or a named level, resolved against where the key's
 * N intended replicas live.
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import { assert } from './assert.js';
import { InvalidRequestError } from './errors.js';

/** A named consistency level. */
export type ConsistencyLevel = 'one' | 'quorum' | 'all' | 'local_quorum' | 'each_quorum';

/** Every named level, for validation and tests. */
export const CONSISTENCY_LEVELS: readonly ConsistencyLevel[] = ['one', 'quorum', 'all', 'local_quorum', 'each_quorum'];

/** What a request needs: a count of replicas (1..n) or a named level. */
export type Requirement = number | ConsistencyLevel;

/**
 * One part of a resolved requirement: `needed` successes among replicas in
 * `dc` (or anywhere when `dc` is null), out of `replicas` intended there.
 */
export interface Need {
  /** The data center the successes must come from, or null for any. */
  dc: string | null;
  /** Successes required in that scope. */
  needed: number;
  /** Intended replicas in that scope (n, or the DC's replica count). */
  replicas: number;
}

/** A majority of `count` replicas. */
export function majority(count: number): number {
  assert(Number.isSafeInteger(count) && count >= 1, 'a majority of at least one replica');
  return Math.floor(count / 2) + 1;
}

/**
 * Resolve `required` against the intended replicas' data centers
 * (`replicasPerDc`, summing to n) and the coordinator's DC. Every returned
 * need must be met. Throws `InvalidRequestError` for a count outside 1..n or
 * `local_quorum` when the coordinator's DC holds no replica of the key.
 */
export function resolveRequirement(
  required: Requirement,
  replicasPerDc: ReadonlyMap<string, number>,
  coordinatorDc: string,
): Need[] {
  let n = 0;
  for (const count of replicasPerDc.values()) n += count;
  assert(n >= 1, 'a request has at least one intended replica');
  if (typeof required === 'number') {
    if (!Number.isSafeInteger(required) || required < 1 || required > n) {
      throw new InvalidRequestError(`a replica count of ${required} is outside 1..${n} (n=${n}); pick a count in range`);
    }
    return [{ dc: null, needed: required, replicas: n }];
  }
  switch (required) {
    case 'one':
      return [{ dc: null, needed: 1, replicas: n }];
    case 'quorum':
      return [{ dc: null, needed: majority(n), replicas: n }];
    case 'all':
      return [{ dc: null, needed: n, replicas: n }];
    case 'local_quorum': {
      const local = replicasPerDc.get(coordinatorDc) ?? 0;
      if (local === 0) {
        throw new InvalidRequestError(
          `local_quorum needs replicas in the coordinator's data center ${coordinatorDc}, which holds none of this key; use quorum or coordinate from a data center that does`,
        );
      }
      return [{ dc: coordinatorDc, needed: majority(local), replicas: local }];
    }
    case 'each_quorum':
      return [...replicasPerDc.entries()]
        .filter(([, count]) => count > 0)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([dc, count]) => ({ dc, needed: majority(count), replicas: count }));
    default:
      throw new InvalidRequestError(`unknown consistency level ${JSON.stringify(required)}; use one of ${CONSISTENCY_LEVELS.join(', ')}`);
  }
}

/** How a requirement reads in messages: "3", "quorum (2)", "local_quorum (2 in dc1)". */
export function describeRequirement(required: Requirement, needs: readonly Need[]): string {
  if (typeof required === 'number') return String(required);
  const parts = needs.map((need) => (need.dc === null ? `${need.needed}` : `${need.needed} in ${need.dc}`));
  return `${required} (${parts.join(', ')})`;
}
