import { createServer, type Server } from 'node:http';

/** One scrape's body and its content type. */
export interface Scrape {
  contentType: string;
  text: string;
}

export interface MetricsHttpOptions {
  host: string;
  port: number;
  /** GET /metrics: one node's registry, or the sum of every worker's (cli/workers). */
  scrape: () => Promise<Scrape>;
  /** JSON for GET /status (quietcut status). */
  status?: () => unknown;
  /** GET /healthz answers ok while this holds (default: always, the process serves); else 503. */
  healthy?: () => boolean;
}

/** /metrics for Prometheus, /status for `quietcut status`, /healthz for service managers. */
export async function startMetricsHttp(opts: MetricsHttpOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      opts
        .scrape()
        .then((s) => {
          res.writeHead(200, { 'content-type': s.contentType });
          res.end(s.text);
        })
        .catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
      return;
    }
    if (path === '/status') {
      Promise.resolve()
        .then(() => opts.status?.() ?? {})
        .then((body) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        })
        .catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
      return;
    }
    if (path === '/healthz') {
      const ok = opts.healthy?.() ?? true;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not serving\n');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : opts.port;
  return { server, port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
