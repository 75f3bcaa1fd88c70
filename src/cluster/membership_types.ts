/**
 * The embedding API's types of membership changes (issue 16): what is
 * asked, its plan, and the transfers of one in progress
 * (`Cluster.planChange`, `changeMembership`, `transfers`).
 */
import type { NodeSpec } from './cluster_types.js';

/** A membership change, by node ids (issue 16). */
export type MembershipChange =
  | { kind: 'join'; node: NodeSpec }
  | { kind: 'decommission'; node: string }
  | { kind: 'remove'; node: string }
  | { kind: 'replace'; dead: string; node: NodeSpec };

/** A membership change, planned. */
export interface ChangePlan {
  change: MembershipChange;
  /** Each member's share of the ring (0..1) before and after. */
  before: Record<string, number>;
  after: Record<string, number>;
  /** Ranges to copy: the node receiving them, the nodes it copies from (in order), and the share of the ring. */
  transfers: { target: string; sources: string[]; ranges: number; share: number }[];
  /** Share of all replica copies that move (Σ transfer shares / N); ideally 1/nodes for a join. */
  movedShare: number;
}

/** One transfer of the change in progress. */
export interface TransferReport {
  id: string;
  target: string;
  sources: string[];
  /** Share of the ring it copies. */
  share: number;
  state: 'not started' | 'waiting' | 'running' | 'verified' | 'failed';
  /** Its pass against its current source (1 = the copy; later ones fix what writes in flight left). */
  pass: number;
  keysFetched: number;
  bytes: number;
  /** Over the last few seconds. */
  bytesPerSecond: number;
  /** Estimated from the keys its ranges hold; null when unknown or done. */
  etaMs: number | null;
  error?: string;
}

/** The membership change in progress (`Cluster.transfers`). */
export interface TransfersReport {
  change: MembershipChange | null;
  /**
   * streaming: transfers run; switching: the new ring is being committed;
   * handoff: a last sync from each replica that drops a range; cleanup: old
   * copies are being dropped.
   */
  phase: 'streaming' | 'switching' | 'handoff' | 'cleanup' | null;
  startedAgoMs: number | null;
  transfers: TransferReport[];
  /** The ring view the nodes are at (0: as created; each change adds 3: pending, committed, settled). */
  ringVersion: number;
}
