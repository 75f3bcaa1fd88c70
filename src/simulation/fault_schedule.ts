/**
 * A campaign seed's fault schedule: which kinds of fault the seed draws,
 * how they shape the cluster it builds (`drawFaultPlan`: slow disks, skewed
 * clocks, short hint lifetimes and tombstone graces, a short replica
 * timeout), when each episode starts and ends (in virtual time, inside the
 * fault window), and how everything is healed at the end. Network faults
 * hold for the whole run; crashes, stalls and partitions come in timed
 * episodes.
 *
 * Deterministic: every choice comes from the seed's `Prng`.
 */
import { InvalidRequestError } from '../core/errors.js';
import { Prng } from '../core/prng.js';
import type { DiskLatencyRange, SimChange, SimCluster } from './sim_cluster.js';

/** Which faults a campaign may draw. */
export type FaultSet = 'all' | 'none' | 'net' | 'crash' | 'partition' | 'disk' | 'time' | 'membership';
export const FAULT_SETS: readonly FaultSet[] = ['all', 'none', 'net', 'crash', 'partition', 'disk', 'time', 'membership'];

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
  | 'partition-bridge'
  /** Crashes flip a bit in the unsynced tail they keep (beside tearing it); implies a crash. */
  | 'torn-flip'
  /** Every disk takes time: appends up to a ms, fsyncs a few ms. */
  | 'disk-latency'
  /** Every disk's fsync is slow (tens of ms): group commits and flushes queue behind it. */
  | 'slow-fsync'
  /** One node's disk is very slow and coordinators wait less for a replica: its asks time out. */
  | 'slow-replica'
  /** Node clocks disagree by up to seconds (what actors read; scheduling stays on true time). */
  | 'clock-skew'
  /** Tombstones are purged after a short grace (at least the hint lifetime). */
  | 'tombstone-purge'
  /** Hints expire after a few seconds, so some are never delivered. */
  | 'hint-expiry'
  /** After heal, one node loses its whole disk (every range it held) and comes back empty; anti-entropy must refill it. */
  | 'disk-loss'
  /** After heal, a bit rots in one SSTable of one node; the read that meets it quarantines the table, anti-entropy refills it. */
  | 'sstable-rot'
  /**
   * Membership changes (issue 16), at most one per seed, during the
   * workload and the other faults: a node joins; one is decommissioned;
   * one dies with its disk and a new identity replaces it; one dies and is
   * removed. The change's driver may stop mid-way (its process died) and
   * resume later.
   */
  | 'join'
  | 'decommission'
  | 'replace'
  | 'remove';

/** Every fault kind, in the order reports list them. */
export const FAULT_KINDS: readonly FaultKind[] = [
  'loss',
  'duplicate',
  'delay',
  'reorder',
  'crash',
  'stall',
  'partition-halves',
  'partition-single',
  'partition-one-way',
  'partition-bridge',
  'torn-flip',
  'disk-latency',
  'slow-fsync',
  'slow-replica',
  'clock-skew',
  'tombstone-purge',
  'hint-expiry',
  'disk-loss',
  'sstable-rot',
  'join',
  'decommission',
  'replace',
  'remove',
];

/** The membership kinds: a seed keeps at most one of them. */
const MEMBERSHIP_KINDS: readonly FaultKind[] = ['join', 'decommission', 'replace', 'remove'];

export const KINDS_OF: Record<FaultSet, readonly FaultKind[]> = {
  all: FAULT_KINDS,
  none: [],
  net: ['loss', 'duplicate', 'delay', 'reorder'],
  crash: ['crash', 'stall'],
  partition: ['partition-halves', 'partition-single', 'partition-one-way', 'partition-bridge'],
  disk: ['torn-flip', 'disk-latency', 'slow-fsync', 'slow-replica', 'disk-loss', 'sstable-rot'],
  time: ['clock-skew', 'tombstone-purge', 'hint-expiry'],
  membership: MEMBERSHIP_KINDS,
};

