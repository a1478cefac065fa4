// The Web UI links the CLI prints open the UI of the server it is connected to: an
// explicit TEMPORAL_UI_URL, else the running embedded server's own UI, else Temporal
// Cloud's, else a dev server's UI on the gRPC port + 1000.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sameServer, uiBaseFor } from '../../src/cli/ui';
import { projectRoot } from '../../src/paths';
import { devServerArgv } from '../../src/temporal/server';

describe('Web UI links', () => {
  it('an explicit TEMPORAL_UI_URL wins', () => {
    assert.equal(
      uiBaseFor('localhost:7233', {
        explicit: 'https://temporal.example.com/ui/',
        embedded: { address: 'localhost:7233', ui: 'http://localhost:9000' },
      }),
      'https://temporal.example.com/ui',
    );
  });

  it("the embedded server's recorded UI, when it is the server connected to", () => {
    const embedded = { address: '127.0.0.1:7233', ui: 'http://127.0.0.1:9000' };
    assert.equal(uiBaseFor('localhost:7233', { embedded }), 'http://127.0.0.1:9000');
    assert.equal(uiBaseFor('[::1]:7233', { embedded }), 'http://127.0.0.1:9000');
    // Another server on another port is not the embedded one.
    assert.equal(uiBaseFor('127.0.0.1:47233', { embedded }), 'http://127.0.0.1:48233');
    assert.equal(uiBaseFor('10.0.0.5:7233', { embedded }), 'http://10.0.0.5:8233');
  });

  it("otherwise a dev server's UI: the gRPC port + 1000 on the same host", () => {
    assert.equal(uiBaseFor('localhost:7233'), 'http://localhost:8233');
    assert.equal(uiBaseFor('127.0.0.1:47233'), 'http://127.0.0.1:48233');
    assert.equal(uiBaseFor('temporal.lan'), 'http://temporal.lan:8233');
    assert.equal(uiBaseFor('[::1]:7300'), 'http://[::1]:8300');
    // ... which is where `api7-ha server` puts it unless given --ui-port.
    const argv = devServerArgv({ port: 7300 });
    assert.equal(argv[argv.indexOf('--ui-port') + 1], '8300');
  });

  it("Temporal Cloud's UI for a Cloud address", () => {
    for (const a of ['ns.a1b2c.tmprl.cloud:7233', 'us-east-1.aws.api.temporal.io:7233'])
      assert.equal(uiBaseFor(a), 'https://cloud.temporal.io');
  });

  it('loopback names are one host; ports must match', () => {
    assert.ok(sameServer('localhost:7233', '127.0.0.1:7233'));
    assert.ok(sameServer('localhost', '[::1]:7233'));
    assert.ok(!sameServer('localhost:7233', 'localhost:7234'));
    assert.ok(!sameServer('10.0.0.5:7233', '127.0.0.1:7233'));
  });
});

describe("the embedded server's record", () => {
  let dataDir: string;
  before(() => (dataDir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-ui-link-'))));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  /** uiBase() in a fresh CLI process, after `record` ran there (its own data dir). */
  function uiBaseAfter(record: string, address: string): string {
    const dist = path.join(projectRoot, 'dist', 'src');
    const script = [
      `const s = require(${JSON.stringify(path.join(dist, 'temporal', 'server.js'))});`,
      record,
      `console.log(require(${JSON.stringify(path.join(dist, 'cli', 'ui.js'))}).uiBase());`,
    ].join('\n');
    const env: NodeJS.ProcessEnv = { ...process.env, API7HA_DATA_DIR: dataDir };
    env.TEMPORAL_ADDRESS = address;
    delete env.TEMPORAL_UI_URL;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  it('gives the UI of a running `api7-ha server` with its own --ui-port', () => {
    const rec = (pid: string) =>
      `s.recordEmbeddedServer({ address: 'localhost:7300', ui: 'http://localhost:9100', pid: ${pid} });`;
    assert.equal(uiBaseAfter(rec('process.pid'), '127.0.0.1:7300'), 'http://localhost:9100');
    // A record left by a server that is gone does not count.
    assert.equal(uiBaseAfter(rec('2 ** 22 + 1'), '127.0.0.1:7300'), 'http://127.0.0.1:8300');
    // Forgotten when the server stops.
    assert.equal(
      uiBaseAfter(`${rec('process.pid')} s.forgetEmbeddedServer();`, '127.0.0.1:7300'),
      'http://127.0.0.1:8300',
    );
  });
});
