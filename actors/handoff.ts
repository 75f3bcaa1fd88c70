/**
 * The hinted-handoff actor (Dynamo 2007, section 4.6), one per node, id
 * 'handoff'. A coordinator that could not reach a key's owner writes to a
 * substitute node with a hint naming the owner; this actor on the substitute
 * keeps the hint durably and, once the owner is seen alive, replays it to the
 * owner's replica and deletes it.
 *
 * - `hint` (ask): store it; reply `true` once the add is durable, or the
 *   store's error (`OverloadedError` when full) so the coordinator counts one
 *   acknowledgement fewer. At most HINT_ADDS_IN_FLIGHT_MAX adds wait for their
 *   commit; past that, hints are refused at once.
 * - `liveness` (from the node's failure detector): `alive` replays to that
 *   owner now; `suspect`, `down`, `left` pause replay to it. Gating and
 *   backoff are `HintReplaySchedule` (src/core).
 * - `replay-tick` (own timer, every interval_ms): one round per due owner
 *   with hints and no round in flight, and one bounded `expire()`. A round
 *   sends up to HINT_REPLAY_BATCH hints in insertion order, one at a time, as
 *   `merge` asks to the owner's replica; acknowledged hints are deleted in one
 *   batch; the first failure ends the round and backs the owner off.
 * - `replay-now` (ask): a round now, ignoring backoff (not a pause); replies
 *   the hints delivered in it. `hints-pending` and `stats` (asks) report.
 *
 * The store is `args.storage` when given (simulator, tests: never closed
 * here, its owner keeps it across simulated crashes) or an LMDB `HintStore`
 * at `args.dir`, opened in `started` and closed in `stopped`; a successor
 * after a supervised restart waits for that close before reopening.
 *
 * Thread contract: one instance on its node's thread; state is private.
 */
import { assert, assertNever } from '../src/core/assert.js';
import { CorruptionError, OverloadedError } from '../src/core/errors.js';
import { HintReplaySchedule } from '../src/core/hint_replay_schedule.js';
import {
  HINT_ADDS_IN_FLIGHT_MAX,
  HINT_REPLAY_ASK_TIMEOUT_MS,
  HINT_REPLAY_BATCH,
  HINT_REPLAY_INTERVAL_MS,
} from '../src/core/limits.js';
import type { Actor, ActorContext, Replier } from '../src/runtime/actor.js';
import type { HintStorage } from '../storage/hint_storage.js';
import { HintStore } from '../storage/hint_store.js';
import type { Version } from '../storage/version.js';
import type { LivenessMsg } from './failure_detector.js';
import { replicaRef } from './member_refs.js';
import type { RingUpdate } from './ring_view.js';

/** Messages the handoff actor understands. */
export type HandoffMsg =
  /** Ask from a coordinator: keep `versions` of `key` for `owner` → `true`, or an error (OverloadedError when full). */
  | { type: 'hint'; owner: string; key: Uint8Array; versions: Version[] }
  /** From the node's failure detector: a liveness change. */
  | LivenessMsg
  /** Timer: replay to due owners and expire old hints. */
  | { type: 'replay-tick' }
  /** Ask → `HintsPending`. */
  | { type: 'hints-pending' }
  /** Ask: a round now for `owner` (or every owner not paused) → hints delivered in it. */
  | { type: 'replay-now'; owner?: string }
  /** Ask → `HandoffStats`. */
  | { type: 'stats' }
  /**
   * Ask → true: a membership change's ring view (issue 16). Hints for a
   * member on neither its ring nor its pending one (removed, replaced or
   * decommissioned) can never be delivered, and the keys they hold reached
   * their new replicas (writes during a change go to both): they are
   * dropped, now and at every tick after (a write in flight at the change
   * may still leave one).
   */
  | RingUpdate
  /** Sent to itself when the store failed to open: crashing lets supervision retry. */
  | { type: 'open-failed'; error: string };

/** Drop every hint held for `owner`; how many. */
async function forget(store: HintStorage, owner: string): Promise<number> {
  let dropped = 0;
  while (store.count(owner) > 0) {
    const batch = store.iterate(owner, HINT_REPLAY_BATCH);
    if (batch.hints.length === 0) break;
    dropped += await store.delete(owner, batch.hints.map((h) => h.id));
  }
  return dropped;
}

