/**
 * The anti-entropy actor (issue 15): one per node. It keeps a hash tree
 * (`src/core/merkle_tree.ts`) of every replica group the node belongs to
 * (`src/core/replica_groups.ts`: the keys one set of members replicates),
 * and now and then compares one group's tree with a peer of that group
 * (`src/core/ae_exchange.ts`), fetching from the peer what the node lacks
 * while the peer does the same. What read repair and hinted handoff miss
 * (a crash that lost unsynced writes, an expired hint, a long partition,
 * a table lost to bit rot) is found and repaired here.
 *
 * Trees: built from a scan of the replica when the actor starts, then kept
 * in step by the replica's `ae-changes` for every write (`tree_feed.ts` says
 * how a rebuild and the writes during it meet). Rebuilt again on a slow
 * schedule, offset per node at random, and at once when the replica lost
 * data without a write (`ae-damaged`: a quarantined table, a cut commit-log
 * tail), so a tree never vouches for what the disk no longer holds; the
 * exchanges that follow fetch it back from the peers. A compaction that
 * purges a confirmed tombstone tells no tree; exchanges that keep finding
 * trees different and nothing to fetch (`drifted`) start a rebuild.
 *
 * Exchanges (`exchange_run.ts` runs one side): at most one started by this
 * node at a time, every `intervalMs`, with the (group, peer) pair whose last
 * successful exchange is oldest, skipping peers held down; peers may start
 * others, up to AE_EXCHANGES_CONCURRENT_MAX in all. Throttled: exchanges
 * and fetches share a budget of `bytesPerSecond`; neither side starts one
 * while its thread is overloaded (its tick fires AE_OVERLOAD_LAG_MS late).
 * An exchange that reaches the leaves scans the store to list its group's
 * keys; after a scan the node waits (AE_SCAN_TIME_SHARE_MAX) before it
 * starts another, so listing keys takes a bounded share of its time.
 * `ae-repair` starts a pass over every pair at once (the byte budget still
 * applies, the scan pause does not) and `ae-progress` reports it.
 *
 * Tombstones: a delete an owner missed reaches it by an exchange (or a
 * hint) with nobody reading the key after, so the coordinator's
 * confirmation round (issue 12) never ran for it and it would never be
 * purged. The actor runs that round (`tombstone_confirmation.ts`: every
 * owner must hold it durably) for each all-tombstone key an exchange
 * repairs, and for each unconfirmed all-tombstone key its rebuild scan
 * meets.
 *
 * Thread contract: one per node, on the node's thread; talks to its own
 * replica, and to the anti-entropy actors and replicas of its peers.
 */
import { assert, assertNever } from '../src/core/assert.js';
import type { AeMessage } from '../src/core/ae_messages.js';
import type { AeResult } from '../src/core/ae_exchange.js';
import {
  AE_BYTES_PER_SECOND_MAX,
  AE_DRIFT_STRIKES_REBUILD,
  AE_EXCHANGE_IDLE_MS,
  AE_EXCHANGE_INTERVAL_MS,
  AE_EXCHANGES_CONCURRENT_MAX,
  AE_LEAF_BITS_DEFAULT,
  AE_OVERLOAD_LAG_MS,
  AE_REBUILD_INTERVAL_MS,
  AE_SCAN_TIME_SHARE_MAX,
} from '../src/core/limits.js';
import { MerkleTree } from '../src/core/merkle_tree.js';
import { ReplicaGroups, type ReplicaGroup } from '../src/core/replica_groups.js';
import { Ring } from '../src/core/ring.js';
import { treeDigestOf } from '../src/core/sibling_digest.js';
import type { Actor, ActorContext, ActorRef, Message, TimerHandle } from '../src/runtime/actor.js';
import type { Version } from '../storage/version.js';
import type { TreeScanPage } from './replica.js';
import { HeldDown } from './held_down.js';
import { TombstoneConfirmation } from './tombstone_confirmation.js';
import { ExchangeRun, type ExchangeHost } from './exchange_run.js';
import { antiEntropyRef, REPLICA_ACTOR_ID } from './member_refs.js';
import type { TreeChange } from './tree_feed.js';
import { RingView, type RingUpdate } from './ring_view.js';
import type { AntiEntropyArgs, AntiEntropyMsg, AntiEntropyStats, KeyExchanges, PairExchange, RepairProgress } from './anti_entropy_messages.js';
import { ByteBudget } from '../src/core/byte_budget.js';

