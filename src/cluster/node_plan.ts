/**
 * What runs on one cluster node: its actors and their arguments, the same
 * for worker threads (`cluster.ts`) and the simulator (`simulation/`), which
 * adds its simulated disk and hint store to the arguments. A node is one
 * thread: replica (LSM engine), compaction, gossip, failure detector,
 * hinted handoff, coordinator and anti-entropy; the detector tells the
 * coordinator, the handoff and the anti-entropy actors of every liveness
 * change.
 */
import { join } from 'node:path';
import type { SpawnSpec } from '../runtime/actor.js';
import type { ResolvedCluster, ResolvedNode } from './cluster_config.js';
import type { AntiEntropyOptions } from './cluster_types.js';
import { ANTI_ENTROPY_ACTOR_ID, COORDINATOR_ACTOR_ID, DETECTOR_ACTOR_ID, GOSSIP_ACTOR_ID, HANDOFF_ACTOR_ID, REPLICA_ACTOR_ID } from '../../actors/member_refs.js';
import type { AntiEntropyArgs } from '../../actors/anti_entropy.js';
import { RELAY_ACTOR_ID } from '../../actors/relay.js';
import { TRANSFER_ACTOR_ID } from '../../actors/transfer.js';
import type { RingMember } from '../core/ring.js';
import { InvalidRequestError } from '../core/errors.js';
import { HINT_MAX_AGE_MS, TOMBSTONE_GRACE_MS } from '../core/limits.js';

/** Actor id of a node's compaction actor. */
export const COMPACTION_ACTOR_ID = 'compaction';

/** Gossip seeds: the first nodes of the cluster (at most this many). */
const SEEDS_MAX = 3;

/** File URLs of every module a node's worker thread loads. */
export const NODE_MODULES: readonly string[] = ['replica', 'compaction', 'gossip', 'failure_detector', 'handoff', 'coordinator', 'anti_entropy', 'relay', 'transfer'].map(
  (name) => new URL(`../../actors/${name}.js`, import.meta.url).href,
);

/**
 * The commit-log sync mode of `openCluster`, `startServer` and `ringkv
 * start` when none is given: 'batch', so an acknowledged write is on disk
 * on W replicas. 'periodic' is opt-in: faster, but a crash of every replica
 * that stored a write within COMMITLOG_PERIODIC_SYNC_MS of it loses it.
 */
export const SYNC_MODE_DEFAULT = 'batch' as const;

/** Where things live and how durable they are. */
export interface NodePlanOptions {
  /** Root of all nodes' data: `<dataDir>/<label>/` holds a node's LSM data, `hints/` its hint store. */
  dataDir: string;
  /** Commit-log sync mode of the replica, reported in the coordinator's write receipts (default SYNC_MODE_DEFAULT). */
  syncMode?: 'periodic' | 'batch';
  /** Client request deadline at the coordinators. */
  requestTimeoutMs?: number;
  /** How long replicas keep a tombstone at least, even once every owner confirmed it (default TOMBSTONE_GRACE_MS). */
  tombstoneGraceMs?: number;
  /**
   * The age past which the nodes' hint stores drop a hint (default
   * HINT_MAX_AGE_MS; only the simulator's stores take another). Only checked
   * here, against the tombstone grace (`checkTombstoneGrace`).
   */
  hintTtlMs?: number;
  /** Active anti-entropy (issue 15): false turns it off; an object tunes it. On by default. */
  antiEntropy?: boolean | AntiEntropyOptions;
  /**
   * The ring view to start with (issue 16): its number, and the ring a
   * membership change in progress will commit. Default: version 0, none.
   */
  ringView?: { version: number; ring?: RingMember[]; pending: RingMember[] | null; previous?: RingMember[] | null };
  /** Throttle of the node's transfers in membership changes (default TRANSFER_BYTES_PER_SECOND). */
  transferBytesPerSecond?: number;
}

/**
 * Refuse a tombstone grace shorter than the hint TTL. A hint written before
 * a delete carries a value the tombstone shadows; it can be replayed until it
 * is `hintTtlMs` old, and a tombstone is at least as young as any write it
 * shadows, so with grace ≥ TTL every such hint has expired before the
 * tombstone may be purged, and a purged tombstone cannot be undone by a late
 * hint. (Clocks that disagree by more than grace − TTL would reopen that
 * window: keep the margin above the clock skew.)
 */
