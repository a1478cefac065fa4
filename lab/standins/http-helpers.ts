// Small HTTP server helpers shared by the stand-ins.
import type http from 'node:http';
import type net from 'node:net';

export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
}

export function readBody(
  req: http.IncomingMessage,
  limitBytes = 10 * 1024 * 1024,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limitBytes) {
        reject(new BodyTooLarge(`request body larger than ${limitBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The peer address without the IPv4-mapped IPv6 prefix (::ffff:10.0.0.1 -> 10.0.0.1). */
export function peerAddress(socket: net.Socket): string {
  const addr = socket.remoteAddress ?? '';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

/** Listen, resolving once bound; a bind error (port in use) rejects. */
export function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, then exit 0; connections
 * still busy after `graceMs` are cut so that `docker stop` never has to wait for SIGKILL.
 */
export function exitGracefully(
  servers: net.Server[],
  graceMs: number,
  beforeExit: () => void = () => {},
): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    let open = servers.length;
    const done = () => {
      beforeExit();
      process.exit(0);
    };
    const force = setTimeout(() => {
      for (const s of servers) (s as Partial<http.Server>).closeAllConnections?.();
      done();
    }, graceMs);
    force.unref();
    if (open === 0) done();
    for (const s of servers) {
      s.close(() => {
        if (--open === 0) {
          clearTimeout(force);
          done();
        }
      });
      // Node >= 19 closes idle keep-alive connections in close(); be explicit anyway.
      (s as Partial<http.Server>).closeIdleConnections?.();
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * Until the servers are up, SIGTERM/SIGINT just exit 0 (as PID 1 in a container Node has no
 * default signal handling, so without this `docker stop` would wait for its SIGKILL).
 * Returns the function that hands over to exitGracefully.
 */
export function exitOnSignalWhileStarting(): () => void {
  const quit = () => process.exit(0);
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
  return () => {
    process.off('SIGTERM', quit);
    process.off('SIGINT', quit);
  };
}
