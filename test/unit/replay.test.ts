// Recorded histories replay against the current workflow code: a change that breaks running
// workflows fails here. deploy-fresh/noop.json come from real runs on the lab (phase by phase);
// verify-*.json and deploy-pipelines-*.json from the real workflows on a
// TestWorkflowEnvironment with fake activities
// (test/support/record-histories.ts).
import '../support/quiet';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { projectRoot } from '../../src/paths';

const dir = path.join(projectRoot, 'test', 'fixtures', 'histories');

describe('replay of recorded histories', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  it('has recorded deployHA and verifyHA histories to replay', () => {
    assert.ok(files.filter((f) => f.startsWith('deploy-')).length >= 2);
    assert.ok(files.filter((f) => f.startsWith('deploy-pipelines-')).length >= 3);
    assert.ok(files.filter((f) => f.startsWith('verify-')).length >= 4);
  });
  for (const file of files) {
    it(`replays ${file} deterministically`, async () => {
      const history: unknown = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
      await Worker.runReplayHistory(
        { workflowsPath: require.resolve('../../src/workflows') },
        history,
        file,
      );
    });
  }
});
