/**
 * The seeded fault campaign (issues 6 and 12): a whole ringkv cluster in the
 * deterministic simulator (`SimCluster`), one or two data centers, batch or
 * periodic commit-log sync, several concurrent clients doing what users do
 * (`workload.ts`: gets, puts on a read context, SET overwrites, putMany
 * batches, DEL then SET, per-request W and R) on a few hot keys while a
 * fault schedule drawn from the seed (`fault_schedule.ts`) crashes and
 * restarts nodes (disks lose unsynced bytes, with torn and flipped tails),
 * partitions them (halves, one node, one-way, a bridge where A sees B and B
 * sees C but A not C), drops, duplicates, delays and reorders messages,
 * stalls event loops, slows disks and fsyncs (one replica so much its asks
 * time out), skews clocks, shortens hint lifetimes and tombstone graces, and
 * changes the members (a node joins, is decommissioned, or dies and is
 * removed or replaced, with the change's driver stopped and resumed);
 * then everything heals, the cluster quiesces, and the history-based checker
 * (`src/check`) judges what the clients saw, knowing every crash and the
 * sync window.
 *
 * Convergence after heal, with no client reading: active anti-entropy runs
 * through the whole seed (exchanges every CAMPAIGN_ANTI_ENTROPY.intervalMs,
 * beside the faults). After heal the campaign waits, bounded, until every
 * node's hint store is empty, then has every node run a repair pass (each
 * replica group exchanged with each peer) and takes each owner's live
 * versions of every key: owners that disagree then are a divergence. Then
 * the faults that strike a healed cluster ('disk-loss', 'sstable-rot':
 * `FaultSchedule.afterHeal`), another pass, and the replicas must agree
 * again: anti-entropy alone restored what the node lost. Only then the
 * final r = 'all' reads of every key, for what clients would see.
 *
 * Determinism: every choice comes from the seed (the schedule, the clients'
 * ops and think times from `Prng`s derived from it; the network, crashes and
 * disks from the world's own). The per-seed result holds virtual times only,
 * so the same seed gives byte-identical output.
 *
 * Thread contract: single-threaded; one `runSeed` at a time per world (seeds
 * run one after another).
 */
import { checkHistory, formatViolation, type Violation } from '../check/checker.js';
import { formatDotDigest } from '../check/dot_values.js';
import { HistoryRecorder, type FinalState } from '../check/history.js';
import { labelOf } from '../cluster/cluster_config.js';
import type { NodeSpec, ReplicationOptions } from '../cluster/cluster_types.js';
import { COMMITLOG_PERIODIC_SYNC_MS } from '../core/limits.js';
import { placeReplicas } from '../core/placement.js';
import { Prng } from '../core/prng.js';
import { Ring } from '../core/ring.js';
import { decodeDvv } from '../core/dotted_version_vector.js';
import { formatVersion } from '../core/version_id.js';
import { eventText } from '../runtime/sim/trace.js';
import { COMPACTION_ACTOR_ID } from '../cluster/node_plan.js';
import type { MajorCompactionReport } from '../../actors/compaction.js';
import type { RepairProgress } from '../../actors/anti_entropy.js';
import { ANTI_ENTROPY_ACTOR_ID } from '../../actors/member_refs.js';
import type { Version } from '../../storage/version.js';
import { FAULT_KINDS, FAULT_SETS, FaultSchedule, KINDS_OF, drawFaultPlan, parseFaults, type FaultKind, type FaultPlan, type FaultSet } from './fault_schedule.js';
import { SimCluster, type CrashRecord, type SimClient } from './sim_cluster.js';
import { OP_KINDS, addOpMix, emptyOpMix, runClients, type OpMix } from './workload.js';

export { FAULT_KINDS, FAULT_SETS, OP_KINDS, parseFaults, type FaultKind, type FaultSet, type OpMix };

/** Commit-log durability of a campaign's replicas. */
export type SyncMode = 'batch' | 'periodic';

