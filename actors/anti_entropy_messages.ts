/**
 * The messages of the anti-entropy actor (`anti_entropy.ts`, issue 15), its
 * spawn arguments and the answers to its asks: what the cluster, the
 * simulator and the peers' actors exchange with it.
 */
import type { AeMessage } from '../src/core/ae_messages.js';
import type { AeResult } from '../src/core/ae_exchange.js';
import type { DcReplicas } from '../src/core/placement.js';
import type { RingMember } from '../src/core/ring.js';
import type { LivenessMsg } from './failure_detector.js';
import type { TreeFeedMsg } from './tree_feed.js';
import type { RingUpdate } from './ring_view.js';

/** Messages the anti-entropy actor understands. */
export type AntiEntropyMsg =
  | TreeFeedMsg
  | LivenessMsg
  | { type: 'ae-tick'; due_ms: number }
  | { type: 'ae-rebuild-tick' }
  /** Retry a rebuild that could not read the replica. */
  | { type: 'ae-rebuild-retry' }
  /** A run's `sleep` is over. */
  | { type: 'ae-wake'; id: number }
  /** One message of an exchange, from the peer's anti-entropy actor. */
  | { type: 'ae-peer'; from: string; group: string; msg: AeMessage }
  /** Ask → `RepairProgress`: start a pass exchanging every (group, peer) pair now (or report the one running). */
  | { type: 'ae-repair' }
  /** Ask → `RepairProgress` of the last pass. */
  | { type: 'ae-progress' }
  /** Ask → `KeyExchanges`: the group of `key` and when it was last exchanged with whom. */
  | { type: 'ae-key'; key: Uint8Array }
  /** Ask → `AntiEntropyStats`. */
  | { type: 'stats' }
  /** Ask → true: a membership change's ring view; a new current ring regroups and rebuilds the trees (`ring_view.ts`). */
  | RingUpdate;

/** How to spawn one. */
export interface AntiEntropyArgs {
  /** This node's member id. */
  self: string;
  /** The ring, as every coordinator has it (a node joining is on it only once the change commits). */
  ring: RingMember[];
  /** The number of that ring view (`RingUpdate.version`); 0 by default. */
  ringVersion?: number;
  /** The ring view's pending and previous rings (`RingUpdate`): their replicas of a key must hold its tombstone before it is confirmed. */
  pendingRing?: RingMember[] | null;
  previousRing?: RingMember[] | null;
  /** Replicas per data center (the cluster's replication). */
  dcs: DcReplicas;
  /** Leaf bits of every tree (default AE_LEAF_BITS_DEFAULT; the same on every node). */
  leafBits?: number;
  /** How often an exchange may start (default AE_EXCHANGE_INTERVAL_MS). */
  intervalMs?: number;
  /** How often trees are rebuilt from storage (default AE_REBUILD_INTERVAL_MS). */
  rebuildIntervalMs?: number;
  /** Throttle of sends and fetches together (default AE_BYTES_PER_SECOND_MAX). */
  bytesPerSecond?: number;
}

/** When one pair last exchanged, as `explain` shows it. */
export interface PairExchange {
  peer: string;
  /** ms since the last exchange that completed (null: none since the node started). */
  lastSuccessAgeMs: number | null;
  /** What the last exchange found or why it failed (null: none yet). */
  lastOutcome: AeResult['outcome'] | null;
}

/** Answer to `ae-key`. */
export interface KeyExchanges {
  group: string;
  /** This node's trees are built (false while the first rebuild runs). */
  treesReady: boolean;
  peers: PairExchange[];
}

/** Progress of a repair pass. */
export interface RepairProgress {
  /** Pass number on this node since it started (0: none yet). */
  pass: number;
  running: boolean;
  pairsTotal: number;
  pairsDone: number;
  /** Pairs still to exchange, as "group>peer". */
  pending: string[];
  keysRepaired: number;
}

/** Answer to `stats`. */
export interface AntiEntropyStats {
  exchanges: Record<AeResult['outcome'], number>;
  keys_repaired: number;
  bytes_sent: number;
  bytes_fetched: number;
  groups: number;
  /** Groups whose last exchange with some peer found a difference or failed, or that never completed one. */
  groups_out_of_sync: number;
  /** The longest any (group, peer) pair has gone without a completed exchange, in ms (since start when never). */
  oldest_exchange_age_ms: number;
  rebuilds: number;
  tree_bytes: number;
  tree_keys: number;
  trees_ready: boolean;
  /** Ticks skipped because the thread was overloaded. */
  overloaded_skips: number;
}
