/**
 * HTTP writes with and without a causal context, over the FakeCluster (real
 * sibling semantics) on a loopback port: without a context PUT is SET (it
 * supersedes what the key holds) and DELETE is DEL (it deletes what a read
 * finds; 404 when nothing), with one both stay causal (what the client did
 * not see stays as a sibling). And the value limit: a body of exactly
 * VALUE_MAX_BYTES is stored, one byte more answers 413 naming the limit;
 * a client that asks first (Expect: 100-continue) is refused before it
 * uploads, and invited to upload a body within the limit.
 */
import { expect } from 'chai';
import { VALUE_MAX_BYTES } from '../../src/core/limits.js';
import { startHttpServer, type HttpServerHandle } from '../../src/server/http_server.js';
import { FakeCluster } from './fake_cluster.js';
import { exchange } from './raw_http.js';

describe('server/http writes with and without a context', function () {
  this.timeout(20_000);
  let cluster: FakeCluster;
  let server: HttpServerHandle;
  const url = (path: string): string => `http://127.0.0.1:${server.port}${path}`;
  const put = (path: string, body: string | Buffer, context?: string): Promise<Response> =>
    fetch(url(path), { method: 'PUT', body, headers: context === undefined ? {} : { 'x-ringkv-context': context } });
  const del = (path: string, context?: string): Promise<Response> => fetch(url(path), { method: 'DELETE', headers: context === undefined ? {} : { 'x-ringkv-context': context } });
  const contextOf = async (path: string): Promise<string> => (await fetch(url(path))).headers.get('x-ringkv-context') ?? '';

  beforeEach(async () => {
    cluster = new FakeCluster({ nodes: 5, n: 3 });
    server = await startHttpServer({ cluster, port: 0 });
  });
  afterEach(async () => {
    await server.close();
  });

  it('PUT without a context supersedes the value, as SET does: the same PUT twice reads back 200, not 300', async () => {
    expect((await put('/kv/greeting', 'hello')).status).to.equal(204);
    expect((await put('/kv/greeting', 'hello')).status).to.equal(204);
    const read = await fetch(url('/kv/greeting'));
    expect(read.status).to.equal(200);
    expect(await read.text()).to.equal('hello');
    expect((await put('/kv/greeting', 'bye')).status).to.equal(204);
    expect(await (await fetch(url('/kv/greeting'))).text()).to.equal('bye');
  });

  it('PUT without a context also supersedes siblings; with a stale context it stays causal and keeps the unseen sibling', async () => {
    await put('/kv/cart', 'base');
    const seen = await contextOf('/kv/cart');
    await put('/kv/cart', 'left', seen);
    await put('/kv/cart', 'right', seen);
    expect((await fetch(url('/kv/cart'))).status).to.equal(300);
    // A causal write with the old context supersedes only what it saw: the two siblings plus it.
    await put('/kv/cart', 'causal', seen);
    const siblings = (await (await fetch(url('/kv/cart'))).json()) as { siblings: { value: string }[] };
    expect(siblings.siblings.map((s) => Buffer.from(s.value, 'base64').toString()).sort()).to.deep.equal(['causal', 'left', 'right']);
    // Without a context, one write replaces them all.
    await put('/kv/cart', 'final');
    const after = await fetch(url('/kv/cart'));
    expect(after.status).to.equal(200);
    expect(await after.text()).to.equal('final');
  });

  it('DELETE without a context deletes, as DEL does; on an absent key it answers 404 and writes nothing', async () => {
    await put('/kv/gone', 'v');
    const deleted = await del('/kv/gone');
    expect(deleted.status).to.equal(204);
    expect(deleted.headers.get('x-ringkv-version')).to.match(/^.+:\d+$/);
    expect((await fetch(url('/kv/gone'))).status).to.equal(404);

    const deletesBefore = cluster.calls.delete;
    const absent = await del('/kv/never-written');
    expect(absent.status).to.equal(404);
    expect(absent.headers.get('x-ringkv-receipt')).to.include('"op":"read"');
    expect(cluster.calls.delete).to.equal(deletesBefore);
  });

  it('DELETE without a context deletes every sibling; with a stale context it keeps the one it did not see', async () => {
    await put('/kv/s', 'base');
    const seen = await contextOf('/kv/s');
    await put('/kv/s', 'a', seen);
    await put('/kv/s', 'b', seen);
    // Causal: the delete covers what `seen` covered (base), so a and b stay.
    expect((await del('/kv/s', seen)).status).to.equal(204);
    expect((await fetch(url('/kv/s'))).status).to.equal(300);
    expect((await del('/kv/s')).status).to.equal(204);
    expect((await fetch(url('/kv/s'))).status).to.equal(404);
  });

  it('the read before a context-less DELETE asks as many replicas as the write: consistency=one works with two owners down', async () => {
    await put('/kv/degraded', 'v');
    const explained = (await (await fetch(url('/explain/degraded'))).json()) as { preferenceList: string[] };
    await cluster.crash(explained.preferenceList[0]!);
    await cluster.crash(explained.preferenceList[1]!);
    expect((await del('/kv/degraded')).status, 'the default quorum read fails').to.equal(503);
    expect((await del('/kv/degraded?consistency=one')).status).to.equal(204);
    expect((await fetch(url('/kv/degraded?r=1'))).status).to.equal(404);
  });

  it(`stores a value of exactly VALUE_MAX_BYTES (${VALUE_MAX_BYTES}) and answers 413 with the limit one byte above`, async () => {
    const largest = Buffer.alloc(VALUE_MAX_BYTES, 0x5a);
    expect((await put('/kv/large', largest)).status).to.equal(204);
    const back = Buffer.from(await (await fetch(url('/kv/large'))).arrayBuffer());
    expect(back.equals(largest)).to.equal(true);

    const putsBefore = cluster.calls.put;
    const over = await put('/kv/large', Buffer.alloc(VALUE_MAX_BYTES + 1));
    expect(over.status).to.equal(413);
    const body = (await over.json()) as { error: string; message: string; limit_bytes: number };
    expect(body.error).to.equal('PAYLOAD_TOO_LARGE');
    expect(body.limit_bytes).to.equal(VALUE_MAX_BYTES);
    expect(body.message).to.include(`over the value limit of ${VALUE_MAX_BYTES} bytes`);
    expect(cluster.calls.put).to.equal(putsBefore);
    // The stored value is untouched and the server keeps serving.
    expect(Buffer.from(await (await fetch(url('/kv/large'))).arrayBuffer()).equals(largest)).to.equal(true);
  });

  it('answers Expect: 100-continue over the limit with 413 before the upload, and invites a body within it', async () => {
    const over = await exchange(server.port, `PUT /kv/asked HTTP/1.1\r\nHost: x\r\nContent-Length: ${VALUE_MAX_BYTES + 1}\r\nExpect: 100-continue\r\n\r\n`, null);
    expect(over).to.match(/^HTTP\/1\.1 413 /);
    expect(over).to.not.include('100 Continue');
    const within = await exchange(server.port, 'PUT /kv/asked HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n', 'ok');
    expect(within).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 204 /);
    expect(await (await fetch(url('/kv/asked'))).text()).to.equal('ok');
  });
});
