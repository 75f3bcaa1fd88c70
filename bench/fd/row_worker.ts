/**
 * A worker thread of the failure-detector benchmark: runs the rows it is
 * sent (`RowConfig`) one at a time in its own deterministic simulator and
 * posts each `RowResult` back. Rows are independent and deterministic, so
 * running them on two threads changes only the wall time.
 *
 * Thread contract: the worker's own thread; one row at a time.
 */
import { parentPort } from 'node:worker_threads';
import { runRow, type RowConfig } from './sim_run.js';

const port = parentPort;
if (port === null) throw new Error('row_worker runs inside a worker thread');

port.on('message', (config: RowConfig) => {
  runRow(config).then(
    (result) => port.postMessage({ ok: true, result }),
    (err: unknown) => port.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
