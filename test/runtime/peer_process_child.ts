/**
 * The child process of `peer_process.test.ts`: an actor system hosting node
 * thread 2 (an echo actor) whose thread 1 lives in the parent, linked to it
 * by peer links on loopback. It listens on the port given (0: any), prints
 * `{"port":P}` once listening, dials the parent at the port given, and runs
 * until killed.
 *
 * Usage: node peer_process_child.js <listen port> <parent port>
 *
 * Nothing here is exported: importing this file runs it.
 */
import { ActorSystem } from '../../src/runtime/actor_system.js';
import { PeerListener, PeerOutbound } from '../../src/runtime/peer_link.js';

const [listenPort, parentPort] = process.argv.slice(2).map(Number) as [number, number];
const identity = { self: 'child', secret: new TextEncoder().encode('process test secret'), log: () => undefined };
let outbound: PeerOutbound | undefined;
const system = await ActorSystem.start({
  threads: 2,
  modules: [new URL('./test_actors.js', import.meta.url).href],
  spawn: { 2: [{ kind: 'echo', id: 'e' }] },
  remote: { threads: [1], forward: (env) => outbound?.send(env) ?? false },
  sink: () => undefined,
});
const listener = await PeerListener.listen(identity, '127.0.0.1', listenPort, (envs) => system.fromPeer(envs));
outbound = new PeerOutbound(identity, 'parent', { host: '127.0.0.1', port: parentPort });
process.stdout.write(`${JSON.stringify({ port: listener.port })}\n`);
