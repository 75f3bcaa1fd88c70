/**
 * The history-based consistency checker: given what clients saw (a
 * `HistoryOp[]`) and what the cluster holds after heal (`FinalState`), it
 * reports every violation of the properties ringkv promises (issue 6):
 *
 * 1. lost-write: every acknowledged put is in the final read of its key, or
 *    some put or delete of that key (any outcome: a failed or unknown write
 *    may still have landed) superseded it legitimately: its context covers
 *    the put's version and was read after the put was invoked
 *    (`supersession.ts` gives the reasoning). An acknowledged delete is a
 *    write too: no version its context covered may come back in the final
 *    read (a resurrection). Under periodic sync, a write every node that
 *    stored it lost to a crash within the sync window is not a violation;
 *    it is listed apart (`checkHistoryReport`'s `lostInSyncWindow`,
 *    `sync_window.ts`).
 * 2. phantom: every value a get or the final read returns was written by a
 *    put of that key, and at that put's version when the put was acknowledged.
 * 3. false-sibling: two versions returned side by side never come from writes
 *    where one's context covered the other (DVV siblings are exactly the
 *    concurrent writes; Preguiça et al. 2012). Pruning a past beyond
 *    VCLOCK_ENTRIES_MAX can cause this; it is reported all the same.
 * 4. divergence: after heal, every replica of a key holds the same versions,
 *    compared as "dot=digest" so two replicas holding one dot with different
 *    values diverge.
 * 5. read-your-writes, for ops marked `ryw` (strict quorums, W+R>N): a get by
 *    client c invoked after c's own acknowledged write P of the key completed
 *    sees P: for a put, P's version or a write whose context covers it (shown
 *    by the get, or invoked before the get completed); for a delete, none of
 *    the versions P's context covered. An op invoked in the millisecond its
 *    client's earlier op completed counts as after it (clients that pipeline
 *    ops should not mark them ryw). Under periodic sync, a miss that a crash
 *    of a node that stored P, within the sync window, explains is listed
 *    apart (`lostInSyncWindow`), as for lost writes.
 * 6. one-dot-one-value: one version names one value across the history of
 *    a key (acknowledged writes, reads, replicas; `dot_values.ts`).
 * 7. dot-conflict: the replicas reported no dot conflict
 *    (`FinalState.dotConflicts`: a merge met one dot naming two values).
 * 8. lost-observed-write (batch sync): a write some get returned is durable,
 *    whatever its own outcome: a version a replica showed is in the final
 *    read, or superseded legitimately (as for lost-write). A store that lets
 *    a write be read before its commit-log group is on disk fails this when
 *    it crashes: the write was seen, then it is gone. Under periodic sync a
 *    replica shows writes it has not synced by design, so the property is
 *    not checked there (its loss window is the lost-write exception above).
 *
 * "Covers" is `coversDot` from `core/dotted_version_vector.ts`: a context
 * covers dot (actor, n) when its entry for actor is at least n. A write's
 * context is the one it applied (`HistoryOp.superseded`, for an overwrite
 * what the minting owner held) when recorded, else the one it passed; an
 * overwrite of unknown outcome has no known context and may cover any dot
 * minted before it.
 *
 * Cost: ops are indexed by key; per key, contexts are indexed per actor
 * (sorted counters with the earliest invoking write), so each check is a
 * lookup, and the work is O(n log n) plus, per read, the square of its
 * sibling count (bounded by SIBLINGS_MAX in a real cluster).
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import { coversDot } from '../core/dotted_version_vector.js';
import { InvalidRequestError } from '../core/errors.js';
import { CHECK_VIOLATIONS_MAX } from '../core/limits.js';
import { checkDotValues, splitDotDigest } from './dot_values.js';
import { validateFinalState, validateHistory, type FinalState, type HistoryOp } from './history.js';
import { indexByKey, MaxVector, resolveWriter, type KeyHistory, type Read } from './key_history.js';
import { supersededContext, Supersessions } from './supersession.js';
import { removedNodeLoss } from './removed_loss.js';
import { syncWindowCrashes, syncWindowCrashesOfAny, type LostInSyncWindow } from './sync_window.js';

export type { LostInSyncWindow } from './sync_window.js';

/** The property a violation breaks. */
export type Property =
  | 'lost-write'
  | 'phantom'
  | 'false-sibling'
  | 'divergence'
  | 'read-your-writes'
  | 'one-dot-one-value'
  | 'dot-conflict'
  | 'lost-observed-write';

