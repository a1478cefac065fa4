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
  devServerArgv,
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
  const codec = haveKeys()
    ? {
        port: codecPort,
        endpoint: codecEndpoint(codecPort),
        origins: uiOrigins(opts.ip, opts.uiPort),
      }
    : undefined;
  const argv = devServerArgv({ ...opts, dbFile, codecEndpoint: codec?.endpoint });
  const address = `${opts.ip ?? '127.0.0.1'}:${opts.port ?? 7233}`;
  const ui = `http://${opts.ip ?? '127.0.0.1'}:${opts.uiPort ?? 8233}`;
  if (!opts.detach) {
    const codecServer = codec
      ? await startCodecServer({ host: '127.0.0.1', port: codec.port, origins: codec.origins })
      : undefined;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
    await new Promise<void>((resolve) =>
      child.on('exit', (code) => ((process.exitCode = code ?? 0), resolve())),
    );
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
  if (daemonPid(SERVER_DAEMON) === undefined) startDaemon(SERVER_DAEMON, argv);
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
  console.log(
    `Temporal dev server running: gRPC ${address}, Web UI ${ui}${codec ? ` (decrypts payloads with the codec server on ${codec.endpoint})` : ''}, history in ${dbFile}`,
  );
}

export async function stopServer(): Promise<void> {
  const stopped = await stopDaemon(SERVER_DAEMON);
  await stopDaemon(CODEC_DAEMON);
  console.log(stopped ? 'Temporal dev server stopped' : 'Temporal dev server was not running');
}