/** How one seed runs. */
export interface SeedOptions {
  /** Client operations in the whole run (default DEFAULT_OPS). */
  ops?: number;
  /** Nodes of the cluster (default 5; N3 W2 R2 needs at least 3). */
  nodes?: number;
  /** Faults to draw from: a set or a list of kinds (default 'all'). */
  faults?: FaultSet | readonly FaultKind[];
  /** Commit-log sync of every replica (default 'batch'). */
  sync?: SyncMode;
  /** Receives every trace event as a line, as it happens (for `--trace`). */
  onTrace?: (line: string) => void;
  /**
   * Active anti-entropy (default true). Off, convergence after heal is left
   * to read repair: the final reads repeat (FINAL_READ_PASSES_MAX) while
   * replicas disagree, and the post-heal faults are not struck. For hunting
   * a planted bug whose damage anti-entropy would heal before it shows.
   */
  antiEntropy?: boolean;
}

/** What one seed found. */
export interface SeedResult {
  seed: number;
  /** No violation and no harness error. */
  ok: boolean;
  violations: Violation[];
  /** The harness could not finish (e.g. a final read failed every retry); the seed counts as failing. */
  error?: string;
  /** Client ops invoked, and how many were acknowledged. */
  ops: number;
  acked: number;
  /** Virtual time the run took. */
  simulated_ms: number;
  traceHash: string;
  /** The fault kinds this seed's schedule applied, in FAULT_KINDS order. */
  faults: FaultKind[];
  /** What the clients did. */
  opMix: OpMix;
  /** Data centers of the seed's cluster (1 or 2). */
  dcs: number;
  sync: SyncMode;
}

/** Client ops per seed by default. */
export const DEFAULT_OPS = 50;
/** Probability that a seed's cluster spans two data centers (dc1: 2 replicas per key, dc2: 1). */
const TWO_DC_PROBABILITY = 0.3;
/** Replicas per key (both shapes). */
const REPLICAS = 3;
/** Virtual ms the workload may take before the run gives up on it. */
const WORKLOAD_MAX_MS = 120_000;
/** Virtual ms of warm-up (gossip and failure detectors settle) before the clients start. */
const WARMUP_MS = 2000;
/** Virtual ms after heal before waiting for hints: failure detectors see every node alive again. */
const HEAL_SETTLE_MS = 6000;
/** Polls of the hint stores (one each HINT_POLL_MS) before giving up on them draining. */
const HINT_POLLS_MAX = 30;
const HINT_POLL_MS = 1000;
/** Attempts of one final r='all' read. */
const FINAL_READ_ATTEMPTS_MAX = 5;
/** Final read passes with anti-entropy off (each followed by FINAL_REPAIR_MS for read repair to land) while replicas disagree. */
const FINAL_READ_PASSES_MAX = 6;
const FINAL_REPAIR_MS = 1500;
/** Anti-entropy of the campaign's clusters: exchanges every second, trees rebuilt from storage every 20 s. */
const CAMPAIGN_ANTI_ENTROPY = { intervalMs: 1000, rebuildIntervalMs: 20_000 } as const;
/** Virtual ms a repair pass of every node may take after heal before the replicas are compared anyway. */
const REPAIR_PASS_MAX_MS = 60_000;
/** Poll interval of the repair passes' progress. */
const REPAIR_POLL_MS = 500;
/** Virtual ms past the last tombstone's grace before the operator's major compaction. */
const MAJOR_COMPACTION_MARGIN_MS = 500;
/** Virtual ms one node's major compaction may take (flush and merges on a possibly slow disk). */
const MAJOR_COMPACTION_TIMEOUT_MS = 30_000;
/** Virtual ms the harness waits for one replica's versions of a key (a slow-replica disk syncs in up to 1.2 s a time). */
const REPLICA_READ_TIMEOUT_MS = 30_000;
/** Step of the drive loop (virtual ms per `runFor`). */
const DRIVE_STEP_MS = 50;

