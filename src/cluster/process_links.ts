/**
 * This process's links to the other processes of its cluster (issue 16):
 * the peer listener, one outbound link per peer process, the rosters they
 * sent, and the routing of envelopes for node threads hosted elsewhere.
 *
 * Before formation the links only carry rosters: the seeds are dialed by
 * address, and `waitForSeeds` resolves once each has answered with its
 * roster (a seed that turns out to be this process counts as answered).
 * After formation (`route`), every member hosted elsewhere has its thread
 * mapped to the link of its process, found by the address its process
 * listens at; one link per process, so envelopes to one process keep their
 * order. A process heard from on the listener (one that dialed us) gets an
 * outbound link too: replies need one.
 *
 * Envelopes arriving before the actor system runs are dropped and counted
 * (`droppedEarly`): their senders' asks time out, as for a node that is
 * still starting.
 *
 * Thread contract: main thread.
 */
import { TimeoutError } from '../core/errors.js';
import { PEER_FORMATION_LOG_MS } from '../core/limits.js';
import type { Envelope } from '../runtime/envelope.js';
import { PeerListener, PeerOutbound, type PeerLog } from '../runtime/peer_link.js';
import type { ResolvedCluster } from './cluster_config.js';
import { decodeRoster, encodeRoster, type ProcessRoster } from './process_roster.js';
import { addressText, parseAddress, type PeerAddress } from '../core/peer_address.js';

/** How to link this process to its peers. */
export interface ProcessLinksOptions {
  /** This process's id on the links (`processIdOf` its node ids). */
  self: string;
  /** Where the peer listener binds; also what the roster tells peers to dial. */
  listen: PeerAddress;
  /** Peer processes to dial first (this process's own address may be among them). */
  seeds: readonly PeerAddress[];
  secret: Uint8Array;
  log: PeerLog;
  /** This process's roster as of now. */
  roster: () => ProcessRoster;
}

/** One outbound link, as status reports it. */
export interface LinkStats {
  /** The peer process's id (null until it answered). */
  process: string | null;
  address: string;
  connected: boolean;
  envelopesSent: number;
  framesSent: number;
  /** Envelopes refused because its queue was full. */
  refused: number;
}

/** Counters of all links. */
export interface LinksStats {
  links: LinkStats[];
  /** Connections refused for failing the handshake or sending a malformed or oversized frame. */
  rejected: number;
  envelopesReceived: number;
  /** Envelopes that arrived before this process's nodes ran. */
  droppedEarly: number;
}

export class ProcessLinks {
  private listener!: PeerListener;
  /** Outbound links by the address dialed. */
  private readonly outbounds = new Map<string, PeerOutbound>();
  /** The roster each outbound link's peer sent last. */
  private readonly heard = new Map<PeerOutbound, ProcessRoster>();
  /** Every peer's latest roster, by process id (from either direction). */
  readonly rosters = new Map<string, ProcessRoster>();
  private readonly seedAddresses: string[];
  /** Outbound link of each thread hosted elsewhere, once routed. */
  private readonly routes = new Map<number, PeerOutbound>();
  private deliver: ((envelopes: Envelope[]) => void) | null = null;
  private readonly rosterWaiters = new Set<() => void>();
  droppedEarly = 0;

  private constructor(private readonly options: ProcessLinksOptions) {
    const self = addressText(options.listen);
    this.seedAddresses = [...new Set(options.seeds.map(addressText))].filter((a) => a !== self);
  }

  /** Listen, and dial every seed. */
  static async start(options: ProcessLinksOptions): Promise<ProcessLinks> {
    const links = new ProcessLinks(options);
    const identity = { self: options.self, secret: options.secret, log: options.log, roster: () => encodeRoster(options.roster()) };
    links.listener = await PeerListener.listen(
      identity,
      options.listen.host,
      options.listen.port,
      (envelopes) => links.onEnvelopes(envelopes),
      (payload, peer) => links.onRoster(decodeRoster(payload, peer), null),
    );
    for (const seed of options.seeds) {
      const text = addressText(seed);
      if (links.seedAddresses.includes(text) && !links.outbounds.has(text)) links.dial(text, seed);
    }
    return links;
  }