export type { AntiEntropyArgs, AntiEntropyMsg, AntiEntropyStats, KeyExchanges, PairExchange, RepairProgress } from './anti_entropy_messages.js';

/** A rebuild in progress: fresh trees filled from `tree-scan` pages and the changes the feed tells. */
interface Rebuild {
  epoch: number;
  trees: Map<string, MerkleTree>;
}

/** Last exchange of one (group, peer) pair. */
interface PairState {
  lastSuccessAt: number | null;
  lastOutcome: AeResult['outcome'] | null;
}

class AntiEntropy implements Actor<AntiEntropyMsg>, ExchangeHost {
  private ctx!: ActorContext<AntiEntropyMsg>;
  private groups: ReplicaGroups;
  private mine: ReplicaGroup[];
  /** The ring view (the groups come from its current ring; tombstones are confirmed with every holder of a key). */
  private readonly view: RingView;
  /** Its current ring as text, to tell a new one from a new pending or previous one. */
  private ringText: string;
  private readonly leafBits: number;
  private readonly intervalMs: number;
  private readonly down: HeldDown;
  /** Live trees, by group id, and the epoch their changes carry; null until the first rebuild ends. */
  private trees: Map<string, MerkleTree> | null = null;
  private treesEpoch = 0;
  private rebuild: Rebuild | null = null;
  private readonly pairs = new Map<string, PairState>();
  private readonly runs = new Map<number, ExchangeRun>();
  budget!: ByteBudget;
  private startedAt = 0;
  private overloaded = false;
  private tickTimer: TimerHandle | undefined;
  private pass: { n: number; pending: Set<string>; total: number; keysRepaired: number } = { n: 0, pending: new Set(), total: 0, keysRepaired: 0 };
  private readonly counts: AntiEntropyStats['exchanges'] = { 'in-sync': 0, diverged: 0, 'full-sync': 0, aborted: 0 };
  private keysRepaired = 0;
  bytesSent = 0;
  bytesFetched = 0;
  private rebuilds = 0;
  private overloadedSkips = 0;
  /** Per (group, peer) pair, exchanges in a row that found the trees differing and nothing to fetch (`drifted`). */
  private readonly driftStrikes = new Map<string, number>();
  /** No exchange starts before this (after a key listing scan: AE_SCAN_TIME_SHARE_MAX), except in a repair pass. */
  private scanPauseUntil = 0;
  /** Runs sleeping for the byte budget, by wake id. */
  private readonly wakes = new Map<number, () => void>();
  private nextWake = 1;
  /** The tombstone confirmation round (issue 12), run for tombstones exchanges carry and rebuilds find unconfirmed. */
  private readonly confirmer = new TombstoneConfirmation(AE_EXCHANGE_IDLE_MS);

  constructor(private readonly args: AntiEntropyArgs) {
    this.groups = new ReplicaGroups(Ring.fromTokens(args.ring), args.dcs);
    this.mine = this.groups.groupsOf(args.self);
    this.view = new RingView(args.ring, args.pendingRing ?? null, args.ringVersion ?? 0, args.previousRing ?? null);
    this.ringText = JSON.stringify(args.ring);
    this.leafBits = args.leafBits ?? AE_LEAF_BITS_DEFAULT;
    this.intervalMs = args.intervalMs ?? AE_EXCHANGE_INTERVAL_MS;
    this.down = new HeldDown(args.self);
    this.notePairs();
  }

  /** A pair for every (group, peer) of this node's groups, keeping the state of pairs that remain. */
  private notePairs(): void {
    const before = new Map(this.pairs);
    this.pairs.clear();
    for (const group of this.mine) {
      for (const peer of group.members) {
        const key = pairKey(group.id, peer);
        if (peer !== this.args.self) this.pairs.set(key, before.get(key) ?? { lastSuccessAt: null, lastOutcome: null });
      }
    }
  }

