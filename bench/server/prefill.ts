/**
 * Write every key redis-benchmark's `-r <keyspace>` can pick
 * (`key:000000000000` ...) once, so that every server's GET runs find the
 * key (redis-benchmark's own SETs draw keys at random and cover a share of
 * the keyspace that depends on how many requests the server got through).
 * A few connections, each with a bounded pipeline of SETs.
 */
import { connect, type Socket } from 'node:net';

/** Connections writing at once. */
const PREFILL_CONNECTIONS = 8;
/** SETs a connection has outstanding at most. */
const PREFILL_PIPELINE = 128;
/** The value written (redis-benchmark's default -d 3). */
const PREFILL_VALUE = 'xxx';

/** redis-benchmark's key for `__rand_int__` = i. */
export function benchmarkKey(i: number): string {
  return `key:${String(i).padStart(12, '0')}`;
}

/** SET keys 0..keyspace-1 on the RESP server at 127.0.0.1:port; rejects on an error reply or a closed connection. */
export async function prefill(port: number, keyspace: number): Promise<void> {
  let next = 0;
  const claim = (): number[] => {
    const batch: number[] = [];
    while (batch.length < PREFILL_PIPELINE && next < keyspace) batch.push(next++);
    return batch;
  };
  await Promise.all(Array.from({ length: PREFILL_CONNECTIONS }, () => writer(port, claim)));
}

/** One connection: send a batch, wait for all its replies, repeat until no keys are left. */
async function writer(port: number, claim: () => number[]): Promise<void> {
  const socket = await open(port);
  try {
    for (let batch = claim(); batch.length > 0; batch = claim()) {
      const frames = batch.map((i) => {
        const key = benchmarkKey(i);
        return `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${PREFILL_VALUE.length}\r\n${PREFILL_VALUE}\r\n`;
      });
      await roundTrip(socket, frames.join(''), batch.length);
    }
  } finally {
    socket.destroy();
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(socket));
    socket.on('error', reject); // after connecting, an error is followed by 'close', which fails the round trip
  });
}

/** Write `frames` and resolve once `replies` one-line replies have come back. */
function roundTrip(socket: Socket, frames: string, replies: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      const lines = text.split('\r\n');
      text = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('-')) return done(new Error(`prefill: the server answered ${line}`));
        seen++;
      }
      if (seen >= replies) done();
    };
    const onClose = (): void => done(new Error('prefill: the server closed the connection'));
    const done = (err?: Error): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(frames, 'latin1');
  });
}
