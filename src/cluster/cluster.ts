/**
 * `openCluster()`: a whole ringkv cluster embedded in a Node program. Every
 * node is a logical thread of actors (`node_plan.ts`); worker threads, one
 * per core but the main thread's by default (`ClusterOptions.threads`),
 * host them, several nodes
 * to a thread when there are more nodes than cores; the calling thread is
 * the client. `crash` crashes a node for real (its actors stop mid-way, its
 * files are fenced off, what was not synced is lost, other nodes on its
 * thread run on) and `restart` starts it again on its data directory,
 * recovering from its commit log and SSTables. `partition` cuts links
 * between nodes in the transport itself.
 *
 * Thread contract: a `Cluster` is used from the thread that opened it.
 */
import { availableParallelism } from 'node:os';
import type { Bytes, ChangePlan, MembershipChange, NodeSpec, TransfersReport, Cluster, ClusterOptions, PeersOptions, ClusterStatus, ExplainedExchanges, ExplainResult, MemberStatus, RepairReport, GetManyEntry, GetManyOutcome, PutManyEntry, PutManyOutcome, ReadOptions, ReadResult, WriteOptions, WriteResult } from './cluster_types.js';
import { ClusterClient, toBytes } from './cluster_client.js';
import { labelOf, memberOf, resolveCluster, type ResolvedCluster, type ResolvedNode } from './cluster_config.js';
import { checkClusterOptions } from './cluster_options_check.js';
import { openDataDir, openDataDirWith, type OpenedDataDir } from './data_dir.js';
import { formCluster } from './cluster_formation.js';
import type { ClusterRecord } from './cluster_record.js';
import { clusterOptionProblems, DEFAULT_DC, nodeSpecsOf } from './cluster_options_check.js';
import { ProcessLinks } from './process_links.js';
import { processIdOf, ROSTER_VERSION, type ProcessRoster } from './process_roster.js';
import { addressText, parseAddress } from '../core/peer_address.js';
import { PEER_FORMATION_WAIT_MS, THREADS_MAX } from '../core/limits.js';
import { defaultSink } from '../runtime/logger.js';
import { RELAY_ACTOR_ID } from '../../actors/relay.js';
import { decodeDvv } from '../core/dotted_version_vector.js';
import { InvalidRequestError, RingkvError, UnavailableError } from '../core/errors.js';
import type { LivenessStatus } from '../core/liveness.js';
import { REQUEST_TIMEOUT_MS } from '../core/limits.js';
import { placeReplicas } from '../core/placement.js';
import { Ring } from '../core/ring.js';
import { keyPosition } from '../core/tokens.js';
import { formatVersion } from '../core/version_id.js';
import { nodePlan, NODE_MODULES, type NodePlanOptions } from './node_plan.js';
import { readChange, writeChange } from './change_file.js';
import { newChange, runChange, viewDuring, type ChangeHost, type ChangeState, type StartView } from './membership_change.js';
import { recordAfterChange, writeRecord } from './cluster_record.js';
import { planReport, transfersReport } from './transfer_report.js';
import { addedNode, ringChangeOf, userChangeOf } from './membership_request.js';
import type { RingChangePlan } from '../core/ring_change.js';
import { threadOf } from '../../actors/member_refs.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { askNodeStats, type NodeStats } from './node_stats.js';
import type { ActorRef, Message, SpawnSpec } from '../runtime/actor.js';
import { ActorSystem } from '../runtime/actor_system.js';
import { ANTI_ENTROPY_ACTOR_ID, DETECTOR_ACTOR_ID, HANDOFF_ACTOR_ID, REPLICA_ACTOR_ID } from '../../actors/member_refs.js';
import type { KeyExchanges, RepairProgress } from '../../actors/anti_entropy.js';
import type { Version } from '../../storage/version.js';

/** Timeout of the cluster's own status and explain questions to a node. */
const ADMIN_ASK_TIMEOUT_MS = 2000;

/** A relayed question's own deadline is the relay's plus this, so the relay's timeout is the one that answers. */
const RELAY_MARGIN_MS = 500;

/** Clients opened in this process, for unique request-id prefixes. */
let clusterCount = 0;

