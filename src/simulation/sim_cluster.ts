/**
 * A whole ringkv cluster in the deterministic simulator: every node runs the
 * same actors as on worker threads (`node_plan.ts`), on a simulated disk that
 * loses unsynced bytes when the node crashes, with an in-memory hint store
 * that survives the crash (as LMDB's synced pages would). Clients talk to it
 * through the same `ClusterClient` as the real cluster, in virtual time.
 *
 * Options make it behave like the machines users run on: a sync mode
 * (`periodic` loses the unsynced commit-log tail on a crash), disks that
 * take time (seeded per-node latency on the world's timers, so a slow fsync
 * can outlast a coordinator's replica ask), clocks that disagree (a seeded
 * offset per node on what its actors read), short hint lifetimes and
 * tombstone graces. It keeps a log of crashes for the checker.
 *
 * Thread contract: single-threaded, like the SimWorld it drives.
 */
import { actorKinds as compactionKinds } from '../../actors/compaction.js';
import { actorKinds as coordinatorKinds } from '../../actors/coordinator.js';
import { actorKinds as detectorKinds } from '../../actors/failure_detector.js';
import { actorKinds as gossipKinds } from '../../actors/gossip.js';
import { actorKinds as handoffKinds } from '../../actors/handoff.js';
import { actorKinds as replicaKinds } from '../../actors/replica.js';
import { actorKinds as antiEntropyKinds } from '../../actors/anti_entropy.js';
import { actorKinds as relayKinds } from '../../actors/relay.js';
import { actorKinds as transferKinds } from '../../actors/transfer.js';
import { InlineCompactionExecutor } from '../../storage/compaction_task.js';
import { SSTABLE_SUFFIX } from '../../storage/manifest.js';
import { MemoryHintStore } from '../../storage/memory_hint_store.js';
import { SimFileSystem, type SimDiskLatency, type SimDiskOp } from '../../storage/sim_fs.js';
import type { MembershipChange, NodeSpec, AntiEntropyOptions, ClusterOptions, GetManyEntry, GetManyOutcome, PutManyEntry, PutManyOutcome, ReadOptions, ReadResult, WriteOptions, WriteResult, Bytes } from '../cluster/cluster_types.js';
import type { CrashRecord } from '../check/history.js';
import { ClusterClient } from '../cluster/cluster_client.js';
import { memberOf, resolveCluster, type ResolvedCluster, type ResolvedNode } from '../cluster/cluster_config.js';
import { hashString32 } from '../core/hash.js';
import { REQUEST_TIMEOUT_MS } from '../core/limits.js';
import { Prng } from '../core/prng.js';
import { nodePlan } from '../cluster/node_plan.js';
import { newChange, runChange, viewDuring, type ChangeHost, type ChangeState } from '../cluster/membership_change.js';
import type { RingChangePlan } from '../core/ring_change.js';
import { addedNode, ringChangeOf } from '../cluster/membership_request.js';
import type { ActorKinds, ActorRef, Message, SpawnSpec } from '../runtime/actor.js';
import { threadOf } from '../../actors/member_refs.js';
import { SimWorld, type FaultOptions } from '../runtime/sim/index.js';

const KINDS: ActorKinds = { ...replicaKinds, ...compactionKinds, ...gossipKinds, ...detectorKinds, ...handoffKinds, ...coordinatorKinds, ...antiEntropyKinds, ...relayKinds, ...transferKinds };

/** Where simulated nodes keep their data. */
const SIM_DATA_DIR = '/data';

/** Bit rot (`rotSstable`) hits one of a table's first this many bits: inside its first entry, whatever the key. */
const ROT_BITS = 32;

/** Virtual ms a client call may run the world before it is reported stuck. */
const CALL_RUN_MAX_MS = 60_000;

/** How long one node's disk operations take, drawn uniformly per operation (virtual ms). */
export interface DiskLatencyRange {
  /** Per append (the page-cache copy). */
  append_ms: readonly [number, number];
  /** Per fsync of a file or a directory. */
  sync_ms: readonly [number, number];
}

