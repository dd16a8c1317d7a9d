import { connect, type Socket } from 'node:net';
import { Backend } from '../../protocol/codes.js';
import { encodeStartupMessage } from '../../protocol/startup.js';

export interface AuthUpstream {
  host: string;
  port: number;
  connectTimeoutMs: number;
}

export type AuthOutcome = { ok: true; rest: Buffer } | { ok: false; reason: string };

/**
 * Prove a console role the way PostgreSQL would: its startup goes to the real server (to
 * `database`), and every authentication message passes between client and server untouched, as
 * in an ordinary session. When the server says ReadyForQuery the role is proven; the server
 * connection is then closed and the console answers locally. A refusal (ErrorResponse) reaches
 * the client as the server sent it.
 */
export function authenticateUpstream(client: Socket, params: ReadonlyMap<string, string>, database: string, upstream: AuthUpstream, timeoutMs: number): Promise<AuthOutcome> {
  return new Promise((resolve) => {
    const startup = new Map<string, string>();
    for (const [k, v] of params) if (k !== 'database' && k !== 'replication' && !k.startsWith('_pq_.')) startup.set(k, v);
    startup.set('database', database);
    startup.set('application_name', 'quietcut console');
    const server = connect({ host: upstream.host, port: upstream.port });
    server.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (o: AuthOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Paused until the console session listens: a flowing socket without a listener drops data.
      client.pause();
      client.off('data', fromClient);
      client.off('close', clientGone);
      server.removeAllListeners('data');
      server.on('error', () => undefined);
      server.end(TERMINATE);
      server.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: `authentication did not finish in ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
    const fromClient = (chunk: Buffer): void => {
      server.write(chunk);
    };
    const clientGone = (): void => finish({ ok: false, reason: 'client went away' });
    client.on('data', fromClient);
    client.on('close', clientGone);
    client.resume();
    server.on('error', (err) => finish({ ok: false, reason: `server: ${err.message}` }));
    server.on('close', () => finish({ ok: false, reason: 'server closed the connection during authentication' }));
    server.once('connect', () => server.write(encodeStartupMessage(startup)));
    server.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let off = 0;
      while (pending.length - off >= 5) {
        const len = pending.readInt32BE(off + 1);
        if (len < 4 || pending.length - off < 1 + len) break;
        const type = pending[off]!;
        const msg = pending.subarray(off, off + 1 + len);
        off += 1 + len;
        // BackendKeyData would name a backend that is about to exit: cancels for it are pointless.
        if (type !== Backend.BackendKeyData) client.write(Buffer.from(msg));
        if (type === Backend.ErrorResponse) {
          finish({ ok: false, reason: 'the server refused the role' });
          return;
        }
        if (type === Backend.ReadyForQuery) {
          finish({ ok: true, rest: Buffer.alloc(0) });
          return;
        }
      }
      pending = pending.subarray(off);
    });
  });
}

const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);
