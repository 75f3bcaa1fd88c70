/**
 * A transport sink for the ring benchmarks: it accepts every batch and
 * drops it, and throws on what must not happen in a benchmark (an
 * undeliverable message, a corrupt frame).
 */
import type { TransportSink } from '../../src/runtime/transport.js';

export function discardingSink(): TransportSink {
  return {
    canAccept: () => true,
    onBatch: () => undefined,
    onDrained: () => undefined,
    onUndeliverable: (_dest, _env, reason) => {
      throw reason;
    },
    onCorruption: (err) => {
      throw err;
    },
  };
}
