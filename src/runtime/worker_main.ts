/**
 * Entry point of every actor worker thread. Reads its `WorkerSetup`, imports
 * the actor modules, joins the ring transport, starts its logical threads
 * (nodes) with their actors and then serves setup requests from the main
 * thread. A node crash (`crash-thread`) stops that node's actors and leaves
 * the others on this thread running; anything uncaught kills the thread,
 * which the main thread reports as the crash of every node on it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { assert, assertNever } from '../core/assert.js';
import { CRASH_RELEASE_MS, CRASH_SETTLE_MS } from '../core/limits.js';
import type { ActorKinds, SpawnSpec } from './actor.js';
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

const host = new ActorHost(setup.worker, setup.placement, kinds, defaultSink());
const transport = new Transport(setup.worker, setup.wiring, host);
host.attach(transport);
host.setBlockedLinks(setup.blocked);
for (const { thread, spawn } of setup.threads) startThread(thread, spawn);
transport.start();

const reply = (msg: ControlReply): void => port.postMessage(msg);

function startThread(thread: number, spawn: readonly SpawnSpec[]): void {
  host.startThread(thread);
  for (const spec of spawn) host.spawn(spec, thread);
}

port.on('message', (msg: ControlMsg) => {
  let error: string | undefined;
  try {
    switch (msg.type) {
      case 'spawn':
        host.spawn(msg.spec, msg.thread);
        break;
      case 'stop-actor':
        host.stop({ thread: msg.thread, id: msg.id });
        break;
      case 'rewire':
        transport.rewire(msg.other, msg.out, msg.inn);
        break;
      case 'block':
        host.setBlockedLinks(msg.links);
        break;
      case 'stats':
        reply({ type: 'stats', token: msg.token, stats: { ...host.stats } });
        return;
      case 'shutdown':
        host.shutdown();
        transport.stop();
        port.close();
        break;
      case 'start-thread':
        startThread(msg.thread, msg.spawn);
        break;
      case 'crash-thread':
        void crashThread(msg.thread).then(
          () => reply({ type: 'done', token: msg.token }),
          (err: unknown) => reply({ type: 'done', token: msg.token, error: err instanceof Error ? err.message : String(err) }),
        );
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
 * A node crash on purpose, run from this message handler, where no native
 * call of this thread is in progress: drop the node's actors without
 * `stopped()`, let them release native handles (`crashed()`, bounded by
 * CRASH_RELEASE_MS), and let file operations in flight land. The thread and
 * its other nodes run on. (`worker.terminate()` from outside could cut a
 * native addon call or a nested worker off mid-way, which can abort the
 * whole process.)
 */
async function crashThread(thread: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CRASH_RELEASE_MS)));
  await Promise.race([host.crashThread(thread), bound]);
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, CRASH_SETTLE_MS));
}

reply({ type: 'ready', worker: setup.worker });