/**
 * Open (or reopen, on the same `dataDir`) a cluster; resolves once every node
 * runs. Before anything starts: every problem of `options` is reported at
 * once (`ConfigError`); the data directory is locked against other
 * processes and other opens of this one (`DataDirError` naming the holder's
 * pid); and its recorded shape must match (`ConfigError` saying what
 * differs). `close()` releases the directory.
 */
export async function openCluster(options: ClusterOptions): Promise<Cluster> {
  checkClusterOptions(options);
  if (options.peers !== undefined) return openProcess(options, options.peers);
  const dataDir = await openDataDir(options.dataDir, resolveCluster(options));
  try {
    return await startNodes(options, dataDir, null);
  } catch (err) {
    await dataDir.release();
    throw err;
  }
}

/**
 * One process of a cluster spanning several (issue 16): link to the peers,
 * settle the members (the data directory's record, or formation with the
 * seeds: `cluster_formation.ts`), then run this process's nodes, with the
 * threads of the others' nodes routed over the links.
 */
async function openProcess(options: ClusterOptions, peers: PeersOptions): Promise<Cluster> {
  const nodes = nodeSpecsOf(options.nodes).map((spec) => ({ id: spec.id, dc: spec.dc ?? DEFAULT_DC, rack: spec.rack ?? spec.id, weight: spec.weight ?? 1 }));
  const replication = options.replication ?? {};
  const self = processIdOf(nodes.map((n) => n.id));
  let record: ClusterRecord | null = null;
  const roster = (): ProcessRoster => ({
    v: ROSTER_VERSION,
    process: self,
    listen: addressText(parseAddress(peers.listen)),
    nodes,
    replicas: { ...(replication.n !== undefined ? { n: replication.n } : {}), ...(replication.dcs !== undefined ? { dcs: replication.dcs } : {}) },
    record,
  });
  const sink = defaultSink();
  const links = await ProcessLinks.start({
    self,
    listen: parseAddress(peers.listen),
    seeds: peers.seeds.map(parseAddress),
    secret: typeof peers.secret === 'string' ? new TextEncoder().encode(peers.secret) : peers.secret,
    log: (level, msg, fields) => sink({ level, source: 'peers', msg, fields }),
    roster,
  });
  try {
    const dataDir = await openDataDirWith(options.dataDir, async (held) => {
      record = held;
      const rosters = held === null ? await links.waitForSeeds(PEER_FORMATION_WAIT_MS) : [...links.rosters.values()];
      const { w, r, strict } = replication;
      return formCluster(roster(), rosters, { ...(w !== undefined ? { w } : {}), ...(r !== undefined ? { r } : {}), ...(strict !== undefined ? { strict } : {}) }, Date.now());
    });
    try {
      record = dataDir.record;
      links.announce();
      return await startNodes(options, dataDir, links);
    } catch (err) {
      await dataDir.release();
      throw err;
    }
  } catch (err) {
    await links.close();
    throw err;
  }
}

/**
 * Start the nodes this process hosts, on the settled cluster; `links` reach
 * the others' (null: none elsewhere). A membership change saved in the data
 * directory (the process stopped during one) is resumed: its nodes start on
 * its ring view, the node it adds too, the dead one it removes not.
 */
