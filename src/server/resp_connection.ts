/**
 * One RESP client connection: reads requests, dispatches them in order, and
 * writes the replies in request order.
 *
 * Pipelining: every whole request in the receive buffer is dispatched at once
 * (so a pipeline's cluster requests run concurrently, ordered per key by
 * `RequestOrder`), and replies leave strictly in request order: a slow reply
 * holds back the ones after it.
 *
 * Backpressure (each bound from `RespLimits`): the socket stops being read
 * while `pipelineMaxCommands` requests wait for their replies or more than
 * `replyPendingMaxBytes` of replies wait in the socket for the client to read
 * them; reading resumes as replies are written and drained.
 *
 * Transactions: MULTI makes `dispatch` queue the following commands in the
 * session (`resp_transaction.ts`); EXEC runs them through `run`, so each is
 * observed like a request. A connection that closes before EXEC drops its
 * queue with the session: nothing queued is applied.
 *
 * Closing: a protocol error or QUIT stops parsing; the replies to the requests
 * before it are written, then the error or OK, then the connection ends (and
 * is destroyed if the client has not closed within RESP_CLOSE_LINGER_MS).
 * `drainAndClose` (server shutdown) does the same without a last reply.
 *
 * Thread contract: used from the event loop only.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Cluster } from '../cluster/cluster_types.js';
import { RESP_CLOSE_LINGER_MS } from '../core/limits.js';
import { RequestOrder } from './request_order.js';
import type { RequestObserver } from './request_observer.js';
import { type CommandContext, type ServerFacts, type Session } from './resp_command_types.js';
import { dispatch } from './resp_commands.js';
import { RespParser, type RespParserLimits } from './resp_parser.js';
import { encodeReply, error, type Reply } from './resp_writer.js';
import type { RespLimits } from './resp_limits.js';

/** What a connection needs from its server. */
export interface ConnectionDeps {
  cluster: Cluster;
  facts: ServerFacts;
  limits: RespLimits;
  observer: RequestObserver | undefined;
  /** Called once when the socket has closed. */
  onClose(connection: RespConnection): void;
  /** Called on every protocol error (for stats). */
  onProtocolError(): void;
}

/** A request waiting for its reply to be written. */
interface PendingReply {
  /** The reply, once known. */
  reply: Reply | null;
}

/** One client connection; see the file header. */
export class RespConnection {
  readonly session: Session;
  /** Most bytes this connection's parser has held at once. */
  peakBufferedBytes = 0;
  private readonly parser: RespParser;
  private readonly order: RequestOrder;
  private readonly context: CommandContext;
  /** Requests dispatched whose replies are not written yet, in request order. */
  private readonly replies: PendingReply[] = [];
  /** No more requests are parsed (protocol error, QUIT, shutdown). */
  private stopParsing = false;
  /** End the connection once `replies` is empty. */
  private closeAfterReplies = false;
  private paused = false;
  private corked = false;
  private readonly closed: Promise<void>;

  constructor(
    private readonly socket: Socket,
    id: number,
    private readonly deps: ConnectionDeps,
  ) {
    this.session = { id, name: null, authenticated: !deps.facts.passwordSet, protocol: 2, quitting: false, transaction: null };
    this.parser = new RespParser(this.parserLimits());
    this.order = new RequestOrder(deps.limits.clusterCallsPerConnectionMax);
    this.context = {
      cluster: deps.cluster,
      session: this.session,
      server: deps.facts,
      read: (key, call) => this.order.read(key, call),
      write: (key, call) => this.order.write(key, call),
      hidSiblings: () => deps.observer?.getHidSiblings?.(),
      runQueued: (args, ctx) => this.run(args, ctx),
    };
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    if (deps.limits.idleTimeoutMs > 0) socket.setTimeout(deps.limits.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.pump());
    socket.on('timeout', () => this.onIdle());
    // ECONNRESET and the like are normal client behaviour; 'close' follows and cleans up.
    socket.on('error', () => undefined);
    socket.once('close', () => deps.onClose(this));
  }

  /** Bytes the parser holds (unparsed input plus an unfinished request). */
  get bufferedBytes(): number {
    return this.parser.bufferedBytes;
  }

  /** Bytes of replies written to the socket but not yet sent. */
  get pendingReplyBytes(): number {
    return this.socket.writableLength;
  }

  /** Stop reading, write the replies of requests in flight, then close. Resolves when the socket has closed. */
  drainAndClose(): Promise<void> {
    this.stopParsing = true;
    this.closeAfterReplies = true;
    this.updateReading();
    this.flush();
    return this.closed;
  }

