// The Temporal Web UI, in a real browser (Debian's chromium driven by playwright-core),
// on a private dev server started the way `api7-ha server` starts one: with a loopback
// codec server, so the pages of a deploy and a verification read as text while the
// history itself stays ciphertext. Also the CLI against that server, as in a log: no
// escape codes, --json that parses, "not found" exit codes. Screenshots are kept in
// .data/test-artifacts/ui/.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { quote as shellQuote } from 'shell-quote';
import type { DeployInput } from '../../src/activities/context';
import type { LiveDetail } from '../../src/activities/context';
import { deployWorkflowId, startDeploy } from '../../src/cli/deploy';
import { liveDetails } from '../../src/cli/follow';
import { startVerify } from '../../src/cli/verify';
import type { LoadedInventory } from '../../src/config/load';
import { dataDir, projectRoot, temporalBinary } from '../../src/paths';
import { dataConverter } from '../../src/temporal/codec';
import { run, waitFor } from '../../src/util/exec';
import type { Journal } from '../../src/workflows/journal';
import { rawHistory } from '../support/history';
import { labSecrets, sharedLab } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(47233);
const artifacts = path.join(dataDir, 'test-artifacts', 'ui');
const ESC = '\x1b';
type Payload = { metadata: { encoding: string } };
let lab: LoadedInventory;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;
let browser: BrowserContext;
let profile: string;
let deploy: { workflowId: string; runId: string };
let verify: { workflowId: string; runId: string; journal: Journal };

const historyUrl = (r: { workflowId: string; runId: string }) =>
  `${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(r.workflowId)}/${r.runId}/history`;

/** A pattern of "name" in quotes, straight or as the UI's markdown typesets them (“name”). */
const quoted = (name: string) => `["“]${name}["”]`;

/**
 * What the page shows as text: its own and that of its frames, for the UI renders
 * markdown (summaries, details, current details) in a frame of its own (`/render`).
 */
async function shownText(page: Page): Promise<string> {
  const frames = page.frames().filter((f) => f !== page.mainFrame());
  const texts = await Promise.all(
    [page.mainFrame(), ...frames].map((f) => f.innerText('body').catch(() => '')),
  );
  return texts.join('\n');
}

/**
 * The text of a run's page (or of one of its tabs, opened by clicking it) once it shows
 * everything expected, as strings or patterns; a screenshot and the text are kept either way.
 */