/** One violation: which property, on which key, by which ops, and why in words. */
export interface Violation {
  property: Property;
  key: string;
  /** Ids of the ops involved (the read, the writes), in the order the detail names them. */
  ops: number[];
  /** A sentence a person can act on. */
  detail: string;
}

/** What a check found: the violations, and the writes lost in the sync window (not violations). */
export interface CheckReport {
  violations: Violation[];
  /** Acknowledged writes lost to crashes within the periodic sync window (`sync_window.ts`). */
  lostInSyncWindow: LostInSyncWindow[];
  /** Acknowledged writes every node that stored had been removed for good (`removed_loss.ts`). */
  lostWithRemovedNode: LostInSyncWindow[];
}

/**
 * Every violation in `history` given `final`, at most CHECK_VIOLATIONS_MAX,
 * in a deterministic order (keys in order of first appearance). Throws
 * `InvalidRequestError` on a malformed history, or when a key with an
 * acknowledged write has no final read. `checkHistoryReport` also names the
 * writes lost within the sync window.
 */
export function checkHistory(history: readonly HistoryOp[], final: FinalState): Violation[] {
  return checkHistoryReport(history, final).violations;
}

/** `checkHistory`, with the writes lost within the periodic sync window listed apart. */
export function checkHistoryReport(history: readonly HistoryOp[], final: FinalState): CheckReport {
  validateHistory(history);
  validateFinalState(final);
  const report = new Report();
  const keys = indexByKey(history);
  if ((final.dotConflicts ?? 0) > 0) {
    report.add('dot-conflict', '', [], `the replicas reported ${final.dotConflicts} dot conflicts (one version id naming two values, kept as siblings): see their error logs for keys and digests`);
  }
  for (const kh of keys.values()) {
    const finalRead = final.reads.get(kh.key);
    if (finalRead === undefined) {
      const acked = kh.ops.find((op) => op.kind !== 'get' && op.outcome === 'ok');
      if (acked !== undefined) {
        throw new InvalidRequestError(`key ${JSON.stringify(kh.key)} has acknowledged write #${acked.id} but no final read: read every key written after heal`);
      }
    }
    const reads: Read[] = kh.ops
      .filter((op) => op.kind === 'get' && op.outcome === 'ok')
      .map((op) => ({ op, values: op.values ?? [], versions: op.versions ?? [] }));
    if (finalRead !== undefined) reads.push({ op: null, values: finalRead.values, versions: finalRead.versions });
    for (const read of reads) checkRead(kh, read, report);
    checkDotValues(kh.key, kh.ops, finalRead, final.replicas?.get(kh.key), (key, ops, detail) => report.add('one-dot-one-value', key, ops, detail));
    if (finalRead !== undefined) checkLostWrites(kh, finalRead.versions, final, report);
    if (finalRead !== undefined && final.sync?.mode !== 'periodic') checkObservedWrites(kh, finalRead.versions, final, report);
    checkReadYourWrites(kh, final, report);
  }
  for (const [key, read] of final.reads) {
    if (keys.has(key)) continue;
    for (let i = 0; i < read.values.length; i++) {
      report.add('phantom', key, [], `the final read returns value ${show(read.values[i]!)} at version ${read.versions[i]}, but the history has no write of this key`);
    }
  }
  for (const [key, byReplica] of final.replicas ?? []) checkDivergence(key, byReplica, keys.get(key), report);
  return { violations: report.violations, lostInSyncWindow: report.lostInSyncWindow, lostWithRemovedNode: report.lostWithRemovedNode };
}

