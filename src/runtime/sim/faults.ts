/**
 * The simulated network between nodes and the faults it injects: the fault
 * options, the partition table, and `SimNetwork`, which decides the fate of
 * each cross-node message (dropped, blocked by a partition, delivered once or
 * twice, after which delay) from the world's seeded PRNG.
 *
 * Links are FIFO per directed node pair by default, as the real runtime's
 * SPSC rings are: a message never overtakes an earlier one on the same link
 * unless the reorder fault picks it (or `fifo_links` is false, in which case
 * the random latency alone reorders). Messages between actors of one node
 * never see faults: they travel through an in-memory mailbox.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import { assert } from '../../core/assert.js';
import type { Prng } from '../../core/prng.js';
import { STALL_RELEASES, type StallRelease } from './stall.js';

/** An inclusive range [min, max] of milliseconds. */
export type RangeMs = readonly [min_ms: number, max_ms: number];

/** Random crashes and restarts, scheduled by the world from its seed. */
export interface CrashPlan {
  /** Nodes that may be crashed. */
  nodes: readonly number[];
  /** Time between one planned crash and the next. */
  interval_ms: RangeMs;
  /** How long a crashed node stays down before it restarts. */
  downtime_ms: RangeMs;
  /** Most nodes down at once through the plan (default 1). */
  max_down?: number;
  /** No planned crash before this time (default 0). */
  start_ms?: number;
  /** No planned crash after this time (default: never stop). */
  stop_ms?: number;
}

/** Random stalls (frozen event loops, as GC pauses), scheduled by the world from its seed. */
export interface StallPlan {
  /** Nodes that may be stalled. */
  nodes: readonly number[];
  /** Time between the start of one planned stall and the next. */
  interval_ms: RangeMs;
  /** How long a planned stall lasts. */
  duration_ms: RangeMs;
  /** No planned stall before this time (default 0). */
  start_ms?: number;
  /** No planned stall after this time (default: never stop). */
  stop_ms?: number;
  /** Order of a planned stall's held events when it ends (default 'in-order'; see stall.ts). */
  release?: StallRelease;
}

/** Fault options; every probability applies to each cross-node message independently. */
export interface FaultOptions {
  /** Probability that a cross-node message is lost. */
  drop_probability?: number;
  /** Probability that a cross-node message is delivered twice. */
  duplicate_probability?: number;
  /** One-way latency of a cross-node message, drawn uniformly (default [0.5, 2]). */
  latency_ms?: RangeMs;
  /** Probability that a cross-node message skips link order and gets `reorder_delay_ms` more delay. */
  reorder_probability?: number;
  /** Extra delay of a reordered message (default [1, 10]). */
  reorder_delay_ms?: RangeMs;
  /** Keep each directed link FIFO apart from reorder faults (default true). */
  fifo_links?: boolean;
  /** Delay of a message between actors of the same node (default 0.01). */
  local_latency_ms?: number;
  /** Random crash/restart schedule (default none). */
  crash_plan?: CrashPlan;
  /** Random stall schedule (default none). */
  stall_plan?: StallPlan;
}

/** Fault options with every default filled in. */
export type ResolvedFaults = Required<Omit<FaultOptions, 'crash_plan' | 'stall_plan'>> & {
  crash_plan: CrashPlan | undefined;
  stall_plan: StallPlan | undefined;
};

/** Defaults: a reliable, FIFO network with a little random latency. */
export const DEFAULT_FAULTS: ResolvedFaults = {
  drop_probability: 0,
  duplicate_probability: 0,
  latency_ms: [0.5, 2],
  reorder_probability: 0,
  reorder_delay_ms: [1, 10],
  fifo_links: true,
  local_latency_ms: 0.01,
  crash_plan: undefined,
  stall_plan: undefined,
};

/** Merge `opts` over `base` and check every value. */
export function resolveFaults(opts: FaultOptions, base: ResolvedFaults = DEFAULT_FAULTS): ResolvedFaults {
  const merged: ResolvedFaults = { ...base, ...stripUndefined(opts) };
  for (const p of ['drop_probability', 'duplicate_probability', 'reorder_probability'] as const) {
    assert(merged[p] >= 0 && merged[p] <= 1, `${p} is a probability in [0, 1]`);
  }
  checkRange(merged.latency_ms, 'latency_ms');
  checkRange(merged.reorder_delay_ms, 'reorder_delay_ms');
  assert(merged.local_latency_ms >= 0 && Number.isFinite(merged.local_latency_ms), 'local_latency_ms >= 0');
  const plan = merged.crash_plan;
  if (plan !== undefined) {
    assert(plan.nodes.length > 0, 'crash_plan.nodes is not empty');
    checkRange(plan.interval_ms, 'crash_plan.interval_ms');
    checkRange(plan.downtime_ms, 'crash_plan.downtime_ms');
    assert(plan.interval_ms[0] > 0, 'crash_plan.interval_ms is positive');
    assert((plan.max_down ?? 1) >= 1, 'crash_plan.max_down >= 1');
  }
  const stalls = merged.stall_plan;
  if (stalls !== undefined) {
    assert(stalls.nodes.length > 0, 'stall_plan.nodes is not empty');
    checkRange(stalls.interval_ms, 'stall_plan.interval_ms');
    checkRange(stalls.duration_ms, 'stall_plan.duration_ms');
    assert(stalls.interval_ms[0] > 0 && stalls.duration_ms[0] > 0, 'stall_plan intervals and durations are positive');
    assert(stalls.release === undefined || STALL_RELEASES.includes(stalls.release), `stall_plan.release is one of ${STALL_RELEASES.join(', ')}`);
  }
  return merged;
}