  /**
   * A membership change's ring view (issue 16). Only the current ring
   * places keys in groups: a pending one changes nothing here (the change
   * streams its ranges itself). A new current ring regroups the keys, so
   * the trees are rebuilt and a repair pass narrows to the pairs that remain.
   */
  private ringUpdate(update: RingUpdate): void {
    if (!this.view.apply(update)) return;
    const text = JSON.stringify(update.ring);
    if (text === this.ringText) return;
    this.ringText = text;
    this.groups = new ReplicaGroups(Ring.fromTokens(update.ring), this.args.dcs);
    this.mine = this.groups.groupsOf(this.args.self);
    this.notePairs();
    for (const key of [...this.pass.pending]) if (!this.pairs.has(key)) this.pass.pending.delete(key);
    this.ctx.log.info('ring changed: regrouping keys and rebuilding the hash trees', { version: update.version, groups: this.mine.length });
    this.startRebuild();
  }

  started(ctx: ActorContext<AntiEntropyMsg>): void {
    this.ctx = ctx;
    this.startedAt = ctx.now();
    this.budget = new ByteBudget(this.args.bytesPerSecond ?? AE_BYTES_PER_SECOND_MAX, ctx.now());
    this.startRebuild();
    // The first exchange waits a random part of an interval, so nodes started together do not exchange in lockstep.
    this.scheduleTick(this.intervalMs * (0.5 + ctx.random()));
    const rebuildEvery = this.args.rebuildIntervalMs ?? AE_REBUILD_INTERVAL_MS;
    ctx.schedule(rebuildEvery * (0.5 + ctx.random()), { type: 'ae-rebuild-tick' });
  }

  receive(msg: AntiEntropyMsg, ctx: ActorContext<AntiEntropyMsg>): void {
    switch (msg.type) {
      case 'ae-changes':
        this.changed(msg.epoch, msg.changes);
        return;
      case 'ae-damaged':
        ctx.log.warn('replica lost data without a write: rebuilding the hash trees, then exchanging every group');
        for (const state of this.pairs.values()) state.lastSuccessAt = null;
        this.startRebuild();
        return;
      case 'liveness':
        this.down.apply(msg);
        return;
      case 'ae-tick':
        this.tick(msg.due_ms);
        return;
      case 'ae-wake': {
        const wake = this.wakes.get(msg.id);
        this.wakes.delete(msg.id);
        wake?.();
        return;
      }
      case 'ae-rebuild-retry':
        if (this.rebuild === null) this.startRebuild();
        return;
      case 'ae-rebuild-tick':
        if (this.rebuild === null) this.startRebuild();
        ctx.schedule(this.args.rebuildIntervalMs ?? AE_REBUILD_INTERVAL_MS, { type: 'ae-rebuild-tick' });
        return;
      case 'ae-peer':
        this.fromPeer(msg.from, msg.group, msg.msg);
        return;
      case 'ae-repair':
        if (this.pass.pending.size === 0) this.startPass();
        ctx.reply(this.progress());
        this.startNext();
        return;
      case 'ae-progress':
        ctx.reply(this.progress());
        return;
      case 'ae-key':
        ctx.reply(this.keyExchanges(msg.key));
        return;
      case 'stats':
        ctx.reply(this.stats());
        return;
      case 'ring-update':
        this.ringUpdate(msg);
        ctx.reply(true);
        return;
      default:
        assertNever(msg);
    }
  }

  stopped(): void {
    this.tickTimer?.cancel();
  }

  // --- ExchangeHost: what a run needs from the actor ---

  get now(): number {
    return this.ctx.now();
  }

  sendToPeer(peer: string, group: string, msg: AeMessage): void {
    this.ctx.send(antiEntropyRef(peer), { type: 'ae-peer', from: this.args.self, group, msg });
  }

  ask<R>(to: ActorRef, msg: Message, timeout_ms: number): Promise<R> {
    return this.ctx.ask<R>(to, msg, timeout_ms);
  }

  sleep(ms: number): Promise<void> {
    const id = this.nextWake++;
    return new Promise<void>((resolve) => {
      this.wakes.set(id, resolve);
      this.ctx.schedule(ms, { type: 'ae-wake', id });
    });
  }

  get replica(): ActorRef {
    return { thread: this.ctx.self.thread, id: REPLICA_ACTOR_ID };
  }

