/**
 * The package root: `import { openCluster, startServer } from 'ringkv'`.
 */
export { openCluster } from './cluster/cluster.js';
export { startServer, type RingkvServer, type ServerOptions } from './server/start.js';
export type * from './cluster/cluster_types.js';
export { ConfigError, CorruptionError, DataDirError, IndeterminateError, InvalidRequestError, OverloadedError, RingkvError, TimeoutError, UnavailableError } from './core/errors.js';
export type { ConsistencyLevel, Requirement } from './core/consistency.js';