/** How to build a simulated cluster. */
export interface SimClusterOptions extends Pick<ClusterOptions, 'nodes' | 'replication' | 'requestTimeoutMs'> {
  seed: number;
  faults?: FaultOptions;
  /** Memtable size before a flush (small values exercise SSTables and compaction). */
  memtableFlushBytes?: number;
  /** Print actor logs as they happen. */
  printLogs?: boolean;
  /** Commit-log durability of every replica (default 'batch'; 'periodic' fsyncs every COMMITLOG_PERIODIC_SYNC_MS). */
  syncMode?: 'batch' | 'periodic';
  /** Age past which a stored hint is purged undelivered (default HINT_MAX_AGE_MS). */
  hintTtlMs?: number;
  /** How long replicas keep a tombstone at least, even once confirmed (default TOMBSTONE_GRACE_MS; at least `hintTtlMs`). */
  tombstoneGraceMs?: number;
  /** How long a coordinator waits for one replica (default REPLICA_ASK_TIMEOUT_MS). */
  replicaTimeoutMs?: number;
  /** Each node's clock reads a seeded offset in [0, clockSkewMs] ahead of virtual time (default 0: clocks agree). */
  clockSkewMs?: number;
  /** Per node label, how long its disk's operations take; undefined (or none) = instant I/O. */
  diskLatency?: (label: string) => DiskLatencyRange | undefined;
  /**
   * Active anti-entropy: off unless given (tests of other features keep
   * their message traffic to themselves); true for the defaults, or tuning.
   */
  antiEntropy?: boolean | AntiEntropyOptions;
  /** Throttle of each node's transfers in membership changes (default TRANSFER_BYTES_PER_SECOND). */
  transferBytesPerSecond?: number;
}

/** A membership change, by node labels (issue 16): the embedding API's. */
export type SimChange = MembershipChange;

/** One crash of a node, for the checker (the checker's own record of it). */
export type { CrashRecord } from '../check/history.js';

/** A simulated cluster and its fault controls. */
export class SimCluster {
  readonly world: SimWorld;
  /** The cluster as committed: a membership change replaces it (issue 16). */
  config: ResolvedCluster;
  /** The number of the committed ring view (0 until a change commits). */
  private ringVersion = 0;
  /** The membership change in progress, as its driver saved it (it survives node crashes: the driver's own store). */
  private change: ChangeState | null = null;
  /** Members that left the ring: never started again. */
  private readonly departed = new Set<string>();
  /** Nodes removed for good as dead (remove, replace), and when: their data is gone (the checker's `FinalState.removed`). */
  private readonly removedLog: { node: string; at_ms: number }[] = [];
  /** The nodes that left, by label (crash and status still name them). */
  private readonly retired: ResolvedNode[] = [];
  /** Every client, reconfigured when a change commits. */
  private readonly clientList: ClusterClient[] = [];
  private nextThread: number;
  private changes = 0;
  private readonly disks = new Map<number, SimFileSystem>();
  private readonly hintStores = new Map<number, MemoryHintStore>();
  private readonly running = new Set<string>();
  /** Nodes started once (their actors are spawned; a restart brings them back). */
  private readonly started = new Set<string>();
  private readonly prng: Prng;
  private clients = 0;
  /** Every crash so far, in order. */
  private readonly crashLog: CrashRecord[] = [];
  /** Disk-latency waits not yet over: `dispose` ends them so no closing engine is left hanging. */
  private readonly diskWaits = new Set<() => void>();
  /** Per node label, who waits for the node's next fsync to start (one-shot; see `onNextFsync`). */
  private readonly fsyncWatchers = new Map<string, (start_ms: number, end_ms: number) => void>();

  constructor(private readonly options: SimClusterOptions) {
    this.world = new SimWorld({ seed: options.seed, ...(options.faults ? { faults: options.faults } : {}), print_logs: options.printLogs ?? false });
    this.prng = new Prng(options.seed ^ 0x5eed);
    this.config = resolveCluster(options);
    this.nextThread = this.config.nodes.length + 1;
    // Each draw has its own stream, so turning one option on does not move the others' choices.
    const skew = new Prng(options.seed ^ 0x0c10c4);
    for (const node of this.config.nodes) {
      const offset_ms = (options.clockSkewMs ?? 0) > 0 ? skew.int(options.clockSkewMs! + 1) : 0;
      if (offset_ms > 0) this.world.setClockSkew(node.thread, offset_ms);
      this.start(node);
    }
  }

