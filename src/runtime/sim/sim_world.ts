/**
 * The deterministic simulator: every actor of every simulated node runs on
 * this one thread, on a virtual clock, with a seeded network that drops,
 * duplicates, delays and reorders messages, partitions nodes and crashes
 * them, and stalls them (a frozen event loop, see stall.ts). The same actor
 * classes run here and on the real runtime; "threads" of an `ActorRef` are
 * simulated nodes here.
 *
 * Determinism: events are carried out one at a time in (virtual time, push
 * order); every random choice comes from PRNGs derived from the seed; after
 * each event the run loop lets pending promise continuations settle (one
 * `setImmediate` turn, which Node runs only once the microtask queue is
 * empty) before the next event. So the same seed gives the same sequence of
 * events, which the trace hashes (`traceHash()`). Actors must not use real
 * timers or I/O that completes on its own time (the simulated file system
 * resolves its promises without timers).
 *
 * Nothing here reads the real clock or `Math.random`.
 *
 * Thread contract: one thread drives a world; run methods must not overlap
 * (await each before calling the next).
 */
import { AssertionError, assert } from '../../core/assert.js';
import { hashString32 } from '../../core/hash.js';
import { ACTOR_TIMERS_MAX, ASK_DEFAULT_TIMEOUT_MS, SIM_EVENTS_MAX, THREADS_MAX } from '../../core/limits.js';
import { Prng } from '../../core/prng.js';
import type { ActorFactory, ActorKinds, ActorRef, Message, SpawnSpec, TimerHandle } from '../actor.js';
import { refName } from '../actor.js';
import { ActorCell } from './actor_cell.js';
import { AskTable } from './ask_table.js';
import { EventQueue } from './event_queue.js';
import { type FaultOptions, SimNetwork, resolveFaults } from './faults.js';
import { NodeClocks } from './node_clocks.js';
import { FaultPlans } from './plans.js';
import type { SimEvent, TimerEvent } from './sim_event.js';
import { SimLogBook } from './sim_log.js';
import { NodeStalls, eventNode, type StallOptions } from './stall.js';
import { SimTransport } from './sim_transport.js';
import { Supervisor } from './supervisor.js';
import { stableHash } from './stable_hash.js';
import { Trace, type TraceKind } from './trace.js';
import { SimLivelockError, type SimNode, type SimWorldOptions } from './sim_world_types.js';

export { SimLivelockError, type SimNode, type SimWorldOptions } from './sim_world_types.js';

/** A deterministic world of simulated nodes and actors. */
export class SimWorld {
  readonly seed: number;
  /** Every event carried out, hashed; the tail is kept for printing. */
  readonly trace: Trace;
  /** Logs of every actor and of the world. */
  readonly logs: SimLogBook;
  /** The network model and its partition table. */
  readonly network: SimNetwork;
  private clock_ms = 0;
  private readonly queue = new EventQueue<SimEvent>();
  /** Events that keep the world busy (all but plan ticks), queued or held by a stall. */
  private foreground = 0;
  /** Stalled nodes and the events they hold back. */
  private readonly stalls = new NodeStalls();
  /** Events a stall just released, carried out (in order) before anything queued. */
  private readonly released: SimEvent[] = [];
  private readonly nodes = new Map<number, SimNode>();
  private readonly asks = new AskTable();
  private readonly transport: SimTransport;
  private readonly supervisor: Supervisor;
  private readonly kinds: ActorKinds;
  private readonly eventsMax: number;
  /** The random crash and stall schedules. */
  private readonly plans: FaultPlans;
  /** Clock skew between nodes (what their actors read as now). */
  private readonly clocks = new NodeClocks(() => this.clock_ms);

