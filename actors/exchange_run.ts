/**
 * One side of one anti-entropy exchange, run by the anti-entropy actor
 * (issue 15): the I/O around the pure `AeSession` (`src/core/ae_exchange.ts`).
 * It sends the session's messages to the peer's anti-entropy actor, answers
 * its storage queries, and fetches the keys it names from the peer's
 * replica into this node's (get-batch there, merge-batch here: merging
 * keeps siblings, drops dominated versions and carries tombstones, by the
 * same rules as every write).
 *
 * Queries ask for every (key, digest) this replica holds in some segments
 * of the group's tree. Segments are hash buckets, not key ranges, so the
 * answer needs a scan of the replica: done once per exchange, in pages
 * (other work runs between them), keeping only the group's keys, at most
 * AE_EXCHANGE_KEYS_MAX of them. Riak's exchanges pay the same scan
 * (fetch_clocks); a per-segment key index in the tables would remove it.
 *
 * Fetches go AE_FETCH_BATCH_KEYS keys at a time and wait for the byte
 * budget the actor shares among its exchanges. A fetch that fails ends the
 * exchange as aborted, so the pair is tried again soon.
 *
 * Thread contract: the anti-entropy actor's.
 */
import { AeSession, type AeResult, type AeStep, type EntriesQuery } from '../src/core/ae_exchange.js';
import { aeMessageBytes, type AeMessage } from '../src/core/ae_messages.js';
import type { ByteBudget } from '../src/core/byte_budget.js';
import type { Outcome } from '../src/core/errors.js';
import { AE_EXCHANGE_IDLE_MS, AE_EXCHANGE_KEYS_MAX, AE_FETCH_BATCH_KEYS } from '../src/core/limits.js';
import type { KeyDigest, MerkleTree } from '../src/core/merkle_tree.js';
import { treeDigestOf } from '../src/core/sibling_digest.js';
import type { ActorRef, Message } from '../src/runtime/actor.js';
import type { Version } from '../storage/version.js';
import { replicaRef } from './member_refs.js';
import type { MergeEntry, ScanPage } from './replica.js';

/** What a run needs from the actor that owns it. */
export interface ExchangeHost {
  readonly now: number;
  readonly budget: ByteBudget;
  bytesSent: number;
  bytesFetched: number;
  /** This node's replica. */
  readonly replica: ActorRef;
  sendToPeer(peer: string, group: string, msg: AeMessage): void;
  ask<R>(to: ActorRef, msg: Message, timeout_ms: number): Promise<R>;
  /** Resolves after `ms` (the actor's timer). */
  sleep(ms: number): Promise<void>;
  /** The replica group of `key`. */
  groupOf(key: Uint8Array): string;
  /**
   * `key` was repaired here with `versions` fetched, all tombstones: run the
   * tombstone confirmation round for them (the owner that missed the delete
   * holds it now, so every owner may).
   */
  repairedTombstones(key: Uint8Array, versions: readonly Version[]): void;
  /** The run ended (once). */
  finished(run: ExchangeRun, result: AeResult, keysRepaired: number): void;
  /** A scan of the store for the run's key listing took `ms`. */
  scanned(ms: number): void;
}

export class ExchangeRun {
  /** When the peer was last heard from, or a fetch last made progress. */
  lastHeard: number;
  private readonly session: AeSession;
  private result: AeResult | null = null;
  private index: Promise<Map<number, KeyDigest[]>> | null = null;
  private readonly fetchQueue: Uint8Array[] = [];
  private fetching = false;
  private fetchFailure: string | null = null;
  private keysRepaired = 0;
  private done = false;

  constructor(
    private readonly host: ExchangeHost,
    readonly id: number,
    readonly group: string,
    readonly peer: string,
    private readonly tree: MerkleTree,
    /** True when this node started the exchange. */
    readonly initiator: boolean,
  ) {
    this.session = new AeSession(tree, id);
    this.lastHeard = host.now;
  }

  start(): void {
    this.handle(this.session.start());
  }

  receive(msg: AeMessage): void {
    this.lastHeard = this.host.now;
    this.handle(this.session.receive(msg));
  }

  /** End the exchange here and tell the peer. */
  abort(reason: string): void {
    if (this.done) return;
    this.host.sendToPeer(this.peer, this.group, { type: 'ae-done', exchange: this.id, outcome: 'aborted', reason });
    this.finish({ outcome: 'aborted', reason, fetched: 0, messagesSent: 0, bytesSent: 0, entriesSent: 0 });
  }