/** Run one seed: workload under its fault schedule, heal, quiesce, final reads, check. */
export async function runSeed(seed: number, options: SeedOptions = {}): Promise<SeedResult> {
  const ops = options.ops ?? DEFAULT_OPS;
  const nodes = options.nodes ?? 5;
  const sync = options.sync ?? 'batch';
  const allowed = typeof options.faults === 'string' || options.faults === undefined ? KINDS_OF[options.faults ?? 'all'] : options.faults;
  const prng = new Prng(seed ^ 0x00ca3a16);
  const faultPrng = prng.fork();
  const plan = drawFaultPlan(faultPrng, allowed, Array.from({ length: nodes }, (_, i) => `n${i + 1}`));
  const twoDcs = prng.chance(TWO_DC_PROBABILITY);
  const shape = clusterShape(nodes, twoDcs);
  const antiEntropy = options.antiEntropy ?? true;
  const cluster = new SimCluster({ seed, ...shape, memtableFlushBytes: 4096, syncMode: sync, antiEntropy: antiEntropy && CAMPAIGN_ANTI_ENTROPY, ...plan.cluster });
  if (options.onTrace !== undefined) streamTrace(cluster, options.onTrace);
  const history = new HistoryRecorder();
  const schedule = new FaultSchedule(cluster, faultPrng, plan);
  let error: string | undefined;
  let final: FinalState | undefined;
  let opMix = emptyOpMix();
  try {
    await cluster.world.runFor(WARMUP_MS);
    schedule.arm();
    // Seeds that purge tombstones also delete keys nobody writes again: only there does a purge show.
    const shortLivedKeys = plan.kinds.includes('tombstone-purge');
    const workload = runClients({ cluster, history, n: REPLICAS, twoDcs, shortLivedKeys }, prng.fork(), ops);
    opMix = await cluster.settle(workload, { max_ms: WORKLOAD_MAX_MS, step_ms: DRIVE_STEP_MS, what: 'the workload' });
    const workloadEnd_ms = cluster.world.now();
    schedule.healAll();
    await schedule.finishChange();
    schedule.healAll(); // a node the change added, crashed meanwhile, runs too
    await quiesce(cluster);
    if (plan.kinds.includes('tombstone-purge')) await majorCompactPastGrace(cluster, plan, workloadEnd_ms);
    const keys = [...new Set(history.ops().map((op) => op.key))];
    let converged: FinalState;
    if (antiEntropy) {
      await repairPass(cluster);
      let replicas = await replicaVersions(cluster, keys);
      if (!keys.some((key) => disagree(replicas.get(key)!)) && (await schedule.afterHeal()).length > 0) {
        await repairPass(cluster);
        replicas = await replicaVersions(cluster, keys);
      }
      converged = await finalState(cluster, keys, replicas);
    } else {
      converged = await finalStateByReadRepair(cluster, keys);
    }
    final = { ...converged, ...crashFacts(cluster, sync, plan) };
  } catch (err) {
    error = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
  } finally {
    cluster.dispose();
  }
  const violations = final === undefined ? [] : checkHistory(history.ops(), final);
  const recorded = history.ops();
  return {
    seed,
    ok: error === undefined && violations.length === 0,
    violations,
    ...(error === undefined ? {} : { error }),
    ops: recorded.length,
    acked: recorded.filter((op) => op.outcome === 'ok').length,
    simulated_ms: cluster.world.now(),
    traceHash: cluster.world.traceHash(),
    faults: schedule.applied(),
    opMix,
    dcs: twoDcs ? 2 : 1,
    sync,
  };
}

/** N3 W2 R2 on `nodes` nodes in one DC, or across two (the first half-or-more in dc1 holding 2 replicas, the rest in dc2 holding 1). */
function clusterShape(nodes: number, twoDcs: boolean): { nodes: number | NodeSpec[]; replication: ReplicationOptions } {
  if (!twoDcs) return { nodes, replication: { n: REPLICAS, w: 2, r: 2 } };
  const inDc1 = Math.ceil(nodes / 2);
  const specs = Array.from({ length: nodes }, (_, i): NodeSpec => ({ id: `n${i + 1}`, dc: i < inDc1 ? 'dc1' : 'dc2' }));
  return { nodes: specs, replication: { dcs: { dc1: 2, dc2: REPLICAS - 2 }, w: 2, r: 2 } };
}

/**
 * What the checker must know to judge durability: every crash (a write
 * whose every holder crashed inside its sync window may be gone under
 * periodic sync) and the window itself: none under batch sync; under
 * periodic, the fsync interval plus the slowest fsync a disk of this seed
 * may take (the one in flight at a crash).
 */