/** How to spawn a handoff actor. */
export interface HandoffArgs {
  /** This node's member id (`memberId(thread)`). */
  self: string;
  /** Real runtime: directory of the LMDB hint store (created if missing). */
  dir?: string;
  /** Simulator and tests: the store to use (takes precedence over `dir`; never closed here). */
  storage?: HintStorage;
  /** Replay tick period. Default HINT_REPLAY_INTERVAL_MS. */
  interval_ms?: number;
  /** Deadline of one replayed hint's `merge` ask. Default HINT_REPLAY_ASK_TIMEOUT_MS. */
  ask_timeout_ms?: number;
  /** The members of the ring view it starts with, and that view's number (issue 16); unknown by default: no hint is dropped for its owner. */
  members?: string[];
  ring_version?: number;
}

/** Answer to `hints-pending`. */
export interface HintsPending {
  /** Hints stored, all owners. */
  total: number;
  /** Their key plus value bytes. */
  bytes: number;
  /** Hints stored per owner with at least one. */
  byOwner: Record<string, number>;
}

/** Answer to `stats`: counters since this instance started. */
export interface HandoffStats {
  /** Hints added. */
  stored: number;
  /** Hints acknowledged by their owner (and deleted). */
  delivered: number;
  /** Hints refused with OverloadedError (store full, or too many adds in flight). */
  refused: number;
  /** Hints purged past their maximum age. */
  expired: number;
  /** Rounds ended by a failed or timed-out `merge`. */
  failedRounds: number;
}

/** LMDB stores still closing per directory, so a successor never opens one being closed. */
const closingDirs = new Map<string, Promise<void>>();

class Handoff implements Actor<HandoffMsg> {
  /** The store, once open. */
  private ready: Promise<HintStorage> | undefined;
  /** Pause and backoff per owner. */
  private readonly schedule = new HintReplaySchedule();
  /** The round in flight per owner (at most one each). */
  private readonly rounds = new Map<string, Promise<number>>();
  /** Adds waiting for their commit (bounded by HINT_ADDS_IN_FLIGHT_MAX). */
  private addsInFlight = 0;
  /** True while an `expire()` runs (one at a time). */
  private expiring = false;
  private readonly counters: HandoffStats = { stored: 0, delivered: 0, refused: 0, expired: 0, failedRounds: 0 };
  private readonly interval_ms: number;
  private readonly ask_timeout_ms: number;

  /** Members of the latest ring view (ring and pending), or null when not told: hints of others are dropped. */
  private members: Set<string> | null;
  private ringVersion: number;

  constructor(private readonly args: HandoffArgs) {
    this.members = args.members === undefined ? null : new Set(args.members);
    this.ringVersion = args.ring_version ?? 0;
    this.interval_ms = args.interval_ms ?? HINT_REPLAY_INTERVAL_MS;
    this.ask_timeout_ms = args.ask_timeout_ms ?? HINT_REPLAY_ASK_TIMEOUT_MS;
    assert(this.interval_ms > 0 && this.ask_timeout_ms > 0, 'handoff intervals are positive');
    assert(args.storage !== undefined || args.dir !== undefined, 'a handoff actor needs a storage or a dir');
  }

  started(ctx: ActorContext<HandoffMsg>): void {
    const { storage, dir } = this.args;
    if (storage !== undefined) this.ready = Promise.resolve(storage);
    else {
      assert(dir !== undefined, 'checked in the constructor');
      const previousClose = closingDirs.get(dir) ?? Promise.resolve();
      this.ready = previousClose.then(() => new HintStore({ dir, now: () => ctx.now() }));
      // Handled here, or an open failure with no message waiting would be an unhandled rejection.
      this.ready.catch((err: unknown) => ctx.send(ctx.self, { type: 'open-failed', error: String(err) }));
    }
    ctx.schedule(this.interval_ms, { type: 'replay-tick' });
  }

  receive(msg: HandoffMsg, ctx: ActorContext<HandoffMsg>): Promise<void> | void {
    switch (msg.type) {
      case 'hint':
        return this.hint(msg.owner, msg.key, msg.versions, ctx);
      case 'liveness':
        if (msg.member === this.args.self || !this.schedule.liveness(msg.member, msg.status)) return;
        return this.withStore(ctx.replier(), async (store) => {
          if (store.count(msg.member) > 0) await this.replay(msg.member, store, ctx);
        });
      case 'replay-tick':
        ctx.schedule(this.interval_ms, { type: 'replay-tick' });
        return this.withStore(undefined, (store) => this.tick(store, ctx));
      case 'hints-pending': {
        const replier = ctx.replier();
        return this.withStore(replier, async (store) => replier?.ok(pending(store)));
      }
      case 'replay-now': {
        const replier = ctx.replier();
        return this.withStore(replier, async (store) => replier?.ok(await this.replayNow(msg.owner, store, ctx)));
      }
      case 'stats':
        ctx.reply({ ...this.counters });
        return;
      case 'ring-update': {
        const replier = ctx.replier();
        if (msg.version <= this.ringVersion) return replier?.ok(true);
        this.ringVersion = msg.version;
        this.members = new Set([...msg.ring, ...(msg.pending ?? [])].map((m) => m.id));
        return this.withStore(replier, async (store) => {
          await this.forgetLeft(store, ctx);
          replier?.ok(true);
        });
      }
      case 'open-failed':
        throw new Error(`hint store at ${this.args.dir} failed to open: ${msg.error}`);
      default:
        assertNever(msg);
    }
  }

