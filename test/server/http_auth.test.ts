/**
 * The password on HTTP and protected mode: every route but /health and
 * /ready answers 401 with WWW-Authenticate without the password or with a
 * wrong one, and serves it as Basic (any user) or Bearer; the probes stay
 * open and say only ok or not ok to anonymous callers. `startServer` hands
 * its password to HTTP, and refuses (before it opens anything) to bind
 * beyond loopback without a password unless `protectedMode: false`.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import type { LogRecord } from '../../src/runtime/logger.js';
import { AUTH_CHALLENGES, offeredPassword } from '../../src/server/http_auth.js';
import { startHttpServer, type HttpServerHandle } from '../../src/server/http_server.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { checkProtectedMode, isLoopbackBind } from '../../src/server/protected_mode.js';
import { startServer } from '../../src/server/start.js';
import { FakeCluster } from './fake_cluster.js';
import { exchange } from './raw_http.js';

const PASSWORD = 'correct horse';

/** `Authorization: Basic` for `user:password`. */
function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

describe('server/http authentication', function () {
  this.timeout(10_000);
  let cluster: FakeCluster;
  let server: HttpServerHandle;
  const url = (path: string): string => `http://127.0.0.1:${server.port}${path}`;

  beforeEach(async () => {
    cluster = new FakeCluster({ nodes: 5, n: 3 });
    const metrics = new ServerMetrics({ cluster, defaultMetrics: false, statusCacheMs: 0 });
    server = await startHttpServer({ cluster, port: 0, metrics, password: PASSWORD, limits: { probeStatusCacheMs: 0 } });
  });
  afterEach(async () => {
    await server.close();
  });

  it('answers 401 with a challenge per scheme on every route without the password, and writes nothing', async () => {
    await cluster.put('k', 'v');
    const requests: [string, RequestInit][] = [
      ['/kv/k', {}],
      ['/kv/k', { method: 'PUT', body: 'x' }],
      ['/kv/k', { method: 'DELETE' }],
      ['/status', {}],
      ['/explain/k', {}],
      ['/metrics', {}],
      // Unknown paths and wrong methods too: an anonymous caller learns nothing, not even which paths exist.
      ['/nowhere', {}],
      ['/status', { method: 'POST', body: 'x' }],
    ];
    for (const [path, init] of requests) {
      const res = await fetch(url(path), init);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).to.equal(401);
      expect(res.headers.get('www-authenticate'), path).to.equal(AUTH_CHALLENGES.join(', '));
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).to.equal('UNAUTHORIZED');
      expect(body.message).to.match(/Bearer <password>/);
      expect(body.message).to.not.include(PASSWORD);
    }
    expect(cluster.calls.put).to.equal(1);
    expect(cluster.calls.delete).to.equal(0);
    expect((await cluster.get('k')).values.map(String)).to.deep.equal(['v']);
  });

  it('answers Expect: 100-continue without the password with 401 before the upload', async () => {
    const answer = await exchange(server.port, 'PUT /kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n', null);
    expect(answer).to.match(/^HTTP\/1\.1 401 /);
    expect(answer).to.not.include('100 Continue');
    const invited = await exchange(server.port, `PUT /kv/k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${PASSWORD}\r\nContent-Length: 1\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`, 'v');
    expect(invited).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 204 /);
  });

  it('answers 401 to a wrong password, a malformed header or an unknown scheme', async () => {
    for (const authorization of [
      basic('default', 'wrong'),
      `Bearer ${PASSWORD}x`,
      `Bearer ${PASSWORD.slice(0, -1)}`,
      `Basic ${Buffer.from(PASSWORD).toString('base64')}`, // no "user:"
      'Basic !!!notbase64',
      `Digest ${PASSWORD}`,
      'Bearer',
    ]) {
      expect((await fetch(url('/status'), { headers: { authorization } })).status, authorization).to.equal(401);
    }
  });

  it('serves the password as Basic with any user name, or as Bearer', async () => {
    for (const authorization of [basic('default', PASSWORD), basic('', PASSWORD), basic('alice', PASSWORD), `Bearer ${PASSWORD}`, `bearer   ${PASSWORD}`]) {
      const headers = { authorization };
      expect((await fetch(url('/kv/k'), { method: 'PUT', body: 'v', headers })).status, authorization).to.equal(204);
      const read = await fetch(url('/kv/k'), { headers });
      expect(read.status, authorization).to.equal(200);
      expect(await read.text()).to.equal('v');
      expect((await fetch(url('/status'), { headers })).status).to.equal(200);
      expect((await fetch(url('/metrics'), { headers })).status).to.equal(200);
    }
  });

  it('keeps /health and /ready open, with only ok or not ok for anonymous callers and the reason for authorized ones', async () => {
    for (const path of ['/health', '/ready']) {
      const anonymous = await fetch(url(path));
      expect(anonymous.status, path).to.equal(200);
      expect(await anonymous.json(), path).to.deep.equal({ ok: true });
      const wrong = await fetch(url(path), { headers: { authorization: 'Bearer nope' } });
      expect(await wrong.json(), path).to.deep.equal({ ok: true });
      const authorized = (await (await fetch(url(path), { headers: { authorization: `Bearer ${PASSWORD}` } })).json()) as { ok: boolean; reason: string };
      expect(authorized.ok).to.equal(true);
      expect(authorized.reason).to.be.a('string').and.not.equal('');
    }
    await cluster.crash('n1');
    await cluster.crash('n2');
    await cluster.crash('n3');
    await cluster.crash('n4');
    const notReady = await fetch(url('/ready'));
    expect(notReady.status).to.equal(503);
    expect(await notReady.json()).to.deep.equal({ ok: false });
  });

  it('parses Authorization headers: Basic takes the password after the first colon, Bearer the token', () => {
    expect(offeredPassword(undefined)).to.equal(null);
    expect(offeredPassword(basic('u', 'p:with:colons'))).to.equal('p:with:colons');
    expect(offeredPassword(basic('u', 'pässword'))).to.equal('pässword');
    expect(offeredPassword(`BEARER tok en `)).to.equal('tok en');
    expect(offeredPassword('Basic')).to.equal(null);
    expect(offeredPassword('Negotiate abc')).to.equal(null);
  });
});