  groupOf(key: Uint8Array): string {
    return this.groups.groupOf(key).id;
  }

  repairedTombstones(key: Uint8Array, versions: readonly Version[]): void {
    if (versions.some((v) => v.purgeable !== true)) this.confirmer.afterDelete(key, this.view.holders(key, this.args.dcs, this.groups.groupOf(key).members), versions, this.ctx);
  }

  scanned(ms: number): void {
    this.scanPauseUntil = Math.max(this.scanPauseUntil, this.ctx.now() + ms * (1 / AE_SCAN_TIME_SHARE_MAX - 1));
  }

  finished(run: ExchangeRun, result: AeResult, keysRepaired: number): void {
    if (this.runs.get(run.id) !== run) return;
    this.runs.delete(run.id);
    this.counts[result.outcome]++;
    this.keysRepaired += keysRepaired;
    const key = pairKey(run.group, run.peer);
    const state = this.pairs.get(key);
    if (state !== undefined) {
      state.lastOutcome = result.outcome;
      if (result.outcome !== 'aborted') state.lastSuccessAt = this.ctx.now();
    }
    if (this.pass.pending.size > 0) {
      this.pass.keysRepaired += keysRepaired;
      if (result.outcome !== 'aborted') this.pass.pending.delete(key);
    }
    if (result.outcome === 'aborted') this.ctx.log.info('anti-entropy exchange aborted', { group: run.group, peer: run.peer, reason: result.reason });
    else if (keysRepaired > 0) this.ctx.log.info('anti-entropy repaired keys', { group: run.group, peer: run.peer, keys: keysRepaired, outcome: result.outcome });
    // A repair pass goes on at once, within the throttle; otherwise (or after a failure, which a quick retry would
    // likely meet again) the next tick starts the next exchange.
    if (this.drifted(key, result)) return;
    if (this.pass.pending.size > 0 && result.outcome !== 'aborted') this.startNext();
  }

  /**
   * Count exchanges of a (group, peer) pair whose trees differed while
   * neither side had a key to fetch: trees that disagree with their stores
   * (a purged confirmed tombstone, or a bug), on one side or the other.
   * Per pair, so exchanges with a third member whose trees drifted alike do
   * not reset the count. AE_DRIFT_STRIKES_REBUILD in a row start a rebuild
   * here (the peer counts its own); true when this one did.
   */
  private drifted(pair: string, result: AeResult): boolean {
    const noop = (result.outcome === 'diverged' || result.outcome === 'full-sync') && result.fetched === 0;
    if (!noop) {
      this.driftStrikes.delete(pair);
      return false;
    }
    const strikes = (this.driftStrikes.get(pair) ?? 0) + 1;
    if (strikes < AE_DRIFT_STRIKES_REBUILD) {
      this.driftStrikes.set(pair, strikes);
      return false;
    }
    this.driftStrikes.clear();
    this.ctx.log.info('hash trees differ from what the replicas hold, with nothing to fetch: rebuilding them', { pair: pair.replace('|', '>'), exchanges: strikes });
    this.startRebuild();
    return true;
  }

  // --- trees ---

  private startRebuild(): void {
    for (const run of this.runs.values()) run.abort('the hash trees are being rebuilt');
    const epoch = 1 + Math.floor(this.ctx.random() * 0x7ffffffe);
    const trees = new Map<string, MerkleTree>();
    for (const group of this.mine) trees.set(group.id, new MerkleTree(this.leafBits));
    const rebuild: Rebuild = { epoch, trees };
    this.rebuild = rebuild;
    this.rebuilds++;
    void this.scanInto(rebuild);
  }

