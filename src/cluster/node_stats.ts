/**
 * The part of `Cluster.status()` that reads one running node's counters and
 * phi values: six asks in parallel (the sixth to its anti-entropy actor), to its coordinator (read repairs), its
 * hinted-handoff actor (hints stored and delivered), its compaction actor
 * (compactions finished), its replica (dot conflicts its storage met) and
 * its failure detector (phi per peer); the replica's answer also says
 * whether its storage works (`storage`). Each
 * actor counts since it (re)started, so together they count since the
 * node's thread last started.
 *
 * A failed ask gives null, never a rejection: counters are all or nothing
 * (one missing source would read as a restart of that counter to whoever
 * turns them into increments), and phi is null when the detector did not
 * answer.
 *
 * Thread contract: the thread that owns the cluster (it only sends asks).
 */
import type { AntiEntropyStatus, NodeCounters, StorageStatus } from './cluster_types.js';
import type { AntiEntropyStats } from '../../actors/anti_entropy.js';
import { COMPACTION_ACTOR_ID } from './node_plan.js';
import type { Message } from '../runtime/actor.js';
import type { CompactionStats } from '../../actors/compaction.js';
import type { CoordinatorStats } from '../../actors/coordinator.js';
import type { FailureDetectorStats } from '../../actors/failure_detector.js';
import type { HandoffStats } from '../../actors/handoff.js';
import type { ReplicaStats } from '../../actors/replica.js';
import { ANTI_ENTROPY_ACTOR_ID, COORDINATOR_ACTOR_ID, DETECTOR_ACTOR_ID, HANDOFF_ACTOR_ID, REPLICA_ACTOR_ID } from '../../actors/member_refs.js';

/** Asks actor `id` of the node in question; rejects on failure or timeout. */
export type NodeAsk = <R>(id: string, msg: Message) => Promise<R>;

/** What one node's stats asks gave. */
export interface NodeStats {
  /** Its event counters, or null when any of their sources did not answer. */
  counters: NodeCounters | null;
  /** Phi per peer, keyed by the peer's node id (label), or null when the detector did not answer. */
  phi: Record<string, number> | null;
  /** Its storage health as its replica reports it, or null when the replica did not answer. */
  storage: StorageStatus | null;
  /** Its anti-entropy, or null when that actor did not answer (or the node runs none). */
  antiEntropy: AntiEntropyStatus | null;
}

/** Ask a running node for its counters and phi values; `labelOf` turns member ids into node ids. Never rejects. */
export async function askNodeStats(ask: NodeAsk, labelOf: (member: string) => string): Promise<NodeStats> {
  const orNull = <R>(asked: Promise<R>): Promise<R | null> => asked.catch(() => null);
  const [coordinator, handoff, compaction, replica, detector, ae] = await Promise.all([
    orNull(ask<CoordinatorStats>(COORDINATOR_ACTOR_ID, { type: 'stats' })),
    orNull(ask<HandoffStats>(HANDOFF_ACTOR_ID, { type: 'stats' })),
    orNull(ask<CompactionStats>(COMPACTION_ACTOR_ID, { type: 'stats' })),
    orNull(ask<Pick<ReplicaStats, 'dot_conflicts' | 'storage'>>(REPLICA_ACTOR_ID, { type: 'stats' })),
    orNull(ask<FailureDetectorStats>(DETECTOR_ACTOR_ID, { type: 'stats' })),
    orNull(ask<AntiEntropyStats>(ANTI_ENTROPY_ACTOR_ID, { type: 'stats' })),
  ]);
  const counters: NodeCounters | null =
    coordinator && handoff && compaction && replica
      ? {
          readRepairs: coordinator.read_repairs,
          hintsStored: handoff.stored,
          hintsReplayed: handoff.delivered,
          compactions: compaction.compactions,
          dotConflicts: replica.dot_conflicts,
        }
      : null;
  let phi: Record<string, number> | null = null;
  if (detector) {
    phi = {};
    for (const [member, value] of Object.entries(detector.phi)) phi[labelOf(member)] = value;
  }
  const antiEntropy: AntiEntropyStatus | null =
    ae === null
      ? null
      : {
          exchanges: ae.exchanges,
          keysRepaired: ae.keys_repaired,
          bytesSent: ae.bytes_sent,
          bytesFetched: ae.bytes_fetched,
          groups: ae.groups,
          groupsOutOfSync: ae.groups_out_of_sync,
          oldestExchangeAgeMs: ae.oldest_exchange_age_ms,
          treeBytes: ae.tree_bytes,
          treeKeys: ae.tree_keys,
          treesReady: ae.trees_ready,
        };
  return { counters, phi, storage: replica?.storage ?? null, antiEntropy };
}