  /** A crash: close the LMDB environment (it commits only what lmdb-js already queued) and nothing else. */
  async crashed(): Promise<void> {
    if (this.ready === undefined || this.args.storage !== undefined) return;
    await this.ready.then((store) => store.close()).catch(() => undefined);
  }

  stopped(): void {
    const { ready, args } = this;
    if (ready === undefined || args.storage !== undefined || args.dir === undefined) return;
    const dir = args.dir;
    const closed = ready.then((store) => store.close()).catch(() => undefined);
    closingDirs.set(dir, closed);
    void closed.then(() => {
      if (closingDirs.get(dir) === closed) closingDirs.delete(dir);
    });
  }

  // -------------------------------------------------------------------------
  // Taking hints
  // -------------------------------------------------------------------------

  /** Add one hint; answer its asker when the add has resolved. */
  private hint(owner: string, key: Uint8Array, versions: Version[], ctx: ActorContext<HandoffMsg>): Promise<void> | void {
    assert(owner !== this.args.self, `a node never holds hints for itself (${owner})`);
    const replier = ctx.replier();
    if (this.addsInFlight >= HINT_ADDS_IN_FLIGHT_MAX) {
      this.counters.refused += 1;
      const err = new OverloadedError(
        `hint adds in flight at ${this.args.self} (${HINT_ADDS_IN_FLIGHT_MAX}, HINT_ADDS_IN_FLIGHT_MAX): count this write as not acknowledged by a hint`,
      );
      if (replier) replier.fail(err);
      else ctx.log.warn('hint refused: too many adds in flight', { owner });
      return;
    }
    this.addsInFlight += 1;
    return this.withStore(replier, async (store) => {
      try {
        await store.add(owner, key, versions);
        this.counters.stored += 1;
        replier?.ok(true);
      } catch (err) {
        if (!(err instanceof OverloadedError)) throw err;
        // Expected under load: the coordinator is told, nothing is wrong with this actor.
        this.counters.refused += 1;
        if (replier) replier.fail(err);
        else ctx.log.warn('hint refused: store full', { owner, error: err.message });
      } finally {
        this.addsInFlight -= 1;
      }
    });
  }

  // -------------------------------------------------------------------------
  // Replaying hints
  // -------------------------------------------------------------------------

  /** Drop the hints of owners that left the ring (see `ring-update`). */
  private async forgetLeft(store: HintStorage, ctx: ActorContext<HandoffMsg>): Promise<void> {
    const members = this.members;
    if (members === null) return;
    for (const owner of store.owners()) {
      if (members.has(owner)) continue;
      const dropped = await forget(store, owner);
      if (dropped > 0) ctx.log.info('hints for a member that left the ring dropped', { owner, dropped });
    }
  }

  /** One tick: hints of members that left dropped, a round for each due owner, and one bounded expiry pass. */
  private async tick(store: HintStorage, ctx: ActorContext<HandoffMsg>): Promise<void> {
    await this.forgetLeft(store, ctx);
    const now_ms = ctx.now();
    const started: Promise<number>[] = [];
    for (const owner of store.owners()) {
      if (!this.rounds.has(owner) && this.schedule.due(owner, now_ms)) started.push(this.replay(owner, store, ctx));
    }
    if (!this.expiring && store.totalCount() > 0) started.push(this.expire(store));
    await Promise.all(started);
  }

  /** `replay-now`: a round for `owner` (or every owner not paused), ignoring backoff; the hints delivered. */
  private async replayNow(owner: string | undefined, store: HintStorage, ctx: ActorContext<HandoffMsg>): Promise<number> {
    const owners = owner === undefined ? store.owners() : [owner];
    const delivered = await Promise.all(owners.filter((o) => !this.schedule.isPaused(o)).map((o) => this.replay(o, store, ctx)));
    return delivered.reduce((sum, n) => sum + n, 0);
  }