  /** Fill `rebuild` from the replica, page by page; swap it in at the end. Another rebuild or a replica restart starts over. */
  private async scanInto(rebuild: Rebuild): Promise<void> {
    let from: Uint8Array | undefined;
    for (;;) {
      let page: TreeScanPage;
      try {
        page = await this.ctx.ask<TreeScanPage>(this.replica, { type: 'tree-scan', epoch: rebuild.epoch, ...(from !== undefined ? { from } : {}) }, AE_EXCHANGE_IDLE_MS);
      } catch (err) {
        if (this.rebuild !== rebuild) return;
        // The replica is failed or restarting: try again later, from the start.
        this.ctx.log.warn('hash tree rebuild could not read the replica; retrying', { error: String(err) });
        this.rebuild = null;
        this.ctx.schedule(this.intervalMs, { type: 'ae-rebuild-retry' });
        return;
      }
      if (this.rebuild !== rebuild) return;
      if (!page.followed) {
        this.startRebuild(); // the replica restarted mid-scan and no longer tells this rebuild's changes
        return;
      }
      for (const { key, versions } of page.entries) {
        const digest = treeDigestOf(versions);
        const group = this.groups.groupOf(key);
        const tree = rebuild.trees.get(group.id);
        if (digest === null || tree === undefined) continue;
        tree.update(key, null, digest);
        // A delete that settled without a confirmation (an owner got it late, from a hint or an exchange, and nobody
        // read the key since): confirm it now, so it can be purged. Bounded by the round's own in-flight limit.
        if (versions.every((v) => v.value === null) && versions.some((v) => v.purgeable !== true)) {
          this.confirmer.afterDelete(key, this.view.holders(key, this.args.dcs, group.members), versions, this.ctx);
        }
      }
      if (page.next === null) break;
      from = page.next;
    }
    this.rebuild = null;
    this.trees = rebuild.trees;
    this.treesEpoch = rebuild.epoch;
    if (this.pass.pending.size > 0) this.startNext();
  }

  private changed(epoch: number, changes: readonly TreeChange[]): void {
    const trees = this.rebuild !== null && epoch === this.rebuild.epoch ? this.rebuild.trees : epoch === this.treesEpoch ? this.trees : null;
    if (trees === null) return; // changes from before this rebuild: its scan reads the keys as they are now
    for (const { key, before, after } of changes) {
      // A key of a group not ours (it was written here directly, e.g. by a test) has no tree.
      trees.get(this.groups.groupOf(key).id)?.update(key, treeDigestOf(before), treeDigestOf(after));
    }
  }

  // --- exchanges ---

  private scheduleTick(delay_ms: number): void {
    this.tickTimer = this.ctx.schedule(delay_ms, { type: 'ae-tick', due_ms: this.ctx.now() + delay_ms });
  }

  private tick(due_ms: number): void {
    const now = this.ctx.now();
    this.overloaded = now - due_ms > AE_OVERLOAD_LAG_MS;
    for (const run of [...this.runs.values()]) if (now - run.lastHeard > AE_EXCHANGE_IDLE_MS) run.abort(`no message from ${run.peer} for ${AE_EXCHANGE_IDLE_MS} ms`);
    if (this.overloaded) this.overloadedSkips++;
    else this.startNext();
    this.scheduleTick(this.intervalMs);
  }

  /** Start an exchange with the pair that waited longest (repair-pass pairs first), if allowed now. */
  private startNext(): void {
    if (this.trees === null || this.rebuild !== null || this.overloaded) return;
    if (this.runs.size >= AE_EXCHANGES_CONCURRENT_MAX || [...this.runs.values()].some((r) => r.initiator)) return;
    if (!this.budget.available(this.ctx.now())) return;
    let best: { group: string; peer: string; at: number } | null = null;
    const inPass = this.pass.pending.size > 0;
    for (const [key, state] of this.pairs) {
      if (inPass && !this.pass.pending.has(key)) continue;
      const [group, peer] = splitPair(key);
      if (this.down.has(peer)) continue;
      const at = state.lastSuccessAt ?? -Infinity;
      if (best === null || at < best.at) best = { group, peer, at };
    }
    if (best === null) return;
    // An interval has to pass between exchanges of a pair, and scans keep to their share of the node's time, except
    // in a repair pass.
    if (!inPass && best.at !== -Infinity && this.ctx.now() - best.at < this.intervalMs) return;
    if (!inPass && this.ctx.now() < this.scanPauseUntil) return;
    const id = 1 + Math.floor(this.ctx.random() * 0x7ffffffe);
    const run = new ExchangeRun(this, id, best.group, best.peer, this.trees.get(best.group)!, true);
    this.runs.set(id, run);
    run.start();
  }

