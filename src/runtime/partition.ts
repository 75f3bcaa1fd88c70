/**
 * Network partitions on real worker threads. Node nK runs on worker thread K;
 * a partition is a set of blocked directed links between threads, as in the
 * simulator's `PartitionTable` (a two-way partition is two one-way blocks).
 *
 * Two halves:
 * - `PartitionLinks` lives with the `ActorSystem` on the main thread. It
 *   remembers every blocked link and derives each thread's `BlockLists`,
 *   which are sent to that thread (and re-sent to it when it restarts).
 * - `LinkBlocks` lives in each worker's `ActorHost`, which consults it on
 *   every cross-thread envelope: outbound to a blocked peer is dropped before
 *   it reaches the ring, inbound from a blocked peer is dropped on arrival
 *   (that covers envelopes already in the ring when the partition began).
 *   Each side enforces its half, so a link blocked at both ends holds even
 *   while one end has not heard of the block yet (a thread just restarted).
 *
 * Thread 0 (the main thread, the client) is never partitioned: the system
 * rejects it in a partition, and its host has no `LinkBlocks`.
 *
 * Thread contract: each object is used by the one thread that created it.
 */
import { assert } from '../core/assert.js';
import { InvalidRequestError } from '../core/errors.js';
import { THREADS_MAX } from '../core/limits.js';

/** Peer threads one thread may not send to (`outbound`) or hear from (`inbound`). */
export interface BlockLists {
  /** Threads this thread's envelopes to are dropped. */
  outbound: number[];
  /** Threads whose envelopes to this thread are dropped on arrival. */
  inbound: number[];
}

/** The blocked links of the whole system, kept on the main thread. */
export class PartitionLinks {
  /** blocked[from][to]: envelopes from thread `from` to thread `to` are dropped. Bounded by THREADS_MAX². */
  private readonly blocked: boolean[][];

  constructor(readonly threadCount: number) {
    assert(threadCount >= 1 && threadCount <= THREADS_MAX, `1..${THREADS_MAX} threads`);
    this.blocked = Array.from({ length: threadCount }, () => new Array<boolean>(threadCount).fill(false));
  }

  /** Block every link from a thread of `from` to a thread of `to` (one way). */
  block(from: readonly number[], to: readonly number[]): void {
    this.checkWorkers(from);
    this.checkWorkers(to);
    for (const a of from) for (const b of to) if (a !== b) this.blocked[a]![b] = true;
  }

  /** Block every link between threads of different groups, both ways. */
  blockBetween(groups: readonly (readonly number[])[]): void {
    const seen = new Set<number>();
    for (const group of groups) {
      this.checkWorkers(group);
      for (const thread of group) {
        if (seen.has(thread)) throw new InvalidRequestError(`thread ${thread} is in two partition groups; list each thread once`);
        seen.add(thread);
      }
    }
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) if (i !== j) this.block(groups[i]!, groups[j]!);
    }
  }

  /** Unblock every link. */
  clear(): void {
    for (const row of this.blocked) row.fill(false);
  }

  /** The lists thread `thread` enforces, ascending (both empty when it is fully connected). */
  listsFor(thread: number): BlockLists {
    assert(thread >= 0 && thread < this.threadCount, `thread ${thread} exists`);
    const lists: BlockLists = { outbound: [], inbound: [] };
    for (let other = 0; other < this.threadCount; other++) {
      if (this.blocked[thread]![other]) lists.outbound.push(other);
      if (this.blocked[other]![thread]) lists.inbound.push(other);
    }
    return lists;
  }

  private checkWorkers(threads: readonly number[]): void {
    for (const thread of threads) {
      if (!Number.isInteger(thread) || thread < 1 || thread >= this.threadCount) {
        throw new InvalidRequestError(
          `thread ${thread} cannot be partitioned: give worker threads 1..${this.threadCount - 1} (thread 0 is the client and always connected)`,
        );
      }
    }
  }
}

/** The links one worker thread enforces; consulted by its host for every cross-thread envelope. */
export class LinkBlocks {
  /** Peers this thread drops envelopes to. */
  private outbound: ReadonlySet<number> = new Set();
  /** Peers this thread drops envelopes from. */
  private inbound: ReadonlySet<number> = new Set();

  constructor(
    readonly thread: number,
    readonly threadCount: number,
  ) {
    assert(thread > 0 && thread < threadCount, 'only worker threads are partitioned; the main thread is the client');
  }

  /** Replace both lists (empty lists heal this thread). */
  replace(lists: BlockLists): void {
    for (const peer of [...lists.outbound, ...lists.inbound]) {
      assert(Number.isInteger(peer) && peer > 0 && peer < this.threadCount && peer !== this.thread, `peer ${peer} is another worker thread`);
    }
    this.outbound = new Set(lists.outbound);
    this.inbound = new Set(lists.inbound);
  }

  /** True when envelopes to `dest` are dropped. */
  blocksOutbound(dest: number): boolean {
    return this.outbound.size > 0 && this.outbound.has(dest);
  }

  /** True when envelopes from `src` are dropped. */
  blocksInbound(src: number): boolean {
    return this.inbound.size > 0 && this.inbound.has(src);
  }
}