  /** Every crash so far (node label, when, when it restarted), in order. */
  crashes(): CrashRecord[] {
    return this.crashLog.map((c) => ({ ...c }));
  }

  /**
   * End the run: disk waits still pending settle now, so storage code of this
   * world (an engine closing after a supervised restart) finishes instead of
   * hanging on a world nobody runs any more.
   */
  dispose(): void {
    for (const wake of [...this.diskWaits]) wake();
    this.diskWaits.clear();
  }

  /** A client: requests routed token-aware, with its own request ids. */
  client(name = `c${++this.clients}`): SimClient {
    const ask = <R>(to: ActorRef, msg: Message, timeout_ms: number): Promise<R> => this.world.ask<R>(to, msg, timeout_ms);
    const client = new ClusterClient(this.config, ask, (member) => this.running.has(member), name, this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, queueMicrotask);
    this.clientList.push(client);
    return new SimClient(client, this);
  }

  /** The plan of a membership change, without running it. */
  planChange(change: SimChange): RingChangePlan {
    return newChange(this.config, this.ringVersion, ringChangeOf(this.config, change, change.kind === 'join' || change.kind === 'replace' ? addedNode(this.config, change.node, this.nextThread) : null), null, this.world.now(), 'plan').plan;
  }

  /**
   * Run a membership change to its end (issue 16), in virtual time: join a
   * node, decommission or remove one, or replace a dead one. Resolves once
   * committed; the caller runs the world meanwhile (`settle`).
   */
  async changeMembership(change: SimChange, options: { interruptAfterMs?: number } = {}): Promise<void> {
    if (this.change !== null) throw new Error('a membership change is already running');
    if (change.kind === 'remove' || change.kind === 'replace') {
      // A dead node: it never comes back (a restart of it is a no-op from now on).
      const dead = memberOf(this.config, change.kind === 'remove' ? change.node : change.dead).member;
      if (this.running.has(dead)) throw new Error(`${change.kind} takes a dead node; decommission a live one`);
      this.departed.add(dead);
      this.removedLog.push({ node: change.kind === 'remove' ? change.node : change.dead, at_ms: this.world.now() });
    }
    const added = change.kind === 'join' || change.kind === 'replace' ? this.newNode(change.node) : null;
    const { state } = newChange(this.config, this.ringVersion, ringChangeOf(this.config, change, added), added, this.world.now(), `c${++this.changes}`);
    await this.runSaved(state, options.interruptAfterMs === undefined ? null : this.world.now() + options.interruptAfterMs);
  }

  /**
   * Resume the saved change, as a driver restarted after a crash would
   * (`changeMembership`'s `interruptAfterMs` stops one mid-way, like a
   * crash of the process running it); nothing when none is saved.
   */
  async resumeChange(): Promise<void> {
    if (this.change !== null) await this.runSaved(this.change, null);
  }

  /** Nodes removed for good as dead so far, with when. */
  removedNodes(): { node: string; at_ms: number }[] {
    return this.removedLog.map((r) => ({ ...r }));
  }

  /** The saved change in progress, if any (what `ringkv transfers` reports). */
  savedChange(): ChangeState | null {
    return this.change === null ? null : structuredClone(this.change);
  }

  private runSaved(state: ChangeState, interruptAt: number | null): Promise<void> {
    const before = this.config;
    return runChange(this.changeHost(interruptAt), before, structuredClone(state)).then(() => undefined);
  }

  /** The driver's view of this cluster; past `interruptAt` (virtual ms) its sleeps fail, as if its process died. */
  private changeHost(interruptAt: number | null): ChangeHost {
    return {
      ask: <R>(member: string, actor: string, msg: Message, timeout_ms: number) => this.world.ask<R>({ thread: threadOf(member), id: actor }, msg, timeout_ms),
      sleep: (ms) =>
        new Promise<void>((resolve, reject) =>
          this.world.after(ms, 'membership change driver', () => (interruptAt !== null && this.world.now() >= interruptAt ? reject(new Error('the change driver was interrupted')) : resolve())),
        ),
      now: () => this.world.now(),
      reachable: (member) => this.running.has(member),
      startNode: async (node) => {
        if (!this.running.has(node.member) && !this.started.has(node.member)) this.start(node);
      },
      stopNode: async (member) => {
        this.departed.add(member);
        if (this.running.has(member)) {
          this.world.crash(threadOf(member));
          this.running.delete(member);
        }
      },
      save: async (state) => {
        this.change = state === null ? null : structuredClone(state);
      },
      committed: async (config, version) => {
        const removed = this.config.nodes.find((n) => n.member === this.change?.removed);
        if (removed !== undefined) {
          this.departed.add(removed.member);
          this.retired.push(removed);
        }
        this.config = config;
        this.ringVersion = version;
        for (const client of this.clientList) client.reconfigure(config);
      },
      log: (level, msg, fields) => this.world.logs.write(level, 'membership', msg, fields),
    };
  }

