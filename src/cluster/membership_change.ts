/**
 * The driver of a membership change (issue 16): join, decommission, remove
 * or replace, run to the end while the cluster serves, and resumable.
 *
 *   plan        `planChange` (src/core/ring_change.ts): the ring after, the
 *               transfers, the share that moves. Shown before anything
 *               happens (`Cluster.planChange`, `ringkv node ... --dry-run`).
 *   streaming   saved first (`ChangeHost.save`), so a crash of this process
 *               resumes here. A joining or replacing node starts, every
 *               node gets the pending ring view (writes then go to the old
 *               and the new replicas of each key, `actors/ring_view.ts`),
 *               and each target runs its transfers (`actors/transfer.ts`).
 *               The driver follows them every TRANSFER_POLL_MS, saves their
 *               cursors, and restarts one that failed or whose target
 *               restarted, from its cursor.
 *   switching   once every transfer is verified (its target's listing of
 *               its ranges equals its source's), every node gets the new
 *               ring as current, the cluster records it (`committed`), and
 *               a member that left is stopped.
 *
 * Ring views are numbered: the pending view of a change is `version`, the
 * committed one `version + 1` (with the ring before it as `previous`: its
 * replicas may hold copies until the cleanup, so a tombstone is confirmed
 * with them too), and the settled one, after the cleanup, `version + 2`; a
 * node that hears them out of order (or
 * twice) keeps the newest. A node that is down during a change gets the
 * view it missed when it restarts (the cluster starts it with the saved
 * change's view, then the record's ring).
 *
 * Thread contract: the cluster's (main) thread; one change at a time.
 */
import { assert } from '../core/assert.js';
import { InvalidRequestError } from '../core/errors.js';
import { RING_UPDATE_TIMEOUT_MS, TRANSFER_POLL_MS } from '../core/limits.js';
import { planChange, rangesOf, type RingChange, type RingChangePlan, type RingRange } from '../core/ring_change.js';
import { Ring, type RingMember } from '../core/ring.js';
import type { Message } from '../runtime/actor.js';
import type { ResolvedCluster, ResolvedNode } from './cluster_config.js';
import { COMPACTION_ACTOR_ID } from './node_plan.js';
import { ANTI_ENTROPY_ACTOR_ID, COORDINATOR_ACTOR_ID, HANDOFF_ACTOR_ID } from '../../actors/member_refs.js';
import type { RingUpdate } from '../../actors/ring_view.js';
import { TRANSFER_ACTOR_ID, type TransferProgress, type TransferSpec } from '../../actors/transfer.js';

/** A ring view as nodes are started with (`NodePlanOptions.ringView`). */
export interface StartView {
  version: number;
  ring: RingMember[];
  pending: RingMember[] | null;
  previous?: RingMember[] | null;
}

/** One transfer as the change saves it. */
export interface SavedTransfer {
  id: string;
  target: string;
  sources: string[];
  syncWith: 'first' | 'each';
  ranges: RingRange[];
  /** Fraction of the ring its ranges cover. */
  share: number;
  state: TransferProgress['state'] | 'not started';
  /** Where it was: resumes from here (cursor as hex). */
  resume: { sourceIndex: number; pass: number; cursor: string | null; verifiedWith: string[] } | null;
  keysFetched: number;
  bytes: number;
  /** Bytes per second between the driver's last two looks (a moving average). */
  bytesPerSecond: number;
  /** When `bytes` was last read (driver ms). */
  seen_ms: number;
  error?: string;
}

/** A change in progress, as saved (JSON). */
export interface ChangeState {
  id: string;
  change: RingChange;
  /** The pending view's number; the committed one is version + 1, the settled one version + 2. */
  version: number;
  before: RingMember[];
  after: RingMember[];
  /** The node the change starts (join, replace), or null. */
  added: ResolvedNode | null;
  /** The member that leaves the ring (decommission, remove, replace), or null. */
  removed: string | null;
  transfers: SavedTransfer[];
  phase: 'streaming' | 'switching' | 'handoff' | 'cleanup';
  started_ms: number;
  /**
   * The last sync of each range from the replica that drops it, run once
   * every coordinator is on the new ring (so that replica takes no new write
   * of the range): a write that reached only it during the change (never
   * acknowledged, or written after its transfer was verified) is carried over
   * before its copy is dropped or its node stops. Set at the commit.
   */
  handoffs: SavedTransfer[] | null;
  /** When every reachable node acknowledged the pending view (host ms); writes after it reach the new replicas too. */
  pending_since_ms: number | null;
}

