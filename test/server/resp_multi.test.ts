/**
 * MULTI/EXEC/DISCARD over raw RESP against a server on a fake cluster: what
 * is queued is not applied before EXEC, nothing is applied after DISCARD,
 * EXECABORT, QUIT or a disconnect, EXEC answers every reply in order with
 * its writes in one batch, Redis's error texts, the queue bound, WATCH, and
 * COMMAND's entries. (Real clients against a real cluster:
 * resp_multi_clients.test.ts.)
 */
import { expect } from 'chai';
import { RESP_MULTI_QUEUED_MAX, RESP_PIPELINE_MAX_COMMANDS } from '../../src/core/limits.js';
import type { RequestObserver } from '../../src/server/request_observer.js';
import { startRespServer, type RespServer, type RespServerOptions } from '../../src/server/resp_server.js';
import { Transaction } from '../../src/server/resp_transaction.js';
import { simple } from '../../src/server/resp_writer.js';
import { FakeCluster } from './fake_cluster.js';
import { encodeCommand, errorText, RawClient, str, type Decoded } from './resp_test_client.js';

const ok = { simple: 'OK' };
const queued = { simple: 'QUEUED' };
const EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';

const running: RespServer[] = [];
const clients: RawClient[] = [];

async function serve(options: Partial<RespServerOptions> = {}): Promise<{ server: RespServer; cluster: FakeCluster; client: RawClient }> {
  const cluster = new FakeCluster();
  const server = await startRespServer({ cluster, port: 0, ...options });
  running.push(server);
  return { server, cluster, client: await connect(server) };
}

async function connect(server: RespServer): Promise<RawClient> {
  const client = await RawClient.connect(server.port);
  clients.push(client);
  return client;
}

/** Send `commands` in one write (a pipeline) and read their replies. */
async function pipeline(client: RawClient, commands: string[][]): Promise<Decoded[]> {
  client.send(Buffer.concat(commands.map((c) => encodeCommand(c))));
  const replies: Decoded[] = [];
  for (let i = 0; i < commands.length; i++) replies.push(await client.reply());
  return replies;
}

