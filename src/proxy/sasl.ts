import { Backend } from '../protocol/codes.js';
import { decodeAuthType } from '../protocol/decode.js';
import { encodeMessage } from '../protocol/encode.js';
import { ServerStartupRewriter, type StartupRule } from './startup-rewrite.js';

/** Authentication subtype of the server's SASL offer (AuthenticationSASL). */
export const AUTH_SASL = 10;
const PLUS = 'SCRAM-SHA-256-PLUS';

/** The mechanisms an AuthenticationSASL message (bytes from its type byte on) offers. */
export function saslMechanisms(msg: Buffer): string[] {
  return msg.toString('utf8', 9).split('\0').filter((n) => n !== '');
}

/** The offer includes SCRAM-SHA-256-PLUS (channel binding). */
export const offersPlus = (msg: Buffer): boolean => saslMechanisms(msg).includes(PLUS);

/**
 * What a SASLInitialResponse asks of channel binding: 'bind' (SCRAM-SHA-256-PLUS), 'could' (the
 * GS2 flag y: the client could bind but thinks the server cannot) or 'none' (n, or not SCRAM).
 */
export function saslBinding(msg: Buffer): 'bind' | 'could' | 'none' {
  const nul = msg.indexOf(0, 5);
  if (nul < 0) return 'none';
  const mechanism = msg.toString('utf8', 5, nul);
  if (mechanism === PLUS) return 'bind';
  const flag = nul + 5 < msg.length ? msg[nul + 5] : undefined;
  return mechanism === 'SCRAM-SHA-256' && flag === 0x79 ? 'could' : 'none';
}
/**
 * The rule for a client that is not on TLS to quietcut. The server, on TLS to quietcut, may offer
 * SCRAM-SHA-256-PLUS, which libpq refuses over a plain connection ("server offered
 * SCRAM-SHA-256-PLUS authentication over a non-SSL connection"): the offer goes to the client as
 * the server makes it to a plain client, without PLUS. The client then says it cannot bind ('n'),
 * which the server accepts.
 */
export const dropPlusOffer: StartupRule = (type, msg) =>
  type === Backend.Authentication && msg.length >= 9 && decodeAuthType(msg, 0) === AUTH_SASL ? withoutPlus(msg) : null;

/** Server startup bytes for a plain client: the SASL offer without PLUS (see dropPlusOffer). */
export class PlainClientSaslOffer extends ServerStartupRewriter {
  constructor() {
    super([dropPlusOffer]);
  }
}

/** The AuthenticationSASL message without SCRAM-SHA-256-PLUS, or null when it does not offer it. */
function withoutPlus(msg: Buffer): Buffer | null {
  const names = saslMechanisms(msg);
  if (!names.includes(PLUS)) return null;
  const kept = names.filter((n) => n !== PLUS);
  const body = Buffer.alloc(4);
  body.writeInt32BE(AUTH_SASL, 0);
  return encodeMessage(Backend.Authentication, Buffer.concat([body, ...kept.map((n) => Buffer.from(`${n}\0`, 'utf8')), Buffer.from([0])]));
}