  constructor(opts: SimWorldOptions) {
    this.seed = opts.seed >>> 0;
    this.kinds = opts.kinds ?? {};
    this.eventsMax = opts.events_max ?? SIM_EVENTS_MAX;
    assert(this.eventsMax > 0 && this.eventsMax <= SIM_EVENTS_MAX, 'events_max is in (0, SIM_EVENTS_MAX]');
    this.trace = new Trace(opts.trace_tail);
    this.logs = new SimLogBook(() => this.clock_ms, opts.print_logs ?? false);
    const faults = resolveFaults(opts.faults ?? {});
    this.network = new SimNetwork(faults, this.derivedPrng('network'));
    this.plans = new FaultPlans(
      {
        now: () => this.clock_ms,
        push: (time_ms, event) => this.push(time_ms, event),
        after: (delay_ms, what, action) => this.after(delay_ms, what, action),
        isUp: (node) => this.isUp(node),
        isDown: (node) => this.nodes.get(node)?.up === false,
        isStalled: (node) => this.isStalled(node),
        crash: (node) => this.crash(node),
        restart: (node) => this.restart(node),
        stall: (node, duration_ms, opts) => this.stall(node, duration_ms, opts),
      },
      this.derivedPrng('crash-plan'),
      this.derivedPrng('stall-plan'),
    );
    this.transport = new SimTransport({
      now: () => this.clock_ms,
      network: this.network,
      nodes: this.nodes,
      asks: this.asks,
      push: (time_ms, event) => this.push(time_ms, event),
      record: (kind, from, to, type, hash) => this.record(kind, from, to, type, hash),
    });
    this.supervisor = new Supervisor({
      seed: this.seed,
      now: () => this.clock_ms,
      logs: this.logs,
      asks: this.asks,
      record: (kind, from, to, type, hash) => this.record(kind, from, to, type, hash),
      host: {
        now: () => this.clock_ms,
        nodeNow: (node) => this.nodeNow(node),
        send: (from, to, msg) => this.transport.send(from.ref, from.ref.thread, to, msg, undefined, false),
        ask: (from, to, msg, timeout_ms) => this.startAsk(from, to, msg, timeout_ms),
        reply: (from, delivery, value) => this.transport.reply(from.ref, delivery, value),
        schedule: (cell, delay_ms, msg) => this.scheduleTimer(cell, delay_ms, msg),
      },
    });
    if (faults.crash_plan !== undefined) this.plans.startCrashPlan(faults.crash_plan);
    if (faults.stall_plan !== undefined) this.plans.startStallPlan(faults.stall_plan);
  }

  // -------------------------------------------------------------------------
  // Setting up and driving the world from a test
  // -------------------------------------------------------------------------

  /** Spawn a registered kind on node `thread`. */
  spawn(thread: number, spec: SpawnSpec): ActorRef;
  /** Spawn from a factory on node `thread`, with id `id` and factory args `args`. */
  spawn<M extends Message>(thread: number, factory: ActorFactory<M>, id: string, args?: unknown): ActorRef;
  spawn<M extends Message>(thread: number, what: SpawnSpec | ActorFactory<M>, id?: string, args?: unknown): ActorRef {
    const spec: SpawnSpec = typeof what === 'function' ? { kind: '<factory>', id: id ?? '', args } : what;
    const factory = typeof what === 'function' ? (what as unknown as ActorFactory<Message>) : this.kinds[spec.kind];
    assert(factory !== undefined, `actor kind "${spec.kind}" is registered`);
    assert(spec.id !== '', 'an actor id is not empty');
    assert(Number.isInteger(thread) && thread >= 0 && thread < THREADS_MAX, `node ${thread} is in [0, THREADS_MAX)`);
    const node = this.ensureNode(thread);
    assert(node.up, `node ${thread} is up to spawn on it`);
    assert(!node.cells.has(spec.id), `actor id "${spec.id}" is unique on node ${thread}`);
    const ref: ActorRef = { thread, id: spec.id };
    const cell = new ActorCell(ref, spec.kind, factory, spec.args);
    node.cells.set(spec.id, cell);
    this.record('spawn', '', refName(ref), spec.kind, '');
    this.supervisor.start(cell);
    return ref;
  }

  /** Send `msg` to `to` from the test (no sender, no network faults). */
  send(to: ActorRef, msg: Message): boolean {
    return this.transport.send(undefined, to.thread, to, msg, undefined, true);
  }

  /** Ask `to` from the test; settle it by running the world. */
  ask<R = unknown>(to: ActorRef, msg: Message, timeout_ms: number = ASK_DEFAULT_TIMEOUT_MS): Promise<R> {
    return this.startAsk<R>(undefined, to, msg, timeout_ms);
  }

  /** Run `action` at virtual time `time_ms` (e.g. a crash or a partition), as an event. */
  at(time_ms: number, what: string, action: () => void): void {
    assert(time_ms >= this.clock_ms, 'an action is scheduled now or later');
    this.push(time_ms, { kind: 'control', what, run: action, background: false });
  }