/** Resolves once the server has no connection left. */
async function untilNoConnections(server: RespServer): Promise<void> {
  for (let i = 0; i < 500 && server.connections > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(server.connections).to.equal(0);
}

describe('server/resp_multi', () => {
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(running.splice(0).map((server) => server.close()));
  });

  describe('EXEC', () => {
    it('queues without applying, then runs every command in order with each reply in its slot', async () => {
      const { client, cluster, server } = await serve();
      const other = await connect(server);
      await client.call('SET', 'd', 'old');
      expect(await client.call('MULTI')).to.deep.equal(ok);
      expect(await client.call('SET', 'a', '1')).to.deep.equal(queued);
      expect(await client.call('GET', 'a')).to.deep.equal(queued);
      expect(await client.call('SET', 'b', '2', 'EX', '10')).to.deep.equal(queued); // a run-time error: in its slot
      expect(await client.call('MSET', 'b', '3', 'c', '4')).to.deep.equal(queued);
      expect(await client.call('DEL', 'd')).to.deep.equal(queued);
      expect(await client.call('PING')).to.deep.equal(queued);
      // Nothing queued has run: another client sees none of it.
      expect(cluster.calls.put).to.equal(1);
      expect(await other.call('GET', 'a')).to.equal(null);
      expect(str(await other.call('GET', 'd'))).to.equal('old');
      const replies = (await client.call('EXEC')) as Decoded[];
      expect(replies).to.have.length(6);
      expect(replies[0]).to.deep.equal(ok);
      expect(str(replies[1]!)).to.equal('1'); // GET sees the SET queued before it
      expect(errorText(replies[2]!)).to.match(/^ERR ringkv has no key expiry/);
      expect(replies.slice(3)).to.deep.equal([ok, 1, { simple: 'PONG' }]);
      // No rollback: the failed SET left the others applied.
      expect(str(await other.call('GET', 'a'))).to.equal('1');
      expect(str(await other.call('GET', 'b'))).to.equal('3');
      expect(await other.call('GET', 'd')).to.equal(null);
      // Back out of the transaction: commands run at once again.
      expect(await client.call('SET', 'e', '5')).to.deep.equal(ok);
      expect(errorText(await client.call('EXEC'))).to.equal('ERR EXEC without MULTI');
    });

    it("sends the transaction's writes to the cluster as one batch", async () => {
      const { client, cluster } = await serve();
      const commands = [['MULTI'], ...Array.from({ length: 50 }, (_, i) => ['SET', `k${i}`, `v${i}`]), ['MSET', 'x', '1', 'y', '2'], ['EXEC']];
      const replies = await pipeline(client, commands);
      expect(replies.slice(0, 52)).to.deep.equal([ok, ...Array.from({ length: 51 }, () => queued)]);
      expect(replies[52]).to.deep.equal(Array.from({ length: 51 }, () => ok));
      expect(cluster.putManyCalls).to.equal(1);
      expect(cluster.calls.put).to.equal(52);
    });

    it('a pipeline after EXEC sees its writes; an empty transaction answers an empty array', async () => {
      const { client } = await serve();
      const replies = await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['EXEC'], ['GET', 'k'], ['MULTI'], ['EXEC']]);
      expect(replies).to.deep.equal([ok, queued, [ok], Buffer.from('v'), ok, []]);
    });
  });

  describe('nothing is applied', () => {
    it('after DISCARD', async () => {
      const { client, cluster } = await serve();
      expect(await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['DEL', 'x'], ['DISCARD'], ['GET', 'k']])).to.deep.equal([ok, queued, queued, ok, null]);
      expect(cluster.calls.put + cluster.calls.delete).to.equal(0);
      expect(errorText(await client.call('DISCARD'))).to.equal('ERR DISCARD without MULTI');
    });

    it('after an unknown command or a wrong number of arguments: EXEC answers EXECABORT', async () => {
      const { client, cluster } = await serve();
      const replies = await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['NOSUCH', 'a'], ['SET', 'j', 'w'], ['EXEC'], ['GET', 'k']]);
      expect(replies.slice(0, 2)).to.deep.equal([ok, queued]);
      expect(errorText(replies[2]!)).to.equal("ERR unknown command 'NOSUCH', with args beginning with: 'a'");
      expect(replies[3]).to.deep.equal(queued); // Redis still answers QUEUED once aborted
      expect(errorText(replies[4]!)).to.equal(EXECABORT);
      expect(replies[5]).to.equal(null);
      const arity = await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['GET'], ['EXEC']]);
      expect(errorText(arity[2]!)).to.equal("ERR wrong number of arguments for 'get' command");
      expect(errorText(arity[3]!)).to.equal(EXECABORT);
      expect(cluster.calls.put).to.equal(0);
    });

    it('after EXEC with arguments (the EXEC is refused and the transaction discarded, as in Redis)', async () => {
      const { client, cluster } = await serve();
      const replies = await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['EXEC', 'now'], ['EXEC']]);
      expect(errorText(replies[2]!)).to.equal("EXECABORT Transaction discarded because of: ERR wrong number of arguments for 'exec' command");
      expect(errorText(replies[3]!)).to.equal('ERR EXEC without MULTI');
      expect(cluster.calls.put).to.equal(0);
    });

    it('after QUIT inside MULTI (it runs at once and closes)', async () => {
      const { client, cluster } = await serve();
      expect(await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['QUIT']])).to.deep.equal([ok, queued, ok]);
      await client.closed();
      expect(cluster.calls.put).to.equal(0);
    });

    it('when the client disconnects before EXEC', async () => {
      const { client, cluster, server } = await serve();
      expect(await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['MSET', 'a', '1', 'b', '2']])).to.deep.equal([ok, queued, queued]);
      client.close();
      await untilNoConnections(server);
      const reader = await connect(server);
      expect(await reader.call('MGET', 'k', 'a', 'b')).to.deep.equal([null, null, null]);
      expect(cluster.calls.put).to.equal(0);
    });

    it(`past RESP_MULTI_QUEUED_MAX (${RESP_MULTI_QUEUED_MAX}) queued commands`, async () => {
      const { client, cluster } = await serve();
      const sets = Array.from({ length: RESP_MULTI_QUEUED_MAX + 2 }, (_, i) => ['SET', `k${i}`, 'v']);
      const replies = await pipeline(client, [['MULTI'], ...sets, ['EXEC']]);
      expect(replies.slice(1, RESP_MULTI_QUEUED_MAX + 1).every((r) => (r as { simple?: string }).simple === 'QUEUED')).to.equal(true);
      for (const over of replies.slice(RESP_MULTI_QUEUED_MAX + 1, -1)) {
        expect(errorText(over)).to.match(new RegExp(`^ERR transaction too large: at most ${RESP_MULTI_QUEUED_MAX} commands .* split it into smaller ones$`));
      }
      expect(errorText(replies.at(-1)!)).to.equal(EXECABORT);
      expect(cluster.calls.put).to.equal(0);
      // The connection works on, and a transaction within the bound runs.
      expect(await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['EXEC']])).to.deep.equal([ok, queued, [ok]]);
    });
  });

  describe('the queue bound (Transaction)', () => {
    it('counts commands and argument bytes, and refuses every command once past either', () => {
      const queued = simple('QUEUED');
      const byCount = new Transaction(2, 1000);
      expect(byCount.queue([Buffer.from('PING')])).to.deep.equal(queued);
      expect(byCount.queue([Buffer.from('PING')])).to.deep.equal(queued);
      expect(byCount.queue([Buffer.from('PING')])).to.have.property('type', 'error');
      expect(byCount.aborted).to.equal(true);
      expect(byCount.queued).to.have.length(0); // let go: it will never run
      const byBytes = new Transaction(100, 10);
      expect(byBytes.queue([Buffer.from('SET'), Buffer.from('k'), Buffer.from('v')])).to.deep.equal(queued);
      expect(byBytes.queue([Buffer.from('SET'), Buffer.from('key'), Buffer.from('value')])).to.have.property('type', 'error');
      expect(byBytes.queue([Buffer.from('PING')])).to.have.property('type', 'error');
      expect(byBytes.aborted).to.equal(true);
    });
  });

  describe('Redis behaviour inside MULTI', () => {
    it('nested MULTI and WATCH inside MULTI are errors that do not abort the transaction', async () => {
      const { client } = await serve();
      const replies = await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['MULTI'], ['WATCH', 'k'], ['UNWATCH'], ['EXEC']]);
      expect(errorText(replies[2]!)).to.equal('ERR MULTI calls can not be nested');
      expect(errorText(replies[3]!)).to.equal('ERR WATCH inside MULTI is not allowed');
      expect(replies[4]).to.deep.equal(queued);
      expect(replies[5]).to.deep.equal([ok, ok]);
    });

    it('WATCH is refused with what to use instead; UNWATCH has nothing to forget', async () => {
      const { client } = await serve();
      expect(errorText(await client.call('WATCH', 'k'))).to.match(/^ERR WATCH is not supported by ringkv: .* use KV.GET, then KV.PUT with the context it answered$/);
      expect(await client.call('UNWATCH')).to.deep.equal(ok);
      expect(errorText(await client.call('WATCH'))).to.equal("ERR wrong number of arguments for 'watch' command");
    });

    it('AUTH and HELLO are queued and run at EXEC; MULTI needs authentication', async () => {
      const { client } = await serve({ password: 'secret' });
      expect(errorText(await client.call('MULTI'))).to.equal('NOAUTH Authentication required.');
      expect(errorText(await client.call('EXEC'))).to.equal('NOAUTH Authentication required.');
      expect(await client.call('AUTH', 'secret')).to.deep.equal(ok);
      const replies = await pipeline(client, [['MULTI'], ['AUTH', 'wrong'], ['HELLO', '3'], ['GET', 'absent'], ['EXEC']]);
      expect(replies.slice(0, 4)).to.deep.equal([ok, queued, queued, queued]);
      const [auth, hello, get] = replies[4] as Decoded[];
      expect(errorText(auth!)).to.match(/^WRONGPASS/);
      expect((hello as Map<string, Decoded>).get('proto')).to.equal(3);
      expect(get).to.equal(null);
      // HELLO 3 ran: the connection speaks RESP3 now (a map, not a flat array).
      expect(await client.call('HELLO')).to.be.instanceOf(Map);
    });

    it('queued commands are reported to the observer when EXEC runs them, not when queued', async () => {
      const seen: string[] = [];
      const observer: RequestObserver = { request: (_surface, command, _seconds, outcome) => seen.push(`${command}:${outcome}`) };
      const { client } = await serve({ observer });
      await pipeline(client, [['MULTI'], ['SET', 'k', 'v'], ['GET', 'k']]);
      expect(seen).to.deep.equal(['MULTI:ok']);
      await client.call('EXEC');
      expect(seen.slice(1).sort()).to.deep.equal(['EXEC:ok', 'GET:ok', 'SET:ok']);
    });
  });

  describe('pipelines', () => {
    it(`serves a pipeline of more than RESP_PIPELINE_MAX_COMMANDS (${RESP_PIPELINE_MAX_COMMANDS}) commands answered at once, as MULTI's QUEUED are`, async () => {
      const { client } = await serve();
      const count = RESP_PIPELINE_MAX_COMMANDS * 2 + 5;
      const replies = await pipeline(client, Array.from({ length: count }, () => ['PING']));
      expect(replies.every((r) => (r as { simple?: string }).simple === 'PONG')).to.equal(true);
    });
  });

  describe('COMMAND', () => {
    it('lists MULTI, EXEC, DISCARD, WATCH and UNWATCH with Redis 7 flags', async () => {
      const { client } = await serve();
      const info = (await client.call('COMMAND', 'INFO', 'multi', 'exec', 'discard', 'watch', 'unwatch')) as Decoded[][];
      const described = info.map(([name, arity, flags, first, last, step, categories]) => [
        str(name!),
        arity,
        (flags as Decoded[]).map(str),
        [first, last, step],
        (categories as Decoded[]).map(str),
      ]);
      expect(described).to.deep.equal([
        ['multi', 1, ['noscript', 'loading', 'stale', 'fast'], [0, 0, 0], ['@transaction']],
        ['exec', 1, ['noscript', 'loading', 'stale', 'skip_slowlog'], [0, 0, 0], ['@transaction']],
        ['discard', 1, ['noscript', 'loading', 'stale', 'fast'], [0, 0, 0], ['@transaction']],
        ['watch', -2, ['noscript', 'loading', 'stale', 'fast'], [1, -1, 1], ['@transaction']],
        ['unwatch', 1, ['noscript', 'loading', 'stale', 'fast'], [0, 0, 0], ['@transaction']],
      ]);
      const list = ((await client.call('COMMAND', 'LIST')) as Decoded[]).map(str);
      expect(list).to.include.members(['multi', 'exec', 'discard', 'watch', 'unwatch']);
      expect(await client.call('COMMAND', 'COUNT')).to.equal(list.length);
      const docs = (await client.call('COMMAND', 'DOCS', 'exec')) as Decoded[];
      const execDocs = docs[1] as Decoded[];
      expect(str(execDocs[execDocs.findIndex((d) => Buffer.isBuffer(d) && str(d) === 'group') + 1]!)).to.equal('transactions');
      expect(str(execDocs[1]!)).to.match(/not isolated .* not atomic/);
    });
  });
});
