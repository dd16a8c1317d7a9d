import { connect, type Socket } from 'node:net';

/**
 * Raw protocol scripts for differential wire tests: the same bytes are sent to PostgreSQL directly
 * and through quietcut, and what comes back is compared byte for byte after masking what differs
 * by nature (backend keys, random authentication salts and nonces, the server's source locations).
 */

/** What a script has received so far on one connection. */
export interface Received {
  bytes: Buffer;
  closed: boolean;
}

export interface Step {
  /** Bytes to send (a function builds them from what came back, e.g. an authentication answer). */
  send?: Buffer | ((r: Received) => Buffer | Promise<Buffer>);
  /** Half-close the client side after sending. */
  end?: boolean;
  /** Send a CancelRequest with this connection's BackendKeyData, from a new connection. */
  cancel?: boolean;
  /**
   * Send that cancel only once this holds: whether a cancel lands before or after the executor
   * started (RowDescription is sent with the error, or not at all) is timing, and the two byte
   * streams must not differ by it.
   */
  cancelAfter?: () => Promise<boolean>;
  /** Wait until this holds (or the connection closed). */
  until: (r: Received, untyped: number) => boolean;
}

export interface Script {
  name: string;
  /** Single-byte answers (SSLRequest / GSSENCRequest) at the start of the stream. */
  untyped?: number;
  steps: Step[];
}

export interface Message {
  type: string;
  bytes: Buffer;
}

/** Typed messages after `untyped` single bytes; a tail that is not whole messages is returned raw. */
export function frame(buf: Buffer, untyped = 0): { prefix: Buffer; messages: Message[]; rest: Buffer } {
  const prefix = buf.subarray(0, Math.min(untyped, buf.length));
  const messages: Message[] = [];
  let off = prefix.length;
  while (off + 5 <= buf.length) {
    const len = buf.readInt32BE(off + 1);
    if (len < 4 || off + 1 + len > buf.length) break;
    messages.push({ type: String.fromCharCode(buf[off]!), bytes: buf.subarray(off, off + 1 + len) });
    off += 1 + len;
  }
  return { prefix, messages, rest: buf.subarray(off) };
}

export const count =
  (type: string, n: number) =>
  (r: Received, untyped: number): boolean =>
    frame(r.bytes, untyped).messages.filter((m) => m.type === type).length >= n;
export const rfq = (n: number): Step['until'] => count('Z', n);
export const closed: Step['until'] = (r) => r.closed;
export const bytes =
  (n: number): Step['until'] =>
  (r) =>
    r.bytes.length >= n;
/** An Authentication request of this subtype (3 cleartext, 5 md5, 10 SASL, 11 SASL continue, 12 SASL final). */
export const auth =
  (code: number): Step['until'] =>
  (r, untyped) =>
    frame(r.bytes, untyped).messages.some((m) => m.type === 'R' && m.bytes.readInt32BE(5) === code);

export interface Outcome {
  prefix: string;
  messages: string[];
  rest: string;
  closed: boolean;
}

/** ErrorResponse / NoticeResponse without the fields that name the server's own source code. */
function maskFields(m: Buffer): Buffer {
  const parts: Buffer[] = [m.subarray(0, 1), Buffer.alloc(4)];
  let p = 5;
  while (p < m.length && m[p] !== 0) {
    const z = m.indexOf(0, p + 1);
    const code = String.fromCharCode(m[p]!);
    if (code !== 'F' && code !== 'L' && code !== 'R') parts.push(m.subarray(p, z + 1));
    p = z + 1;
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}

function mask(m: Message): string {
  switch (m.type) {
    case 'K':
      return 'K<backend key>';
    case 'E':
    case 'N':
      return `${m.type} ${maskFields(m.bytes).toString('latin1')}`;
    case 'R': {
      const code = m.bytes.readInt32BE(5);
      // md5 salt and SCRAM nonces/proofs are random by design.
      if (code === 5) return 'R md5 <salt>';
      if (code === 11 || code === 12) return `R sasl ${code} <random>`;
      return `R ${m.bytes.toString('hex')}`;
    }
    default:
      return `${m.type} ${m.bytes.toString('latin1')}`;
  }
}

export function outcome(r: Received, untyped = 0): Outcome {
  const f = frame(r.bytes, untyped);
  return { prefix: f.prefix.toString('latin1'), messages: f.messages.map(mask), rest: f.rest.toString('hex'), closed: r.closed };
}

function backendKey(r: Received, untyped: number): { pid: number; secret: number } {
  const k = frame(r.bytes, untyped).messages.find((m) => m.type === 'K');
  if (!k) throw new Error('no BackendKeyData received');
  return { pid: k.bytes.readInt32BE(5), secret: k.bytes.readInt32BE(9) };
}

async function sendCancel(port: number, key: { pid: number; secret: number }): Promise<void> {
  const b = Buffer.alloc(16);
  b.writeInt32BE(16, 0);
  b.writeInt32BE(80877102, 4);
  b.writeInt32BE(key.pid, 8);
  b.writeInt32BE(key.secret, 12);
  const s = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.once('connect', () => s.end(b));
    s.once('close', () => resolve());
  });
}