  /** A new node for a join or replacement: the next thread, never used before. */
  private newNode(spec: NodeSpec): ResolvedNode {
    return addedNode(this.config, spec, this.nextThread++);
  }

  /**
   * Crash node `label`: its actors stop, its disk loses what was not synced
   * (seeded torn tails), or everything with `loseDisk` (a replaced drive: the
   * node comes back empty, under a new identity).
   */
  crash(label: string, options: { loseDisk?: boolean; flipProbability?: number } = {}): void {
    const node = this.nodeOf(label);
    if (!this.running.has(node.member)) return;
    this.world.crash(node.thread);
    const disk = this.disks.get(node.thread)!;
    const kept = disk.crash(this.prng, options.flipProbability === undefined ? {} : { flipProbability: options.flipProbability });
    this.disks.set(node.thread, options.loseDisk ? this.newDisk(label) : kept);
    this.running.delete(node.member);
    this.crashLog.push({ node: label, at_ms: this.world.now(), restarted_ms: null });
  }

  /** Restart node `label` from what its disk kept. */
  restart(label: string): void {
    const node = this.nodeOf(label);
    if (this.running.has(node.member) || this.departed.has(node.member)) return;
    this.world.restart(node.thread);
    this.running.add(node.member);
    const last = this.crashLog.findLast((c) => c.node === label);
    if (last !== undefined && last.restarted_ms === null) last.restarted_ms = this.world.now();
  }

  /** From now on node `label`'s disk takes `range` per operation (undefined: instant), e.g. to heal a slow disk. */
  setDiskLatency(label: string, range: DiskLatencyRange | undefined): void {
    const disk = this.disks.get(this.nodeOf(label).thread)!;
    disk.setLatency(range === undefined ? null : this.latencyModel(label, range, new Prng(hashString32(`${this.options.seed}/disk/${label}/${this.world.now()}`))));
  }

  /**
   * Call `watcher` once, when node `label`'s disk next starts an fsync that
   * takes time (a latency model is set), with when it started and will end:
   * the campaign's crash points at an fsync in flight. A new watcher of the
   * node replaces the old one.
   */
  onNextFsync(label: string, watcher: (start_ms: number, end_ms: number) => void): void {
    this.fsyncWatchers.set(label, watcher);
  }

  /**
   * Bit rot: flip one bit in the first data block of one of node `label`'s
   * SSTables (chosen by `prng`), in its durable bytes too, as a disk that
   * rots a sector would. Returns the table's path, or null when the node has
   * none. Reads of that block fail their checksum from then on; a block the
   * node already holds in its cache is only reread after a restart.
   */
  async rotSstable(label: string, prng: Prng): Promise<string | null> {
    const node = this.nodeOf(label);
    const disk = this.disks.get(node.thread)!;
    const dir = `${SIM_DATA_DIR}/${label}`;
    const tables = (await disk.list(dir)).filter((name) => name.endsWith(SSTABLE_SUFFIX)).sort();
    if (tables.length === 0) return null;
    const path = `${dir}/${tables[prng.int(tables.length)]!}`;
    // Byte 0 on is block 0's first entry, which its checksum covers.
    disk.flipBit(path, prng.int(ROT_BITS));
    return path;
  }

  /** Bits flipped in kept unsynced tails by crashes of node `label`'s disk so far. */
  tailFlips(label: string): number {
    return this.disks.get(this.nodeOf(label).thread)!.stats().tailFlips;
  }

  /** Cut the network between every pair of groups (of node labels). */
  partition(groups: string[][]): void {
    const threads = groups.map((g) => g.map((label) => this.nodeOf(label).thread));
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
    const node = this.nodeOf(label);
    return this.settle(this.world.ask<R>({ thread: node.thread, id }, msg, timeout_ms));
  }