async function pageShowing(
  page: Page,
  url: string,
  name: string,
  expected: Array<string | RegExp>,
  tab?: string,
): Promise<string> {
  await page.goto(url);
  const missing = (text: string) =>
    expected.filter((e) => (typeof e === 'string' ? !text.includes(e) : !e.test(text)));
  let text = '';
  try {
    // The workflow page's tabs are links with the tab role.
    if (tab) await page.getByRole('tab', { name: tab, exact: true }).click();
    text = await waitFor(
      `${name}: the page showing ${expected.join(', ')}`,
      async () => {
        text = await shownText(page);
        return missing(text).length === 0 && text;
      },
      30_000,
      250,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; missing: ${missing(text).join(', ')}`);
  } finally {
    await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
    writeFileSync(path.join(artifacts, `${name}.txt`), await shownText(page));
  }
  return text;
}

const clientJs = path.join(projectRoot, 'dist/src/client.js');
// As in CI: picocolors alone would colour a pipe with CI set. No TEMPORAL_UI_URL, so the
// printed links follow the server the CLI is connected to.
const cliEnv: NodeJS.ProcessEnv = {
  ...process.env,
  TEMPORAL_ADDRESS: server.address,
  CI: 'true',
  NO_COLOR: '',
};
delete cliEnv.TEMPORAL_UI_URL;

const cli = (...args: string[]) =>
  run([process.execPath, clientJs, ...args], { env: cliEnv, allowFailure: true });

/** The CLI with its stdout redirected to a file by the shell, as in `api7-ha status lab > file`. */
async function cliToFile(file: string, ...args: string[]) {
  const r = await run(
    [
      'sh',
      '-c',
      'out=$1; shift; exec "$@" >"$out"',
      'sh',
      file,
      process.execPath,
      clientJs,
      ...args,
    ],
    {
      env: cliEnv,
      allowFailure: true,
    },
  );
  return { ...r, stdout: readFileSync(file, 'utf8') };
}

/** The CLI on a pseudo-terminal (util-linux `script`): what a person at a terminal sees. */
const onTerminal = (...args: string[]) =>
  run(['script', '-qec', shellQuote([process.execPath, clientJs, ...args]), '/dev/null'], {
    env: { ...cliEnv, TERM: 'xterm-256color' },
    allowFailure: true,
  });

describe('the Temporal Web UI in a browser, and the CLI in a log', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    lab = await sharedLab();
    const input: DeployInput = { inventory: lab.inventory, baseDir: lab.baseDir };
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    // A no-op when an earlier test file left the lab deployed: quick, and still every step.
    const d = await startDeploy(client, input);
    await d.result();
    deploy = { workflowId: d.workflowId, runId: d.firstExecutionRunId };
    const v = await startVerify(client, {
      ...input,
      options: { drills: ['data-plane'], rate: 20, holdMs: 3000 },
    });
    verify = { workflowId: v.workflowId, runId: v.firstExecutionRunId, journal: await v.result() };
    profile = mkdtempSync(path.join(os.tmpdir(), 'api7ha-chromium-'));
    // Debian's chromium (scripts/setup.sh installs it); playwright-core downloads nothing.
    // headless and the fresh --user-data-dir come from the options; as root it needs
    // --no-sandbox; the rest keeps it from calling out to the network.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1600, height: 1200 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await worker?.kill();
    await connection?.close();
    await server.dispose();
  });

  it('the deploy page shows the activity summaries and the per-host table as text', async () => {
    const page = await browser.newPage();
    const history = await pageShowing(page, historyUrl(deploy), 'deploy-history', [
      'ha4: configure and start gateway',
      'ha1: start etcd member',
      'wait for etcd quorum (3 members)',
      '"apiVersion": "api7-ha/v1"', // the input, decoded
    ]);
    assert.doesNotMatch(history, /binary\/encrypted/, 'no payload is left encrypted on the page');
    // Summary, details and current details (the per-host table) are the run's user
    // metadata; the current details come from a query the worker answers, decoded.
    const cluster = lab.inventory.cluster;
    const metadata = await pageShowing(
      page,
      historyUrl(deploy),
      'deploy-metadata',
      [
        new RegExp(
          `Deploy API7 Enterprise HA cluster ${quoted(cluster)} on ${lab.inventory.hosts.length} hosts`,
        ),
        'Current Details',
        `Deploy ${cluster} — phase done`,
        /host\s+roles\s+step\s+status\s+detail/,
        /ha1\s+etcd, control-plane\s+dashboard\s+done/,
        /ha3\s+etcd\s+etcd\s+done/,
        /ha4\s+data-plane\s+gateway\s+done/,
        /ha5\s+data-plane\s+gateway\s+done/, // the host behind the bastion
      ],
      'User Metadata',
    );
    assert.doesNotMatch(metadata, /binary\/encrypted/, 'no metadata is left encrypted');
    await page.close();
  });

  it("the verification's page shows its verdicts", async () => {
    assert.equal(verify.journal.verdict, 'passed');
    const page = await browser.newPage();
    await pageShowing(page, historyUrl(verify), 'verify-history', [
      'probe the data-plane load balancer at 20/s',
      '"verdict": "passed"',
    ]);
    const host = verify.journal.drills[0]!.host;
    await pageShowing(
      page,
      historyUrl(verify),
      'verify-metadata',
      [
        new RegExp(`Verify HA of ${quoted(lab.inventory.cluster)}: data-plane drills`),
        `Verify ${lab.inventory.cluster} — verdict passed`,
        /drill\s+host\s+verdict\s+requests/,
        new RegExp(`data-plane\\s+${host}\\s+passed`),
      ],
      'User Metadata',
    );
    await page.close();
  });

  it('the history fetched by the temporal CLI without the codec holds no secret, nor what the UI showed', async () => {
    const secrets = labSecrets(lab);
    for (const r of [deploy, verify]) {
      const raw = await rawHistory(server.address, r.workflowId, r.runId);
      assert.match(raw, /YmluYXJ5L2VuY3J5cHRlZA==/, 'payloads are binary/encrypted');
      for (const s of secrets) assert.ok(!raw.includes(s), `${r.workflowId} holds a secret`);
      for (const shown of ['configure and start gateway', 'start etcd member', 'passed'])
        for (const form of [shown, Buffer.from(shown).toString('base64').slice(0, -4)])
          assert.ok(!raw.includes(form), `${r.workflowId} shows "${shown}" without the codec`);
      // The current details, as the server hands them to the UI: ciphertext too.
      const metadata = (
        await run([
          temporalBinary,
          'workflow',
          'metadata',
          '--address',
          server.address,
          '-w',
          r.workflowId,
          '-r',
          r.runId,
          '-o',
          'json',
        ])
      ).stdout;
      const details = (JSON.parse(metadata) as { queryResult: { payloads: Payload[] } }).queryResult
        .payloads[0]!;
      assert.equal(Buffer.from(details.metadata.encoding, 'base64').toString(), 'binary/encrypted');
      for (const shown of ['phase done', 'verdict passed', 'data-plane'])
        assert.ok(!metadata.includes(shown), `${r.workflowId}'s metadata shows "${shown}"`);
    }
  });

  it('`status lab > file` has no escape codes; --json parses; a missing cluster exits 3', async () => {
    const file = path.join(artifacts, 'status.txt');
    const status = await cliToFile(file, 'status', lab.inventory.cluster);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /│ ha4\s+│ data-plane\s+│/, 'the per-host table, in plain text');
    assert.ok(!status.stdout.includes(ESC), `no escape code in ${file}`);
    // The same command on a terminal has colours: the check above can fail.
    const tty = await onTerminal('status', lab.inventory.cluster);
    assert.equal(tty.code, 0, tty.stderr);
    assert.ok(tty.stdout.includes(ESC), `colours on a terminal:\n${tty.stdout}`);

    // The link it prints opens this server's Web UI (not the default port 8233), readable.
    const link = /^\s+(http\S+\/history)$/m.exec(status.stdout)?.[1];
    assert.ok(link, `a UI link in:\n${status.stdout}`);
    assert.equal(new URL(link).port, new URL(server.uiUrl).port, link);
    assert.match(link, new RegExp(`/workflows/${deploy.workflowId}/${deploy.runId}/history$`));
    const page = await browser.newPage();
    await pageShowing(page, link, 'status-link', ['ha4: configure and start gateway']);
    await page.close();

    const json = JSON.parse((await cli('status', lab.inventory.cluster, '--json')).stdout) as {
      workflowId: string;
      status: string;
      result: { clusterId: string };
    };
    assert.equal(json.workflowId, deployWorkflowId(lab.inventory.cluster));
    assert.equal(json.status, 'COMPLETED');
    assert.match(json.result.clusterId, /^\d+$/);

    const last = await cli('verify', '--last', lab.inventory.cluster, '--json');
    assert.equal(last.code, 0, last.stderr);
    const lastJson = JSON.parse(last.stdout) as { workflowId: string; verdict: string };
    assert.equal(lastJson.workflowId, verify.workflowId);
    assert.equal(lastJson.verdict, 'passed');

    const inventory = path.join(lab.baseDir, 'inventory.yaml');
    const created = await cli('schedule', 'create', '-i', inventory, '--every', '1h', '--paused');
    assert.equal(created.code, 0, created.stderr);
    try {
      const described = await cli('schedule', 'describe', lab.inventory.cluster, '--json');
      assert.equal(described.code, 0, described.stderr);
      const d = JSON.parse(described.stdout) as {
        scheduleId: string;
        paused: boolean;
        spec: { intervals: unknown[] };
      };
      assert.equal(d.scheduleId, `verify-${lab.inventory.cluster}`);
      assert.equal(d.paused, true);
      assert.equal(d.spec.intervals.length, 1);
      const listed = JSON.parse((await cli('schedule', 'list', '--json')).stdout) as Array<{
        id: string;
      }>;
      assert.ok(listed.some((s) => s.id === d.scheduleId));
    } finally {
      assert.equal((await cli('schedule', 'delete', lab.inventory.cluster)).code, 0);
    }

    for (const args of [
      ['status', 'nosuch'],
      ['cancel', 'nosuch'],
      ['verify', '--last', 'nosuch'],
      ['schedule', 'describe', 'nosuch'],
      ['schedule', 'pause', 'nosuch'],
    ]) {
      const r = await cli(...args);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /nosuch/);
    }
  });

  it('deploy --follow reads a running upload from its heartbeat, decrypted', async () => {
    const connection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({
      connection,
      taskQueue: 'live-progress',
      workflowsPath: require.resolve('../fixtures/heartbeat-workflows'),
      dataConverter: dataConverter(),
      maxHeartbeatThrottleInterval: '2s',
      activities: {
        async upload() {
          const ctx = Context.current();
          const detail: LiveDetail = {
            host: 'ha4',
            file: 'dp.tar.gz',
            bytes: 12 * 2 ** 20,
            total: 30 * 2 ** 20,
          };
          ctx.heartbeat(detail);
          await ctx.cancelled.catch(() => undefined);
        },
      },
    });
    await worker.runUntil(async () => {
      const handle = await client.workflow.start('uploading', {
        taskQueue: 'live-progress',
        workflowId: 'live-progress',
      });
      const live = await waitFor(
        'the heartbeat among the pending activities',
        async () => (await liveDetails(handle)).get('ha4'),
        20_000,
        200,
      );
      assert.equal(live, 'uploading dp.tar.gz 40 % (12.0 of 30.0 MiB)');
      // What the server holds of it (seen with the temporal CLI) is ciphertext.
      const described = JSON.parse(
        (
          await run([
            temporalBinary,
            'workflow',
            'describe',
            '--address',
            server.address,
            '-w',
            'live-progress',
            '-o',
            'json',
          ])
        ).stdout,
      ) as {
        pendingActivities: Array<{
          heartbeatDetails: { payloads: Array<{ metadata: { encoding: string } }> };
        }>;
      };
      const beat = described.pendingActivities[0]!.heartbeatDetails.payloads[0]!;
      assert.equal(Buffer.from(beat.metadata.encoding, 'base64').toString(), 'binary/encrypted');
      await handle.terminate('seen');
    });
    await connection.close();
  });
});
