// A private embedded Temporal dev server for a test file: the project's own built
// binary, its own SQLite file and ports, so tests never touch the user's server. Like
// `api7-ha server`, its Web UI (port + 1000) decodes payloads through a loopback codec
// server (port + 2000).
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startCodecServer } from '../../src/cli/codec';
import { serverAnswers } from '../../src/cli/server';
import { dataConverter } from '../../src/temporal/codec';
import { codecEndpoint, devServerArgv, uiOrigins } from '../../src/temporal/server';
import { waitFor } from '../../src/util/exec';

export interface TestServer {
  address: string;
  port: number;
  dbFile: string;
  /** The Web UI, as a browser would open it. */
  uiUrl: string;
  codecEndpoint: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stop the server and remove its files. */
  dispose(): Promise<void>;
}

export function testServer(port: number): TestServer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-temporal-'));
  const dbFile = path.join(dir, 'temporal.db');
  const address = `127.0.0.1:${port}`;
  const uiPort = port + 1000;
  const codecPort = port + 2000;
  let child: ChildProcess | undefined;
  let codec: http.Server | undefined;
  const server: TestServer = {
    address,
    port,
    dbFile,
    uiUrl: `http://localhost:${uiPort}`,
    codecEndpoint: codecEndpoint(codecPort),
    async start() {
      codec ??= await startCodecServer({
        host: '127.0.0.1',
        port: codecPort,
        origins: uiOrigins('127.0.0.1', uiPort),
      });
      const argv = devServerArgv({ dbFile, port, uiPort, codecEndpoint: server.codecEndpoint });
      child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
      await waitFor(
        `test Temporal server on ${address}`,
        () => serverAnswers(address),
        60_000,
        300,
      );
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    },
    async dispose() {
      await server.stop();
      codec?.closeAllConnections();
      await new Promise((r) => (codec ? codec.close(r) : r(undefined)));
      codec = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A client of a test server that speaks like the CLI does (encrypted payloads). */
export async function testClient(
  address: string,
): Promise<{ connection: Connection; client: Client }> {
  const connection = await Connection.connect({ address });
  return { connection, client: new Client({ connection, dataConverter: dataConverter() }) };
}
