/**
 * The replica's storage engine over its life: opening it, noticing that it
 * failed, and opening it again (issue 13: a node whose storage cannot open
 * or keeps failing is reported as failed and treated as down).
 *
 *   opening ──ok──▶ open ──engine.failure set──▶ failed ──every
 *      │                                           ▲    STORAGE_REOPEN_INTERVAL_MS──▶ opening
 *      └──────────────open failed──────────────────┘
 *
 * Entering `failed` logs one error line naming the cause and what to do
 * (again only when the cause changes), tells the node's failure detector
 * (which tells every peer's, so coordinators treat this node as down), and
 * answers every request at once with `storageFailedError` rather than
 * letting the actor crash, restart and be stopped for good. A successful
 * reopen logs it and tells the detector the storage is back.
 *
 * Thread contract: the replica actor's, which owns one instance.
 */
import type { Logger } from '../src/runtime/actor.js';
import { STORAGE_REOPEN_INTERVAL_MS } from '../src/core/limits.js';
import type { StorageEngine } from '../storage/engine.js';
import { describeStorageFailure, storageFailedError, type StorageFailure } from '../storage/storage_health.js';

/** A failed storage as the replica reports it (status, metrics). */
export interface FailedStorage extends StorageFailure {
  /** When it failed first (node clock, ms); kept while later attempts fail too. */
  since_ms: number;
}

/** What the lifecycle needs from its actor. */
export interface StorageLifecycleHooks {
  /** Open the engine on the data directory. */
  open(): Promise<StorageEngine>;
  /** Run `fn` after `delay_ms` (an actor timer). */
  schedule(delay_ms: number, fn: () => void): void;
  now(): number;
  log: Logger;
  /** Tell the node's failure detector that the storage failed (with its cause) or works again. */
  report(failed: boolean, cause: string): void;
}

/** One replica's engine, failed state and reopen timer. */
export class StorageLifecycle {
  /** The engine being opened or open; rejected while failed (always handled). */
  private current: Promise<StorageEngine>;
  /** Set while the storage is failed (opening again keeps it until the open succeeds). */
  private failure: FailedState | undefined;
  /** The open engine, once opened (for `close`). */
  private opened: StorageEngine | undefined;

  constructor(
    private readonly dir: string,
    private readonly hooks: StorageLifecycleHooks,
    /** Resolves when a predecessor closed this directory: the first open waits for it. */
    previousClose: Promise<void>,
  ) {
    this.current = this.track(previousClose.then(() => hooks.open()));
  }

  /** The engine; rejects with `storageFailedError` while the storage is failed. */
  get engine(): Promise<StorageEngine> {
    return this.current;
  }

  /** The failure while the storage is failed, else undefined. */
  get failed(): FailedStorage | undefined {
    return this.failure === undefined ? undefined : { cause: this.failure.cause, advice: this.failure.advice, since_ms: this.failure.since_ms };
  }

  /** The error every request gets while failed. */
  failedError(): Error {
    return storageFailedError(this.dir, this.failure ?? { cause: 'not open', advice: '' });
  }

  /**
   * After a request on `engine` failed: if the engine failed for good (a
   * commit-log, flush or manifest write), close it and enter the failed state.
   */
  check(engine: StorageEngine): void {
    const cause = engine.failure;
    if (cause === undefined || engine !== this.opened) return;
    this.opened = undefined;
    const closed = engine.close().catch(() => undefined);
    this.enterFailed(describeStorageFailure(this.dir, cause), closed);
    this.current = this.rejected();
  }

  /** Close the engine (the actor stops); resolves once its files are closed. */
  close(): Promise<void> {
    return this.current.then((engine) => engine.close(), () => undefined).catch(() => undefined);
  }

  /** Follow an open: on success the storage works (again); on failure enter the failed state. */
  private track(opening: Promise<StorageEngine>): Promise<StorageEngine> {
    const tracked = opening.then(
      (engine) => {
        this.opened = engine;
        if (this.failure !== undefined) {
          this.hooks.log.info('storage open again; this node serves again', { dir: this.dir, failed_since_ms: this.failure.since_ms });
          this.failure = undefined;
          this.hooks.report(false, '');
        }
        return engine;
      },
      (err: unknown) => {
        this.enterFailed(describeStorageFailure(this.dir, err), Promise.resolve());
        throw this.failedError();
      },
    );
    tracked.catch(() => undefined); // answered to each request that awaits it; never an unhandled rejection
    return tracked;
  }

  private enterFailed(failure: StorageFailure, closed: Promise<void>): void {
    const previous = this.failure;
    this.failure = { ...failure, since_ms: previous?.since_ms ?? this.hooks.now(), reopenScheduled: previous?.reopenScheduled ?? false };
    if (previous === undefined || previous.cause !== failure.cause) {
      this.hooks.log.error('storage failed: this node serves no data and is treated as down until its storage opens again', {
        dir: this.dir,
        cause: failure.cause,
        what_to_do: failure.advice,
      });
      this.hooks.report(true, failure.cause);
    }
    if (this.failure.reopenScheduled) return;
    this.failure.reopenScheduled = true;
    this.hooks.schedule(STORAGE_REOPEN_INTERVAL_MS, () => {
      if (this.failure === undefined) return;
      this.failure.reopenScheduled = false;
      this.current = this.track(closed.then(() => this.hooks.open()));
    });
  }

  /** A rejected engine promise for the failed state (handled, so never unhandled). */
  private rejected(): Promise<StorageEngine> {
    const failed = Promise.reject(this.failedError());
    failed.catch(() => undefined);
    return failed;
  }
}

interface FailedState extends FailedStorage {
  /** A reopen timer is pending. */
  reopenScheduled: boolean;
}
