/**
 * A raw HTTP/1.1 exchange for the server tests that need to see what goes
 * over the socket (an interim 100 Continue, a refusal before the body).
 */
import { connect } from 'node:net';

/**
 * Send `head` on a raw connection; once the server answers anything, send
 * `body` if given (after a 100 Continue). Resolves with everything read
 * until the server closes or has sent a final status line.
 */
export function exchange(port: number, head: string, body: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(head));
    let text = '';
    let sentBody = false;
    const finish = (): void => {
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(finish, 5_000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (body !== null && !sentBody && text.startsWith('HTTP/1.1 100 ')) {
        sentBody = true;
        socket.write(body);
      }
      const finals = text.split('\r\n').filter((line) => /^HTTP\/1\.1 [2-5]\d\d /.test(line));
      if (finals.length > 0 && /\r\n\r\n/.test(text.slice(text.indexOf(finals[0]!)))) {
        clearTimeout(timer);
        setTimeout(finish, 20);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}
