/**
 * A whole ringkv cluster in the deterministic simulator: every node runs the
 * same actors as on worker threads (`node_plan.ts`), on a simulated disk that
 * loses unsynced bytes when the node crashes, with an in-memory hint store
 * that survives the crash (as LMDB's synced pages would). Clients talk to it
 * through the same `ClusterClient` as the real cluster, in virtual time.
 *
 * Thread contract: single-threaded, like the SimWorld it drives.
 */
import { actorKinds as compactionKinds } from '../../actors/compaction.js';
import { actorKinds as coordinatorKinds } from '../../actors/coordinator.js';
import { actorKinds as detectorKinds } from '../../actors/failure_detector.js';
import { actorKinds as gossipKinds } from '../../actors/gossip.js';
import { actorKinds as handoffKinds } from '../../actors/handoff.js';
import { actorKinds as replicaKinds } from '../../actors/replica.js';
import { InlineCompactionExecutor } from '../../storage/compaction_task.js';
import { MemoryHintStore } from '../../storage/memory_hint_store.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import type { ClusterOptions, PutManyEntry, PutManyOutcome, ReadOptions, ReadResult, WriteOptions, WriteResult, Bytes } from '../cluster_types.js';
import { ClusterClient } from '../cluster_client.js';
import { memberOf, resolveCluster, type ResolvedCluster, type ResolvedNode } from '../cluster_config.js';
import { REQUEST_TIMEOUT_MS } from '../core/limits.js';
import { Prng } from '../core/prng.js';
import { nodePlan } from '../node_plan.js';
import type { ActorKinds, ActorRef, Message } from '../runtime/actor.js';
import { SimWorld, type FaultOptions } from '../runtime/sim/index.js';

const KINDS: ActorKinds = { ...replicaKinds, ...compactionKinds, ...gossipKinds, ...detectorKinds, ...handoffKinds, ...coordinatorKinds };

/** Where simulated nodes keep their data. */
const SIM_DATA_DIR = '/data';

/** Virtual ms a client call may run the world before it is reported stuck. */
const CALL_RUN_MAX_MS = 60_000;

/** How to build a simulated cluster. */
export interface SimClusterOptions extends Pick<ClusterOptions, 'nodes' | 'replication' | 'requestTimeoutMs'> {
  seed: number;
  faults?: FaultOptions;
  /** Memtable size before a flush (small values exercise SSTables and compaction). */
  memtableFlushBytes?: number;
  /** Print actor logs as they happen. */
  printLogs?: boolean;
}

/** A simulated cluster and its fault controls. */
export class SimCluster {
  readonly world: SimWorld;
  readonly config: ResolvedCluster;
  private readonly disks = new Map<number, SimFileSystem>();
  private readonly hintStores = new Map<number, MemoryHintStore>();
  private readonly running = new Set<string>();
  private readonly prng: Prng;
  private clients = 0;

  constructor(private readonly options: SimClusterOptions) {
    this.world = new SimWorld({ seed: options.seed, ...(options.faults ? { faults: options.faults } : {}), print_logs: options.printLogs ?? false });
    this.prng = new Prng(options.seed ^ 0x5eed);
    this.config = resolveCluster(options);
    for (const node of this.config.nodes) this.start(node);
  }