  /** Run `action` `delay_ms` from now. */
  after(delay_ms: number, what: string, action: () => void): void {
    this.at(this.clock_ms + delay_ms, what, action);
  }

  // -------------------------------------------------------------------------
  // Faults
  // -------------------------------------------------------------------------

  /** Change fault options from now on; a new `crash_plan` or `stall_plan` replaces the old one. */
  configureFaults(opts: FaultOptions): void {
    this.network.configure(opts);
    if (opts.crash_plan !== undefined) this.plans.startCrashPlan(opts.crash_plan);
    if (opts.stall_plan !== undefined) this.plans.startStallPlan(opts.stall_plan);
  }

  /** Stop the crash plan (already crashed nodes still restart as planned). */
  stopCrashPlan(): void {
    this.plans.stopCrashPlan();
  }

  /** Stop the stall plan (stalls in force run to their end). */
  stopStallPlan(): void {
    this.plans.stopStallPlan();
  }

  /**
   * Freeze node `node`'s event loop for `duration_ms` from now, as a GC pause would: nothing due
   * to it runs until then (see stall.ts); then everything that came due runs at once, in original
   * order or, with `release: 'timers-first'`, timers first as Node's event loop does. Stalling a
   * stalled node extends its stall (and takes its `release`). A crash ends a stall.
   */
  stall(node: number, duration_ms: number, opts: StallOptions = {}): void {
    const target = this.nodes.get(node);
    assert(target !== undefined && target.up, `node ${node} exists and is up to stall it`);
    assert(Number.isFinite(duration_ms) && duration_ms > 0, 'a stall lasts a finite time > 0');
    const until_ms = this.clock_ms + duration_ms;
    const current = this.stalls.until(node);
    if (current !== undefined && current >= until_ms) return;
    const generation = this.stalls.begin(node, until_ms, opts.release);
    this.record('stall', '', `t${node}`, `until ${until_ms}${opts.release === 'timers-first' ? ' timers-first' : ''}`, '');
    this.push(until_ms, { kind: 'control', what: `end of stall of t${node}`, run: () => this.endStall(node, generation), background: false });
  }

  /** Skew node `node`'s clock: from now on its actors' `now()` reads `offset_ms` ahead (node_clocks.ts). */
  setClockSkew(node: number, offset_ms: number): void {
    this.clocks.setSkew(node, offset_ms);
    this.logs.write('info', 'sim', `node t${node} clock reads ${offset_ms} ms ahead`);
  }

  /** Node `node`'s clock: virtual time plus its skew. */
  nodeNow(node: number): number {
    return this.clocks.now(node);
  }

  /** Cut every link between the node sets `a` and `b`, both ways. */
  partition(a: readonly number[], b: readonly number[]): void {
    this.network.partitions.block(a, b);
    this.network.partitions.block(b, a);
    this.record('net', '', '', `partition ${a.join(',')}|${b.join(',')}`, '');
  }

  /** Cut the links from `from` to `to` only: `to` can still reach `from`. */
  partitionOneWay(from: readonly number[], to: readonly number[]): void {
    this.network.partitions.block(from, to);
    this.record('net', '', '', `partition ${from.join(',')}>${to.join(',')}`, '');
  }

  /** Heal every partition, or only the links between `a` and `b` (both ways). */
  heal(a?: readonly number[], b?: readonly number[]): void {
    if (a === undefined || b === undefined) this.network.partitions.clear();
    else {
      this.network.partitions.unblock(a, b);
      this.network.partitions.unblock(b, a);
    }
    this.record('net', '', '', a === undefined || b === undefined ? 'heal' : `heal ${a.join(',')}|${b.join(',')}`, '');
  }

  /** Crash node `node`: its actors lose their state, timers and asks; messages to it are lost while down. */
  crash(node: number): void {
    const target = this.nodes.get(node);
    assert(target !== undefined && target.up, `node ${node} exists and is up to crash it`);
    target.up = false;
    target.epoch++;
    if (this.stalls.isStalled(node)) this.releaseHeld(node, this.stalls.endNow(node)); // they find it down
    for (const cell of target.cells.values()) this.supervisor.kill(cell);
    this.record('crash', '', `t${node}`, '', '');
    this.logs.write('warn', 'sim', `node t${node} crashed`);
  }

