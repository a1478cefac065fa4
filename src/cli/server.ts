// `api7-ha server`: the embedded Temporal dev server (foreground, or --detach / --stop),
// with a loopback codec server beside it so the Web UI shows payloads decrypted.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporalBinary } from '../paths';
import { CodecKeyError, loadCodecKeys } from '../temporal/codec';
import { daemonFiles, daemonPid, startDaemon, stopDaemon } from '../util/daemon';
import { waitFor } from '../util/exec';
import {
  codecEndpoint,
  DEFAULT_CODEC_PORT,
  defaultDbFile,
  defaultUiPort,
  devServerArgv,
  forgetEmbeddedServer,
  recordEmbeddedServer,
  uiOrigins,
  type DevServerOptions,
} from '../temporal/server';
import { startCodecServer } from './codec';

export const SERVER_DAEMON = 'temporal-server';
export const CODEC_DAEMON = 'codec-server';

/** True once a Temporal server answers on `address` (throws while it does not). */
export async function serverAnswers(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: '1s' });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

async function codecAnswers(endpoint: string): Promise<boolean> {
  const r = await fetch(`${endpoint}/decode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"payloads":[]}',
  });
  return r.ok;
}

/** No key means nothing is encrypted by this machine yet: run without a codec, and say so. */
function haveKeys(): boolean {
  try {
    loadCodecKeys();
    return true;
  } catch (e) {
    if (!(e instanceof CodecKeyError)) throw e;
    console.error(`warning: ${e.message}; the Web UI will not decode payloads`);
    return false;
  }
}

export async function startServer(
  opts: DevServerOptions & { detach?: boolean; codecPort?: number },
): Promise<void> {
  if (!existsSync(temporalBinary))
    throw new Error(
      `the Temporal CLI is not at ${temporalBinary}; run scripts/setup.sh (it builds it from source)`,
    );
  const dbFile = opts.dbFile ?? defaultDbFile();
  mkdirSync(path.dirname(dbFile), { recursive: true });
  const codecPort = opts.codecPort ?? DEFAULT_CODEC_PORT;
  const uiPort = opts.uiPort ?? defaultUiPort(opts.port);
  const codec = haveKeys()
    ? {
        port: codecPort,
        endpoint: codecEndpoint(codecPort),
        origins: uiOrigins(opts.ip, uiPort),
      }
    : undefined;
  const argv = devServerArgv({ ...opts, uiPort, dbFile, codecEndpoint: codec?.endpoint });
  const address = `${opts.ip ?? '127.0.0.1'}:${opts.port ?? 7233}`;
  // Listening on every address, it is still reached on loopback from this machine.
  const uiHost = !opts.ip || opts.ip === '0.0.0.0' ? 'localhost' : opts.ip;
  const ui = `http://${uiHost.includes(':') ? `[${uiHost}]` : uiHost}:${uiPort}`;
  if (!opts.detach) {
    const codecServer = codec
      ? await startCodecServer({ host: '127.0.0.1', port: codec.port, origins: codec.origins })
      : undefined;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    recordEmbeddedServer({ address: `${uiHost}:${opts.port ?? 7233}`, ui, pid: process.pid });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
    await new Promise<void>((resolve) =>
      child.on('exit', (code) => ((process.exitCode = code ?? 0), resolve())),
    );
    forgetEmbeddedServer();
    // The codec server lives exactly as long as the dev server.
    await new Promise((r) => (codecServer ? codecServer.close(r) : r(undefined)));
    return;
  }
  if (codec && daemonPid(CODEC_DAEMON) === undefined) {
    const origins = codec.origins.flatMap((o) => ['--origin', o]);
    startDaemon(CODEC_DAEMON, [
      process.execPath,
      path.join(__dirname, '..', 'client.js'),
      'codec-server',
      '--host',
      '127.0.0.1',
      '--port',
      String(codec.port),
      ...origins,
    ]);
  }
  const running = daemonPid(SERVER_DAEMON);
  const pid = running ?? startDaemon(SERVER_DAEMON, argv);
  await waitFor(
    `the Temporal dev server at ${address} (log: ${daemonFiles(SERVER_DAEMON).log})`,
    () => serverAnswers(address),
    60_000,
    500,
  );
  if (codec)
    await waitFor(
      `the codec server at ${codec.endpoint} (log: ${daemonFiles(CODEC_DAEMON).log})`,
      () => codecAnswers(codec.endpoint),
      15_000,
      200,
    );
  // A server already running keeps the record it wrote with its own ports.
  if (running === undefined)
    recordEmbeddedServer({ address: `${uiHost}:${opts.port ?? 7233}`, ui, pid });
  console.log(
    `Temporal dev server running: gRPC ${address}, Web UI ${ui}${codec ? ` (decrypts payloads with the codec server on ${codec.endpoint})` : ''}, history in ${dbFile}`,
  );
}

export async function stopServer(): Promise<void> {
  const stopped = await stopDaemon(SERVER_DAEMON);
  forgetEmbeddedServer();
  await stopDaemon(CODEC_DAEMON);
  console.log(stopped ? 'Temporal dev server stopped' : 'Temporal dev server was not running');
}
