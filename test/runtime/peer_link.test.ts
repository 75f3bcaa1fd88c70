/**
 * Links between processes (issue 16), on loopback ports: envelopes arrive
 * in order and batched; a peer without the cluster secret, a malformed or
 * oversized frame, or a silent connection is dropped while the listener
 * keeps serving; a lost peer is redialed and what waited is delivered; the
 * queue is bounded. The frame reader is checked on its own against split
 * and corrupted streams. Randomized cases name their seed (SEED=<n>).
 */
import { expect } from 'chai';
import { connect } from 'node:net';
import { EnvelopeKind, type Envelope } from '../../src/runtime/envelope.js';
import { PeerListener, PeerOutbound, type PeerIdentity } from '../../src/runtime/peer_link.js';
import { encodeFrame, encodeHello, FrameReader, FrameType } from '../../src/runtime/peer_frames.js';
import { newNonce } from '../../src/runtime/peer_auth.js';
import { PEER_FRAME_MAX_BYTES } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const SECRET = new TextEncoder().encode('the cluster secret');

function identity(self: string, secret = SECRET, lines: string[] = []): PeerIdentity {
  return { self, secret, log: (level, msg, fields) => lines.push(`${level} ${msg} ${JSON.stringify(fields)}`) };
}

function envelope(i: number): Envelope {
  return { k: EnvelopeKind.Send, to: 'replica', tt: 2, ft: 1, fi: 'coordinator', a: 0, m: { type: 'merge', n: i, bytes: new Uint8Array([i & 0xff, 7]) } };
}