async function startNodes(options: ClusterOptions, dataDir: OpenedDataDir, links: ProcessLinks | null): Promise<Cluster> {
  const config = dataDir.config;
  const local = new Set(dataDir.local);
  const change = links === null ? await readChange(options.dataDir) : null;
  const version = dataDir.record.ring_version ?? 0;
  const view = change !== null ? viewDuring(change) : { version, ring: config.ring, pending: null };
  const planOptions: NodePlanOptions = {
    dataDir: options.dataDir,
    ...(options.syncMode ? { syncMode: options.syncMode } : {}),
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.antiEntropy !== undefined ? { antiEntropy: options.antiEntropy } : {}),
    ...(options.transfers?.bytesPerSecond !== undefined ? { transferBytesPerSecond: options.transfers.bytesPerSecond } : {}),
  };
  const hosted = config.nodes.filter((n) => local.has(n.member) && !(change !== null && change.change.kind !== 'decommission' && n.member === change.removed));
  if (change?.added) {
    await dataDir.addNode(change.added);
    hosted.push(change.added);
    local.add(change.added.member);
  }
  const spawn: Record<number, SpawnSpec[]> = {};
  for (const node of hosted) spawn[node.thread] = nodePlan(config, node, { ...planOptions, ringView: view });
  const remote = config.nodes.filter((n) => !local.has(n.member)).map((n) => n.thread);
  links?.route(config, local);
  const threads = Math.max(...config.nodes.map((n) => n.thread), ...hosted.map((n) => n.thread));
  const system = await ActorSystem.start({
    threads,
    workers: workerThreads(options.threads, hosted.length),
    modules: [...NODE_MODULES],
    spawn,
    // A cluster in one process keeps every other thread for nodes that join later.
    ...(links !== null ? { remote: { threads: remote, forward: links.forward } } : { spareThreads: THREADS_MAX - 1 - threads }),
  });
  links?.attach((envelopes) => system.fromPeer(envelopes));
  return new EmbeddedCluster(config, system, options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, dataDir, links, planOptions, hosted, change);
}

/**
 * Worker threads for `nodes` nodes: as asked, else one per core but the one
 * the main thread (the servers, the embedding API) keeps; at least one,
 * never more than the nodes. Measured on 2 cores, 5 nodes (issue 14): on 1
 * worker a replicated SET cost 175–205 µs of CPU at depth 1 against 245–290
 * on 2 and 520 on 5, and an embedded put took 350 µs (p50) against 640 and
 * 1490; only pipelined SETs went faster on 2 (13.7k/s against 11.0–13.2k).
 */
export function workerThreads(asked: number | undefined, nodes: number): number {
  return Math.min(nodes, asked ?? Math.max(1, availableParallelism() - 1));
}

class EmbeddedCluster implements Cluster {
  /** Nodes of this process that run. */
  private readonly running = new Set<string>();
  /** Nodes this process hosts (all, unless the cluster spans processes). */
  private readonly local: Set<string>;
  private readonly client: ClusterClient;
  private ring: Ring;
  private closed = false;
  /** The ring view the nodes are at: 0 as created, +3 per membership change (pending, committed, settled). */
  private ringVersion: number;
  /** The membership change in progress, as last saved; its driver, while it runs. */
  private change: ChangeState | null;
  private changing: Promise<unknown> | null = null;
  /** Members that left the ring (or are being removed as dead): never started again. */
  private readonly departed = new Set<string>();
  /** The change driver's sleeps in progress, woken (as failed) when the cluster closes. */
  private readonly driverSleeps = new Set<() => void>();

  constructor(
    private config: ResolvedCluster,
    private readonly system: ActorSystem,
    requestTimeoutMs: number,
    /** The locked data directory, released once the nodes stopped. */
    private readonly dataDir: OpenedDataDir,
    /** Links to the processes hosting the other nodes; null when all run here. */
    private readonly links: ProcessLinks | null,
    /** How nodes are planned (for restarts on a new ring view, and nodes that join). */
    private readonly planOptions: NodePlanOptions,
    /** The nodes this process started. */
    started: readonly ResolvedNode[],
    /** A membership change saved when the process stopped, resumed now. */
    saved: ChangeState | null,
  ) {
    this.local = new Set(dataDir.local);
    for (const node of started) {
      this.local.add(node.member);
      this.running.add(node.member);
    }
    this.ring = Ring.fromTokens(config.ring);
    this.ringVersion = dataDir.record.ring_version ?? 0;
    this.change = saved;
    const ask = <R>(to: ActorRef, msg: Message, timeout_ms: number): Promise<R> => system.ask<R>(to, msg, timeout_ms);
    this.client = new ClusterClient(config, ask, (member) => this.running.has(member), `cluster${++clusterCount}`, requestTimeoutMs);
    // A node thread that dies on its own (not through `crash`) is stopped until restarted.
    system.onCrash((crash) => {
      for (const member of this.running) if (threadOf(member) === crash.thread) this.running.delete(member);
    });
    if (saved !== null) {
      if (saved.removed !== null && saved.change.kind !== 'decommission') this.departed.add(saved.removed);
      this.drive(saved);
    }
  }

