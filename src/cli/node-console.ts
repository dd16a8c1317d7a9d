/**
 * The admin console on the proxy's port: the commands (console-commands.ts) behind a virtual
 * database that the proxy claims at startup, before any server connection is made.
 */
import type { Config } from '../config/schema.js';
import { ConsoleServer } from '../proxy/console/index.js';
import type { ConsoleCommand } from '../proxy/console/index.js';
import type { ProxyServer } from '../proxy/server.js';
import type { Logger } from '../util/log.js';
import { consoleCommands, type ConsoleContext } from './console-commands.js';

export interface NodeConsoleDeps extends Omit<ConsoleContext, 'console'> {
  /** The role and database quietcut itself logs in with: the console's default role and auth database. */
  admin: { user: string; database: string };
  upstream: string;
  upstreamAt: { host: string; port: number };
  log: Logger;
}

export function startConsole(proxy: ProxyServer, startup: Config, d: NodeConsoleDeps): { server: ConsoleServer; commands: Map<string, ConsoleCommand> } {
  const { admin, upstreamAt, log, ...ctx } = d;
  const commands = consoleCommands({ ...ctx, console: (): ConsoleServer => server });
  const server: ConsoleServer = new ConsoleServer({
    database: startup.console.database,
    allowed: () => ctx.config().console.roles ?? [admin.user],
    authDatabase: () => ctx.config().console.authDatabase ?? admin.database,
    upstream: { host: upstreamAt.host, port: upstreamAt.port, connectTimeoutMs: startup.upstream.connectTimeoutMs },
    authTimeoutMs: startup.upstream.connectTimeoutMs + startup.limits.startupTimeoutMs,
    commands,
    log,
  });
  proxy.claimStartup = (client, params, rest) => {
    if ((params.get('database') ?? params.get('user')) !== server.database) return false;
    // The session removes its listeners once this returns: open on the next tick, socket paused.
    client.pause();
    queueMicrotask(() => server.open(client, params, rest));
    return true;
  };
  return { server, commands };
}