  /** Start a round for `owner`, or join the one in flight; resolves to the hints it delivered. */
  private replay(owner: string, store: HintStorage, ctx: ActorContext<HandoffMsg>): Promise<number> {
    assert(owner !== this.args.self, 'a node holds no hints for itself');
    const running = this.rounds.get(owner);
    if (running !== undefined) return running;
    const round = this.round(owner, store, ctx).finally(() => this.rounds.delete(owner));
    this.rounds.set(owner, round);
    return round;
  }

  /**
   * One round: up to HINT_REPLAY_BATCH hints of `owner`, in insertion order,
   * each awaited before the next; stops at the first failure or when `owner`
   * is paused. Deletes what was acknowledged in one batch.
   */
  private async round(owner: string, store: HintStorage, ctx: ActorContext<HandoffMsg>): Promise<number> {
    const token = this.schedule.roundToken(owner);
    let batch;
    try {
      batch = store.iterate(owner, HINT_REPLAY_BATCH);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      const dropped = await store.dropCorrupt(owner);
      ctx.log.error('corrupt hints dropped; read repair and anti-entropy restore their data', { owner, dropped, error: err.message });
      return 0;
    }
    const acked: number[] = [];
    /** Hints dropped because every version they held was older than the TTL (not counted as delivered). */
    let stale = 0;
    let failure: string | undefined;
    for (const hint of batch.hints) {
      if (this.schedule.isPaused(owner)) break;
      // A hint never delivers a version written more than the hint TTL ago, whenever the hint was
      // stored: a tombstone purge relies on it (grace >= hint TTL). A hint stored late for an old
      // write (its coordinator's ask to a slow owner timed out after a delete of the key was minted)
      // would otherwise bring the value back once every owner purged the confirmed tombstone
      // (campaign seed 6169, periodic sync). Such a version is left to read repair, like an expired hint.
      const versions = hint.versions.filter((v) => ctx.now() - v.ts_ms <= store.max_age_ms);
      if (versions.length === 0) {
        acked.push(hint.id);
        stale += 1;
        continue;
      }
      try {
        const reply = await ctx.ask(replicaRef(owner), { type: 'merge', key: hint.key, versions }, this.ask_timeout_ms);
        if (reply !== true) failure = `replica answered ${String(reply)} to merge`;
      } catch (err) {
        failure = String(err);
      }
      if (failure !== undefined) break;
      acked.push(hint.id);
    }
    if (acked.length > 0) await store.delete(owner, acked);
    this.counters.delivered += acked.length - stale;
    if (failure !== undefined) {
      this.counters.failedRounds += 1;
      const delay_ms = this.schedule.failed(owner, token, ctx.now(), ctx.random());
      ctx.log.warn(delay_ms === null ? 'hint replay failed before the owner came back; retrying' : 'hint replay failed; backing off', {
        owner,
        delivered: acked.length,
        delay_ms,
        error: failure,
      });
    } else if (acked.length > 0) this.schedule.succeeded(owner);
    return acked.length;
  }

  /** One bounded `expire()` pass. */
  private async expire(store: HintStorage): Promise<number> {
    this.expiring = true;
    try {
      const { purged } = await store.expire();
      this.counters.expired += purged;
      return purged;
    } finally {
      this.expiring = false;
    }
  }

  // -------------------------------------------------------------------------
  // Helpers
  // -------------------------------------------------------------------------

  /**
   * Run `work` once the store is open. A failure is answered to the asker
   * when there is one; with nobody to tell, it crashes the actor.
   */
  private withStore(replier: Replier | undefined, work: (store: HintStorage) => Promise<unknown>): Promise<void> {
    const ready = this.ready;
    assert(ready !== undefined, 'started() runs before the first message');
    return ready.then(work).then(
      () => undefined,
      (err: unknown) => {
        if (replier) replier.fail(err);
        else throw err;
      },
    );
  }
}

/** The `hints-pending` answer. */
function pending(store: HintStorage): HintsPending {
  const byOwner: Record<string, number> = {};
  for (const owner of store.owners()) byOwner[owner] = store.count(owner);
  return { total: store.totalCount(), bytes: store.totalBytes(), byOwner };
}

/** Build a handoff actor (exported for the simulator and tests). */
export function handoff(args: HandoffArgs): Actor<HandoffMsg> {
  return new Handoff(args);
}

export const actorKinds = {
  handoff: (args: unknown) => handoff(args as HandoffArgs),
};
