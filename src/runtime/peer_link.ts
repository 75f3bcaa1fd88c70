/**
 * Links between the processes of one cluster (issue 16): the envelopes the
 * rings carry within a process, over TCP, in batches, with the same
 * contract: per pair of processes, envelopes arrive in the order sent or
 * not at all (a dropped connection loses what was on the wire, as a lost
 * network would; asks then time out), and `send` returns false instead of
 * growing memory when the peer cannot keep up.
 *
 * Each process dials every peer it sends to (`PeerOutbound`) and accepts
 * the peers that send to it (`PeerListener`): one connection per direction,
 * so neither side has to decide which of two crossing dials wins, and a
 * slow receiver only holds back its own inbound socket.
 *
 * A connection carries nothing before both sides proved the cluster
 * secret (`peer_auth.ts`): hello (id, nonce) both ways, then proof both
 * ways. A peer that fails it, sends a malformed frame (`peer_frames.ts`),
 * a frame over PEER_FRAME_MAX_BYTES, or no proof within
 * PEER_HANDSHAKE_TIMEOUT_MS is disconnected with a log line and counted
 * (`rejected`); the listener keeps serving the others.
 *
 * Sending: envelopes queue per peer and go out once per turn (a microtask),
 * up to PEER_BATCH_MAX_ENVELOPES per frame, one msgpackr batch each (the
 * ring codec). While the socket's buffer is full (TCP backpressure) or the
 * peer is unreachable, frames wait in the queue, up to
 * PEER_QUEUE_MAX_BYTES; a lost connection is redialed after
 * PEER_RECONNECT_MIN_MS, doubling to PEER_RECONNECT_MAX_MS, with jitter.
 *
 * Thread contract: the thread that made it (an event loop of its own).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { CorruptionError, isCorruptionError } from '../core/errors.js';
import { PEER_BATCH_MAX_ENVELOPES, PEER_HANDSHAKE_TIMEOUT_MS, PEER_QUEUE_MAX_BYTES, PEER_RECONNECT_MAX_MS, PEER_RECONNECT_MIN_MS } from '../core/limits.js';
import { BatchDecoder, BatchEncoder, pushWire, routeOf } from './codec.js';
import type { Envelope } from './envelope.js';
import { newNonce, proofMatches, proofOf } from './peer_auth.js';
import { decodeHello, encodeFrame, encodeHello, FrameReader, FrameType, NONCE_BYTES } from './peer_frames.js';

/** Where a link logs (the process's logger). */
export type PeerLog = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;

/** What both ends of a link know. */
export interface PeerIdentity {
  /** This process's id in the cluster. */
  self: string;
  /** The cluster secret (RINGKV_CLUSTER_SECRET). */
  secret: Uint8Array;
  log: PeerLog;
  /**
   * What this process tells each peer once the handshake is done (a roster
   * frame, opaque here: `cluster/process_roster.ts`); none when absent.
   */
  roster?: () => Uint8Array;
}

/** What a connection tells its owner. */
interface ConnectionHandlers {
  onReady(peer: string): void;
  onBatch(payload: Uint8Array, peer: string): void;
  onRoster(payload: Uint8Array, peer: string): void;
  onClose(reason: string, rejected: boolean): void;
}

/**
 * One connection, either end: the handshake, then frames. Calls
 * `onReady(peerId)` once the peer proved the secret, `onBatch` and
 * `onRoster` for each batch and roster frame after that, and
 * `onClose(reason)` once, when it ends. A dial that reaches this very
 * process (a process may list itself among its seeds) ends at the hello,
 * with `self` set.
 */
class PeerConnection {
  private readonly reader: FrameReader;
  private readonly nonce = newNonce();
  private peer: { id: string; nonce: Uint8Array } | null = null;
  private proven = false;
  private closed = false;
  /** The peer's hello named this process: a dial to itself. */
  self = false;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(
    readonly socket: Socket,
    private readonly identity: PeerIdentity,
    /** The id this end expects the peer to have (a dialer knows whom it dialed), or null (a listener takes any member). */
    private readonly expected: string | null,
    private readonly handlers: ConnectionHandlers,
  ) {
    const where = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.reader = new FrameReader(`peer ${expected ?? where}`);
    socket.setNoDelay(true);
    this.handshakeTimer = setTimeout(() => this.reject(`no proof of the cluster secret within PEER_HANDSHAKE_TIMEOUT_MS (${PEER_HANDSHAKE_TIMEOUT_MS} ms)`), PEER_HANDSHAKE_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.end(`socket error: ${err.message}`, false));
    socket.on('close', () => this.end('closed by the peer', false));
    this.write(encodeFrame(FrameType.Hello, encodeHello(identity.self, this.nonce)));
  }

