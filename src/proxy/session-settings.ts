import type { BindParam } from '../catalog/slot-values.js';

/**
 * What the session's settings mean for reading its SQL the way the server does. Modelled: the
 * defaults (standard_conforming_strings on, client_encoding UTF8). Under other values the text reads
 * the same only when the feature they change does not occur in it: a backslash (which `'...'`
 * literals treat as an escape when standard_conforming_strings is off) or a byte outside ASCII (which
 * every other client encoding PostgreSQL accepts decodes differently from UTF-8, or not at all into
 * ASCII-safe bytes: SJIS, BIG5, GBK, UHC and GB18030 have ASCII trail bytes only after a non-ASCII
 * lead byte). Such text is reported misread: the request counts as writing anything.
 * DateStyle, IntervalStyle and TimeZone only change how key literals parse; the resolver reads only
 * forms that are the same under every value (ISO dates) or takes TimeZone as reported.
 */
export class SessionSettings {
  private scsOff = false;
  private utf8 = true;
  /** A statement that may change one of these settings ran in the current request. */
  pending = false;

  /** ParameterStatus from the server. */
  reported(name: string, value: string): void {
    if (name === 'standard_conforming_strings') this.scsOff = value.toLowerCase() !== 'on';
    else if (name === 'client_encoding') this.utf8 = isUtf8(value);
  }

  /** A statement that may change a reading setting was classified (SET, RESET, set_config, DISCARD ALL). */
  changing(): void {
    this.pending = true;
  }

  /** ReadyForQuery: the server reported every changed value before it. */
  settled(): void {
    this.pending = false;
  }

  /**
   * The text may read differently on the server than in the proxy's parser. `resolvesKeys` false:
   * the statement writes nothing the proxy resolves (no target, no EXECUTE, no writing function),
   * so while a change is pending only the text's reading matters, and ASCII text without a
   * backslash reads the same under every value of the settings modelled. (Otherwise a statement
   * a pooler's client prepares in the same packet as its DISCARD ALL would count as writing
   * anything for the statement's whole life.)
   */
  misreads(sql: string, resolvesKeys = true): boolean {
    if (this.pending) return resolvesKeys || sql.includes('\\') || !isAscii(sql);
    if (this.scsOff && sql.includes('\\')) return true;
    return !this.utf8 && !isAscii(sql);
  }

  /** Text parameters whose bytes the server decodes with a client encoding other than UTF-8. */
  misreadsParams(params: ReadonlyArray<BindParam>): boolean {
    if (this.utf8 && !this.pending) return false;
    if (this.pending) return params.length > 0;
    for (const p of params) {
      if (p.format !== 0 || p.value === null) continue;
      for (const b of p.value) if (b >= 0x80) return true;
    }
    return false;
  }
}

/** PostgreSQL's spellings of UTF-8 (pg_char_to_encoding ignores case and punctuation). */
function isUtf8(name: string): boolean {
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return n === 'utf8' || n === 'unicode';
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}