function crashFacts(cluster: SimCluster, sync: SyncMode, plan: FaultPlan): Pick<FinalState, 'crashes' | 'sync' | 'removed' | 'hintsExpire'> {
  let slowestSync_ms = 0;
  for (const node of cluster.config.nodes) slowestSync_ms = Math.max(slowestSync_ms, plan.cluster.diskLatency?.(node.label)?.sync_ms[1] ?? 0);
  return {
    crashes: cluster.crashes(),
    sync: { mode: sync, window_ms: sync === 'batch' ? 0 : COMMITLOG_PERIODIC_SYNC_MS + slowestSync_ms },
    // Nodes removed for good (issue 16), and whether hints could expire: what a removal may take with it.
    removed: cluster.removedNodes(),
    hintsExpire: plan.cluster.hintTtlMs !== undefined,
  };
}

/** How a campaign runs. */
export interface CampaignOptions extends SeedOptions {
  /** Seeds to run; default [seed] or 1..count. */
  seeds?: readonly number[];
  seed?: number;
  /** Stop at the first failing seed. */
  stopAtFirstFailure?: boolean;
}

/** What a campaign found. */
export interface CampaignSummary {
  seeds: number;
  failed: SeedResult[];
  violations: number;
  ops: number;
  acked: number;
  simulated_ms: number;
  /** Seeds whose schedule applied each fault kind. */
  faultMix: Record<FaultKind, number>;
  /** What the clients did, summed over seeds. */
  opMix: OpMix;
  /** Seeds whose cluster spanned two data centers. */
  twoDcSeeds: number;
}

/** Run seeds one after another; `onSeed` sees each result as it comes. */
export async function runCampaign(options: CampaignOptions, onSeed?: (result: SeedResult) => void): Promise<CampaignSummary> {
  const seeds = options.seeds ?? [options.seed ?? 1];
  const faultMix = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const summary: CampaignSummary = { seeds: 0, failed: [], violations: 0, ops: 0, acked: 0, simulated_ms: 0, faultMix, opMix: emptyOpMix(), twoDcSeeds: 0 };
  for (const seed of seeds) {
    const result = await runSeed(seed, options);
    summary.seeds++;
    summary.ops += result.ops;
    summary.acked += result.acked;
    summary.simulated_ms += result.simulated_ms;
    summary.violations += result.violations.length;
    for (const kind of result.faults) faultMix[kind]++;
    addOpMix(summary.opMix, result.opMix);
    if (result.dcs === 2) summary.twoDcSeeds++;
    if (!result.ok) summary.failed.push(result);
    onSeed?.(result);
    if (!result.ok && options.stopAtFirstFailure === true) break;
  }
  return summary;
}

/** One line for a failing seed (its first violation, or the harness error); for a passing one null, or an ok line with `always`. */
export function formatSeedResult(result: SeedResult, always = false): string | null {
  if (result.ok && !always) return null;
  const head = `${result.ok ? 'ok' : 'FAIL'} seed=${result.seed} sync=${result.sync} dcs=${result.dcs} ops=${result.ops} acked=${result.acked} sim_ms=${result.simulated_ms} trace=${result.traceHash} faults=${result.faults.join(',') || 'none'}`;
  if (result.ok) return head;
  const first = result.violations[0];
  const reason = first !== undefined ? formatViolation(first, result.seed) : `harness: ${result.error ?? 'unknown'}`;
  const more = result.violations.length > 1 ? ` (+${result.violations.length - 1} more)` : '';
  return `${head} :: ${reason}${more} -- replay: SEED=${result.seed} or --seed ${result.seed} --trace`;
}

/** The summary line (virtual figures only, so it is byte-identical for the same seeds). */
export function formatSummary(summary: CampaignSummary): string {
  const mix = FAULT_KINDS.map((k) => `${k}=${summary.faultMix[k]}`).join(' ');
  const ops = OP_KINDS.map((k) => `${k}=${summary.opMix.ops[k]}`).join(' ');
  return `seeds=${summary.seeds} failed=${summary.failed.length} violations=${summary.violations} ops=${summary.ops} acked=${summary.acked} two_dc_seeds=${summary.twoDcSeeds} simulated_ms=${summary.simulated_ms} ops: ${ops} faults: ${mix}`;
}

// ---------------------------------------------------------------------------
// Heal, quiesce, final state
// ---------------------------------------------------------------------------

