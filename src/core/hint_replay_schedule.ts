/**
 * When the hint replayer may replay to an owner (Dynamo 2007, section 4.6:
 * hints wait at a substitute node until their owner recovers). Two gates per
 * owner:
 *
 *   - liveness: `alive` from the node's failure detector opens the owner,
 *     `suspect`, `down` and `left` pause it. A member never heard of counts
 *     as alive: after a restart the detector reports only changes, so the
 *     replayer must try and let the backoff absorb a failure;
 *   - backoff: a failed round closes the owner for a full-jitter delay
 *     (`retryDelayMs`) that doubles with each consecutive failure up to
 *     HINT_REPLAY_BACKOFF_MAX_MS; a successful round or an `alive` event
 *     resets it. Retries never give up here: they end when the hints expire
 *     (HINT_MAX_AGE_MS). A round that was already under way when `alive`
 *     came (its asks went to the owner while it was still down) fails from
 *     stale news: its failure sets no backoff, so the next tick tries again.
 *
 * Pure: time and randomness come in as arguments. Owned by the handoff actor
 * (`actors/handoff.ts`); one instance per node.
 */
import { assert } from './assert.js';
import { HINT_REPLAY_BACKOFF_BASE_MS, HINT_REPLAY_BACKOFF_MAX_MS, MEMBERS_MAX } from './limits.js';
import type { LivenessStatus } from './liveness.js';
import { retryDelayMs } from './quorum.js';

/** An owner that is backing off after failed rounds. */
interface Backoff {
  /** Consecutive failed rounds. */
  failures: number;
  /** No round starts before this time. */
  until_ms: number;
}

/** The per-owner replay gates of one node. */
export class HintReplaySchedule {
  /** Owners the failure detector last reported as not alive. */
  private readonly paused = new Set<string>();
  /** Owners backing off after a failure. */
  private readonly backoffs = new Map<string, Backoff>();
  /** `alive` events seen, per owner that had one: a round's token, to tell a failure that predates the latest. */
  private readonly alives = new Map<string, number>();

  /**
   * Take a liveness change of `member`. Returns true when it is `alive`: the
   * caller should replay to it now (its backoff was reset).
   */
  liveness(member: string, status: LivenessStatus): boolean {
    if (status === 'alive') {
      this.paused.delete(member);
      this.backoffs.delete(member);
      this.alives.set(member, (this.alives.get(member) ?? 0) + 1);
      assert(this.alives.size <= MEMBERS_MAX, 'owners heard alive are members');
      return true;
    }
    this.paused.add(member);
    assert(this.paused.size <= MEMBERS_MAX, 'paused owners are members');
    return false;
  }

  /** Whether the failure detector holds `owner` as not alive (an explicit or running round stops). */
  isPaused(owner: string): boolean {
    return this.paused.has(owner);
  }

  /** Whether a round to `owner` may start at `now_ms`: not paused and not backing off. */
  due(owner: string, now_ms: number): boolean {
    if (this.paused.has(owner)) return false;
    const backoff = this.backoffs.get(owner);
    return backoff === undefined || now_ms >= backoff.until_ms;
  }

  /** Call when a round to `owner` starts; pass the token to `failed`. */
  roundToken(owner: string): number {
    return this.alives.get(owner) ?? 0;
  }

  /** A round to `owner` delivered hints without failing: forget its backoff. */
  succeeded(owner: string): void {
    this.backoffs.delete(owner);
  }

  /**
   * A round to `owner`, begun with `token` (`roundToken`), failed at
   * `now_ms`: back off, unless `alive` came since the round began (then
   * null: no backoff). `random` is one draw in [0, 1) from the caller's
   * seeded generator. Returns the delay chosen.
   */
  failed(owner: string, token: number, now_ms: number, random: number): number | null {
    if (token !== this.roundToken(owner)) return null;
    const failures = (this.backoffs.get(owner)?.failures ?? 0) + 1;
    // attemptsMax: never exhausted here (see the header); the ceiling stops doubling at the cap anyway.
    const delay_ms = retryDelayMs(failures - 1, random, HINT_REPLAY_BACKOFF_BASE_MS, HINT_REPLAY_BACKOFF_MAX_MS, Number.POSITIVE_INFINITY);
    assert(delay_ms !== null && delay_ms >= 0 && delay_ms < HINT_REPLAY_BACKOFF_MAX_MS, 'a hint backoff is within [0, cap)');
    this.backoffs.set(owner, { failures, until_ms: now_ms + delay_ms });
    assert(this.backoffs.size <= MEMBERS_MAX, 'backing-off owners are members');
    return delay_ms;
  }

  /** Consecutive failed rounds of `owner` (0 when not backing off). */
  failures(owner: string): number {
    return this.backoffs.get(owner)?.failures ?? 0;
  }
}
