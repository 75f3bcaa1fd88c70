/**
 * A campaign seed's fault schedule: which kinds of fault the seed draws,
 * when each episode starts and ends (in virtual time, inside the fault
 * window), and how everything is healed at the end. Network faults hold for
 * the whole run; crashes, stalls and partitions come in timed episodes.
 *
 * Deterministic: every choice comes from the seed's `Prng`.
 */
import { Prng } from '../core/prng.js';
import type { SimCluster } from './sim_cluster.js';

/** Which faults a campaign may draw. */
export type FaultSet = 'all' | 'none' | 'net' | 'crash' | 'partition';
export const FAULT_SETS: readonly FaultSet[] = ['all', 'none', 'net', 'crash', 'partition'];

/** One kind of fault in a seed's schedule. */
export type FaultKind =
  | 'loss'
  | 'duplicate'
  | 'delay'
  | 'reorder'
  | 'crash'
  | 'stall'
  | 'partition-halves'
  | 'partition-single'
  | 'partition-one-way'
  | 'partition-bridge';

/** Every fault kind, in the order reports list them. */
export const FAULT_KINDS: readonly FaultKind[] = ['loss', 'duplicate', 'delay', 'reorder', 'crash', 'stall', 'partition-halves', 'partition-single', 'partition-one-way', 'partition-bridge'];

export const KINDS_OF: Record<FaultSet, readonly FaultKind[]> = {
  all: FAULT_KINDS,
  none: [],
  net: ['loss', 'duplicate', 'delay', 'reorder'],
  crash: ['crash', 'stall'],
  partition: ['partition-halves', 'partition-single', 'partition-one-way', 'partition-bridge'],
};

/** Virtual ms the faults are spread over, from the start of the workload. */
const FAULT_WINDOW_MS = 3000;

// ---------------------------------------------------------------------------
// Fault schedule
// ---------------------------------------------------------------------------

/** The seed's faults: drawn at construction, scheduled by `arm`, undone by `healAll`. */
export class FaultSchedule {
  /** Kinds drawn for this seed. */
  private readonly drawn: FaultKind[];
  /** Kinds actually applied (a crash of a node already down is skipped). */
  private readonly done = new Set<FaultKind>();
  /** Set once the workload ends: scheduled faults still pending do nothing. */
  private healed = false;
  private readonly threads: number[];

  constructor(
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    allowed: readonly FaultKind[],
  ) {
    this.threads = cluster.config.nodes.map((n) => n.thread);
    this.drawn = allowed.filter(() => prng.chance(0.4));
    if (this.drawn.length === 0 && allowed.length > 0) this.drawn.push(prng.pick(allowed));
  }

  /** The kinds applied so far, in FAULT_KINDS order. */
  applied(): FaultKind[] {
    return FAULT_KINDS.filter((k) => this.done.has(k));
  }

  /** Configure the network faults now and schedule the node and partition faults in the fault window. */
  arm(): void {
    const p = this.prng;
    const has = (k: FaultKind): boolean => this.drawn.includes(k);
    const net = {
      ...(has('loss') ? { drop_probability: 0.01 + p.next() * 0.04 } : {}),
      ...(has('duplicate') ? { duplicate_probability: 0.02 + p.next() * 0.08 } : {}),
      ...(has('delay') ? { latency_ms: [1, p.range(5, 30)] as const } : {}),
      ...(has('reorder') ? { reorder_probability: 0.05 + p.next() * 0.15 } : {}),
    };
    if (Object.keys(net).length > 0) this.cluster.world.configureFaults(net);
    for (const k of ['loss', 'duplicate', 'delay', 'reorder'] as const) if (has(k)) this.done.add(k);
    for (const kind of this.drawn) {
      const episodes = kind === 'crash' || kind === 'stall' ? p.range(1, 2) : 1;
      for (let e = 0; e < episodes; e++) this.scheduleEpisode(kind);
    }
  }

  /** End every fault: heal partitions, restart crashed nodes, make the network reliable again. */
  healAll(): void {
    this.healed = true;
    this.cluster.heal();
    this.cluster.world.configureFaults({ drop_probability: 0, duplicate_probability: 0, reorder_probability: 0, latency_ms: [0.5, 2] });
    for (const node of this.cluster.config.nodes) this.cluster.restart(node.label);
  }

  private scheduleEpisode(kind: FaultKind): void {
    const p = this.prng;
    const world = this.cluster.world;
    const start_ms = p.int(FAULT_WINDOW_MS);
    const duration_ms = p.range(500, 3000);
    const order = shuffle(this.threads, p);
    const at = (delay_ms: number, what: string, action: () => void): void =>
      world.after(delay_ms, what, () => {
        if (!this.healed) action();
      });
    switch (kind) {
      case 'loss':
      case 'duplicate':
      case 'delay':
      case 'reorder':
        return; // configured for the whole run in `arm`
      case 'crash': {
        const node = this.cluster.config.nodes.find((n) => n.thread === order[0])!.label;
        at(start_ms, `crash ${node}`, () => {
          if (!this.cluster.isRunning(node)) return;
          this.cluster.crash(node);
          this.done.add('crash');
        });
        at(start_ms + duration_ms, `restart ${node}`, () => this.cluster.restart(node));
        return;
      }
      case 'stall':
        at(start_ms, `stall t${order[0]!}`, () => {
          if (!world.isUp(order[0]!)) return;
          world.stall(order[0]!, p.range(200, 2000));
          this.done.add('stall');
        });
        return;
      case 'partition-halves': {
        const cut = 1 + p.int(order.length - 1);
        return this.partitionEpisode(kind, start_ms, duration_ms, order.slice(0, cut), order.slice(cut), false);
      }
      case 'partition-single':
        return this.partitionEpisode(kind, start_ms, duration_ms, order.slice(0, 1), order.slice(1), false);
      case 'partition-one-way':
        return this.partitionEpisode(kind, start_ms, duration_ms, order.slice(0, 1), order.slice(1), true);
      case 'partition-bridge': {
        // order[0] is the bridge B: it sees both sides; side A and side C do not see each other.
        const rest = order.slice(1);
        const cut = 1 + p.int(rest.length - 1);
        return this.partitionEpisode(kind, start_ms, duration_ms, rest.slice(0, cut), rest.slice(cut), false);
      }
    }
  }

  private partitionEpisode(kind: FaultKind, start_ms: number, duration_ms: number, a: number[], b: number[], oneWay: boolean): void {
    const world = this.cluster.world;
    world.after(start_ms, `${kind} start`, () => {
      if (this.healed) return;
      if (oneWay) world.partitionOneWay(a, b);
      else world.partition(a, b);
      this.done.add(kind);
    });
    world.after(start_ms + duration_ms, `${kind} end`, () => {
      if (!this.healed) world.heal(a, b);
    });
  }
}

/** A shuffled copy (Fisher-Yates). */
function shuffle<T>(items: readonly T[], prng: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