/** Let the failure detectors see every node alive, then wait (bounded) until every hint store is empty and no write is being minted. */
async function quiesce(cluster: SimCluster): Promise<void> {
  await cluster.world.runFor(HEAL_SETTLE_MS);
  for (let poll = 0; poll < HINT_POLLS_MAX; poll++) {
    let pending = 0;
    for (const node of cluster.config.nodes) {
      pending += (await cluster.askNode<{ total: number }>(node.label, 'handoff', { type: 'hints-pending' })).total;
      // A write still being minted (a slow disk holds it long after its client gave up) lands later: wait for it too.
      pending += await cluster.askNode<number>(node.label, 'replica', { type: 'mints-in-flight' });
    }
    if (pending === 0) return;
    await cluster.world.runFor(HINT_POLL_MS);
  }
}

/**
 * Under 'tombstone-purge': the cluster sits idle until every tombstone the
 * workload wrote is past its grace on every node's clock (the grace, plus
 * the clock skew, after the workload ended), then an operator runs a major
 * compaction on every node (`nodetool flush` and `nodetool compact`), as
 * operators do to reclaim space after deletes. Without it a seed's purges
 * wait for size-tiered compactions, which need writes to flush tables and
 * rarely merge every table that guards a key before the final reads. The
 * final reads then meet what the purges left: a tombstone purged on some
 * owners while another still holds what it deleted brings that back.
 */
async function majorCompactPastGrace(cluster: SimCluster, plan: FaultPlan, workloadEnd_ms: number): Promise<void> {
  const pastGrace_ms = workloadEnd_ms + plan.cluster.tombstoneGraceMs! + (plan.cluster.clockSkewMs ?? 0) + MAJOR_COMPACTION_MARGIN_MS;
  if (cluster.world.now() < pastGrace_ms) await cluster.world.runFor(pastGrace_ms - cluster.world.now());
  for (const node of cluster.config.nodes) {
    await cluster.askNode<MajorCompactionReport>(node.label, COMPACTION_ACTOR_ID, { type: 'major-compact' }, MAJOR_COMPACTION_TIMEOUT_MS);
  }
}

/**
 * Every node runs an anti-entropy repair pass (`ae-repair`): the world runs
 * until no node has a (group, peer) pair left, at most REPAIR_PASS_MAX_MS.
 * A pass that cannot finish shows as the divergence it leaves.
 */
async function repairPass(cluster: SimCluster): Promise<void> {
  const labels = cluster.config.nodes.map((n) => n.label);
  for (const label of labels) await cluster.askNode<RepairProgress>(label, ANTI_ENTROPY_ACTOR_ID, { type: 'ae-repair' });
  const until = cluster.world.now() + REPAIR_PASS_MAX_MS;
  while (cluster.world.now() < until) {
    let running = false;
    for (const label of labels) running ||= (await cluster.askNode<RepairProgress>(label, ANTI_ENTROPY_ACTOR_ID, { type: 'ae-progress' })).running;
    if (!running) return;
    await cluster.world.runFor(REPAIR_POLL_MS);
  }
}

/** Final r='all' reads of every key in the history, with the replicas' versions taken before them (no read repair helped). */
async function finalState(cluster: SimCluster, keys: readonly string[], replicas: Map<string, Map<string, string[]>>): Promise<FinalState> {
  const reader = cluster.client('final');
  const reads = new Map<string, { values: string[]; versions: string[] }>();
  for (const key of keys) reads.set(key, await finalRead(cluster, reader, key));
  return { reads, replicas, dotConflicts: await dotConflicts(cluster) };
}

/** With anti-entropy off: final r='all' reads of every key, repeated while replicas disagree (read repair converges them); then each replica's versions. */
async function finalStateByReadRepair(cluster: SimCluster, keys: readonly string[]): Promise<FinalState> {
  const reader = cluster.client('final');
  const reads = new Map<string, { values: string[]; versions: string[] }>();
  let replicas = new Map<string, Map<string, string[]>>();
  let toRead = keys;
  for (let pass = 0; pass < FINAL_READ_PASSES_MAX && toRead.length > 0; pass++) {
    for (const key of toRead) reads.set(key, await finalRead(cluster, reader, key));
    await cluster.world.runFor(FINAL_REPAIR_MS);
    replicas = await replicaVersions(cluster, keys);
    toRead = keys.filter((key) => disagree(replicas.get(key)!));
  }
  return { reads, replicas, dotConflicts: await dotConflicts(cluster) };
}