async function until(check: () => boolean, what: string, timeout_ms = 10_000): Promise<void> {
  const end = Date.now() + timeout_ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe(`runtime/peer_link (SEED=${SEED})`, function () {
  this.timeout(30_000);

  it('delivers envelopes in order, many to a frame, once both sides proved the secret', async () => {
    const got: { e: Envelope; from: string }[] = [];
    const listener = await PeerListener.listen(identity('p1'), '127.0.0.1', 0, (envs, from) => envs.forEach((e) => got.push({ e, from })));
    const out = new PeerOutbound(identity('p0'), 'p1', { host: '127.0.0.1', port: listener.port });
    try {
      const N = 20_000;
      for (let i = 0; i < N; i++) expect(out.send(envelope(i))).to.equal(true);
      await until(() => got.length === N, 'every envelope');
      got.forEach(({ e, from }, i) => {
        expect(from, 'named by its proven hello').to.equal('p0');
        expect((e.m as { n: number }).n).to.equal(i);
      });
      expect(got[5]!.e).to.deep.include({ k: EnvelopeKind.Send, to: 'replica', tt: 2, ft: 1, fi: 'coordinator', a: 0 });
      expect(Buffer.from((got[5]!.e.m as { bytes: Uint8Array }).bytes)).to.deep.equal(Buffer.from([5, 7]));
      expect(out.framesSent, 'batched').to.be.below(N / 100);
      expect(listener.rejected).to.equal(0);
    } finally {
      out.close();
      await listener.close();
    }
  });

  it('drops a peer without the secret, a malformed frame, an oversized one and a silent one, and keeps serving', async () => {
    const lines: string[] = [];
    const got: Envelope[] = [];
    const listener = await PeerListener.listen(identity('p1', SECRET, lines), '127.0.0.1', 0, (envs) => got.push(...envs));
    const raw = (bytes: Uint8Array): Promise<void> =>
      new Promise((resolve) => {
        const socket = connect(listener.port, '127.0.0.1', () => socket.write(bytes));
        socket.on('error', () => undefined);
        socket.resume(); // read (and drop) the listener's hello, so the close is seen
        socket.on('close', () => resolve());
      });
    try {
      const intruder = new PeerOutbound(identity('p9', new TextEncoder().encode('a guess')), 'p1', { host: '127.0.0.1', port: listener.port });
      intruder.send(envelope(1));
      await until(() => listener.rejected >= 1, 'the intruder dropped');
      intruder.close();
      expect(lines.some((l) => l.includes('does not hold the cluster secret'))).to.equal(true);
      // Junk instead of a hello, then a frame header announcing more than PEER_FRAME_MAX_BYTES: both closed at once.
      await raw(new Uint8Array(64).fill(0x41));
      const huge = new Uint8Array(8);
      new DataView(huge.buffer).setUint32(0, PEER_FRAME_MAX_BYTES + 1, true);
      await raw(huge);
      // A batch before the handshake is done.
      await raw(encodeFrame(FrameType.Batch, new Uint8Array([0x90])));
      expect(listener.rejected).to.equal(4);
      expect(got, 'nothing delivered from any of them').to.deep.equal([]);
      const honest = new PeerOutbound(identity('p0'), 'p1', { host: '127.0.0.1', port: listener.port });
      honest.send(envelope(42));
      await until(() => got.length === 1, 'the honest peer served');
      honest.close();
    } finally {
      await listener.close();
    }
  });

  it('redials a lost peer with backoff and delivers what waited; bounds its queue', async () => {
    const first: Envelope[] = [];
    let listener = await PeerListener.listen(identity('p1'), '127.0.0.1', 0, (envs) => first.push(...envs));
    const port = listener.port;
    const out = new PeerOutbound(identity('p0'), 'p1', { host: '127.0.0.1', port });
    try {
      out.send(envelope(0));
      await until(() => first.length === 1, 'the first envelope');
      await listener.close();
      await until(() => !out.connected, 'the link noticed');
      for (let i = 1; i <= 100; i++) expect(out.send(envelope(i))).to.equal(true);
      const second: Envelope[] = [];
      listener = await PeerListener.listen(identity('p1'), '127.0.0.1', port, (envs) => second.push(...envs));
      await until(() => second.length === 100, 'the queued envelopes after the redial');
      expect(second.map((e) => (e.m as { n: number }).n)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
    } finally {
      out.close();
      await listener.close();
    }
    // Nobody listens: the queue fills to PEER_QUEUE_MAX_BYTES and send says no.
    const nowhere = new PeerOutbound(identity('p0'), 'p1', { host: '127.0.0.1', port });
    try {
      const big: Envelope = { ...envelope(0), m: { type: 'merge', value: new Uint8Array(1024 * 1024) } };
      let refused = -1;
      for (let i = 0; i < 200 && refused < 0; i++) {
        if (!nowhere.send(big)) refused = i;
        await new Promise((resolve) => setImmediate(resolve)); // let each turn's flush encode what was sent
      }
      expect(refused, 'refused once 64 MiB wait').to.be.within(60, 70);
    } finally {
      nowhere.close();
    }
  });

  it('reads frames back from any split of the stream, and refuses a flipped bit (property)', () => {
    const prng = new Prng(SEED);
    for (let round = 0; round < 50; round++) {
      const payloads = Array.from({ length: 1 + prng.int(6) }, () => Uint8Array.from({ length: prng.int(3000) }, () => prng.int(256)));
      const stream = Buffer.concat([encodeFrame(FrameType.Hello, encodeHello('p0', newNonce())), ...payloads.map((p) => encodeFrame(FrameType.Batch, p))]);
      const reader = new FrameReader('peer test');
      const frames = [];
      for (let at = 0; at < stream.length; ) {
        const n = 1 + prng.int(700);
        frames.push(...reader.push(stream.subarray(at, at + n)));
        at += n;
      }
      expect(frames.map((f) => f.type)).to.deep.equal([FrameType.Hello, ...payloads.map(() => FrameType.Batch)]);
      frames.slice(1).forEach((f, i) => expect(Buffer.from(f.payload)).to.deep.equal(Buffer.from(payloads[i]!)));
      // Any bit of a frame but its length field (a longer length only makes the reader wait for bytes that never come).
      const frameStarts: number[] = [];
      for (let at = 0; at < stream.length; at += 8 + stream.readUInt32LE(at)) frameStarts.push(at);
      const start = frameStarts[prng.int(frameStarts.length)]!;
      const end = start + 8 + stream.readUInt32LE(start);
      const bad = Buffer.from(stream);
      const bit = (start + 4) * 8 + prng.int((end - start - 4) * 8);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => new FrameReader('peer test').push(bad), `bit ${bit} of ${bad.length * 8}`).to.throw(/corruption in peer test/);
    }
  });
});
