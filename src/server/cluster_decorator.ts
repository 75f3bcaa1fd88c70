/**
 * A `Cluster` that forwards every call to another one: the base of the
 * server's wrappers (`observed_cluster.ts`, and `turn_batcher.ts` for EXEC), which
 * override only the calls they change.
 */
import type {
  Bytes,
  Cluster,
  ClusterStatus,
  ExplainResult,
  GetManyEntry,
  GetManyOutcome,
  PutManyEntry,
  PutManyOutcome,
  ReadOptions,
  ReadResult,
  WriteOptions,
  WriteResult,
  RepairReport,
  ChangePlan,
  MembershipChange,
  NodeSpec,
  TransfersReport,
} from '../cluster/cluster_types.js';

/** Forwards every call to `inner`. */
export abstract class ClusterDecorator implements Cluster {
  constructor(
    /** The cluster every call goes to. */
    protected readonly inner: Cluster,
  ) {}

  get nodes(): readonly string[] {
    return this.inner.nodes;
  }

  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.inner.put(key, value, options);
  }

  putMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]> {
    return this.inner.putMany(entries);
  }

  get(key: Bytes, options?: ReadOptions): Promise<ReadResult> {
    return this.inner.get(key, options);
  }

  getMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]> {
    return this.inner.getMany(entries);
  }

  delete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.inner.delete(key, options);
  }

  explain(key: Bytes): Promise<ExplainResult> {
    return this.inner.explain(key);
  }

  repair(): Promise<RepairReport> {
    return this.inner.repair();
  }

  repairProgress(): Promise<RepairReport> {
    return this.inner.repairProgress();
  }

  status(): Promise<ClusterStatus> {
    return this.inner.status();
  }

  crash(id: string): Promise<void> {
    return this.inner.crash(id);
  }

  restart(id: string): Promise<void> {
    return this.inner.restart(id);
  }

  partition(groups: string[][]): Promise<void> {
    return this.inner.partition(groups);
  }

  heal(): Promise<void> {
    return this.inner.heal();
  }

  planChange(change: MembershipChange): Promise<ChangePlan> {
    return this.inner.planChange(change);
  }

  changeMembership(change: MembershipChange, options?: { wait?: boolean }): Promise<ChangePlan> {
    return this.inner.changeMembership(change, options);
  }

  addNode(node: NodeSpec): Promise<ChangePlan> {
    return this.inner.addNode(node);
  }

  decommission(id: string): Promise<ChangePlan> {
    return this.inner.decommission(id);
  }

  removeNode(id: string): Promise<ChangePlan> {
    return this.inner.removeNode(id);
  }

  replace(deadId: string, node: NodeSpec): Promise<ChangePlan> {
    return this.inner.replace(deadId, node);
  }

  transfers(): Promise<TransfersReport> {
    return this.inner.transfers();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