  // -------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.stopParsing) return;
    this.parser.push(chunk);
    this.peakBufferedBytes = Math.max(this.peakBufferedBytes, this.parser.bufferedBytes);
    this.pump();
  }

  /** Dispatch every whole request buffered (within the pipeline bound), then write what is ready. */
  private pump(): void {
    // Parsed requests wait in the buffer while replies back up, so a client that
    // pipelines many large reads but does not read replies cannot make us hold them all.
    let boundReached = true;
    while (boundReached) {
      boundReached = false;
      while (!this.stopParsing) {
        if (!this.mayDispatch()) {
          boundReached = true;
          break;
        }
        this.parser.setLimits(this.parserLimits());
        const parsed = this.parser.next();
        if (parsed === null) break;
        if (parsed.type === 'error') {
          this.deps.onProtocolError();
          this.replies.push({ reply: error(`ERR Protocol error: ${parsed.message}`) });
          this.stopParsing = true;
          this.closeAfterReplies = true;
          break;
        }
        this.execute(parsed.args);
        if (this.session.quitting) {
          this.stopParsing = true;
          this.closeAfterReplies = true;
        }
      }
      this.flush();
      // Replies answered at once (PING, QUEUED) were just written, which may free the
      // pipeline bound while whole requests still wait in the parser: no socket event
      // would come for them (the bytes are already read), so go on here.
      boundReached &&= this.mayDispatch();
    }
  }

  private execute(args: Buffer[]): void {
    const pending: PendingReply = { reply: null };
    this.replies.push(pending);
    const reply = this.run(args, this.context);
    if (reply instanceof Promise) {
      void reply.then((settled) => {
        pending.reply = settled;
        this.pump();
      });
    } else {
      pending.reply = reply;
    }
  }

  /** Dispatch one request with `ctx` and report it to the observer once it is answered (a queued one when EXEC runs it). */
  private run(args: Buffer[], ctx: CommandContext): Reply | Promise<Reply> {
    const started_ms = performance.now();
    const dispatched = dispatch(args, ctx);
    const command = dispatched.command;
    const observer = this.deps.observer;
    if (command === null || observer === undefined) return dispatched.reply;
    const observe = (reply: Reply): Reply => {
      observer.request('resp', command, (performance.now() - started_ms) / 1000, reply.type === 'error' ? 'error' : 'ok');
      return reply;
    };
    return dispatched.reply instanceof Promise ? dispatched.reply.then(observe) : observe(dispatched.reply);
  }

  /** Write every reply at the head of the queue that is known, in order. */
  private flush(): void {
    if (this.socket.destroyed) return;
    const pieces: (Buffer | string)[] = [];
    while (this.replies.length > 0 && this.replies[0]!.reply !== null) {
      encodeReply(this.replies.shift()!.reply!, this.session.protocol, pieces);
    }
    if (pieces.length > 0) {
      if (!this.corked) {
        // Replies settled in one tick leave in one write (writev) instead of one each.
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      for (const piece of pieces) this.socket.write(piece);
    }
    if (this.closeAfterReplies && this.replies.length === 0) {
      this.endSocket();
      return;
    }
    this.updateReading();
  }

  /** True while within the pipeline and reply-backlog bounds. */
  private mayDispatch(): boolean {
    const limits = this.deps.limits;
    return !this.stopParsing && this.replies.length < limits.pipelineMaxCommands && this.socket.writableLength <= limits.replyPendingMaxBytes;
  }

  /** Read the socket only while requests may be dispatched. */
  private updateReading(): void {
    const shouldRead = this.mayDispatch();
    if (shouldRead && this.paused) {
      this.paused = false;
      this.socket.resume();
    } else if (!shouldRead && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private endSocket(): void {
    if (this.socket.writableEnded) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), RESP_CLOSE_LINGER_MS).unref();
  }

  /** Idle past the timeout: close, unless a request is still being served. */
  private onIdle(): void {
    if (this.replies.length === 0 && this.order.size === 0) this.socket.destroy();
  }

  private parserLimits(): RespParserLimits {
    const limits = this.deps.limits;
    const authenticated = this.session.authenticated;
    return {
      bulkMaxBytes: authenticated ? limits.bulkMaxBytes : limits.unauthenticatedBulkMaxBytes,
      arrayMaxElements: authenticated ? limits.arrayMaxElements : limits.unauthenticatedArrayMaxElements,
      inlineMaxBytes: authenticated ? limits.inlineMaxBytes : Math.min(limits.inlineMaxBytes, limits.unauthenticatedBulkMaxBytes),
      queryBufferMaxBytes: limits.queryBufferMaxBytes,
    };
  }
}
