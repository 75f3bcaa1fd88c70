/**
 * The postMessage protocol between the main thread and worker threads. It is
 * for setup and crash reports only; actor traffic goes through the rings.
 *
 * A worker thread hosts one or more logical threads (cluster nodes):
 * `placement` says which worker hosts each, and the control messages name
 * the logical thread they act on.
 */
import type { SpawnSpec } from './actor.js';
import type { HostStats } from './actor_host.js';
import type { TransportWiring } from './transport.js';

/** What a worker thread receives as `workerData`. */
export interface WorkerSetup {
  /** This worker's OS-thread index (1..workers). */
  worker: number;
  /** placement[t]: the worker hosting logical thread t (0 for the main thread's). */
  placement: number[];
  wiring: TransportWiring;
  /** File URLs of modules exporting `actorKinds`, imported before spawning. */
  modules: string[];
  /** The logical threads to start, each with the actors it spawns at start (a restarted one gets the same list). */
  threads: { thread: number; spawn: SpawnSpec[] }[];
  /** Blocked links with an end on this worker (`routeOf` codes), applied before any actor starts (a restarted node stays cut off). */
  blocked: number[];
}

/** Main → worker. */
export type ControlMsg =
  | { type: 'spawn'; token: number; thread: number; spec: SpawnSpec }
  | { type: 'stop-actor'; token: number; thread: number; id: string }
  | { type: 'rewire'; token: number; other: number; out: SharedArrayBuffer | null; inn: SharedArrayBuffer | null }
  /** Replace the worker's blocked links (see partition.ts); an empty list heals it. */
  | { type: 'block'; token: number; links: number[] }
  /** Ask for the worker's host counters; answered with a 'stats' reply. */
  | { type: 'stats'; token: number }
  | { type: 'shutdown'; token: number }
  /** Start logical thread `thread` (placed on this worker, not running) with these actors. */
  | { type: 'start-thread'; token: number; thread: number; spawn: SpawnSpec[] }
  /**
   * Crash logical thread `thread`: its actors get no `stopped()`, only
   * `crashed()` to release native handles; answered once those settled and
   * file operations in flight landed. Other logical threads run on.
   */
  | { type: 'crash-thread'; token: number; thread: number };

/** Worker → main. */
export type ControlReply =
  | { type: 'ready'; worker: number }
  | { type: 'done'; token: number; error?: string }
  | { type: 'stats'; token: number; stats: HostStats };
