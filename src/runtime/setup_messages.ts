/**
 * The postMessage protocol between the main thread and worker threads. It is
 * for setup and crash reports only; actor traffic goes through the rings.
 */
import type { SpawnSpec } from './actor.js';
import type { HostStats } from './actor_host.js';
import type { BlockLists } from './partition.js';
import type { TransportWiring } from './transport.js';

/** What a worker thread receives as `workerData`. */
export interface WorkerSetup {
  thread: number;
  wiring: TransportWiring;
  /** File URLs of modules exporting `actorKinds`, imported before spawning. */
  modules: string[];
  /** Actors to spawn at start (a restarted thread gets the same list). */
  spawn: SpawnSpec[];
  /** Partitioned peers, applied before any actor starts (a restarted node stays cut off). */
  blocked: BlockLists;
}

/** Main → worker. */
export type ControlMsg =
  | { type: 'spawn'; token: number; spec: SpawnSpec }
  | { type: 'stop-actor'; token: number; id: string }
  | { type: 'rewire'; token: number; other: number; out: SharedArrayBuffer | null; inn: SharedArrayBuffer | null }
  /** Replace the thread's blocked peers (see partition.ts); empty lists heal it. */
  | { type: 'block'; token: number; outbound: number[]; inbound: number[] }
  /** Ask for the thread's host counters; answered with a 'stats' reply. */
  | { type: 'stats'; token: number }
  | { type: 'shutdown'; token: number }
  /** Crash the thread: actors get no `stopped()`, only `crashed()` to release native handles; then it exits. Not answered. */
  | { type: 'crash'; token: number };

/** Worker → main. */
export type ControlReply =
  | { type: 'ready'; thread: number }
  | { type: 'done'; token: number; error?: string }
  | { type: 'stats'; token: number; stats: HostStats };
