import { Backend } from '../protocol/codes.js';
import { decodeBackendKeyData } from '../protocol/decode.js';
import { encodeBackendKeyData } from '../protocol/encode.js';

/** Startup messages are small; a length past this is not one quietcut rewrites (it passes unread). */
const MAX_STARTUP_MESSAGE = 64 * 1024;

/**
 * One rewrite of a server message before the first ReadyForQuery: the message (type byte on) in,
 * its replacement out, or null to pass it unchanged.
 */
export type StartupRule = (type: number, msg: Buffer) => Buffer | null;

/**
 * Server bytes before the first ReadyForQuery, with some messages replaced on the way to the
 * client (the SASL offer for a plain client, the cancel key of a worker). Works on whole messages
 * (a partial one waits for its rest) and steps aside at the first ReadyForQuery or at anything it
 * cannot frame.
 */
export class ServerStartupRewriter {
  private pending: Buffer | null = null;
  private done = false;

  constructor(private readonly rules: readonly StartupRule[]) {}

  /** The bytes to forward for this chunk (possibly none yet). */
  feed(chunk: Buffer): Buffer {
    if (this.done) return chunk;
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    const out: Buffer[] = [];
    let copied = 0;
    let off = 0;
    while (!this.done && off + 5 <= buf.length) {
      const type = buf[off]!;
      const len = buf.readInt32BE(off + 1);
      if (len < 4 || len > MAX_STARTUP_MESSAGE) {
        this.done = true;
        break;
      }
      const end = off + 1 + len;
      if (end > buf.length) break;
      if (type === Backend.ReadyForQuery) {
        this.done = true;
      } else {
        for (const rule of this.rules) {
          const replaced = rule(type, buf.subarray(off, end));
          if (replaced) {
            out.push(buf.subarray(copied, off), replaced);
            copied = end;
            break;
          }
        }
      }
      off = end;
    }
    if (this.done) off = buf.length;
    out.push(buf.subarray(copied, off));
    if (off < buf.length) this.pending = Buffer.from(buf.subarray(off));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/**
 * The client gets another cancel key than the server's (workers: one naming the worker,
 * cancel-key.ts). The server's key is handed to `serverKey`, as this rule sees it before anything
 * reads the startup messages, and forwarded cancels need it.
 */
export function cancelKeyRule(serverKey: (pid: number, secret: number) => void, clientSecret: (pid: number, secret: number) => number): StartupRule {
  return (type, msg) => {
    if (type !== Backend.BackendKeyData || msg.length !== 13) return null;
    const k = decodeBackendKeyData(msg, 0);
    serverKey(k.pid, k.secret);
    return encodeBackendKeyData(k.pid, clientSecret(k.pid, k.secret));
  };
}
