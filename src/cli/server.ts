// `api7-ha server`: the embedded Temporal dev server (foreground, or --detach / --stop).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporalBinary } from '../paths';
import { daemonFiles, daemonPid, startDaemon, stopDaemon } from '../util/daemon';
import { waitFor } from '../util/exec';
import { defaultDbFile, devServerArgv, type DevServerOptions } from '../temporal/server';

export const SERVER_DAEMON = 'temporal-server';

async function serverAnswers(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: '1s' });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

export async function startServer(opts: DevServerOptions & { detach?: boolean }): Promise<void> {
  if (!existsSync(temporalBinary))
    throw new Error(
      `the Temporal CLI is not at ${temporalBinary}; run scripts/setup.sh (it builds it from source)`,
    );
  const dbFile = opts.dbFile ?? defaultDbFile();
  mkdirSync(path.dirname(dbFile), { recursive: true });
  const argv = devServerArgv({ ...opts, dbFile });
  const address = `${opts.ip ?? '127.0.0.1'}:${opts.port ?? 7233}`;
  if (!opts.detach) {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
    await new Promise<void>((resolve) =>
      child.on('exit', (code) => ((process.exitCode = code ?? 0), resolve())),
    );
    return;
  }
  if (daemonPid(SERVER_DAEMON) === undefined) startDaemon(SERVER_DAEMON, argv);
  await waitFor(
    `the Temporal dev server at ${address} (log: ${daemonFiles(SERVER_DAEMON).log})`,
    () => serverAnswers(address),
    60_000,
    500,
  );
  console.log(
    `Temporal dev server running: gRPC ${address}, Web UI http://${opts.ip ?? '127.0.0.1'}:${opts.uiPort ?? 8233}, history in ${dbFile}`,
  );
}

export async function stopServer(): Promise<void> {
  console.log(
    (await stopDaemon(SERVER_DAEMON))
      ? 'Temporal dev server stopped'
      : 'Temporal dev server was not running',
  );
}