  /** Write one frame's bytes; false when the socket's buffer is full (wait for 'drain'). */
  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }

  get ready(): boolean {
    return this.proven && !this.closed;
  }

  /** Send this process's roster, if it has one (after the handshake; again when it changed). */
  announce(): void {
    if (this.ready && this.identity.roster) this.write(encodeFrame(FrameType.Roster, this.identity.roster()));
  }

  close(reason: string): void {
    this.end(reason, false);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      for (const frame of this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        if (this.closed) return;
        this.onFrame(frame.type, frame.payload);
      }
    } catch (err) {
      this.reject(isCorruptionError(err) ? err.message : `a malformed frame: ${String(err)}`);
    }
  }

  private onFrame(type: FrameType, payload: Uint8Array): void {
    const name = `peer ${this.expected ?? this.peer?.id ?? '?'}`;
    if (this.peer === null) {
      if (type !== FrameType.Hello) throw new CorruptionError(name, -1, 'a frame before the hello');
      const hello = decodeHello(payload, name);
      if (hello.id === this.identity.self) {
        this.self = true;
        this.end('it is this process', false);
        return;
      }
      if (this.expected !== null && hello.id !== this.expected) throw new CorruptionError(name, -1, `the peer says it is ${JSON.stringify(hello.id)}`);
      this.peer = hello;
      this.write(encodeFrame(FrameType.Proof, proofOf(this.identity.secret, { id: this.identity.self, nonce: this.nonce }, hello)));
      return;
    }
    if (!this.proven) {
      if (type !== FrameType.Proof || payload.length !== NONCE_BYTES) throw new CorruptionError(name, -1, 'a frame before the proof');
      if (!proofMatches(payload, this.identity.secret, this.peer, { id: this.identity.self, nonce: this.nonce })) {
        this.reject('it does not hold the cluster secret (check RINGKV_CLUSTER_SECRET on both hosts)');
        return;
      }
      this.proven = true;
      clearTimeout(this.handshakeTimer);
      this.handlers.onReady(this.peer.id);
      this.announce();
      return;
    }
    if (type === FrameType.Roster) this.handlers.onRoster(payload, this.peer.id);
    else if (type === FrameType.Batch) this.handlers.onBatch(payload, this.peer.id);
    else throw new CorruptionError(name, -1, `a frame of type ${type} after the handshake`);
  }

  /** Drop a peer that broke the protocol: log and close. */
  private reject(reason: string): void {
    if (this.closed) return;
    this.identity.log('warn', 'peer connection refused', { peer: this.peer?.id ?? this.expected ?? `${this.socket.remoteAddress}:${this.socket.remotePort}`, reason });
    this.end(reason, true);
  }

  private end(reason: string, rejected: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    this.socket.destroy();
    this.handlers.onClose(reason, rejected);
  }
}

/** Accepts the connections of peers that send to this process and hands their envelopes on. */
export class PeerListener {
  private readonly server: Server;
  private readonly connections = new Set<PeerConnection>();
  private readonly decoder = new BatchDecoder();
  /** Connections dropped for breaking the protocol (failed proof, malformed or oversized frame, slow handshake). */
  rejected = 0;
  /** Envelopes received from peers. */
  envelopesReceived = 0;

  private constructor(identity: PeerIdentity, onEnvelopes: (envelopes: Envelope[], peer: string) => void, onRoster: (payload: Uint8Array, peer: string) => void) {
    this.server = createServer((socket) => {
      const connection: PeerConnection = new PeerConnection(socket, identity, null, {
        onReady: (peer) => identity.log('info', 'peer connected', { peer, direction: 'inbound' }),
        onBatch: (payload, peer) => {
          let envelopes: Envelope[];
          try {
            envelopes = this.decoder.decode(payload);
          } catch (err) {
            connection.close(`an undecodable batch: ${String(err)}`);
            this.rejected++;
            identity.log('warn', 'peer connection refused', { peer, reason: 'an undecodable batch' });
            return;
          }
          this.envelopesReceived += envelopes.length;
          onEnvelopes(envelopes, peer);
        },
        onRoster,
        onClose: (_reason, rejected) => {
          this.connections.delete(connection);
          if (rejected) this.rejected++;
        },
      });
      this.connections.add(connection);
    });
  }