/** One line: property, key, op ids, seed, detail. */
export function formatViolation(v: Violation, seed?: number): string {
  const ops = v.ops.length === 0 ? '-' : v.ops.map((id) => `#${id}`).join(',');
  const seedText = seed === undefined ? '' : ` seed=${seed}`;
  return `${v.property} key=${JSON.stringify(v.key)} ops=${ops}${seedText}: ${v.detail.replace(/\s*\n\s*/g, ' ')}`;
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/** Phantoms and false siblings in one read (a get, or the final read when `op` is null). */
function checkRead(kh: KeyHistory, read: Read, report: Report): void {
  const reader = read.op === null ? 'the final read' : `get #${read.op.id}`;
  const readerIds = read.op === null ? [] : [read.op.id];
  const writers: Array<HistoryOp | undefined> = [];
  for (let i = 0; i < read.values.length; i++) {
    const value = read.values[i]!;
    const version = read.versions[i]!;
    const candidates = kh.putsByValue.get(value) ?? [];
    const atVersion = kh.writesByVersion.get(version);
    if (candidates.length === 0) {
      report.add('phantom', kh.key, readerIds, `${reader} returns value ${show(value)} at version ${version}, but no put of this key wrote that value`);
    } else if (atVersion !== undefined && (atVersion.kind !== 'put' || atVersion.value !== value)) {
      // A version shown with another value than its writer's: one-dot-one-value (dot_values.ts) reports it.
    } else if (atVersion === undefined && candidates.every((p) => p.outcome === 'ok')) {
      const put = candidates[0]!;
      report.add('phantom', kh.key, [...readerIds, put.id], `${reader} returns value ${show(value)} at version ${version}, but ${describe(put)} was acknowledged with another version`);
    }
    writers.push(resolveWriter(kh, value, version));
  }
  for (let a = 0; a < writers.length; a++) {
    const writerA = writers[a];
    if (writerA === undefined) continue;
    const contextA = kh.causal.applied(writerA);
    for (let b = 0; b < writers.length; b++) {
      if (a === b || !coversDot(contextA, kh.causal.dot(read.versions[b]!))) continue;
      const writerB = writers[b];
      report.add(
        'false-sibling',
        kh.key,
        [...readerIds, writerA.id, ...(writerB === undefined ? [] : [writerB.id])],
        `${reader} returns versions ${read.versions[a]} and ${read.versions[b]} as siblings, but ${describe(writerA)} was written with a context covering ${read.versions[b]}${writerB === undefined ? '' : ` (${describe(writerB)})`}`,
      );
    }
  }
}

/**
 * Acknowledged puts missing from the final read that no write superseded
 * legitimately (`supersession.ts`), and versions an acknowledged delete
 * superseded that came back. Losses the periodic sync window explains go to
 * `lostInSyncWindow` instead.
 */
function checkLostWrites(kh: KeyHistory, finalVersions: readonly string[], final: FinalState, report: Report): void {
  const present = new Set(finalVersions);
  const deleted = new MaxVector();
  const deletes = new Map<number, HistoryOp>();
  const supersessions = new Supersessions(kh.ops, (text, op) => kh.causal.parse(text, op));
  for (const op of kh.ops) {
    if (op.outcome !== 'ok' || op.kind === 'get') continue;
    if (op.kind === 'delete') {
      deleted.join(kh.causal.parse(supersededContext(op), op), op.id);
      deletes.set(op.id, op);
    }
    if (op.kind !== 'put' || present.has(op.version!)) continue;
    const found = supersessions.find(op, kh.causal.dot(op.version!));
    if (found.by !== undefined) continue;
    const why =
      found.unjustified === undefined
        ? "no write's context covers it"
        : `the only writes whose context covers it, such as ${describe(found.unjustified)}, had their context from a read made before the put was invoked`;
    if (lostInWindow(kh, op, final, report, `absent from the final read, and ${why}`)) continue;
    report.add('lost-write', kh.key, [op.id], `${describe(op)} acknowledged but absent from the final read ${list(finalVersions)}, and ${why}`);
  }
  for (const version of finalVersions) {
    const deleter = deleted.coveredBy(kh.causal.dot(version));
    if (deleter === undefined) continue;
    const writer = kh.writesByVersion.get(version);
    if (lostInWindow(kh, deletes.get(deleter)!, final, report, `version ${version}, which it superseded, is back in the final read`)) continue;
    report.add(
      'lost-write',
      kh.key,
      [deleter, ...(writer === undefined ? [] : [writer.id])],
      `delete #${deleter} acknowledged with a context covering version ${version}${writer === undefined ? '' : ` (${describe(writer)})`}, yet it is back in the final read`,
    );
  }
}

/**
 * Versions an ok get returned that the final read lacks, written by a put
 * whose outcome was not 'ok' (acknowledged puts are lost-write's) and that no
 * write superseded legitimately. Reported once per version.
 */
function checkObservedWrites(kh: KeyHistory, finalVersions: readonly string[], final: FinalState, report: Report): void {
  const present = new Set(finalVersions);
  const reported = new Set<string>();
  const supersessions = new Supersessions(kh.ops, (text, op) => kh.causal.parse(text, op));
  for (const get of kh.ops) {
    if (get.kind !== 'get' || get.outcome !== 'ok') continue;
    get.versions!.forEach((version, i) => {
      if (present.has(version) || reported.has(version)) return;
      const writer = resolveWriter(kh, get.values![i]!, version);
      if (writer === undefined || writer.outcome === 'ok') return;
      if (supersessions.find(writer, kh.causal.dot(version)).by !== undefined) return;
      reported.add(version);
      const minter = kh.causal.dot(version).actor.split('#')[0]!;
      if ((final.removed ?? []).some((r) => r.node === minter)) {
        // Never acknowledged, and minted on a node later removed for good: seen while that node held it, gone with it.
        report.lostWithRemoved({ key: kh.key, op: writer.id, detail: `${describe(writer)}, seen by get #${get.id} but never acknowledged, was minted on ${minter}, removed for good since` });
        return;
      }
      report.add('lost-observed-write', kh.key, [get.id, writer.id], `get #${get.id} returned version ${version} of ${describe(writer)}, but the final read ${list(finalVersions)} lacks it and no write superseded it: a write once visible was lost`);
    });
  }
}

/**
 * True (and listed apart) when the periodic sync window (`sync_window.ts`),
 * or the removal of every node that stored it (`removed_loss.ts`), explains
 * losing `write`.
 */
function lostInWindow(kh: KeyHistory, write: HistoryOp, final: FinalState, report: Report, what: string): boolean {
  const crashes = syncWindowCrashes(write, final);
  if (crashes !== undefined) {
    report.lostInWindow({ key: kh.key, op: write.id, detail: `${describe(write)} acknowledged under periodic sync: ${what}; every node that stored it crashed within the sync window (${crashes.join(', ')})` });
    return true;
  }
  const removal = removedNodeLoss(write, final);
  if (removal === undefined) return false;
  report.lostWithRemoved({ key: kh.key, op: write.id, detail: `${describe(write)}: ${what}; it was stored by no node that stayed (${removal})` });
  return true;
}

/** Read-your-writes per client, for ops marked `ryw`. */
function checkReadYourWrites(kh: KeyHistory, final: FinalState, report: Report): void {
  const byClient = new Map<string, { gets: HistoryOp[]; writes: HistoryOp[] }>();
  for (const op of kh.ops) {
    if (op.ryw !== true || op.outcome !== 'ok') continue;
    let mine = byClient.get(op.client);
    if (mine === undefined) byClient.set(op.client, (mine = { gets: [], writes: [] }));
    (op.kind === 'get' ? mine.gets : mine.writes).push(op);
  }
  for (const { gets, writes } of byClient.values()) {
    gets.sort((x, y) => x.invoked_ms - y.invoked_ms || x.id - y.id);
    writes.sort((x, y) => x.completed_ms! - y.completed_ms! || x.id - y.id);
    let pendingPuts: HistoryOp[] = [];
    const deleted = new MaxVector();
    const resurrected = new Set<string>();
    let next = 0;
    for (const get of gets) {
      for (; next < writes.length; next++) {
        const write = writes[next]!;
        const before = write.completed_ms! < get.invoked_ms || (write.completed_ms === get.invoked_ms && write.id < get.id);
        if (!before) break;
        if (write.kind === 'put') pendingPuts.push(write);
        else deleted.join(kh.causal.applied(write), write.id);
      }
      pendingPuts = pendingPuts.filter((put) => putStillPending(kh, put, get, final, report));
      for (const version of get.versions!) {
        const deleter = deleted.coveredBy(kh.causal.dot(version));
        if (deleter === undefined || resurrected.has(version)) continue;
        resurrected.add(version);
        report.add('read-your-writes', kh.key, [get.id, deleter], `get #${get.id} by ${get.client} shows version ${version}, which its own earlier delete #${deleter} covered`);
      }
    }
  }
}

/**
 * Whether `put` must still be checked against later gets after `get`: false
 * once a covering write was invoked before `get` (it stays settled for every
 * later get) or once a violation is reported (reported once).
 */
function putStillPending(kh: KeyHistory, put: HistoryOp, get: HistoryOp, final: FinalState, report: Report): boolean {
  const dot = kh.causal.dot(put.version!);
  const byContext = kh.coverage.earliest(dot);
  const byOverwrite = kh.coverage.earliestWildcard(put.invoked_ms);
  const cover = byOverwrite !== undefined && (byContext === undefined || byOverwrite.invoked_ms < byContext.invoked_ms) ? byOverwrite : byContext;
  if (cover !== undefined && cover.invoked_ms <= get.invoked_ms) return false;
  if (get.versions!.includes(put.version!)) return true;
  if (cover !== undefined && cover.invoked_ms <= get.completed_ms!) return true;
  for (let i = 0; i < get.versions!.length; i++) {
    const writer = resolveWriter(kh, get.values![i]!, get.versions![i]!);
    if (writer !== undefined && coversDot(kh.causal.applied(writer), dot)) return true;
  }
  const crashes = syncWindowCrashesOfAny(put, final);
  if (crashes !== undefined) {
    const detail = `get #${get.id} by ${get.client} misses its own ${describe(put)} under periodic sync: a node that stored it crashed within the sync window (${crashes.join(', ')})`;
    report.lostInWindow({ key: kh.key, op: put.id, detail });
    return false;
  }
  report.add('read-your-writes', kh.key, [get.id, put.id], `get #${get.id} by ${get.client} misses its own ${describe(put)}, completed before the get began: it returned ${list(get.versions!)}`);
  return false;
}

/** Replicas of one key that do not all hold the same versions. */
function checkDivergence(key: string, byReplica: ReadonlyMap<string, readonly string[]>, kh: KeyHistory | undefined, report: Report): void {
  if (byReplica.size < 2) return;
  const held = [...byReplica].map(([replica, versions]) => ({ replica, versions: new Set(versions) }));
  const union = new Set(held.flatMap((h) => [...h.versions]));
  const lacking = held.filter((h) => h.versions.size < union.size);
  if (lacking.length === 0) return;
  const differing = [...union].filter((v) => lacking.some((h) => !h.versions.has(v))).sort();
  const ops = [
    ...new Set(
      differing.flatMap((v) => {
        const writer = kh?.writesByVersion.get(splitDotDigest(v).dot);
        return writer === undefined ? [] : [writer.id];
      }),
    ),
  ];
  const gaps = lacking.map((h) => `${h.replica} lacks ${list([...union].filter((v) => !h.versions.has(v)).sort())}`);
  const dots = differing.map((v) => splitDotDigest(v).dot);
  const twoValued = [...new Set(dots.filter((dot, i) => dots.indexOf(dot) !== i))];
  const values = twoValued.length === 0 ? '' : ` (replicas hold ${list(twoValued)} with different values)`;
  report.add('divergence', key, ops, `replicas disagree after heal on versions ${list(differing)}${values}: ${gaps.join('; ')}`);
}

/** Collects violations, and writes lost in the sync window, up to CHECK_VIOLATIONS_MAX each. */
class Report {
  readonly violations: Violation[] = [];
  readonly lostInSyncWindow: LostInSyncWindow[] = [];
  readonly lostWithRemovedNode: LostInSyncWindow[] = [];

  lostWithRemoved(lost: LostInSyncWindow): void {
    if (this.lostWithRemovedNode.length < CHECK_VIOLATIONS_MAX) this.lostWithRemovedNode.push(lost);
  }

  add(property: Property, key: string, ops: number[], detail: string): void {
    if (this.violations.length < CHECK_VIOLATIONS_MAX) this.violations.push({ property, key, ops, detail });
  }

  lostInWindow(lost: LostInSyncWindow): void {
    if (this.lostInSyncWindow.length < CHECK_VIOLATIONS_MAX) this.lostInSyncWindow.push(lost);
  }
}

/** "put #12 (value "v12", version n1#epoch5:3)". */
function describe(op: HistoryOp): string {
  const version = op.version === undefined ? `outcome ${op.outcome}` : `version ${op.version}`;
  return op.kind === 'put' ? `put #${op.id} (value ${show(op.value!)}, ${version})` : `${op.kind} #${op.id} (${version})`;
}

/** Versions as "[a, b]", at most eight shown. */
function list(versions: readonly string[]): string {
  const shown = versions.slice(0, 8).join(', ');
  return versions.length > 8 ? `[${shown}, ... ${versions.length - 8} more]` : `[${shown}]`;
}

/** A value quoted and cut to a readable length. */
function show(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}