  /** A client: requests routed token-aware, with its own request ids. */
  client(name = `c${++this.clients}`): SimClient {
    const ask = <R>(to: ActorRef, msg: Message, timeout_ms: number): Promise<R> => this.world.ask<R>(to, msg, timeout_ms);
    return new SimClient(
      new ClusterClient(this.config, ask, (member) => this.running.has(member), name, this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
      this,
    );
  }

  /**
   * Crash node `label`: its actors stop, its disk loses what was not synced
   * (seeded torn tails), or everything with `loseDisk` (a replaced drive: the
   * node comes back empty, under a new identity).
   */
  crash(label: string, options: { loseDisk?: boolean } = {}): void {
    const node = memberOf(this.config, label);
    if (!this.running.has(node.member)) return;
    this.world.crash(node.thread);
    this.disks.set(node.thread, options.loseDisk ? new SimFileSystem() : this.disks.get(node.thread)!.crash(this.prng));
    this.running.delete(node.member);
  }

  /** Restart node `label` from what its disk kept. */
  restart(label: string): void {
    const node = memberOf(this.config, label);
    if (this.running.has(node.member)) return;
    this.world.restart(node.thread);
    this.running.add(node.member);
  }

  /** Cut the network between every pair of groups (of node labels). */
  partition(groups: string[][]): void {
    const threads = groups.map((g) => g.map((label) => memberOf(this.config, label).thread));
    for (let i = 0; i < threads.length; i++) {
      for (let j = i + 1; j < threads.length; j++) this.world.partition(threads[i]!, threads[j]!);
    }
  }

  /** Undo every partition. */
  heal(): void {
    this.world.heal();
  }

  /**
   * Run the world until `promise` settles, in steps of `step_ms` virtual ms
   * (default 5), at most `max_ms` (default CALL_RUN_MAX_MS); then return its
   * result. Throws, naming `what`, if it does not settle in time.
   */
  async settle<T>(promise: Promise<T>, options: { max_ms?: number; step_ms?: number; what?: string } = {}): Promise<T> {
    const { max_ms = CALL_RUN_MAX_MS, step_ms = 5, what = 'a simulated call' } = options;
    let done = false;
    const watched = promise.finally(() => (done = true));
    watched.catch(() => undefined);
    const until = this.world.now() + max_ms;
    while (!done && this.world.now() < until) await this.world.runFor(step_ms);
    if (!done) throw new Error(`${what} did not settle within ${max_ms} virtual ms`);
    return watched;
  }

  /** Ask an actor of node `label` and run the world until it answers. */
  askNode<R>(label: string, id: string, msg: Message, timeout_ms = 5000): Promise<R> {
    const node = memberOf(this.config, label);
    return this.settle(this.world.ask<R>({ thread: node.thread, id }, msg, timeout_ms));
  }

  /** True while node `label` runs. */
  isRunning(label: string): boolean {
    return this.running.has(memberOf(this.config, label).member);
  }

  private start(node: ResolvedNode): void {
    const t = node.thread;
    this.disks.set(t, new SimFileSystem());
    this.hintStores.set(t, new MemoryHintStore({ now: () => this.world.now() }));
    for (const spec of nodePlan(this.config, node, { dataDir: SIM_DATA_DIR, ...(this.options.requestTimeoutMs ? { requestTimeoutMs: this.options.requestTimeoutMs } : {}) })) {
      const factory = KINDS[spec.kind]!;
      // Factories read the maps when called, so a restarted node gets the disk its crash left.
      this.world.spawn(t, () => factory(this.simArgs(spec.kind, t, spec.args as Record<string, unknown>)), spec.id);
    }
    this.running.add(node.member);
  }

  private simArgs(kind: string, t: number, args: Record<string, unknown>): Record<string, unknown> {
    const disk = this.disks.get(t)!;
    switch (kind) {
      case 'replica':
        return { ...args, fs: disk, ...(this.options.memtableFlushBytes ? { memtableFlushBytes: this.options.memtableFlushBytes } : {}) };
      case 'compaction':
        return { ...args, executor: new InlineCompactionExecutor(disk) };
      case 'handoff':
        return { ...args, storage: this.hintStores.get(t)! };
      default:
        return args;
    }
  }
}

/** A client of a simulated cluster: each call runs the world until it settles. */
export class SimClient {
  constructor(
    private readonly client: ClusterClient,
    private readonly cluster: SimCluster,
  ) {}

  /** Start a put without running the world (for concurrent requests); settle with `cluster.settle`. */
  startPut(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.client.put(key, value, options);
  }

  startPutMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]> {
    return this.client.putMany(entries);
  }

  startGet(key: Bytes, options?: ReadOptions): Promise<ReadResult> {
    return this.client.get(key, options);
  }

  startDelete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.client.put(key, null, options);
  }

  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.cluster.settle(this.startPut(key, value, options));
  }

  putMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]> {
    return this.cluster.settle(this.startPutMany(entries));
  }

  get(key: Bytes, options?: ReadOptions): Promise<ReadResult> {
    return this.cluster.settle(this.startGet(key, options));
  }

  delete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.cluster.settle(this.startDelete(key, options));
  }
}