  /** Listen on `host:port` (0: any free port); rosters of the peers that connect go to `onRoster`. */
  static async listen(
    identity: PeerIdentity,
    host: string,
    port: number,
    onEnvelopes: (envelopes: Envelope[], peer: string) => void,
    onRoster: (payload: Uint8Array, peer: string) => void = () => undefined,
  ): Promise<PeerListener> {
    const listener = new PeerListener(identity, onEnvelopes, onRoster);
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen(port, host, () => {
        listener.server.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  /** The port it listens on. */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Send this process's roster again on every connection (it changed). */
  announce(): void {
    for (const c of this.connections) c.announce();
  }

  /** Stop accepting and drop every connection. */
  async close(): Promise<void> {
    for (const c of this.connections) c.close('the listener closed');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The sending side of the link to one peer: a queue, a connection, and redialing. */
export class PeerOutbound {
  private connection: PeerConnection | null = null;
  /** Envelopes sent this turn, not yet encoded. */
  private pending: Envelope[] = [];
  /** Encoded frames waiting for the connection or for 'drain'. */
  private readonly frames: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private writable = false;
  private backoffMs = PEER_RECONNECT_MIN_MS;
  private redial: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly encoder = new BatchEncoder();
  /** Frames written to the socket, and envelopes in them (batching shows as envelopes > frames). */
  framesSent = 0;
  envelopesSent = 0;
  /** Envelopes refused because PEER_QUEUE_MAX_BYTES were waiting. */
  refused = 0;
  /** The peer's id: as given, or as its first hello named it (a seed dialed by address). */
  peer: string | null;
  /** The address dialed turned out to be this process (its own seed): nothing is sent, nothing redialed. */
  isSelf = false;

  constructor(
    private readonly identity: PeerIdentity,
    /** The peer's id, as its hello must name it; null for a seed known only by its address. */
    peer: string | null,
    readonly address: { host: string; port: number },
    /** The peer's rosters, as it sends them on this link. */
    private readonly onRoster: (payload: Uint8Array, peer: string) => void = () => undefined,
  ) {
    this.peer = peer;
    this.dial();
  }

  /** True while the peer has proven itself and frames can be written. */
  get connected(): boolean {
    return this.connection?.ready === true;
  }

  /**
   * Queue `envelope` for the peer (it goes out at the end of this turn).
   * False when PEER_QUEUE_MAX_BYTES are already waiting: the caller
   * decides, as with a full ring.
   */
  send(envelope: Envelope): boolean {
    if (this.closed || this.queuedBytes >= PEER_QUEUE_MAX_BYTES) {
      this.refused++;
      return false;
    }
    this.pending.push(envelope);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    return true;
  }

  /** Send this process's roster again (it changed). */
  announce(): void {
    this.connection?.announce();
  }

  /** Stop: drop the connection and whatever waits. */
  close(): void {
    this.closed = true;
    clearTimeout(this.redial);
    this.connection?.close('closed by this process');
    this.pending = [];
    this.frames.length = 0;
    this.queuedBytes = 0;
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    this.pending = [];
    for (let at = 0; at < pending.length; at += PEER_BATCH_MAX_ENVELOPES) {
      const wire: unknown[] = [];
      const batch = pending.slice(at, at + PEER_BATCH_MAX_ENVELOPES);
      for (const e of batch) pushWire(wire, e.k, e.a, routeOf(e.ft, e.tt), e.to, e.fi, e.m);
      const frame = encodeFrame(FrameType.Batch, this.encoder.encode(wire));
      this.frames.push(frame);
      this.queuedBytes += frame.length;
      this.envelopesSent += batch.length;
    }
    this.writeFrames();
  }

  private writeFrames(): void {
    const connection = this.connection;
    if (connection === null || !connection.ready || !this.writable) return;
    while (this.frames.length > 0) {
      const frame = this.frames.shift()!;
      this.queuedBytes -= frame.length;
      this.framesSent++;
      if (!connection.write(frame)) {
        this.writable = false;
        return; // 'drain' writes the rest
      }
    }
  }

  private dial(): void {
    if (this.closed) return;
    const socket = connect(this.address.port, this.address.host);
    const connection = new PeerConnection(socket, this.identity, this.peer, {
      onReady: (peer) => {
        this.peer ??= peer;
        this.backoffMs = PEER_RECONNECT_MIN_MS;
        this.writable = true;
        this.identity.log('info', 'peer connected', { peer: this.peer, direction: 'outbound' });
        this.writeFrames();
      },
      onBatch: () => connection.close('the peer sent a batch on an outbound link'),
      onRoster: (payload, peer) => this.onRoster(payload, peer),
      onClose: (reason) => {
        if (this.connection !== connection) return;
        this.connection = null;
        this.writable = false;
        if (connection.self) {
          this.isSelf = true;
          this.close();
        }
        if (this.closed) return;
        // Jittered exponential backoff, so peers that lost one another do not redial in lockstep.
        const delay = this.backoffMs * (0.5 + Math.random() * 0.5);
        this.backoffMs = Math.min(PEER_RECONNECT_MAX_MS, this.backoffMs * 2);
        this.identity.log('info', 'peer link lost; redialing', { peer: this.peer, reason, in_ms: Math.round(delay) });
        this.redial = setTimeout(() => this.dial(), delay);
      },
    });
    socket.on('drain', () => {
      this.writable = true;
      this.writeFrames();
    });
    this.connection = connection;
  }
}