/** What the driver needs of the cluster it changes. */
export interface ChangeHost {
  /** Ask actor `actor` of member `member`. */
  ask<R>(member: string, actor: string, msg: Message, timeout_ms: number): Promise<R>;
  sleep(ms: number): Promise<void>;
  now(): number;
  /** False when `member` is known to be down or stopped (asks to it would only time out). */
  reachable(member: string): boolean;
  /** Start `node`, a member the change adds, on `view` (nothing when it runs already). */
  startNode(node: ResolvedNode, view: StartView): Promise<void>;
  /** Stop `member` for good: it left the ring. */
  stopNode(member: string): Promise<void>;
  /** Save the change in progress durably (null: it is over). */
  save(state: ChangeState | null): Promise<void>;
  /** The change committed: the cluster is now `config`, at ring view `version`. */
  committed(config: ResolvedCluster, version: number): Promise<void>;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

/** Ask deadline of the driver's own questions. */
const DRIVER_ASK_MS = 2000;
/** Deadline of one node's cleanup compaction (it merges every table the node holds). */
const CLEANUP_TIMEOUT_MS = 10 * 60_000;
/**
 * How long the change waits for the cleanups before it ends: a node whose
 * compaction takes longer (a slow disk, many tables) finishes it on its own.
 */
const CLEANUP_WAIT_MS = 60_000;
/** Polls between two saves of the transfers' cursors. */
const SAVE_EVERY_POLLS = 4;

/** The state a change starts in: planned on `config` at ring view `version` (the cluster's current one). */
export function newChange(config: ResolvedCluster, version: number, change: RingChange, added: ResolvedNode | null, now_ms: number, id: string): { state: ChangeState; plan: RingChangePlan } {
  const plan = planChange(Ring.fromTokens(config.ring), config.replication.dcs, change);
  if (plan.unrecoverable.share > 0) {
    throw new InvalidRequestError(
      `${(plan.unrecoverable.share * 100).toFixed(1)}% of the ring has no surviving replica (N=${config.replication.n}): those keys are lost with ${'id' in change ? change.id : change.kind === 'replace' ? change.dead : '?'}; ` +
        'restore that node instead, or raise N before the next failure',
    );
  }
  const removed = change.kind === 'join' ? null : change.kind === 'replace' ? change.dead : change.id;
  const state: ChangeState = {
    id,
    change,
    version: version + 1,
    before: [...plan.before],
    after: [...plan.after],
    added,
    removed,
    transfers: plan.transfers.map((t, i) => ({
      id: `${id}/${i}`,
      target: t.target,
      sources: t.sources,
      syncWith: t.syncWith,
      ranges: t.ranges,
      share: t.share,
      state: 'not started',
      resume: null,
      keysFetched: 0,
      bytes: 0,
      bytesPerSecond: 0,
      seen_ms: now_ms,
    })),
    phase: 'streaming',
    started_ms: now_ms,
    pending_since_ms: null,
    handoffs: null,
  };
  return { state, plan };
}

/** The cluster once `state` committed: `config`'s nodes, less the removed, plus the added, on the ring after. */
export function configAfter(config: ResolvedCluster, state: ChangeState): ResolvedCluster {
  const nodes = config.nodes.filter((n) => n.member !== state.removed);
  // Idempotent: a change resumed after its commit starts from the cluster after it.
  if (state.added !== null && !nodes.some((n) => n.member === state.added!.member)) nodes.push(state.added);
  const order = new Map(state.after.map((m, i) => [m.id, i]));
  nodes.sort((a, b) => order.get(a.member)! - order.get(b.member)!);
  return { ...config, nodes, ring: state.after.map((m) => ({ ...m, tokens: [...m.tokens] })) };
}

/** The ring view a node starting during `state` (or after it) must start with. */
export function viewDuring(state: ChangeState): StartView {
  if (state.phase === 'streaming') return { version: state.version, ring: state.before, pending: state.after, previous: null };
  // Committed, and the old replicas may still hold copies until the cleanup is over.
  return { version: state.version + 1, ring: state.after, pending: null, previous: state.before };
}

/**
 * Run `state` (new, or resumed after a crash) to the end on `config` (the
 * cluster before the change). Resolves once committed; rejects only when
 * the host fails (the change stays saved and resumes on the next run).
 */
export async function runChange(host: ChangeHost, config: ResolvedCluster, state: ChangeState): Promise<ResolvedCluster> {
  await host.save(state);
  if (state.phase === 'streaming') {
    if (state.added !== null) await host.startNode(state.added, viewDuring(state));
    await broadcast(host, state, { type: 'ring-update', version: state.version, ring: state.before, pending: state.after, previous: null });
    // A resumed change keeps the first time: writes since then went to the new replicas already.
    state.pending_since_ms ??= host.now();
    await host.save(state);
    await stream(host, state, state.transfers, state.pending_since_ms, true);
    state.phase = 'switching';
    await host.save(state);
  }
  const after = configAfter(config, state);
  if (state.phase === 'switching') {
    await broadcast(host, state, { type: 'ring-update', version: state.version + 1, ring: state.after, pending: null, previous: state.before });
    await host.committed(after, state.version + 1);
    // From the commit on, writes of a range reach its new replicas only: one more sync from each replica that drops it.
    state.handoffs = state.transfers
      .filter((t) => t.syncWith === 'first' && host.reachable(t.sources[0]!))
      .map((t) => ({ ...t, id: `${t.id}/handoff`, sources: [t.sources[0]!], state: 'not started' as const, resume: null, keysFetched: 0, bytes: 0, bytesPerSecond: 0, seen_ms: host.now() }));
    state.phase = 'handoff';
    state.pending_since_ms = host.now();
    await host.save(state);
  }
  if (state.phase === 'handoff') {
    await stream(host, state, state.handoffs ?? [], state.pending_since_ms!, false);
    if (state.removed !== null) await retire(host, state);
    state.phase = 'cleanup';
    await host.save(state);
  }
  await cleanup(host, after, state);
  await forgetTransfers(host, state);
  // The old replicas dropped their copies: tombstones are confirmed with the new replicas alone again.
  await broadcast(host, state, { type: 'ring-update', version: state.version + 2, ring: state.after, pending: null, previous: null });
  await host.committed(after, state.version + 2);
  await host.save(null);
  host.log('info', 'membership change committed', { change: state.change.kind, version: state.version + 2, transfers: state.transfers.length });
  return after;
}

/**
 * Once every node holds the new ring: each member that no longer
 * replicates some ranges drops its copies of them (a major compaction
 * keeping only the ranges it replicates now: `cleanup`), so they cannot come
 * back later. Best effort per member: one that does not answer keeps the
 * copies (no read asks it for them). One node at a time; the change waits
 * CLEANUP_WAIT_MS at most, and the cleanups left then go on by themselves.
 */
async function cleanup(host: ChangeHost, after: ResolvedCluster, state: ChangeState): Promise<void> {
  const ring = Ring.fromTokens(state.after);
  const dropping = new Set(planChange(Ring.fromTokens(state.before), after.replication.dcs, state.change).drops.map((d) => d.member));
  const running = new Set<string>();
  // One node at a time: a cleanup merges every table of its node, and the cluster keeps serving meanwhile.
  const cleanups = (async () => {
    for (const n of after.nodes.filter((node) => dropping.has(node.member) && host.reachable(node.member))) {
      running.add(n.member);
      const keep = rangesOf(ring, after.replication.dcs, n.member);
      await host.ask(n.member, COMPACTION_ACTOR_ID, { type: 'cleanup', keep }, CLEANUP_TIMEOUT_MS).catch((err: unknown) => {
        host.log('warn', 'cleanup of moved copies failed; they stay (no read asks this node for them)', { node: n.member, error: String(err) });
      });
      running.delete(n.member);
    }
  })();
  const waited = await Promise.race([cleanups.then(() => true), host.sleep(CLEANUP_WAIT_MS).then(() => false)]);
  if (!waited) host.log('info', 'cleanups still running; they finish on their nodes', { nodes: [...running] });
}

/** Tell each target to forget the change's transfers (best effort: a restarted one forgot them already). */
async function forgetTransfers(host: ChangeHost, state: ChangeState): Promise<void> {
  const all = [...state.transfers, ...(state.handoffs ?? [])];
  await Promise.all(
    [...new Set(all.map((t) => t.target))]
      .filter((target) => host.reachable(target))
      .map((target) => host.ask(target, TRANSFER_ACTOR_ID, { type: 'transfer-cancel', ids: all.filter((t) => t.target === target).map((t) => t.id) }, DRIVER_ASK_MS).catch(() => undefined)),
  );
}

/**
 * After the commit, a decommissioned member first hands off the hints it
 * holds for others, then stops. (Every member's handoff drops the hints it
 * holds for a member that left when it gets the committed ring view.)
 */
async function retire(host: ChangeHost, state: ChangeState): Promise<void> {
  const removed = state.removed!;
  if (state.change.kind !== 'decommission') return;
  if (host.reachable(removed)) await host.ask(removed, HANDOFF_ACTOR_ID, { type: 'replay-now' }, RING_UPDATE_TIMEOUT_MS).catch(() => undefined);
  await host.stopNode(removed);
}

/** Get `update` acknowledged by the coordinator and anti-entropy actor of every reachable member of either ring. */
async function broadcast(host: ChangeHost, state: ChangeState, update: RingUpdate): Promise<void> {
  const members = [...new Set([...state.before, ...state.after].map((m) => m.id))].filter((m) => m !== (state.change.kind === 'decommission' ? null : state.removed));
  const deadline = host.now() + RING_UPDATE_TIMEOUT_MS;
  let left = members;
  while (left.length > 0) {
    const results = await Promise.all(
      left.map(async (member) => {
        if (!host.reachable(member)) return true; // it gets the view when it restarts
        try {
          await host.ask(member, COORDINATOR_ACTOR_ID, update, DRIVER_ASK_MS);
          await host.ask(member, HANDOFF_ACTOR_ID, update, DRIVER_ASK_MS).catch(() => undefined); // a failed hint store answers nothing
          await host.ask(member, ANTI_ENTROPY_ACTOR_ID, update, DRIVER_ASK_MS).catch(() => undefined); // none when anti-entropy is off
          return true;
        } catch {
          return false;
        }
      }),
    );
    left = left.filter((_, i) => !results[i]);
    if (left.length === 0) return;
    if (host.now() > deadline) {
      host.log('warn', 'ring update not acknowledged yet; still trying', { version: update.version, members: left });
    }
    await host.sleep(TRANSFER_POLL_MS);
  }
}

/**
 * Start `transfers` on their targets and follow them until each is verified
 * (or, without `retry`, failed: a handoff from a replica that went down is
 * left to anti-entropy), restarting any whose target restarted or that
 * failed, from where it was. Differences older than `lateAfterMs` keep a
 * transfer from verifying (`actors/transfer.ts`).
 */
async function stream(host: ChangeHost, state: ChangeState, transfers: SavedTransfer[], lateAfterMs: number | null, retry: boolean): Promise<void> {
  let polls = 0;
  for (;;) {
    const byTarget = new Map<string, SavedTransfer[]>();
    for (const t of transfers) {
      if (t.state === 'verified' || (!retry && t.state === 'failed')) continue;
      let list = byTarget.get(t.target);
      if (list === undefined) byTarget.set(t.target, (list = []));
      list.push(t);
    }
    if (byTarget.size === 0) return;
    await Promise.all(
      [...byTarget].map(async ([target, transfers]) => {
        if (!host.reachable(target)) return;
        let progress: TransferProgress[];
        try {
          progress = await host.ask<TransferProgress[]>(target, TRANSFER_ACTOR_ID, { type: 'transfer-progress' }, DRIVER_ASK_MS);
        } catch {
          return; // its target is busy or restarting: next poll
        }
        const known = new Map(progress.map((p) => [p.id, p]));
        const restart: TransferSpec[] = [];
        for (const t of transfers) {
          const p = known.get(t.id);
          if (p !== undefined) note(t, p, host.now());
          // Unknown to its target (it restarted, or never got it) or failed: (re)start it from where it was.
          if (p === undefined || (retry && p.state === 'failed')) restart.push(specOf(t, lateAfterMs!));
          else if (p.state === 'failed') host.log('warn', 'handoff of a dropped range failed; anti-entropy carries what it missed', { id: t.id, error: p.error ?? '' });
        }
        if (restart.length > 0) {
          await host.ask(target, TRANSFER_ACTOR_ID, { type: 'transfer-start', transfers: restart }, DRIVER_ASK_MS).catch(() => undefined);
          for (const t of transfers) if (restart.some((s) => s.id === t.id) && t.state !== 'not started') host.log('info', 'transfer resumed', { id: t.id, target, from: t.resume?.cursor ?? 'the start' });
        }
      }),
    );
    if (++polls % SAVE_EVERY_POLLS === 0) await host.save(state);
    await host.sleep(TRANSFER_POLL_MS);
  }
}

/** Weight of the newest look in the moving average of a transfer's rate. */
const RATE_SMOOTHING = 0.3;

function note(t: SavedTransfer, p: TransferProgress, now_ms: number): void {
  const elapsed_ms = now_ms - t.seen_ms;
  if (elapsed_ms > 0 && p.bytes >= t.bytes) t.bytesPerSecond = t.bytesPerSecond * (1 - RATE_SMOOTHING) + ((p.bytes - t.bytes) / elapsed_ms) * 1000 * RATE_SMOOTHING;
  t.seen_ms = now_ms;
  t.state = p.state;
  t.keysFetched = p.keysFetched;
  t.bytes = p.bytes;
  t.resume = { sourceIndex: p.sourceIndex, pass: p.pass, cursor: p.cursor === null ? null : Buffer.from(p.cursor).toString('hex'), verifiedWith: [...p.verifiedWith] };
  if (p.error !== undefined) t.error = p.error;
  else delete t.error;
}

function specOf(t: SavedTransfer, lateAfterMs: number): TransferSpec {
  assert(t.sources.length > 0, 'a transfer has a source');
  return {
    id: t.id,
    sources: t.sources,
    syncWith: t.syncWith,
    ranges: t.ranges,
    lateAfterMs,
    ...(t.resume !== null ? { resume: { ...t.resume, cursor: t.resume.cursor === null ? null : new Uint8Array(Buffer.from(t.resume.cursor, 'hex')) } } : {}),
  };
}
