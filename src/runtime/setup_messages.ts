/**
 * The postMessage protocol between the main thread and worker threads. It is
 * for setup and crash reports only; actor traffic goes through the rings.
 */
import type { SpawnSpec } from './actor.js';
import type { TransportWiring } from './transport.js';

/** What a worker thread receives as `workerData`. */
export interface WorkerSetup {
  thread: number;
  wiring: TransportWiring;
  /** File URLs of modules exporting `actorKinds`, imported before spawning. */
  modules: string[];
  /** Actors to spawn at start (a restarted thread gets the same list). */
  spawn: SpawnSpec[];
}

/** Main → worker. */
export type ControlMsg =
  | { type: 'spawn'; token: number; spec: SpawnSpec }
  | { type: 'stop-actor'; token: number; id: string }
  | { type: 'rewire'; token: number; other: number; out: SharedArrayBuffer | null; inn: SharedArrayBuffer | null }
  | { type: 'shutdown'; token: number };

/** Worker → main. */
export type ControlReply =
  | { type: 'ready'; thread: number }
  | { type: 'done'; token: number; error?: string }
  | { type: 'stats'; thread: number; delivered: number; restarts: number };