/**
 * The kinds `--faults` names: a set (`all`, `disk`, ...) or a comma list of
 * kinds (`crash,torn-flip`). Throws `InvalidRequestError` naming what is valid.
 */
export function parseFaults(text: string): readonly FaultKind[] {
  if ((FAULT_SETS as readonly string[]).includes(text)) return KINDS_OF[text as FaultSet];
  const kinds = text.split(',').map((k) => k.trim());
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new InvalidRequestError(`--faults takes a set (${FAULT_SETS.join('|')}) or a comma list of kinds (${FAULT_KINDS.join(',')}), not ${JSON.stringify(kind)}`);
    }
  }
  return FAULT_KINDS.filter((k) => kinds.includes(k));
}

/** Virtual ms the faults are spread over, from the start of the workload. */
const FAULT_WINDOW_MS = 3000;
/** Probability that a seed draws each allowed kind (from a long list such as 'all'). */
const DRAW_PROBABILITY = 0.35;
/**
 * Kinds a seed draws on average at least, when the list allows few: each is
 * then drawn with probability KINDS_PER_SEED_MIN / allowed (at most
 * DRAW_PROBABILITY_MAX). A short list names faults to hunt together (a crash
 * and tombstone purges, say); at 0.35 each, two kinds would meet in one seed
 * in eight, and most seeds would run one kind alone.
 */
const KINDS_PER_SEED_MIN = 1.5;
const DRAW_PROBABILITY_MAX = 0.75;
/** Disk latency of 'disk-latency' (every node). */
const DISK_LATENCY: DiskLatencyRange = { append_ms: [0, 1], sync_ms: [1, 8] };
/** Disk latency of 'slow-fsync' (every node). */
const SLOW_FSYNC: DiskLatencyRange = { append_ms: [0, 2], sync_ms: [20, 120] };
/** Disk latency of the one node of 'slow-replica': slow appends too, so periodic sync (no fsync wait) is slow as well. */
const SLOW_REPLICA_DISK: DiskLatencyRange = { append_ms: [20, 400], sync_ms: [200, 1200] };
/** Replica ask timeout under 'slow-replica' (virtual ms; the default is REPLICA_ASK_TIMEOUT_MS). */
const SLOW_REPLICA_TIMEOUT_MS: readonly [number, number] = [150, 400];
/** Largest clock offset under 'clock-skew'. */
const CLOCK_SKEW_MAX_MS: readonly [number, number] = [200, 5000];
/** Hint lifetime under 'hint-expiry'. */
const HINT_TTL_MS: readonly [number, number] = [800, 4000];
/** Memtable size under 'tombstone-purge' (the campaign's default is 4 KiB, which a seed's writes rarely fill). */
const PURGE_MEMTABLE_FLUSH_BYTES = 384;
/** Tombstone grace under 'tombstone-purge', beyond the hint lifetime plus the clock skew (a shorter grace could purge a tombstone a hint can still undo). */
const TOMBSTONE_GRACE_EXTRA_MS: readonly [number, number] = [0, 3000];
/** Probability that a crash, in a seed whose disks take time, waits for the node's next fsync and comes inside it. */
const CRASH_AT_FSYNC_PROBABILITY = 0.5;
/** Probability that a crash under 'torn-flip' flips a bit in each kept unsynced tail. */
const TAIL_FLIP_PROBABILITY = 0.75;
/** Probability that a membership change's driver stops mid-way (its process died) and resumes later. */
const CHANGE_DRIVER_CRASH_PROBABILITY = 0.3;
/** When it stops, after it started (virtual ms), and how long until it resumes. */
const CHANGE_DRIVER_CRASH_AFTER_MS: readonly [number, number] = [50, 1500];
const CHANGE_DRIVER_DOWN_MS: readonly [number, number] = [200, 3000];
/** Virtual ms a membership change may take after heal before the seed fails. */
const CHANGE_FINISH_MAX_MS = 300_000;