describe('server/startServer password and protected mode', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-auth-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to bind beyond loopback without a password, before it opens anything', async () => {
    for (const bind of ['0.0.0.0', '::', '192.0.2.10', 'example.com']) {
      const dataDir = join(dir, 'never-created');
      const refused = await startServer({ nodes: 1, dataDir, respPort: 0, httpPort: 0, bind }).then(
        async (server) => (await server.close(), null),
        (err: Error) => err,
      );
      expect(refused, bind).to.be.instanceOf(ConfigError);
      expect(refused!.message).to.include(`protected mode: refusing to listen on ${bind} without a password`);
      expect(refused!.message).to.include('--protected-mode no');
      expect(existsSync(dataDir), 'no data directory was opened').to.equal(false);
    }
    const empty = await startServer({ nodes: 1, dataDir: join(dir, 'x'), respPort: 0, httpPort: 0, password: '' }).then(
      async (server) => (await server.close(), null),
      (err: Error) => err,
    );
    expect(empty?.message).to.match(/the password is empty/);
  });

  it('allows beyond loopback with a password, or with protected mode off (warning)', () => {
    const logged: LogRecord[] = [];
    const sink = (record: LogRecord): void => void logged.push(record);
    checkProtectedMode({ bind: '0.0.0.0', password: 'p', protectedMode: true }, sink);
    checkProtectedMode({ bind: '127.0.0.1', password: undefined, protectedMode: true }, sink);
    expect(logged).to.deep.equal([]);
    checkProtectedMode({ bind: '0.0.0.0', password: undefined, protectedMode: false }, sink);
    expect(logged).to.have.length(1);
    expect(logged[0]).to.include({ level: 'warn' });
    expect(logged[0]!.msg).to.match(/protected mode is off/);
    for (const bind of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopbackBind(bind), bind).to.equal(true);
    for (const bind of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'localhost.example.com', '::2']) expect(isLoopbackBind(bind), bind).to.equal(false);
  });

  it('guards HTTP with the server password: 401 without, 200 with Basic and Bearer; the probes stay open', async () => {
    const server = await startServer({ nodes: 1, dataDir: dir, respPort: 0, httpPort: 0, password: PASSWORD });
    try {
      const base = `http://127.0.0.1:${server.http.port}`;
      expect((await fetch(`${base}/kv/k`, { method: 'PUT', body: 'v' })).status).to.equal(401);
      expect((await fetch(`${base}/status`)).status).to.equal(401);
      expect((await fetch(`${base}/metrics`, { headers: { authorization: basic('default', 'wrong') } })).status).to.equal(401);
      expect((await fetch(`${base}/kv/k`, { method: 'PUT', body: 'v', headers: { authorization: basic('default', PASSWORD) } })).status).to.equal(204);
      const read = await fetch(`${base}/kv/k`, { headers: { authorization: `Bearer ${PASSWORD}` } });
      expect(read.status).to.equal(200);
      expect(await read.text()).to.equal('v');
      expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${PASSWORD}` } })).status).to.equal(200);
      expect((await fetch(`${base}/health`)).status).to.equal(200);
      expect((await fetch(`${base}/ready`)).status).to.equal(200);
    } finally {
      await server.close();
    }
  });
});
