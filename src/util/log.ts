import { pino, type Logger, type LoggerOptions } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Human-readable output; defaults to on when stdout is a terminal. */
  pretty?: boolean;
  /**
   * Where pretty output goes instead of stdout, written in-thread and synchronously: the demo's live
   * table redraws itself under each log line.
   */
  destination?: NodeJS.WritableStream;
}

/** JSON logs for machines, pino-pretty when a person is watching the terminal. */
export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.QUIETCUT_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  const base: LoggerOptions = {
    level,
    base: { name: 'quietcut' },
    redact: { paths: ['password', '*.password', 'url', '*.url'], censor: '[redacted]' },
  };
  const prettyOptions = { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' };
  if (pretty && opts.destination) {
    // One line per entry, and the `demo` object left out: the demo's lines carry their facts in the
    // message already (the object is for JSON logs), and the table below must not be pushed away.
    const ignore = `${prettyOptions.ignore},demo`;
    return pino(base, pinoPretty({ ...prettyOptions, ignore, singleLine: true, colorize: Boolean(process.stdout.isTTY), destination: opts.destination, sync: true }));
  }
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: prettyOptions } });
  }
  return pino(base);
}

/** A logger that writes nothing: for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
