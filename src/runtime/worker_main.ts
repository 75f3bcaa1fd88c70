/**
 * Entry point of every actor worker thread. Reads its `WorkerSetup`, imports
 * the actor modules, joins the ring transport, spawns its actors and then
 * serves setup requests from the main thread. Anything uncaught kills the
 * thread, which the main thread reports as that node's crash.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { assert, assertNever } from '../core/assert.js';
import { CRASH_RELEASE_MS, CRASH_SETTLE_MS } from '../core/limits.js';
import type { ActorKinds } from './actor.js';
import { ActorHost } from './actor_host.js';
import { defaultSink } from './logger.js';
import type { ControlMsg, ControlReply, WorkerSetup } from './setup_messages.js';
import { Transport } from './transport.js';

const setup = workerData as WorkerSetup;
const port = parentPort;
assert(port !== null, 'worker_main runs inside a worker thread');

const kinds: ActorKinds = {};
for (const url of setup.modules) {
  const mod = (await import(url)) as { actorKinds?: ActorKinds };
  assert(mod.actorKinds !== undefined, `module ${url} exports actorKinds`);
  Object.assign(kinds, mod.actorKinds);
}

const host = new ActorHost(setup.thread, kinds, defaultSink());
const transport = new Transport(setup.thread, setup.wiring, host);
host.attach(transport);
host.setBlockLists(setup.blocked);
for (const spec of setup.spawn) host.spawn(spec);
transport.start();

const reply = (msg: ControlReply): void => port.postMessage(msg);

port.on('message', (msg: ControlMsg) => {
  let error: string | undefined;
  try {
    switch (msg.type) {
      case 'spawn':
        host.spawn(msg.spec);
        break;
      case 'stop-actor':
        host.stop(msg.id);
        break;
      case 'rewire':
        transport.rewire(msg.other, msg.out, msg.inn);
        break;
      case 'block':
        host.setBlockLists({ outbound: msg.outbound, inbound: msg.inbound });
        break;
      case 'stats':
        reply({ type: 'stats', token: msg.token, stats: { ...host.stats } });
        return;
      case 'shutdown':
        host.shutdown();
        transport.stop();
        port.close();
        break;
      case 'crash':
        void crash();
        return;
      default:
        assertNever(msg);
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  reply({ type: 'done', token: msg.token, ...(error !== undefined ? { error } : {}) });
});

/**
 * A crash on purpose, run from this message handler, where no native call of
 * this thread is in progress: stop the rings, drop every actor without
 * `stopped()`, let them release native handles (`crashed()`), let file
 * operations in flight land, and exit. `worker.terminate()` from outside
 * could cut a native addon call or a nested worker off mid-way, which can
 * abort the whole process.
 */
async function crash(): Promise<void> {
  transport.stop();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CRASH_RELEASE_MS)));
  await Promise.race([host.crashAll(), bound]);
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, CRASH_SETTLE_MS));
  process.exit(1);
}

reply({ type: 'ready', thread: setup.thread });