  /** The port the listener is bound to. */
  get port(): number {
    return this.listener.port;
  }

  /**
   * The rosters of every seed, once each answered (or turned out to be this
   * process); rejects with a `TimeoutError` naming the silent seeds after
   * `limitMs`, logging who it waits for every PEER_FORMATION_LOG_MS.
   */
  async waitForSeeds(limitMs: number): Promise<ProcessRoster[]> {
    const started = Date.now();
    let lastLog = started;
    for (;;) {
      const silent = this.seedAddresses.filter((a) => {
        const link = this.outbounds.get(a)!;
        return !link.isSelf && !this.heard.has(link);
      });
      if (silent.length === 0) return [...this.rosters.values()];
      const now = Date.now();
      if (now - started >= limitMs) throw new TimeoutError(`forming the cluster: seeds ${silent.join(', ')} (start them with the same RINGKV_CLUSTER_SECRET)`, limitMs);
      if (now - lastLog >= PEER_FORMATION_LOG_MS) {
        lastLog = now;
        this.options.log('warn', 'waiting for seeds to answer before forming the cluster', { silent });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(1000, limitMs - (now - started)));
        this.rosterWaiters.add(done);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
      });
      this.rosterWaiters.clear();
    }
  }

  /** Map each member of `config` not in `local` to the link of the process hosting it. */
  route(config: ResolvedCluster, local: ReadonlySet<string>): void {
    for (const node of config.nodes) {
      if (local.has(node.member) || node.host === undefined) continue;
      this.routes.set(node.thread, this.linkTo(node.host));
    }
  }

  /** Hand envelopes from peers to `deliver` from now on (the actor system runs). */
  attach(deliver: (envelopes: Envelope[]) => void): void {
    this.deliver = deliver;
  }

  /** `RemoteThreads.forward`: send `env` to the process hosting its thread; false when that link is full or unknown. */
  readonly forward = (env: Envelope): boolean => this.routes.get(env.tt)?.send(env) ?? false;

  /** Tell every peer this process's roster again (it changed: formed, say). */
  announce(): void {
    this.listener.announce();
    for (const link of this.outbounds.values()) link.announce();
  }

  stats(): LinksStats {
    return {
      links: [...this.outbounds].filter(([, link]) => !link.isSelf).map(([address, link]) => ({
        process: link.peer,
        address,
        connected: link.connected,
        envelopesSent: link.envelopesSent,
        framesSent: link.framesSent,
        refused: link.refused,
      })),
      rejected: this.listener.rejected,
      envelopesReceived: this.listener.envelopesReceived,
      droppedEarly: this.droppedEarly,
    };
  }

  async close(): Promise<void> {
    for (const link of this.outbounds.values()) link.close();
    await this.listener.close();
  }

  private onEnvelopes(envelopes: Envelope[]): void {
    if (this.deliver === null) this.droppedEarly += envelopes.length;
    else this.deliver(envelopes);
  }

  private onRoster(roster: ProcessRoster, via: PeerOutbound | null): void {
    if (roster.process === this.options.self) return;
    this.rosters.set(roster.process, roster);
    if (via !== null) this.heard.set(via, roster);
    // A process that dialed us needs a link back, for replies.
    else this.linkTo(roster.listen);
    for (const wake of this.rosterWaiters) wake();
  }

  /** The outbound link to the process listening at `address`, dialed now if there is none. */
  private linkTo(address: string): PeerOutbound {
    const direct = this.outbounds.get(address);
    if (direct !== undefined) return direct;
    for (const [link, roster] of this.heard) if (roster.listen === address) return link;
    return this.dial(address, parseAddress(address));
  }

  private dial(text: string, address: PeerAddress): PeerOutbound {
    const identity = { self: this.options.self, secret: this.options.secret, log: this.options.log, roster: () => encodeRoster(this.options.roster()) };
    const link: PeerOutbound = new PeerOutbound(identity, null, address, (payload, peer) => this.onRoster(decodeRoster(payload, peer), link));
    this.outbounds.set(text, link);
    return link;
  }
}