  /** Restart a crashed node: every actor is re-created from its factory and args, then `started`. */
  restart(node: number): void {
    const target = this.nodes.get(node);
    assert(target !== undefined && !target.up, `node ${node} exists and is down to restart it`);
    target.up = true;
    this.record('restart', '', `t${node}`, '', '');
    this.logs.write('info', 'sim', `node t${node} restarted`);
    for (const cell of target.cells.values()) {
      cell.stopped = false;
      this.supervisor.start(cell);
    }
  }

  // -------------------------------------------------------------------------
  // Running
  // -------------------------------------------------------------------------

  /** Carry out the next event (whatever its time); false when nothing is queued. */
  async step(): Promise<boolean> {
    await settle();
    return this.runOne(Number.POSITIVE_INFINITY);
  }

  /** Carry out every event due at or before `time_ms`, then set the clock to `time_ms`. */
  async runUntil(time_ms: number): Promise<void> {
    assert(time_ms >= this.clock_ms, 'runUntil goes forward in time');
    await settle();
    let events = 0;
    while (await this.runOne(time_ms)) this.countEvent(++events, `runUntil(${time_ms})`);
    this.clock_ms = time_ms;
  }

  /** Run for `duration_ms` of virtual time. */
  async runFor(duration_ms: number): Promise<void> {
    await this.runUntil(this.clock_ms + duration_ms);
  }

  /**
   * Run until nothing but crash-plan ticks is queued. A workload with
   * periodic timers never goes idle: use `runUntil` for it (or stop its timers).
   */
  async runUntilIdle(): Promise<void> {
    await settle();
    let events = 0;
    while (this.foreground > 0 && (await this.runOne(Number.POSITIVE_INFINITY))) {
      this.countEvent(++events, 'runUntilIdle()');
    }
  }

  // -------------------------------------------------------------------------
  // Inspecting
  // -------------------------------------------------------------------------

  /** Virtual time in ms. */
  now(): number {
    return this.clock_ms;
  }

  /** Hash of every event carried out so far (16 hex digits): same seed ⇒ same hash. */
  traceHash(): string {
    return this.trace.hash();
  }

  /** The live instance of the actor at `ref` (to assert on its state), if any. */
  instance<A>(ref: ActorRef): A | undefined {
    return this.nodes.get(ref.thread)?.cells.get(ref.id)?.instance as A | undefined;
  }

  /** True while node `node` is stalled. */
  isStalled(node: number): boolean {
    return this.stalls.isStalled(node);
  }

  /** True when node `node` exists and is up. */
  isUp(node: number): boolean {
    return this.nodes.get(node)?.up === true;
  }

