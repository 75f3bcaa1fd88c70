/**
 * How a coordinator asks replicas (and fallbacks): the deadline of one ask,
 * which grows with the values it carries, and which failures are worth
 * trying elsewhere.
 *
 * Pure; any thread.
 */
import { OverloadedError, RingkvError, TimeoutError } from '../src/core/errors.js';
import { REPLICA_ASK_MS_PER_MIB } from '../src/core/limits.js';
import type { Version } from '../src/core/sibling_set.js';

const MIB = 1024 * 1024;

/** Bytes of values in `versions` (tombstones count none). */
export function valueBytes(versions: readonly Version[]): number {
  let bytes = 0;
  for (const v of versions) bytes += v.value?.length ?? 0;
  return bytes;
}

/** The deadline of an ask carrying `bytes` of values: `base_ms`, plus REPLICA_ASK_MS_PER_MIB per whole MiB. */
export function askTimeoutMs(base_ms: number, bytes: number): number {
  return base_ms + Math.floor(bytes / MIB) * REPLICA_ASK_MS_PER_MIB;
}

/** Errors that mean "this target did not answer in time or could not take it": try elsewhere. */
export function isTransient(err: unknown): boolean {
  return err instanceof TimeoutError || err instanceof OverloadedError || !(err instanceof RingkvError);
}