/** What the drawn faults change in the cluster a seed builds (names as in SimClusterOptions). */
export interface FaultClusterOptions {
  diskLatency?: (label: string) => DiskLatencyRange | undefined;
  replicaTimeoutMs?: number;
  clockSkewMs?: number;
  hintTtlMs?: number;
  tombstoneGraceMs?: number;
  memtableFlushBytes?: number;
}

/** A seed's faults, drawn before its cluster is built. */
export interface FaultPlan {
  /** Kinds drawn, in FAULT_KINDS order. */
  kinds: FaultKind[];
  /** Options of the cluster these kinds need. */
  cluster: FaultClusterOptions;
  /** The node with the slow disk under 'slow-replica'. */
  slowNode?: string;
  /** The latency of every other disk (undefined: instant), which the slow one gets at heal. */
  everyDisk?: DiskLatencyRange;
}

/** Draw a seed's faults from `allowed` (at least one when any is allowed) and the cluster options they need. */
export function drawFaultPlan(prng: Prng, allowed: readonly FaultKind[], labels: readonly string[]): FaultPlan {
  const probability = allowed.length === 0 ? 0 : Math.max(DRAW_PROBABILITY, Math.min(DRAW_PROBABILITY_MAX, KINDS_PER_SEED_MIN / allowed.length));
  let kinds = allowed.filter(() => prng.chance(probability));
  if (kinds.length === 0 && allowed.length > 0) kinds.push(prng.pick(allowed));
  // At most one membership change per seed: the first drawn.
  const change = kinds.find((k) => MEMBERSHIP_KINDS.includes(k));
  kinds = kinds.filter((k) => !MEMBERSHIP_KINDS.includes(k) || k === change);
  const has = (k: FaultKind): boolean => kinds.includes(k);
  const between = ([lo, hi]: readonly [number, number]): number => prng.range(lo, hi);
  const cluster: FaultClusterOptions = {};
  const everyDisk = has('slow-fsync') ? SLOW_FSYNC : has('disk-latency') ? DISK_LATENCY : undefined;
  const plan: FaultPlan = { kinds: FAULT_KINDS.filter(has), cluster, ...(everyDisk === undefined ? {} : { everyDisk }) };
  if (has('slow-replica')) {
    const slowNode = prng.pick(labels);
    plan.slowNode = slowNode;
    cluster.replicaTimeoutMs = between(SLOW_REPLICA_TIMEOUT_MS);
    cluster.diskLatency = (label) => (label === slowNode ? SLOW_REPLICA_DISK : everyDisk);
  } else if (everyDisk !== undefined) {
    cluster.diskLatency = () => everyDisk;
  }
  if (has('clock-skew')) cluster.clockSkewMs = between(CLOCK_SKEW_MAX_MS);
  if (has('hint-expiry') || has('tombstone-purge')) cluster.hintTtlMs = between(HINT_TTL_MS);
  // Grace >= hint TTL + clock skew: the contract of checkTombstoneGrace (node_plan.ts), kept even with skewed clocks.
  if (has('tombstone-purge')) {
    cluster.tombstoneGraceMs = cluster.hintTtlMs! + (cluster.clockSkewMs ?? 0) + between(TOMBSTONE_GRACE_EXTRA_MS);
    // Tiny memtables: tombstones reach SSTables and size-tiered compactions (which purge) run within a seed.
    cluster.memtableFlushBytes = PURGE_MEMTABLE_FLUSH_BYTES;
  }
  return plan;
}

// ---------------------------------------------------------------------------
// Fault schedule
// ---------------------------------------------------------------------------

/** The seed's faults: drawn by `drawFaultPlan`, scheduled by `arm`, undone by `healAll`. */
export class FaultSchedule {
  /** Kinds drawn for this seed. */
  private readonly drawn: readonly FaultKind[];
  /** Kinds actually applied (a crash of a node already down is skipped). */
  private readonly done = new Set<FaultKind>();
  /** Set once the workload ends: scheduled faults still pending do nothing. */
  private healed = false;
  /** The membership change started, until it commits (`finishChange`). */
  private changing: Promise<void> | null = null;
  private readonly threads: number[];
  /** The label of each first node's thread (a node that left the ring is no longer in the cluster's config). */
  private readonly labels: Map<number, string>;