  /** Ids of every node, ascending. */
  nodeIds(): number[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  /** Events queued (including stale ones not yet skipped). */
  get pendingEvents(): number {
    return this.queue.size;
  }

  /** The seed, the last trace events and the last log lines, for a failing test to print. */
  report(lines = 40): string {
    return [
      `seed=${this.seed} now=${this.clock_ms} events=${this.trace.length} hash=${this.traceHash()}`,
      '--- last trace events ---',
      this.trace.format(lines),
      '--- last log lines ---',
      this.logs.format(lines),
    ].join('\n');
  }

  // -------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------

  private async runOne(limit_ms: number): Promise<boolean> {
    for (;;) {
      const held = this.released.shift(); // released by a stall that ended now: they go first, in release order
      if (held !== undefined) {
        this.foreground--;
        if (this.isStale(held)) continue;
        this.carryOut(held);
        await settle();
        return true;
      }
      const top = this.queue.peek();
      if (top === undefined || top.time_ms > limit_ms) return false;
      this.queue.pop();
      const runsOn = eventNode(top.payload, this.asks);
      if (runsOn !== undefined && this.stalls.isStalled(runsOn)) {
        this.stalls.hold(runsOn, top.payload); // stays foreground until carried out
        continue;
      }
      if (!isBackground(top.payload)) this.foreground--;
      if (this.isStale(top.payload)) continue; // skipped without advancing the clock
      this.clock_ms = Math.max(this.clock_ms, top.time_ms);
      this.carryOut(top.payload);
      await settle();
      return true;
    }
  }

  private endStall(node: number, generation: number): void {
    const held = this.stalls.end(node, generation);
    if (held !== undefined) this.releaseHeld(node, held);
  }

  private releaseHeld(node: number, held: SimEvent[]): void {
    this.record('unstall', '', `t${node}`, `${held.length} held`, '');
    for (const event of held) this.released.push(event);
  }

  private carryOut(event: SimEvent): void {
    switch (event.kind) {
      case 'deliver':
        return this.supervisor.deliver(this.transport.arrive(event), event.msg);
      case 'reply':
        return this.transport.arriveReply(event);
      case 'timer':
        return this.fireTimer(event);
      case 'ask_timeout':
        return this.transport.expire(event.askId);
      case 'control':
        return event.run();
    }
  }

  private isStale(event: SimEvent): boolean {
    if (event.kind === 'timer') return event.entry.cancelled || event.cell.incarnation !== event.incarnation;
    if (event.kind === 'ask_timeout') return this.asks.get(event.askId) === undefined;
    return false;
  }

  private fireTimer(event: TimerEvent): void {
    event.cell.timers.delete(event.entry);
    this.record('timer', '', refName(event.cell.ref), event.msg.type, event.hash);
    this.supervisor.dispatch(event.cell, event.msg, {
      from: event.cell.ref, // as in the real runtime, a timer message comes from the actor itself
      fromNode: event.cell.ref.thread,
      askId: undefined,
      type: event.msg.type,
      replied: false,
    });
  }

  private scheduleTimer(cell: ActorCell, delay_ms: number, msg: Message): TimerHandle {
    assert(Number.isFinite(delay_ms) && delay_ms >= 0, 'a timer delay is a finite number >= 0');
    if (cell.timers.size >= ACTOR_TIMERS_MAX) {
      throw new AssertionError(`assertion failed: ${refName(cell.ref)} has ACTOR_TIMERS_MAX (${ACTOR_TIMERS_MAX}) timers`);
    }
    const entry = { cancelled: false };
    cell.timers.add(entry);
    const hash = stableHash(msg);
    this.push(this.clock_ms + delay_ms, { kind: 'timer', cell, incarnation: cell.incarnation, entry, msg, hash });
    return {
      cancel: () => {
        entry.cancelled = true;
        cell.timers.delete(entry);
      },
    };
  }

  private startAsk<R>(owner: ActorCell | undefined, to: ActorRef, msg: Message, timeout_ms: number | undefined): Promise<R> {
    const deadline_ms = timeout_ms ?? ASK_DEFAULT_TIMEOUT_MS;
    assert(Number.isFinite(deadline_ms) && deadline_ms > 0, 'an ask timeout is a finite number > 0');
    const started = this.transport.startAsk<R>(owner, to, msg, deadline_ms);
    if (started.askId !== undefined) this.push(this.clock_ms + deadline_ms, { kind: 'ask_timeout', askId: started.askId });
    return started.promise;
  }

  private push(time_ms: number, event: SimEvent): void {
    this.queue.push(time_ms, event);
    if (!isBackground(event)) this.foreground++;
  }

  private record(kind: TraceKind, from: string, to: string, type: string, hash: string): void {
    this.trace.record({ time_ms: this.clock_ms, kind, from, to, type, hash });
  }

  private ensureNode(id: number): SimNode {
    let node = this.nodes.get(id);
    if (node === undefined) {
      node = { id, up: true, epoch: 0, cells: new Map() };
      this.nodes.set(id, node);
    }
    return node;
  }

  private derivedPrng(purpose: string): Prng {
    return new Prng(hashString32(`${this.seed}/${purpose}`));
  }

  private countEvent(events: number, call: string): void {
    if (events <= this.eventsMax) return;
    throw new SimLivelockError(
      `${call} carried out ${this.eventsMax} events without finishing (virtual time ${this.clock_ms} ms, seed ${this.seed}): ` +
        'the actors keep each other busy forever (a message loop, or periodic timers under runUntilIdle); ' +
        'use runUntil(t) for workloads with periodic timers or fix the loop.\n' +
        this.report(20),
    );
  }
}

/** Let every pending promise continuation run: Node runs an immediate only once the microtask queue is empty. */
function settle(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

function isBackground(event: SimEvent): boolean {
  return event.kind === 'control' && event.background;
}
