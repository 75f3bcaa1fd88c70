/**
 * Node threads in two real processes (issue 16): the parent hosts thread 1,
 * a child process (`peer_process_child.ts`) thread 2, linked by peer links
 * on loopback. An actor in the parent asks the child's actor; then the
 * child is killed with SIGKILL: asks fail at their deadline, as to a dead
 * host, and none is answered by the dead process; a new child on the same
 * port is redialed by the parent's link and answers again.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import { PeerListener, PeerOutbound } from '../../src/runtime/peer_link.js';

const CHILD = fileURLToPath(new URL('./peer_process_child.js', import.meta.url));
const identity = { self: 'parent', secret: new TextEncoder().encode('process test secret'), log: () => undefined };

/** Start a child listening on `port` (0: any) and dialing `parentPort`; resolves with it and its port. */
async function startChild(port: number, parentPort: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [CHILD, String(port), String(parentPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => { throw new Error('the child exited before listening'); })])) as [Buffer];
  return { child, port: (JSON.parse(line.toString().split('\n')[0]!) as { port: number }).port };
}

describe('runtime: node threads in two processes, one of them SIGKILLed and started again', function () {
  this.timeout(60_000);

  it('answers across processes, times out against a killed one, and answers again once a new one listens', async () => {
    let outbound: PeerOutbound | undefined;
    const system = await ActorSystem.start({
      threads: 2,
      modules: [new URL('./test_actors.js', import.meta.url).href],
      spawn: { 1: [{ kind: 'echo', id: 'e' }] },
      remote: { threads: [2], forward: (env) => outbound?.send(env) ?? false },
      sink: () => undefined,
    });
    const listener = await PeerListener.listen(identity, '127.0.0.1', 0, (envs) => system.fromPeer(envs));
    let child: ChildProcess | undefined;
    const ask = (value: unknown, timeout_ms: number): Promise<{ answer: unknown }> =>
      system.ask({ thread: 1, id: 'e' }, { type: 'forward', to: { thread: 2, id: 'e' }, value }, timeout_ms);
    try {
      const first = await startChild(0, listener.port);
      child = first.child;
      outbound = new PeerOutbound(identity, 'child', { host: '127.0.0.1', port: first.port });
      expect((await ask('hello', 10_000)).answer).to.equal('hello');

      child.kill('SIGKILL');
      await once(child, 'exit');
      // The actor's inner ask has its default deadline; the parent's outer ask a longer one. The failure names the deadline.
      let failure: unknown;
      try {
        await ask('into the void', 20_000);
      } catch (err) {
        failure = err;
      }
      expect(String(failure)).to.match(/no answer within/);

      const second = await startChild(first.port, listener.port);
      child = second.child;
      // The parent's link redials the same address with backoff; asks succeed once it is through.
      let answer: unknown;
      for (let i = 0; i < 40 && answer === undefined; i++) {
        answer = await ask('again', 1000).then((a) => a.answer, () => undefined);
      }
      expect(answer).to.equal('again');
    } finally {
      child?.kill('SIGKILL');
      outbound?.close();
      await listener.close();
      await system.shutdown();
    }
  });
});