export function checkTombstoneGrace(tombstoneGraceMs = TOMBSTONE_GRACE_MS, hintTtlMs = HINT_MAX_AGE_MS): void {
  if (!(tombstoneGraceMs >= hintTtlMs)) {
    throw new InvalidRequestError(
      `tombstone grace of ${tombstoneGraceMs} ms is shorter than the hint TTL of ${hintTtlMs} ms: a late hint could bring a purged delete's value back; ` +
        'raise the grace or lower the hint TTL',
    );
  }
}

/** The data directory of `node`. */
export function nodeDir(dataDir: string, node: ResolvedNode): string {
  return join(dataDir, node.label);
}

/** The actors of `node`, in spawn order. */
export function nodePlan(cluster: ResolvedCluster, node: ResolvedNode, options: NodePlanOptions): SpawnSpec[] {
  checkTombstoneGrace(options.tombstoneGraceMs, options.hintTtlMs);
  const t = node.thread;
  const dir = nodeDir(options.dataDir, node);
  const seeds = cluster.nodes.slice(0, SEEDS_MAX).map((n) => n.member);
  // A node joining is on the pending ring only, until the change commits.
  const view = options.ringView ?? { version: 0, pending: null };
  // The ring the node starts on: the view's (a change may be committing), else the cluster's.
  const ring = view.ring ?? cluster.ring;
  const previous = view.previous ?? null;
  const ringMember = ring.find((m) => m.id === node.member) ?? view.pending?.find((m) => m.id === node.member);
  if (ringMember === undefined) throw new InvalidRequestError(`node ${node.label} is on neither the ring nor the pending one`);
  const syncMode = options.syncMode ?? SYNC_MODE_DEFAULT;
  const ae = options.antiEntropy ?? true;
  const aeRef = { thread: t, id: ANTI_ENTROPY_ACTOR_ID };
  const subscribers = [{ thread: t, id: COORDINATOR_ACTOR_ID }, { thread: t, id: HANDOFF_ACTOR_ID }];
  if (ae !== false) subscribers.push(aeRef);
  const specs: SpawnSpec[] = [
    {
      kind: 'replica',
      id: REPLICA_ACTOR_ID,
      args: {
        dir,
        syncMode,
        ...(options.tombstoneGraceMs !== undefined ? { tombstoneGraceMs: options.tombstoneGraceMs } : {}),
        compaction: { thread: t, id: COMPACTION_ACTOR_ID },
        ...(ae !== false ? { antiEntropy: aeRef } : {}),
      },
    },
    { kind: 'compaction', id: COMPACTION_ACTOR_ID, args: { replica: { thread: t, id: REPLICA_ACTOR_ID } } },
    { kind: 'gossip', id: GOSSIP_ACTOR_ID, args: { self: { id: node.member, data_center: node.dc, rack: node.rack, tokens: [...ringMember.tokens] }, seeds } },
    {
      kind: 'failure-detector',
      id: DETECTOR_ACTOR_ID,
      args: { self: node.member, subscribers },
    },
    {
      kind: 'handoff',
      id: HANDOFF_ACTOR_ID,
      args: {
        self: node.member,
        dir: join(dir, 'hints'),
        // After a membership change it drops the hints of members that left (before one, members never leave).
        ...(view.version > 0 ? { members: [...ring, ...(view.pending ?? [])].map((m) => m.id), ring_version: view.version } : {}),
      },
    },
    {
      kind: 'coordinator',
      id: COORDINATOR_ACTOR_ID,
      args: {
        self: node.member,
        ring,
        ...(view.version > 0 ? { ring_version: view.version, pending_ring: view.pending, previous_ring: previous } : {}),
        replication: cluster.replication,
        sync_mode: syncMode,
        ...(options.requestTimeoutMs ? { request_timeout_ms: options.requestTimeoutMs } : {}),
      },
    },
  ];
  // The way the main thread asks the nodes of other processes (`actors/relay.ts`); idle otherwise.
  specs.push({ kind: 'relay', id: RELAY_ACTOR_ID, args: {} });
  // Copies the ranges a membership change gives this node (`actors/transfer.ts`); idle otherwise.
  specs.push({ kind: 'transfer', id: TRANSFER_ACTOR_ID, args: options.transferBytesPerSecond !== undefined ? { bytesPerSecond: options.transferBytesPerSecond } : {} });
  if (ae !== false) {
    const args: AntiEntropyArgs = {
      self: node.member,
      ring,
      dcs: cluster.replication.dcs,
      ...(view.version > 0 ? { ringVersion: view.version, pendingRing: view.pending, previousRing: previous } : {}),
      ...(ae === true ? {} : ae),
    };
    specs.push({ kind: 'anti-entropy', id: ANTI_ENTROPY_ACTOR_ID, args });
  }
  return specs;
}