  constructor(
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    private readonly plan: FaultPlan,
  ) {
    this.threads = cluster.config.nodes.map((n) => n.thread);
    this.labels = new Map(cluster.config.nodes.map((n) => [n.thread, n.label]));
    this.drawn = plan.kinds;
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
    // These hold from the start (network) or were built into the cluster (disks, clocks, lifetimes).
    const configured = ['loss', 'duplicate', 'delay', 'reorder', 'disk-latency', 'slow-fsync', 'slow-replica', 'clock-skew', 'tombstone-purge', 'hint-expiry'] as const;
    for (const k of configured) if (has(k)) this.done.add(k);
    for (const kind of this.drawn) {
      const episodes = kind === 'crash' || kind === 'stall' ? p.range(1, 2) : 1;
      for (let e = 0; e < episodes; e++) this.scheduleEpisode(kind);
    }
  }

  /**
   * End every fault: heal partitions, restart crashed nodes, make the network
   * reliable again, and give the slow replica the disk the others have (its
   * short replica timeout stays, so final r=all reads must not wait on it).
   */
  healAll(): void {
    this.healed = true;
    if (this.plan.slowNode !== undefined) this.cluster.setDiskLatency(this.plan.slowNode, this.plan.everyDisk);
    this.cluster.heal();
    this.cluster.world.configureFaults({ drop_probability: 0, duplicate_probability: 0, reorder_probability: 0, latency_ms: [0.5, 2] });
    for (const node of this.cluster.config.nodes) this.cluster.restart(node.label);
  }