/** Run one script against 127.0.0.1:port and return what came back. */
export async function runScript(port: number, script: Script, timeoutMs = 20_000): Promise<Outcome> {
  const sock: Socket = connect({ host: '127.0.0.1', port });
  const r: Received = { bytes: Buffer.alloc(0), closed: false };
  let wake: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    r.bytes = Buffer.concat([r.bytes, d]);
    wake?.();
  });
  sock.on('close', () => {
    r.closed = true;
    wake?.();
  });
  sock.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const untyped = script.untyped ?? 0;
  const deadline = Date.now() + timeoutMs;
  try {
    for (const step of script.steps) {
      if (step.send !== undefined && !r.closed) {
        const b = typeof step.send === 'function' ? await step.send(r) : step.send;
        if (step.end) sock.end(b);
        else sock.write(b);
      } else if (step.end) {
        sock.end();
      }
      // A cancel that reaches the server before the query has started is ignored (it cancels
      // nothing), and it travels on its own connection, so it can overtake the query: repeat it
      // until the step's answer arrives. Extra cancels for an idle backend do nothing.
      let cancelledAt = 0;
      const mayCancel = async (): Promise<boolean> => step.cancel === true && ((await step.cancelAfter?.()) ?? true);
      if (await mayCancel()) {
        await sendCancel(port, backendKey(r, untyped));
        cancelledAt = Date.now();
      }
      while (!step.until(r, untyped) && !r.closed) {
        if (Date.now() > deadline) throw new Error(`${script.name}: timeout waiting; got ${JSON.stringify(outcome(r, untyped))}`);
        if (Date.now() - cancelledAt > 500 && (await mayCancel())) {
          await sendCancel(port, backendKey(r, untyped));
          cancelledAt = Date.now();
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
        wake = null;
      }
    }
  } finally {
    sock.destroy();
  }
  return outcome(r, untyped);
}

// ------------------------------------------------------------------ message builders

export function msg(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const out = Buffer.alloc(5 + b.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + b.length, 1);
  b.copy(out, 5);
  return out;
}

export const cstr = (s: string): Buffer => Buffer.from(s + '\0', 'utf8');
export const int16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
export const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** A startup packet with this version code and these parameters (terminated unless told otherwise). */
export function startupPacket(params: Record<string, string>, version = 196608, terminate = true): Buffer {
  const body = Buffer.concat([int32(version), ...Object.entries(params).map(([k, v]) => Buffer.concat([cstr(k), cstr(v)])), terminate ? Buffer.from([0]) : Buffer.alloc(0)]);
  return Buffer.concat([int32(body.length + 4), body]);
}

export const sslRequest = (): Buffer => Buffer.concat([int32(8), int32(80877103)]);
export const gssencRequest = (): Buffer => Buffer.concat([int32(8), int32(80877104)]);
export const query = (sql: string): Buffer => msg('Q', cstr(sql));
export const sync = (): Buffer => msg('S');
export const terminate = (): Buffer => msg('X');
export const parse = (name: string, sql: string, types: number[] = []): Buffer => msg('P', Buffer.concat([cstr(name), cstr(sql), int16(types.length), ...types.map(int32)]));
export function bind(portal: string, stmt: string, formats: number[], params: Array<string | null>, resultFormats: number[] = []): Buffer {
  const ps = params.map((p) => (p === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(p)), Buffer.from(p)])));
  return msg('B', Buffer.concat([cstr(portal), cstr(stmt), int16(formats.length), ...formats.map(int16), int16(params.length), ...ps, int16(resultFormats.length), ...resultFormats.map(int16)]));
}
export const execute = (portal = '', rows = 0): Buffer => msg('E', Buffer.concat([cstr(portal), int32(rows)]));
export const describe = (kind: string, name: string): Buffer => msg('D', Buffer.concat([Buffer.from(kind, 'latin1'), cstr(name)]));
export const close = (kind: string, name: string): Buffer => msg('C', Buffer.concat([Buffer.from(kind, 'latin1'), cstr(name)]));
/** A header declaring `length` with no body. */
export function header(type: string, length: number): Buffer {
  const b = Buffer.alloc(5);
  b.write(type, 0, 'latin1');
  b.writeInt32BE(length, 1);
  return b;
}