/**
 * The dot conflicts every node's replica reported (its `dot_conflicts`
 * stat). A replica counts since its actor started, so conflicts met before
 * a crash are not in the sum; their error log lines remain.
 */
async function dotConflicts(cluster: SimCluster): Promise<number> {
  let sum = 0;
  for (const node of cluster.config.nodes) sum += (await cluster.askNode<{ dot_conflicts: number }>(node.label, 'replica', { type: 'stats' })).dot_conflicts;
  return sum;
}

async function finalRead(cluster: SimCluster, reader: SimClient, key: string): Promise<{ values: string[]; versions: string[] }> {
  let last: unknown;
  for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS_MAX; attempt++) {
    try {
      const read = await reader.get(key, { r: 'all' });
      return { values: read.values.map((v) => v.toString()), versions: read.versions };
    } catch (err) {
      last = err;
      await cluster.world.runFor(HINT_POLL_MS);
    }
  }
  throw new Error(`final r=all read of ${key} failed ${FINAL_READ_ATTEMPTS_MAX} times after heal: ${String(last)}${stoppedActors(cluster)}`);
}

/** Actors supervision stopped for good (they failed too often), with the failure before the stop: why a node cannot answer. */
function stoppedActors(cluster: SimCluster): string {
  const errors = cluster.world.logs.all('error');
  const stops = errors.filter((line) => line.msg.endsWith(': stopped'));
  const why = stops.map((stop) => {
    const before = errors.filter((line) => line.source === stop.source && line.time_ms <= stop.time_ms && line !== stop).at(-1);
    const error = (before?.fields?.['error'] as { message?: string } | undefined)?.message ?? 'unknown';
    return `${stop.source} stopped at ${stop.time_ms} ms after: ${error.split('\n')[0]}`;
  });
  return why.length === 0 ? '' : ` (${why.join('; ')})`;
}

/**
 * Per key, each of its N owners' stored live versions as "dot=digest", so
 * convergence compares values. Tombstones are left out: once confirmed, each
 * owner purges its copy at its own compaction, and a copy whose confirmation
 * flag was lost (periodic sync, a crash) or that read repair sent back to an
 * owner that had purged it lives on until the next confirmation; a replica
 * holding a tombstone and one holding nothing answer reads alike. What a
 * missing tombstone would let through (an older value it covers) is a live
 * version and still counts, and resurrections are the final read's check.
 */
async function replicaVersions(cluster: SimCluster, keys: readonly string[]): Promise<Map<string, Map<string, string[]>>> {
  const ring = Ring.fromTokens(cluster.config.ring);
  const out = new Map<string, Map<string, string[]>>();
  for (const key of keys) {
    const keyBytes = new TextEncoder().encode(key);
    const byReplica = new Map<string, string[]>();
    for (const member of placeReplicas(ring, keyBytes, cluster.config.replication.dcs).replicas) {
      const label = labelOf(cluster.config, member);
      // A replica on a very slow disk answers a get only once the key's writes are synced: give it time.
      const held = await cluster.askNode<Version[]>(label, 'replica', { type: 'get', key: keyBytes }, REPLICA_READ_TIMEOUT_MS);
      byReplica.set(label, held.filter((v) => v.value !== null).map((v) => {
        const dot = decodeDvv(v.clock).dot;
        return formatDotDigest(formatVersion(dot), dot.digest);
      }).sort());
    }
    out.set(key, byReplica);
  }
  return out;
}

function disagree(byReplica: ReadonlyMap<string, readonly string[]>): boolean {
  const texts = new Set([...byReplica.values()].map((dots) => dots.join(',')));
  return texts.size > 1;
}

// ---------------------------------------------------------------------------
// Driving the world
// ---------------------------------------------------------------------------

/** Send every trace event to `sink` as it is recorded (the world keeps only a bounded tail). */
function streamTrace(cluster: SimCluster, sink: (line: string) => void): void {
  const trace = cluster.world.trace;
  // Events recorded while the cluster was built (spawns) are all still in the tail: print them first.
  for (const event of trace.recent()) sink(eventText(event));
  const record = trace.record.bind(trace);
  trace.record = (input) => {
    const event = record(input);
    sink(eventText(event));
    return event;
  };
}
