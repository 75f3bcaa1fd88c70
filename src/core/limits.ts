/**
 * Every bound in ringkv, named (TigerBeetle: "put a limit on everything").
 * Queues, rings, buffers, retries and sizes are bounded by these constants;
 * code that needs a bound imports it from here rather than inventing a number.
 * Units are the last part of each name. The constants live in src/core/limits/,
 * one file per layer; this module is the one place to import them from.
 */
export * from './limits/runtime.js';
export * from './limits/storage.js';
export * from './limits/cluster.js';
export * from './limits/server.js';
export * from './limits/anti_entropy.js';
export * from './limits/peers.js';
export * from './limits/membership.js';
