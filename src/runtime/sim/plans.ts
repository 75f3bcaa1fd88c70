/**
 * Random fault schedules the world runs from its seed: the crash plan
 * (crash a node, restart it after a while) and the stall plan (freeze a
 * node's event loop for a while, as a GC pause). Each plan ticks as
 * background control events, so a world with only plan ticks queued is idle.
 * Each plan draws from its own PRNG, derived from the world seed, so adding
 * a stall plan does not change the crashes a seed gives.
 *
 * Starting a plan replaces the one of the same kind: a generation number
 * makes the old plan's pending tick do nothing.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import type { Prng } from '../../core/prng.js';
import type { CrashPlan, RangeMs, StallPlan } from './faults.js';
import type { ControlEvent } from './sim_event.js';
import type { StallOptions } from './stall.js';

/** What the plans need from the world. */
export interface PlanHost {
  now(): number;
  push(time_ms: number, event: ControlEvent): void;
  /** Run `action` `delay_ms` from now, as a foreground event. */
  after(delay_ms: number, what: string, action: () => void): void;
  /** True when `node` exists and is up. */
  isUp(node: number): boolean;
  /** True when `node` exists and is down. */
  isDown(node: number): boolean;
  isStalled(node: number): boolean;
  crash(node: number): void;
  restart(node: number): void;
  stall(node: number, duration_ms: number, opts: StallOptions): void;
}

/** Runs the crash plan and the stall plan. */
export class FaultPlans {
  /** Bumped when the crash plan is replaced or stopped, so the old plan's ticks stop. */
  private crashGeneration = 0;
  /** Bumped when the stall plan is replaced or stopped. */
  private stallGeneration = 0;

  constructor(
    private readonly host: PlanHost,
    /** Draws the crash plan's choices. */
    private readonly crashPrng: Prng,
    /** Draws the stall plan's choices. */
    private readonly stallPrng: Prng,
  ) {}

  /** Start `plan`, replacing the crash plan in force. */
  startCrashPlan(plan: CrashPlan): void {
    const generation = ++this.crashGeneration;
    const tick = (): void => {
      if (generation !== this.crashGeneration) return;
      this.plannedCrash(plan);
      this.nextTick(plan, this.crashPrng, 'crash plan tick', tick);
    };
    this.nextTick(plan, this.crashPrng, 'crash plan tick', tick);
  }

  /** Stop the crash plan (already crashed nodes still restart as planned). */
  stopCrashPlan(): void {
    this.crashGeneration++;
  }

  /** Start `plan`, replacing the stall plan in force. */
  startStallPlan(plan: StallPlan): void {
    const generation = ++this.stallGeneration;
    const tick = (): void => {
      if (generation !== this.stallGeneration) return;
      this.plannedStall(plan);
      this.nextTick(plan, this.stallPrng, 'stall plan tick', tick);
    };
    this.nextTick(plan, this.stallPrng, 'stall plan tick', tick);
  }

  /** Stop the stall plan (stalls in force run to their end). */
  stopStallPlan(): void {
    this.stallGeneration++;
  }

  private nextTick(plan: CrashPlan | StallPlan, prng: Prng, what: string, tick: () => void): void {
    const at_ms = Math.max(this.host.now(), plan.start_ms ?? 0) + draw(prng, plan.interval_ms);
    if (plan.stop_ms !== undefined && at_ms > plan.stop_ms) return;
    this.host.push(at_ms, { kind: 'control', what, run: tick, background: true });
  }

  private plannedCrash(plan: CrashPlan): void {
    const down = plan.nodes.filter((n) => this.host.isDown(n)).length;
    const candidates = plan.nodes.filter((n) => this.host.isUp(n));
    if (down >= (plan.max_down ?? 1) || candidates.length === 0) return;
    const victim = this.crashPrng.pick(candidates);
    this.host.crash(victim);
    this.host.after(draw(this.crashPrng, plan.downtime_ms), `planned restart of t${victim}`, () => {
      if (!this.host.isUp(victim)) this.host.restart(victim);
    });
  }

  /** Stall one up, unstalled node of the plan (none when every one is down or stalled already). */
  private plannedStall(plan: StallPlan): void {
    const candidates = plan.nodes.filter((n) => this.host.isUp(n) && !this.host.isStalled(n));
    if (candidates.length === 0) return;
    const node = this.stallPrng.pick(candidates);
    this.host.stall(node, draw(this.stallPrng, plan.duration_ms), { release: plan.release ?? 'in-order' });
  }
}

/** A uniform draw in [min, max]. */
function draw(prng: Prng, range: RangeMs): number {
  return range[0] + prng.next() * (range[1] - range[0]);
}