/** Directed blocked links between nodes; a two-way partition is two one-way blocks. */
export class PartitionTable {
  /** Blocked links as "from>to". */
  private readonly blocked = new Set<string>();

  /** Block every link from a node of `from` to a node of `to` (one way). */
  block(from: readonly number[], to: readonly number[]): void {
    for (const a of from) for (const b of to) if (a !== b) this.blocked.add(linkKey(a, b));
  }

  /** Unblock every link from a node of `from` to a node of `to` (one way). */
  unblock(from: readonly number[], to: readonly number[]): void {
    for (const a of from) for (const b of to) this.blocked.delete(linkKey(a, b));
  }

  /** Unblock everything. */
  clear(): void {
    this.blocked.clear();
  }

  /** True when messages from node `from` to node `to` are blocked. */
  isBlocked(from: number, to: number): boolean {
    return this.blocked.size > 0 && this.blocked.has(linkKey(from, to));
  }

  /** The blocked links, sorted, e.g. ["1>3", "2>3"]. */
  links(): string[] {
    return [...this.blocked].sort();
  }
}

/** What the network does with one cross-node message. */
export type MessageFate =
  | { readonly kind: 'drop' }
  | { readonly kind: 'partition' }
  | { readonly kind: 'send'; readonly copies: readonly Copy[] };

/** One copy of a message the network will deliver. */
export interface Copy {
  /** Virtual time of delivery (absolute, so FIFO clamping is exact). */
  readonly at_ms: number;
  /** True for the extra copy made by the duplicate fault. */
  readonly duplicate: boolean;
  /** True when the reorder fault let this copy skip link order. */
  readonly reordered: boolean;
}

/** Decides the fate of cross-node messages from the seeded PRNG and the fault options. */
export class SimNetwork {
  /** Blocked links; changed by the world's `partition` / `heal`. */
  readonly partitions = new PartitionTable();
  /** Latest delivery time given on each directed link, to keep links FIFO. */
  private readonly linkTail = new Map<string, number>();

  constructor(
    private faults: ResolvedFaults,
    private readonly prng: Prng,
  ) {}

  /** The options in force. */
  get options(): ResolvedFaults {
    return this.faults;
  }

  /** Change some fault options from now on. */
  configure(opts: FaultOptions): void {
    this.faults = resolveFaults(opts, this.faults);
  }

  /** Decide the fate of one message sent now from node `from` to another node `to`. */
  route(from: number, to: number, now_ms: number): MessageFate {
    assert(from !== to, 'route is for cross-node messages');
    if (this.partitions.isBlocked(from, to)) return { kind: 'partition' };
    if (this.prng.chance(this.faults.drop_probability)) return { kind: 'drop' };
    const copies = [this.copy(from, to, now_ms, false)];
    if (this.prng.chance(this.faults.duplicate_probability)) copies.push(this.copy(from, to, now_ms, true));
    return { kind: 'send', copies };
  }

  private copy(from: number, to: number, now_ms: number, duplicate: boolean): Copy {
    const f = this.faults;
    const latency_ms = this.draw(f.latency_ms);
    if (this.prng.chance(f.reorder_probability)) {
      return { at_ms: now_ms + latency_ms + this.draw(f.reorder_delay_ms), duplicate, reordered: true };
    }
    let at_ms = now_ms + latency_ms;
    if (f.fifo_links) {
      const key = linkKey(from, to);
      at_ms = Math.max(at_ms, this.linkTail.get(key) ?? 0);
      this.linkTail.set(key, at_ms);
    }
    return { at_ms, duplicate, reordered: false };
  }

  /** A uniform delay in [min, max]. */
  draw(range: RangeMs): number {
    const [min, max] = range;
    return min === max ? min : min + this.prng.next() * (max - min);
  }
}

function linkKey(from: number, to: number): string {
  return `${from}>${to}`;
}

function checkRange(range: RangeMs, what: string): void {
  assert(range.length === 2, `${what} is [min, max]`);
  assert(Number.isFinite(range[0]) && range[0] >= 0 && range[1] >= range[0], `${what} is [min, max] with 0 <= min <= max`);
}

function stripUndefined(opts: FaultOptions): FaultOptions {
  return Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as FaultOptions;
}