  private fromPeer(peer: string, groupId: string, msg: AeMessage): void {
    const run = this.runs.get(msg.exchange);
    if (run !== undefined) {
      if (run.peer === peer) run.receive(msg);
      return;
    }
    // Only an opening message starts an exchange here; anything else is late (an abandoned exchange).
    if (msg.type !== 'ae-labels' || msg.parentDepth !== 0 || msg.page !== 0) return;
    const refuse = (reason: string): void => this.sendToPeer(peer, groupId, { type: 'ae-done', exchange: msg.exchange, outcome: 'aborted', reason: `${this.args.self}: ${reason}` });
    const group = this.groups.group(groupId);
    if (group === undefined || !group.members.includes(this.args.self) || !group.members.includes(peer)) return refuse(`not a replica of group ${groupId}`);
    if (this.trees === null || this.rebuild !== null) return refuse('busy: rebuilding its hash trees');
    if (this.overloaded) return refuse('busy: overloaded');
    if (this.runs.size >= AE_EXCHANGES_CONCURRENT_MAX) return refuse(`busy: ${AE_EXCHANGES_CONCURRENT_MAX} exchanges running (AE_EXCHANGES_CONCURRENT_MAX)`);
    const responder = new ExchangeRun(this, msg.exchange, groupId, peer, this.trees.get(groupId)!, false);
    this.runs.set(msg.exchange, responder);
    responder.receive(msg);
  }

  // --- reports ---

  private startPass(): void {
    const pending = new Set(this.pairs.keys());
    this.pass = { n: this.pass.n + 1, pending, total: pending.size, keysRepaired: 0 };
  }

  private progress(): RepairProgress {
    const { n, pending, total, keysRepaired } = this.pass;
    return { pass: n, running: pending.size > 0, pairsTotal: total, pairsDone: total - pending.size, pending: [...pending].map((k) => k.replace('|', '>')), keysRepaired };
  }

  private keyExchanges(key: Uint8Array): KeyExchanges {
    const group = this.groups.groupOf(key);
    const now = this.ctx.now();
    const peers: PairExchange[] = [];
    for (const peer of group.members) {
      const state = this.pairs.get(pairKey(group.id, peer));
      if (state === undefined) continue;
      peers.push({ peer, lastSuccessAgeMs: state.lastSuccessAt === null ? null : now - state.lastSuccessAt, lastOutcome: state.lastOutcome });
    }
    return { group: group.id, treesReady: this.trees !== null, peers };
  }

  private stats(): AntiEntropyStats {
    const now = this.ctx.now();
    const outOfSync = new Set<string>();
    let oldest = 0;
    for (const [key, state] of this.pairs) {
      const [group] = splitPair(key);
      if (state.lastSuccessAt === null || state.lastOutcome !== 'in-sync') outOfSync.add(group);
      oldest = Math.max(oldest, now - (state.lastSuccessAt ?? this.startedAt));
    }
    let treeBytes = 0;
    let treeKeys = 0;
    for (const tree of this.trees?.values() ?? []) {
      treeBytes += tree.memoryBytes;
      treeKeys += tree.keys;
    }
    return {
      exchanges: { ...this.counts },
      keys_repaired: this.keysRepaired,
      bytes_sent: this.bytesSent,
      bytes_fetched: this.bytesFetched,
      groups: this.mine.length,
      groups_out_of_sync: outOfSync.size,
      oldest_exchange_age_ms: oldest,
      rebuilds: this.rebuilds,
      tree_bytes: treeBytes,
      tree_keys: treeKeys,
      trees_ready: this.trees !== null,
      overloaded_skips: this.overloadedSkips,
    };
  }
}

/** A (group, peer) pair as a map key. Group ids hold member ids and commas, never '|'. */
function pairKey(group: string, peer: string): string {
  return `${group}|${peer}`;
}

function splitPair(key: string): [group: string, peer: string] {
  const at = key.indexOf('|');
  assert(at > 0, 'a pair key is group|peer');
  return [key.slice(0, at), key.slice(at + 1)];
}

/** Build one (exported for the simulator and tests). */
export function antiEntropy(args: AntiEntropyArgs): Actor<AntiEntropyMsg> {
  return new AntiEntropy(args);
}

export const actorKinds = {
  'anti-entropy': (args: unknown) => antiEntropy(args as AntiEntropyArgs),
};

