// The approval gate and the charted report on the deployed lab: a run that requires approval
// and gets none ends `aborted` with no container stopped or restarted (docker on every host);
// an approved run (`api7-ha verify approve`) proceeds and records the approver; its HTML
// report opens in a real browser (Debian's chromium via playwright-core) with one chart per
// drill and the fault window marked. The screenshot is kept in .data/test-artifacts/report/.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { chromium } from 'playwright-core';
import type { DeployInput } from '../../src/activities/context';
import { startDeploy } from '../../src/cli/deploy';
import { startVerify } from '../../src/cli/verify';
import type { LoadedInventory } from '../../src/config/load';
import { dataDir, projectRoot } from '../../src/paths';
import { run, waitFor } from '../../src/util/exec';
import { AWAITING_APPROVAL } from '../../src/workflows/approval';
import type { Journal } from '../../src/workflows/journal';
import { containerSnapshot } from '../support/cluster';
import { scheduledActivities, workflowHistory } from '../support/history';
import { sharedLab } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(61233);
const artifacts = path.join(dataDir, 'test-artifacts', 'report');
let lab: LoadedInventory;
let input: DeployInput;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;
let dir: string;

const cli = (...args: string[]) =>
  run([process.execPath, path.join(projectRoot, 'dist/src/client.js'), ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, NO_COLOR: '1' },
    allowFailure: true,
  });

describe('the approval gate and the charted report on the lab', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    input = { inventory: lab.inventory, baseDir: lab.baseDir };
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-report-'));
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    await (await startDeploy(client, input)).result();
  });
  after(async () => {
    await worker?.kill();
    await connection?.close();
    await server.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an unapproved run times out as aborted, and no container was stopped or restarted', async () => {
    const before = await containerSnapshot(lab);
    const handle = await startVerify(client, {
      ...input,
      options: {
        drills: ['data-plane'],
        holdMs: 3000,
        requireApproval: true,
        approvalTimeoutMs: 4000,
      },
    });
    await waitFor(
      'the run to wait for approval',
      async () => (await handle.query<Journal>('progress')).phase === AWAITING_APPROVAL,
      30_000,
      200,
    );
    const journal = await handle.result();
    assert.equal(journal.verdict, 'aborted');
    assert.equal(journal.approval?.decision, 'timed out');
    assert.equal(journal.summary, 'aborted before any fault: no approval within 4 s');
    assert.deepEqual(journal.drills, []);
    const types = scheduledActivities(
      await workflowHistory(server.address, handle.workflowId, handle.firstExecutionRunId),
    ).map((a) => a.type);
    assert.deepEqual(types, ['checkExclusion'], 'no steady-state check, no fault');
    // Same containers (ids), each started at the same moment: none stopped or restarted.
    assert.deepEqual(await containerSnapshot(lab), before);
  });

  it('an approved run proceeds, records the approver, and its HTML report charts each drill', async () => {
    const handle = await startVerify(client, {
      ...input,
      options: {
        drills: ['data-plane', 'control-plane'],
        rate: 20,
        holdMs: 4000,
        requireApproval: true,
        approvalTimeoutMs: 120_000,
      },
    });
    await waitFor(
      'the run to wait for approval',
      async () => (await handle.query<Journal>('progress')).phase === AWAITING_APPROVAL,
      30_000,
      200,
    );
    const wrong = await cli('verify', 'approve', 'lab', '--reject', '--as', 'tester@e2e');
    assert.equal(wrong.code, 2, 'a rejection without a reason is refused by the CLI');
    const approved = await cli('verify', 'approve', 'lab', '--as', 'tester@e2e');
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /approved by tester@e2e/);
    const journal = await handle.result();
    assert.equal(journal.verdict, 'passed', JSON.stringify(journal.drills, null, 1));
    assert.equal(journal.approval?.decision, 'approved');
    assert.equal(journal.approval?.by, 'tester@e2e');
    const again = await cli('verify', 'approve', 'lab', '--as', 'late@e2e');
    assert.notEqual(again.code, 0, 'nothing waits any more');

    const html = path.join(dir, 'verify.html');
    const json = path.join(dir, 'verify.json');
    const last = await cli('verify', '--last', 'lab', '--html', html, '--json', json);
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stdout, /Approved by tester@e2e/);
    const saved = JSON.parse(readFileSync(json, 'utf8')) as Journal;
    for (const d of saved.drills) {
      const s = d.probe?.series;
      assert.ok(s && s.requests.length >= 4, `${d.drill}: a per-second series in the JSON`);
      assert.equal(
        s.requests.reduce((a, b) => a + b, 0),
        d.probe!.requests,
        `${d.drill}: the series adds up to the probe's requests`,
      );
    }

    mkdirSync(artifacts, { recursive: true });
    const profile = mkdtempSync(path.join(os.tmpdir(), 'api7ha-chromium-'));
    // Debian's chromium, as in test/e2e/ui.test.ts; the page itself may fetch nothing (CSP).
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1000, height: 900 },
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
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => void (r.url().startsWith('file:') || requests.push(r.url())));
      await page.goto(`file://${html}`);
      await page.screenshot({ path: path.join(artifacts, 'verify-report.png'), fullPage: true });
      const figures = await page.$$eval('figure.drill-chart', (fs) =>
        fs.map((f) => ({
          drill: f.getAttribute('data-drill'),
          start: Number(f.getAttribute('data-fault-start')),
          end: Number(f.getAttribute('data-fault-end')),
          svgs: f.querySelectorAll('svg').length,
          width: f.querySelector('svg')?.getBoundingClientRect().width ?? 0,
          text: f.querySelector('svg')?.textContent ?? '',
        })),
      );
      assert.deepEqual(
        figures.map((f) => f.drill),
        ['data-plane', 'control-plane'],
        'one chart per drill',
      );
      for (const f of figures) {
        assert.equal(f.svgs, 1, `${f.drill}: one SVG`);
        assert.ok(f.width > 500, `${f.drill}: the chart is drawn (${f.width} px wide)`);
        assert.ok(f.start > 0 && f.end > f.start, `${f.drill}: fault window ${f.start}-${f.end}`);
        assert.match(f.text, /fault → restore/, `${f.drill}: the fault window is labelled`);
        assert.match(f.text, /requests\/s/);
      }
      assert.equal(await page.locator('table.drills tbody tr').count(), 2);
      assert.deepEqual(requests, [], 'the report fetched nothing');
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
