/**
 * One dot, one value (issue 12): across the whole history of a key, a
 * version id names exactly one write. Two acknowledged writes with the same
 * version, a read showing a version with a value other than the one its
 * writer wrote (or a value where a delete made a tombstone), two reads
 * showing one version with different values, or a replica holding one dot
 * with two digests are each a violation: the cluster minted a dot twice, or
 * merged two versions of one dot, and some write was (or will be) dropped
 * by a merge that took them for one.
 *
 * Versions are compared per key: the dot-counter lease makes dots unique
 * per node across keys, but histories from before it reused counters on
 * different keys, which was never wrong.
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import type { HistoryOp } from './history.js';

/** Adds one violation of 'one-dot-one-value' (the checker's `Report`). */
export type DotValueReport = (key: string, ops: number[], detail: string) => void;

/** What a version was first seen to name, and where. */
interface Claim {
  /** "value <text>" or "a tombstone". */
  what: string;
  /** Who claimed it first, in words. */
  source: string;
  /** Its op id, if an op (the final read and replicas have none). */
  op: number | undefined;
}

/** Check one key's ops, its final read and its replicas' "dot=digest" listings. */
export function checkDotValues(
  key: string,
  ops: readonly HistoryOp[],
  finalRead: { values: readonly string[]; versions: readonly string[] } | undefined,
  replicas: ReadonlyMap<string, readonly string[]> | undefined,
  report: DotValueReport,
): void {
  const claims = new Map<string, Claim>();
  const reported = new Set<string>();
  const claim = (version: string, what: string, source: string, op: number | undefined): void => {
    const first = claims.get(version);
    if (first === undefined) {
      claims.set(version, { what, source, op });
      return;
    }
    if (first.what === what || reported.has(version)) return;
    reported.add(version);
    const ids = [...(op === undefined ? [] : [op]), ...(first.op === undefined ? [] : [first.op])];
    report(key, ids, `${source} names version ${version} ${what}, but ${first.source} named it ${first.what}: one version, two values`);
  };
  for (const op of ops) {
    if (op.kind === 'get' || op.outcome !== 'ok') continue;
    claim(op.version!, op.kind === 'put' ? `value ${show(op.value!)}` : 'a tombstone', `${op.kind} #${op.id} (acknowledged)`, op.id);
  }
  for (const op of ops) {
    if (op.kind !== 'get' || op.outcome !== 'ok') continue;
    op.versions!.forEach((version, i) => claim(version, `value ${show(op.values![i]!)}`, `get #${op.id}`, op.id));
  }
  finalRead?.versions.forEach((version, i) => claim(version, `value ${show(finalRead.values[i]!)}`, 'the final read', undefined));
  for (const [replica, held] of replicas ?? []) {
    const digests = new Map<string, Set<string>>();
    for (const entry of held) {
      const { dot, digest } = splitDotDigest(entry);
      if (digest === undefined) continue;
      let seen = digests.get(dot);
      if (seen === undefined) digests.set(dot, (seen = new Set()));
      seen.add(digest);
    }
    for (const [dot, seen] of digests) {
      if (seen.size < 2 || reported.has(dot)) continue;
      reported.add(dot);
      const writer = claims.get(dot)?.op;
      report(key, writer === undefined ? [] : [writer], `replica ${replica} holds version ${dot} with ${seen.size} different values (digests ${[...seen].sort().join(', ')})`);
    }
  }
}

/**
 * A replica's version as the checker compares it: "dot=digest", the digest
 * (`Dot.digest`) in hex (a tombstone's is 2^32, "100000000"); a plain dot
 * when the version carries no digest (written before issue 12).
 */
export function formatDotDigest(dot: string, digest: number | undefined): string {
  return digest === undefined ? dot : `${dot}=${digest.toString(16)}`;
}

/** "dot=digest" as its parts; a plain dot (older harnesses) has no digest. */
export function splitDotDigest(entry: string): { dot: string; digest: string | undefined } {
  const at = entry.lastIndexOf('=');
  return at < 0 ? { dot: entry, digest: undefined } : { dot: entry.slice(0, at), digest: entry.slice(at + 1) };
}

/** A value quoted and cut to a readable length. */
function show(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}