  private handle(step: AeStep): void {
    if (this.done) return;
    for (const msg of step.send) {
      const bytes = aeMessageBytes(msg);
      this.host.bytesSent += bytes;
      this.host.budget.spend(bytes, this.host.now);
      this.host.sendToPeer(this.peer, this.group, msg);
    }
    if (step.fetch.length > 0) {
      this.fetchQueue.push(...step.fetch);
      void this.pumpFetches();
    }
    if (step.query !== null) this.answer(step.query);
    if (step.result !== null) {
      this.result = step.result;
      this.finishIfDone();
    }
  }

  private answer(query: EntriesQuery): void {
    this.segmentIndex().then(
      (index) => {
        if (this.done) return;
        const own: KeyDigest[] = [];
        const add = (segment: number): void => {
          const held = index.get(segment);
          if (held !== undefined) for (const e of held) own.push(e);
        };
        const segments = query.segments;
        if (segments.kind === 'list') for (const s of segments.segments) add(s);
        else for (let s = segments.from; s < segments.to; s++) add(s);
        this.handle(this.session.entries(query.id, own));
      },
      (err: unknown) => this.abort(`could not read this replica's keys: ${String(err)}`),
    );
  }

  /** Every (key, digest) of this group the replica holds, by segment: one paged scan per exchange. */
  private segmentIndex(): Promise<Map<number, KeyDigest[]>> {
    this.index ??= (async () => {
      const started = this.host.now;
      const index = new Map<number, KeyDigest[]>();
      let held = 0;
      let from: Uint8Array | undefined;
      for (;;) {
        const page = await this.host.ask<ScanPage>(this.host.replica, { type: 'scan', ...(from !== undefined ? { from } : {}) }, AE_EXCHANGE_IDLE_MS);
        if (this.done) return index;
        this.lastHeard = this.host.now;
        for (const { key, versions } of page.entries) {
          if (this.host.groupOf(key) !== this.group) continue;
          const digest = treeDigestOf(versions);
          if (digest === null) continue;
          if (++held > AE_EXCHANGE_KEYS_MAX) throw new RangeError(`group ${this.group} holds more than AE_EXCHANGE_KEYS_MAX (${AE_EXCHANGE_KEYS_MAX}) keys`);
          const segment = this.tree.segmentOf(key);
          let bucket = index.get(segment);
          if (bucket === undefined) index.set(segment, (bucket = []));
          bucket.push({ key, digest });
        }
        if (page.next === null) {
          this.host.scanned(this.host.now - started);
          return index;
        }
        from = page.next;
      }
    })();
    return this.index;
  }

  /** Fetch the queued keys from the peer and merge them here, a batch at a time, within the byte budget. */
  private async pumpFetches(): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      while (this.fetchQueue.length > 0 && !this.done && this.fetchFailure === null) {
        const wait = this.host.budget.waitMs(this.host.now);
        if (wait > 0) {
          await this.host.sleep(wait);
          this.lastHeard = this.host.now;
          continue;
        }
        const keys = this.fetchQueue.splice(0, AE_FETCH_BATCH_KEYS);
        const answers = await this.host.ask<Outcome<Version[]>[]>(replicaRef(this.peer), { type: 'get-batch', keys }, AE_EXCHANGE_IDLE_MS);
        const entries: MergeEntry[] = [];
        let bytes = 0;
        for (let i = 0; i < keys.length; i++) {
          const answer = answers[i];
          // A key the peer no longer holds, or read from a damaged table there, is not fetched this time.
          if (answer === undefined || !('ok' in answer) || answer.ok.length === 0) continue;
          entries.push({ key: keys[i]!, versions: answer.ok });
          bytes += keys[i]!.length;
          for (const v of answer.ok) bytes += v.clock.length + (v.value?.length ?? 0);
        }
        this.host.bytesFetched += bytes;
        this.host.budget.spend(bytes, this.host.now);
        if (entries.length > 0) {
          const stored = await this.host.ask<Outcome<true>[]>(this.host.replica, { type: 'merge-batch', entries }, AE_EXCHANGE_IDLE_MS);
          for (let i = 0; i < stored.length; i++) {
            if (!('ok' in stored[i]!)) continue;
            this.keysRepaired++;
            const { key, versions } = entries[i]!;
            if (versions.every((v) => v.value === null)) this.host.repairedTombstones(key, versions);
          }
        }
        this.lastHeard = this.host.now;
      }
    } catch (err) {
      this.fetchFailure = `fetching from ${this.peer} failed: ${String(err)}`;
    } finally {
      this.fetching = false;
    }
    this.finishIfDone();
  }

  private finishIfDone(): void {
    if (this.done || this.result === null || this.fetching) return;
    if (this.fetchFailure !== null) {
      this.finish({ ...this.result, outcome: 'aborted', reason: this.fetchFailure });
    } else if (this.fetchQueue.length === 0) {
      this.finish(this.result);
    }
  }

  private finish(result: AeResult): void {
    this.done = true;
    this.host.finished(this, result, this.keysRepaired);
  }
}
