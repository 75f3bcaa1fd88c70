/**
 * The package root: `import { openCluster } from 'ringkv'`.
 */
export { openCluster } from './cluster.js';
export type * from './cluster_types.js';
export { ConfigError, CorruptionError, DataDirError, IndeterminateError, InvalidRequestError, OverloadedError, RingkvError, TimeoutError, UnavailableError } from './core/errors.js';
export type { ConsistencyLevel, Requirement } from './core/consistency.js';