  get nodes(): readonly string[] {
    return this.config.nodes.map((n) => n.label);
  }

  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.open().client.put(key, value, options);
  }

  putMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]> {
    return this.open().client.putMany(entries);
  }

  get(key: Bytes, options?: ReadOptions): Promise<ReadResult> {
    return this.open().client.get(key, options);
  }

  getMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]> {
    return this.open().client.getMany(entries);
  }

  delete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.open().client.put(key, null, options);
  }

  async explain(key: Bytes): Promise<ExplainResult> {
    const keyBytes = toBytes(key, 'key');
    const pref = placeReplicas(this.open().ring, keyBytes, this.config.replication.dcs);
    const askable = await this.askable();
    const replicas = await Promise.all(
      pref.replicas.map(async (member) => {
        const node = this.byMember(member);
        const running = askable(member);
        if (!running) return { node: node.label, running, versions: null, error: 'stopped' };
        try {
          const held = await this.ask<Version[]>(node, REPLICA_ACTOR_ID, { type: 'get', key: keyBytes });
          const versions = held.map((v) => ({
            version: formatVersion(decodeDvv(v.clock).dot),
            value: v.value === null ? null : Buffer.from(v.value),
            ts_ms: v.ts_ms,
          }));
          return { node: node.label, running, versions };
        } catch (err) {
          // The taxonomy's message (what happened, what to do), never a raw "Error: ..." string.
          const why = err instanceof RingkvError ? err.message : `internal error asking its replica (retry; the node log has the detail): ${err instanceof Error ? err.message : String(err)}`;
          return { node: node.label, running, versions: null, error: why };
        }
      }),
    );
    const owners = new Set(pref.replicas);
    const hintsPending: ExplainResult['hintsPending'] = {};
    for (const [holder, pending] of await this.hintsPerNode(askable)) {
      if (!pending) continue;
      const forOwners = Object.entries(pending.byOwner).filter(([owner, count]) => owners.has(owner) && count > 0);
      if (forOwners.length > 0) hintsPending[holder.label] = Object.fromEntries(forOwners.map(([owner, count]) => [labelOf(this.config, owner), count]));
    }
    const antiEntropy = await this.explainExchanges(keyBytes, pref.replicas, askable);
    return {
      key: Buffer.from(keyBytes),
      position: keyPosition(keyBytes),
      preferenceList: pref.replicas.map((m) => labelOf(this.config, m)),
      fallbacks: pref.fallbacks.map((m) => labelOf(this.config, m)),
      replicas,
      hintsPending,
      ...(antiEntropy !== null ? { antiEntropy } : {}),
    };
  }

  /** When each running owner last exchanged the key's replica group with the others; null when no owner answered (anti-entropy off). */
  private async explainExchanges(key: Uint8Array, owners: readonly string[], askable: (member: string) => boolean): Promise<ExplainedExchanges | null> {
    let group: string | null = null;
    const exchanges: ExplainedExchanges['exchanges'] = [];
    for (const member of owners) {
      if (!askable(member)) continue;
      const node = this.byMember(member);
      const answer = await this.ask<KeyExchanges>(node, ANTI_ENTROPY_ACTOR_ID, { type: 'ae-key', key }).catch(() => null);
      if (answer === null) continue;
      group = answer.group;
      for (const p of answer.peers) exchanges.push({ node: node.label, peer: labelOf(this.config, p.peer), lastSuccessAgeMs: p.lastSuccessAgeMs, lastOutcome: p.lastOutcome });
    }
    return group === null ? null : { group: group.split(',').map((m) => labelOf(this.config, m)).join(','), exchanges };
  }

  repair(): Promise<RepairReport> {
    return this.repairAsk('ae-repair');
  }

  repairProgress(): Promise<RepairReport> {
    return this.repairAsk('ae-progress');
  }

  private async repairAsk(type: 'ae-repair' | 'ae-progress'): Promise<RepairReport> {
    this.open();
    const askable = await this.askable();
    const answers = await Promise.all(
      this.config.nodes.map(async (node) => [node.label, askable(node.member) ? await this.ask<RepairProgress>(node, ANTI_ENTROPY_ACTOR_ID, { type }).catch(() => null) : null] as const),
    );
    const report: RepairReport = { running: false, pairsTotal: 0, pairsDone: 0, keysRepaired: 0, nodes: {} };
    for (const [label, progress] of answers) {
      if (progress === null) {
        report.nodes[label] = null;
        continue;
      }
      const pending = progress.pending.map((pair) => {
        const [group, peer] = pair.split('>') as [string, string];
        return `${group.split(',').map((m) => labelOf(this.config, m)).join(',')}>${labelOf(this.config, peer)}`;
      });
      report.nodes[label] = { ...progress, pending };
      report.running ||= progress.running;
      report.pairsTotal += progress.pairsTotal;
      report.pairsDone += progress.pairsDone;
      report.keysRepaired += progress.keysRepaired;
    }
    return report;
  }

  async status(): Promise<ClusterStatus> {
    const ownership = this.open().ring.ownership();
    const askable = await this.askable();
    // A node a change in progress adds is shown too (it owns no range yet).
    const added = this.change?.added;
    const nodes = added && !this.config.nodes.some((n) => n.member === added.member) ? [...this.config.nodes, added] : this.config.nodes;
    const [views, hintsList, keys, nodeStats] = await Promise.all([
      Promise.all(
        nodes.map(async (node) => (askable(node.member) ? this.ask<Record<string, LivenessStatus>>(node, DETECTOR_ACTOR_ID, { type: 'liveness-view' }).catch(() => null) : null)),
      ),
      this.hintsPerNode(askable),
      Promise.all(
        nodes.map(async (node) =>
          askable(node.member) ? this.ask<{ keysEstimate?: number }>(node, REPLICA_ACTOR_ID, { type: 'stats' }).then((s) => s.keysEstimate ?? null, () => null) : null,
        ),
      ),
      Promise.all(
        nodes.map(async (node): Promise<NodeStats | null> =>
          askable(node.member) ? askNodeStats((id, msg) => this.ask(node, id, msg), (member) => labelOf(this.config, member)) : null,
        ),
      ),
    ]);
    const hints = new Map(hintsList);
    const members = nodes.map((node, i): MemberStatus => {
      const seenBy: Record<string, LivenessStatus> = {};
      nodes.forEach((observer, j) => {
        const view = views[j];
        if (observer === node) {
          if (view) seenBy[observer.label] = 'alive';
          return;
        }
        const status = view?.[node.member];
        if (status) seenBy[observer.label] = status;
      });
      return {
        id: node.label,
        dc: node.dc,
        rack: node.rack,
        weight: node.weight,
        running: this.local.has(node.member) ? this.running.has(node.member) : views[i] !== null,
        ...(node.host !== undefined ? { host: node.host } : {}),
        ownership: ownership.get(node.member) ?? 0,
        seenBy,
        hintsHeld: hints.get(node)?.total ?? null,
        keysEstimate: keys[i] ?? null,
        counters: nodeStats[i]?.counters ?? null,
        phi: nodeStats[i]?.phi ?? null,
        storage: nodeStats[i]?.storage ?? null,
        antiEntropy: nodeStats[i]?.antiEntropy ?? null,
        ...(this.change !== null && node.member === this.change.added?.member ? { membership: 'joining' as const } : {}),
        ...(this.change !== null && node.member === this.change.removed ? { membership: this.change.change.kind === 'decommission' ? ('leaving' as const) : ('removed' as const) } : {}),
      };
    });
    const { dcs, n, w, r, strict } = this.config.replication;
    return {
      members,
      replication: { dcs: { ...dcs }, n, w, r, strict },
      ...(this.links !== null ? { links: this.links.stats() } : {}),
      membership: this.change === null ? null : await this.transfers(),
    };
  }

  async crash(id: string): Promise<void> {
    const node = this.hosted(id);
    this.open();
    if (!this.running.has(node.member)) return;
    this.running.delete(node.member);
    await this.system.terminateThread(node.thread);
  }

  async restart(id: string): Promise<void> {
    const node = this.hosted(id);
    this.open();
    if (this.running.has(node.member)) return;
    if (this.departed.has(node.member)) throw new InvalidRequestError(`node ${id} left the ring; it cannot restart`);
    // On the ring view of now: a change may have happened while it was down.
    this.system.respawnWith(node.thread, nodePlan(this.config, node, { ...this.planOptions, ringView: this.view() }));
    await this.system.restartThread(node.thread);
    this.running.add(node.member);
  }

  // -------------------------------------------------------------------------
  // Membership changes (issue 16)
  // -------------------------------------------------------------------------

  async planChange(change: MembershipChange): Promise<ChangePlan> {
    const { plan } = this.prepare(change, false);
    return planReport(change, plan, (m) => this.labelOfMember(m));
  }

  async changeMembership(change: MembershipChange, options: { wait?: boolean } = {}): Promise<ChangePlan> {
    this.open();
    if (this.change !== null) throw new InvalidRequestError('a membership change is in progress (see cluster.transfers() or ringkv transfers); start the next once it committed');
    const { state, plan } = this.prepare(change, true);
    if (state.removed !== null && change.kind !== 'decommission') {
      if (this.running.has(state.removed)) {
        throw new InvalidRequestError(`node ${this.labelOfMember(state.removed)} is running: ${change.kind} takes a dead node (crash or stop it first), and a live one leaves by decommission`);
      }
      this.departed.add(state.removed);
    }
    this.change = state;
    const driving = this.drive(state);
    if (options.wait !== false) await driving;
    return planReport(change, plan, (m) => this.labelOfMember(m));
  }

  addNode(node: NodeSpec): Promise<ChangePlan> {
    return this.changeMembership({ kind: 'join', node });
  }

  decommission(id: string): Promise<ChangePlan> {
    return this.changeMembership({ kind: 'decommission', node: id });
  }

  removeNode(id: string): Promise<ChangePlan> {
    return this.changeMembership({ kind: 'remove', node: id });
  }

  replace(deadId: string, node: NodeSpec): Promise<ChangePlan> {
    return this.changeMembership({ kind: 'replace', dead: deadId, node });
  }

  async transfers(): Promise<TransfersReport> {
    this.open();
    let keys: number | null = null;
    if (this.change !== null) {
      const estimates = await Promise.all(
        this.config.nodes.filter((n) => this.running.has(n.member)).map((n) => this.ask<{ keysEstimate?: number }>(n, REPLICA_ACTOR_ID, { type: 'stats' }).then((st) => st.keysEstimate ?? 0, () => 0)),
      );
      keys = estimates.length === 0 ? null : (estimates.reduce((a, b) => a + b, 0) / estimates.length) * (this.config.nodes.length / this.config.replication.n);
    }
    return transfersReport(this.change, this.change === null ? null : userChangeOf(this.config, this.change), this.ringVersion, Date.now(), keys, (m) => this.labelOfMember(m));
  }

  /** The driver of `state`, run in the background; resolves when it committed (or the cluster closed). */
  private drive(state: ChangeState): Promise<unknown> {
    const before = this.config;
    const run = runChange(this.changeHost(), before, structuredClone(state)).finally(() => {
      if (this.changing === run) this.changing = null;
    });
    this.changing = run;
    run.catch((err: unknown) => {
      if (!this.closed) defaultSink()({ level: 'error', source: 'membership', msg: 'membership change driver failed; it resumes when the cluster opens again', fields: { error: String(err) } });
    });
    return run;
  }

  private changeHost(): ChangeHost {
    return {
      ask: <R>(member: string, actor: string, msg: Message, timeout_ms: number) => this.system.ask<R>({ thread: threadOf(member), id: actor }, msg, timeout_ms),
      sleep: (ms) =>
        new Promise<void>((resolve, reject) => {
          if (this.closed) return reject(new InvalidRequestError('the cluster closed'));
          // Closing wakes the driver at once: the change stays saved and resumes at the next open.
          const wake = (): void => {
            clearTimeout(timer);
            this.driverSleeps.delete(wake);
            reject(new InvalidRequestError('the cluster closed'));
          };
          const timer = setTimeout(() => {
            this.driverSleeps.delete(wake);
            resolve();
          }, ms);
          this.driverSleeps.add(wake);
        }),
      now: () => Date.now(),
      reachable: (member) => this.running.has(member),
      startNode: async (node, view) => {
        if (this.running.has(node.member)) return;
        await this.dataDir.addNode(node);
        await this.system.startThread(node.thread, nodePlan(this.config, node, { ...this.planOptions, ringView: view }));
        this.local.add(node.member);
        this.running.add(node.member);
      },
      stopNode: async (member) => {
        this.departed.add(member);
        if (!this.running.has(member)) return;
        this.running.delete(member);
        await this.system.terminateThread(threadOf(member));
      },
      save: async (state) => {
        this.change = state === null ? null : structuredClone(state);
        await writeChange(this.planOptions.dataDir, state);
      },
      committed: async (config, version) => {
        const record = recordAfterChange(this.dataDir.record, config, version);
        await writeRecord(this.planOptions.dataDir, record);
        this.dataDir.record = record;
        this.config = config;
        this.ring = Ring.fromTokens(config.ring);
        this.ringVersion = version;
        this.client.reconfigure(config);
        // Committed (the old replicas may still hold copies: `previous`), or settled after the cleanup.
        const previous = this.change !== null && version === this.change.version + 1 ? this.change.before : null;
        for (const node of config.nodes) this.system.respawnWith(node.thread, nodePlan(config, node, { ...this.planOptions, ringView: { version, ring: config.ring, pending: null, previous } }));
      },
      log: (level, msg, fields) => defaultSink()({ level, source: 'membership', msg, fields }),
    };
  }

  /**
   * The change asked, as the driver runs it (member ids), planned on the
   * cluster now. `allocate`: the node it adds gets its thread for good.
   */
  private prepare(change: MembershipChange, allocate: boolean): { state: ChangeState; plan: RingChangePlan } {
    if (this.links !== null) {
      throw new InvalidRequestError('membership changes of a cluster spread over processes are not supported yet: run it in one process to change its members');
    }
    const added = change.kind === 'join' || change.kind === 'replace' ? this.newNode(change.node) : null;
    const ringChange = ringChangeOf(this.config, change, added);
    try {
      const prepared = newChange(this.config, this.ringVersion, ringChange, added, Date.now(), `c${Date.now().toString(36)}`);
      if (allocate && added !== null) this.dataDir.record = { ...this.dataDir.record, last_thread: Math.max(this.dataDir.record.last_thread ?? 0, added.thread) };
      return prepared;
    } catch (err) {
      if (err instanceof RangeError) throw new InvalidRequestError(err.message);
      throw err;
    }
  }

  /** A node that joins (or replaces a dead one): checked, on the next thread never used by a member. */
  private newNode(spec: NodeSpec): ResolvedNode {
    const problems = clusterOptionProblems({ nodes: [spec] }, (field) => (field === 'nodes' ? 'node' : field));
    if (problems.length > 0) throw new InvalidRequestError(problems.join('; '));
    if (this.config.nodes.some((n) => n.label === spec.id)) throw new InvalidRequestError(`node ${spec.id} is already a member`);
    if (existsSync(join(this.planOptions.dataDir, spec.id))) {
      throw new InvalidRequestError(`the data directory already has a directory ${spec.id} (a former member's data?): pick another id, or remove that directory`);
    }
    const thread = Math.max(this.dataDir.record.last_thread ?? 0, ...this.config.nodes.map((n) => n.thread), ...(this.change?.added ? [this.change.added.thread] : [])) + 1;
    if (thread >= THREADS_MAX) throw new InvalidRequestError(`no member id is left: a cluster has at most ${THREADS_MAX - 1} members over its life (THREADS_MAX)`);
    return addedNode(this.config, spec, thread);
  }

  /** The ring view nodes start on now. */
  private view(): StartView {
    return this.change !== null ? viewDuring(this.change) : { version: this.ringVersion, ring: this.config.ring, pending: null };
  }

  private labelOfMember(member: string): string {
    if (this.change?.added?.member === member) return this.change.added.label;
    return labelOf(this.config, member);
  }

  partition(groups: string[][]): Promise<void> {
    this.open();
    return this.system.partition(groups.map((group) => group.map((label) => this.hosted(label).thread)));
  }

  heal(): Promise<void> {
    this.open();
    return this.system.heal();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A change in progress stops at its next step; it stays saved and resumes at the next open.
    for (const wake of [...this.driverSleeps]) wake();
    await this.changing?.catch(() => undefined);
    // Memtables go to SSTables first, so the next open replays little; then every actor closes its files.
    await Promise.all(
      this.config.nodes.filter((node) => this.running.has(node.member)).map((node) => this.ask(node, REPLICA_ACTOR_ID, { type: 'flush' }, 30_000).catch(() => undefined)),
    );
    try {
      await this.system.shutdown();
    } finally {
      await this.links?.close();
      await this.dataDir.release();
    }
  }

  private open(): this {
    if (this.closed) throw new InvalidRequestError('this cluster is closed; open it again with openCluster');
    return this;
  }

  private byMember(member: string): ResolvedNode {
    return this.config.nodes.find((n) => n.member === member)!;
  }

  /** The node `id` if this process hosts it; `InvalidRequestError` naming where it runs otherwise. */
  private hosted(id: string): ResolvedNode {
    const added = this.change?.added;
    const node = added && added.label === id && !this.config.nodes.some((n) => n.label === id) ? added : memberOf(this.config, id);
    if (!this.local.has(node.member)) throw new InvalidRequestError(`node ${id} runs in another process (at ${node.host ?? '?'}): crash, restart or partition it there`);
    return node;
  }

  /**
   * Ask an actor of `node`: directly when this process hosts it, else
   * through the relay of a running node of this process (the main thread
   * cannot be answered from another process: `actors/relay.ts`).
   */
  private ask<R>(node: ResolvedNode, id: string, msg: Message, timeout_ms = ADMIN_ASK_TIMEOUT_MS): Promise<R> {
    if (this.local.has(node.member)) return this.system.ask<R>({ thread: node.thread, id }, msg, timeout_ms);
    const via = this.config.nodes.find((n) => this.running.has(n.member));
    if (via === undefined) return Promise.reject(new UnavailableError(0, 1, `no node of this process runs to reach ${node.label} through`, 'restart a node of this process'));
    return this.system.ask<R>({ thread: via.thread, id: RELAY_ACTOR_ID }, { type: 'relay', to: { thread: node.thread, id }, msg, timeout_ms }, timeout_ms + RELAY_MARGIN_MS);
  }

  /**
   * Which nodes the admin questions (status, explain, repair) go to: the
   * running nodes of this process, and the nodes of other processes that a
   * running local detector does not hold down (asking a dead process would
   * only wait for the deadline).
   */
  private async askable(): Promise<(member: string) => boolean> {
    if (this.links === null) return (member) => this.running.has(member);
    const via = this.config.nodes.find((n) => this.running.has(n.member));
    if (via === undefined) return () => false;
    const view = await this.ask<Record<string, LivenessStatus>>(via, DETECTOR_ACTOR_ID, { type: 'liveness-view' }).catch(() => ({}) as Record<string, LivenessStatus>);
    return (member) => (this.local.has(member) ? this.running.has(member) : view[member] !== 'down' && view[member] !== 'left');
  }

  /** Each node's pending hints, null where it could not be asked. */
  private hintsPerNode(askable: (member: string) => boolean): Promise<[ResolvedNode, { total: number; byOwner: Record<string, number> } | null][]> {
    return Promise.all(
      this.config.nodes.map(async (node): Promise<[ResolvedNode, { total: number; byOwner: Record<string, number> } | null]> => {
        if (!askable(node.member)) return [node, null];
        const pending = await this.ask<{ total: number; byOwner: Record<string, number> }>(node, HANDOFF_ACTOR_ID, { type: 'hints-pending' }).catch(() => null);
        return [node, pending];
      }),
    );
  }
}