  /**
   * The faults that strike once the cluster has healed and converged:
   * 'disk-loss' (one node's disk is replaced by an empty one) and
   * 'sstable-rot' (a bit flips in one of one node's SSTables, after every
   * node flushed, and the node restarts so no cache holds the block). After
   * heal, because a node that came back empty, or lost a table, serves
   * stale reads until it is repaired (R + W > N holds only over replicas
   * that kept what they acknowledged): Cassandra has a replaced node stream
   * its ranges before it serves (issue 16 brings that here); the campaign
   * checks what anti-entropy alone restores, with no client reading.
   * Returns a line per fault struck, for the result.
   */
  async afterHeal(): Promise<string[]> {
    const struck: string[] = [];
    const labels = this.cluster.config.nodes.map((n) => n.label);
    if (this.drawn.includes('disk-loss')) {
      const node = this.prng.pick(labels);
      this.cluster.crash(node, { loseDisk: true });
      this.cluster.restart(node);
      this.done.add('disk-loss');
      struck.push(`${node} lost its disk`);
    }
    if (this.drawn.includes('sstable-rot')) {
      for (const label of labels) await this.cluster.askNode(label, 'replica', { type: 'flush' }, 30_000);
      const node = this.prng.pick(labels);
      const path = await this.cluster.rotSstable(node, this.prng);
      if (path !== null) {
        this.cluster.crash(node);
        this.cluster.restart(node);
        this.done.add('sstable-rot');
        struck.push(`a bit rotted in ${path}`);
      }
    }
    return struck;
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
      case 'crash':
      case 'torn-flip': {
        // A torn-flip episode is a crash whose kept unsynced tails may have a flipped bit. A slow disk
        // is often a dying one: half the crashes of a slow-replica seed take the slow node, whose
        // writes spend the longest between reaching the store and reaching the disk.
        const slow = this.plan.slowNode !== undefined && p.chance(0.5) ? this.plan.slowNode : undefined;
        const node = slow ?? this.labels.get(order[0]!)!;
        const flips = this.drawn.includes('torn-flip');
        const crash = (): void => {
          if (this.healed || !this.cluster.isRunning(node)) return;
          const before = this.cluster.tailFlips(node);
          this.cluster.crash(node, flips ? { flipProbability: TAIL_FLIP_PROBABILITY } : {});
          this.done.add('crash');
          if (this.cluster.tailFlips(node) > before) this.done.add('torn-flip');
          world.after(duration_ms, `restart ${node}`, () => this.cluster.restart(node));
        };
        // Where disks take time, half the crashes come while the node's fsync is in flight (at a drawn
        // point inside it): the instant at which a store that shows or acknowledges unsynced writes
        // loses them. Crashes at a random time rarely land inside a few-ms fsync.
        const slowDisks = this.plan.everyDisk !== undefined || this.plan.slowNode !== undefined;
        if (slowDisks && p.chance(CRASH_AT_FSYNC_PROBABILITY)) {
          at(start_ms, `crash ${node} at its next fsync`, () =>
            this.cluster.onNextFsync(node, (fsync_ms, end_ms) => {
              if (end_ms - fsync_ms < 2) return;
              at(p.range(1, end_ms - fsync_ms - 1), `crash ${node} inside an fsync`, crash);
            }),
          );
        } else {
          at(start_ms, `crash ${node}`, crash);
        }
        return;
      }
      case 'disk-latency':
      case 'slow-fsync':
      case 'slow-replica':
      case 'clock-skew':
      case 'tombstone-purge':
      case 'hint-expiry':
        return; // built into the cluster (drawFaultPlan)
      case 'disk-loss':
      case 'sstable-rot':
        return; // after heal (`afterHeal`)
      case 'join':
      case 'decommission':
      case 'replace':
      case 'remove':
        at(start_ms, kind, () => this.startChange(kind));
        return;
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

  /**
   * Start the seed's membership change, unless it cannot apply (a removal
   * that would leave a data center fewer nodes than its replicas). Replace
   * and remove take a node that dies for it (replace: with its disk).
   */
  private startChange(kind: FaultKind): void {
    const p = this.prng;
    const cluster = this.cluster;
    const nodes = cluster.config.nodes;
    const victim = p.pick(nodes);
    const dcs = cluster.config.replication.dcs;
    const inDc = nodes.filter((n) => n.dc === victim.dc).length;
    let change: SimChange;
    switch (kind) {
      case 'join':
        change = { kind, node: { id: `n${this.threads.length + 1}`, dc: p.pick([...new Set(nodes.map((n) => n.dc))].sort()) } };
        break;
      case 'decommission':
      case 'remove':
      case 'replace':
        if (kind !== 'replace' && inDc - 1 < (dcs[victim.dc] ?? 0)) return;
        if (kind !== 'decommission') cluster.crash(victim.label, { loseDisk: kind === 'replace' });
        change = kind === 'replace' ? { kind, dead: victim.label, node: { id: `${victim.label}b`, dc: victim.dc } } : { kind, node: victim.label };
        break;
      default:
        return;
    }
    this.done.add(kind);
    const interrupt = p.chance(CHANGE_DRIVER_CRASH_PROBABILITY) ? p.range(...CHANGE_DRIVER_CRASH_AFTER_MS) : undefined;
    const downFor = p.range(...CHANGE_DRIVER_DOWN_MS);
    this.changing = cluster.changeMembership(change, interrupt === undefined ? {} : { interruptAfterMs: interrupt }).catch(async (err: Error) => {
      if (!err.message.includes('interrupted')) throw err;
      // The driver's process died: it comes back after a while and resumes what it saved.
      await new Promise<void>((resolve) => cluster.world.after(downFor, 'change driver restarts', resolve));
      await cluster.resumeChange();
    });
    this.changing.catch(() => undefined); // awaited by finishChange
  }

  /** Run the world until the seed's membership change (if any) committed; throws if it does not within CHANGE_FINISH_MAX_MS. */
  async finishChange(): Promise<void> {
    if (this.changing === null) return;
    await this.cluster.settle(this.changing, { max_ms: CHANGE_FINISH_MAX_MS, what: 'the membership change' });
    this.changing = null;
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