  /** A node of the cluster, the one a change in progress adds, or one that left. */
  nodeOf(label: string): ResolvedNode {
    const added = this.change?.added;
    if (added && added.label === label && !this.config.nodes.some((n) => n.label === label)) return added;
    return this.retired.find((n) => n.label === label) ?? memberOf(this.config, label);
  }

  /** True while node `label` runs. */
  isRunning(label: string): boolean {
    return this.running.has(this.nodeOf(label).member);
  }

  private start(node: ResolvedNode): void {
    const t = node.thread;
    const { options } = this;
    this.disks.set(t, this.newDisk(node.label));
    // The hint store stamps hints with the node's own (possibly skewed) clock, as LMDB on that machine would.
    this.hintStores.set(t, new MemoryHintStore({ now: () => this.world.nodeNow(t), ...(options.hintTtlMs ? { max_age_ms: options.hintTtlMs } : {}) }));
    const planOptions = {
      dataDir: SIM_DATA_DIR,
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(options.syncMode ? { syncMode: options.syncMode } : {}),
      ...(options.tombstoneGraceMs !== undefined ? { tombstoneGraceMs: options.tombstoneGraceMs } : {}),
      ...(options.hintTtlMs ? { hintTtlMs: options.hintTtlMs } : {}),
      antiEntropy: options.antiEntropy ?? false,
      ...(options.transferBytesPerSecond !== undefined ? { transferBytesPerSecond: options.transferBytesPerSecond } : {}),
    };
    // Planned again at every (re)start, so a node restarted after a membership change gets the ring view it missed.
    const planNow = (): SpawnSpec[] => nodePlan(this.config, node, { ...planOptions, ringView: this.change !== null ? viewDuring(this.change) : { version: this.ringVersion, pending: null } });
    for (const spec of planNow()) {
      const factory = KINDS[spec.kind]!;
      // Factories read the maps when called, so a restarted node gets the disk its crash left.
      this.world.spawn(t, () => factory(this.simArgs(spec.kind, t, planNow().find((s) => s.id === spec.id)!.args as Record<string, unknown>)), spec.id);
    }
    this.started.add(node.member);
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
      case 'coordinator':
        return { ...args, ...(this.options.replicaTimeoutMs ? { replica_timeout_ms: this.options.replicaTimeoutMs } : {}) };
      default:
        return args;
    }
  }

  /** An empty disk for node `label`, timed by its latency range if it has one. */
  private newDisk(label: string): SimFileSystem {
    const disk = new SimFileSystem();
    const range = this.options.diskLatency?.(label);
    if (range !== undefined) disk.setLatency(this.latencyModel(label, range, new Prng(hashString32(`${this.options.seed}/disk/${label}`))));
    return disk;
  }

  /** A latency model of node `label`'s disk drawing from `range` with `prng`, waiting on the world's timers. */
  private latencyModel(label: string, range: DiskLatencyRange, prng: Prng): SimDiskLatency {
    const draw = ([lo, hi]: readonly [number, number]): number => (hi > lo ? prng.range(lo, hi) : lo);
    // The file system asks for an op's delay, then waits it at once (sim_fs.ts `ioTime`): the op of a wait is the last one drawn.
    let drawnOp: SimDiskOp = 'append';
    return {
      delay_ms: (op: SimDiskOp) => {
        drawnOp = op;
        return draw(op === 'append' ? range.append_ms : range.sync_ms);
      },
      wait: (ms: number) =>
        new Promise<void>((resolve) => {
          const wake = (): void => {
            if (this.diskWaits.delete(wake)) resolve();
          };
          this.diskWaits.add(wake);
          this.world.after(ms, 'disk', wake);
          const watcher = drawnOp === 'sync' ? this.fsyncWatchers.get(label) : undefined;
          if (watcher !== undefined) {
            this.fsyncWatchers.delete(label);
            watcher(this.world.now(), this.world.now() + ms);
          }
        }),
    };
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

  startGetMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]> {
    return this.client.getMany(entries);
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

  getMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]> {
    return this.cluster.settle(this.startGetMany(entries));
  }

  delete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.cluster.settle(this.startDelete(key, options));
  }
}
