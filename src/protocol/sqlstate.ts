/**
 * Every SQLSTATE the proxy itself sends to a client, with what it means here. Errors that come
 * from PostgreSQL are forwarded unchanged and are not listed.
 * https://www.postgresql.org/docs/15/errcodes-appendix.html
 */
export const SqlState = {
  /** Too many client connections (limits.maxClientConnections). */
  TooManyConnections: '53300',
  /** Malformed or oversize message, garbage at startup: the connection is closed. */
  ProtocolViolation: '08P01',
  /** The server connection failed or went away. */
  ConnectionFailure: '08006',
  /** Could not connect to the server at all. */
  CannotConnectNow: '57P03',
  /** Proxy shutting down. */
  AdminShutdown: '57P01',
  /** Write rejected during a backup window (reject mode, default; configurable). */
  LockNotAvailable: '55P03',
  /** Incomplete messages from all clients fill limits.maxBufferedBytes: this client is closed. */
  OutOfMemory: '53200',
  /** A client message stopped arriving halfway (limits.messageTimeoutMs): the connection is closed. */
  MessageTimeout: '08P01',
  /** The hold queue of a partition is full: the write is rejected, not dropped. */
  HoldQueueFull: '53400',
  /** Unsupported protocol version or feature. */
  FeatureNotSupported: '0A000',
  /** Startup packet did not arrive in time. */
  StartupTimeout: '08P01',
  /** Internal error inside the proxy. */
  InternalError: 'XX000',
  /** Console: a statement that is no console command. */
  ConsoleSyntaxError: '42601',
  /** Console: a role not allowed by console.roles. */
  InvalidAuthorization: '28000',
  /** Console: a partition, table or run that does not exist. */
  UndefinedObject: '42704',
  /** Console: PAUSE of a partition a window or another pause already holds. */
  ObjectInUse: '55006',
  /** Console: RELOAD of a configuration that is not valid (the old one stays). */
  ConfigFileError: 'F0000',
  /** Console: a bad argument (duration, option). */
  InvalidParameterValue: '22023',
  /** Console: a prepared statement or portal that does not exist. */
  UndefinedStatement: '26000',
  /** A CancelRequest for a session whose request quietcut holds: the request never runs. */
  QueryCanceled: '57014',
} as const;

export type SqlStateCode = (typeof SqlState)[keyof typeof SqlState];

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'LOG' | 'INFO' | 'DEBUG';

/** An error the proxy answers a client with. */
export class ProxyError extends Error {
  constructor(
    readonly sqlState: string,
    message: string,
    readonly severity: Severity = 'ERROR',
    readonly detail?: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ProxyError';
  }

  static fatal(sqlState: string, message: string, hint?: string): ProxyError {
    return new ProxyError(sqlState, message, 'FATAL', undefined, hint);
  }

  /** A held request cancelled by its client: PostgreSQL's own words for a cancelled statement. */
  static canceled(): ProxyError {
    return new ProxyError(SqlState.QueryCanceled, 'canceling statement due to user request', 'ERROR', 'quietcut held it for a backup window; nothing of it ran.');
  }
}
