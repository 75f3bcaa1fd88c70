/**
 * The deterministic simulator's public surface: build a `SimWorld` from a
 * seed, spawn the same actors the real runtime runs, inject faults (network,
 * partitions, crashes, stalls), run on
 * virtual time, and compare `traceHash()` across runs.
 */
export { SimWorld, SimLivelockError, type SimWorldOptions, type SimNode } from './sim_world.js';
export { type FaultOptions, type CrashPlan, type StallPlan, type RangeMs, DEFAULT_FAULTS, PartitionTable } from './faults.js';
export { type StallOptions, type StallRelease } from './stall.js';
export { Trace, type TraceEvent, type TraceKind, eventText } from './trace.js';
export { SimLogBook, type LogLine, type LogLevel, formatLine } from './sim_log.js';
export { EventQueue, type QueuedEvent } from './event_queue.js';
export { stableSerialize, stableHash } from './stable_hash.js';
