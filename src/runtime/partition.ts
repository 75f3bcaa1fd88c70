/**
 * Network partitions on real worker threads. Each node is a logical thread
 * (node nK is logical thread K, `ActorRef.thread`), and several may share
 * one worker thread; a partition is a set of blocked directed links between
 * logical threads, as in the simulator's `PartitionTable` (a two-way
 * partition is two one-way blocks).
 *
 * Two halves:
 * - `PartitionLinks` lives with the `ActorSystem` on the main thread. It
 *   remembers every blocked link and derives the links each worker thread
 *   enforces (those with an end on it), which are sent to that worker (and
 *   re-sent when it restarts).
 * - `LinkBlocks` lives in each worker's `ActorHost`, which consults it on
 *   every envelope between two different logical threads: outbound to a
 *   blocked peer is dropped before it is queued (or delivered, when both
 *   nodes share the worker), inbound from a blocked peer is dropped on
 *   arrival (that covers envelopes already in a ring when the partition
 *   began). Each side enforces its half, so a link blocked at both ends holds
 *   even while one end has not heard of the block yet (a worker just
 *   restarted).
 *
 * Thread 0 (the main thread, the client) is never partitioned: the system
 * rejects it in a partition, and its host has no `LinkBlocks`.
 *
 * Thread contract: each object is used by the one thread that created it.
 */
import { assert } from '../core/assert.js';
import { InvalidRequestError } from '../core/errors.js';
import { THREADS_MAX } from '../core/limits.js';
import { routeOf } from './codec.js';

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

  /** The blocked links (`routeOf(from, to)`) with an end among `threads`: what the worker hosting them enforces. */
  linksFor(threads: readonly number[]): number[] {
    const mine = new Set(threads);
    const links: number[] = [];
    for (let from = 0; from < this.threadCount; from++) {
      for (let to = 0; to < this.threadCount; to++) if (this.blocked[from]![to] && (mine.has(from) || mine.has(to))) links.push(routeOf(from, to));
    }
    return links;
  }

  /** The peers of thread `thread` it may not send to or hear from, ascending (both empty when it is fully connected). */
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

/** The links one worker thread enforces; consulted by its host for every envelope between two logical threads. */
export class LinkBlocks {
  /** Blocked links as `routeOf(from, to)`. */
  private links: ReadonlySet<number> = new Set();

  /** Replace the blocked links (an empty list heals this worker). */
  replace(links: readonly number[]): void {
    for (const link of links) assert(Number.isInteger(link) && link > 0 && link < THREADS_MAX * THREADS_MAX, 'a link is a route between two threads');
    this.links = new Set(links);
  }

  /** True when envelopes from logical thread `from` to `to` are dropped. */
  blocks(from: number, to: number): boolean {
    return this.links.size > 0 && this.links.has(routeOf(from, to));
  }
}
