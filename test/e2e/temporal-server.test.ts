// The embedded Temporal dev server starts from the CLI that setup built, registers our
// search attributes, runs a workflow with a real worker, and keeps history across restarts.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { temporalBinary } from '../../src/paths';
import { run } from '../../src/util/exec';
import { testServer } from '../support/temporal';

describe('embedded Temporal dev server', () => {
  const server = testServer(17233);
  before(() => server.start());
  after(() => server.dispose());

  it('runs a trivial workflow on a real worker and keeps its history across a restart', async () => {
    const workerConnection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({
      connection: workerConnection,
      taskQueue: 'trivial',
      workflowsPath: require.resolve('../fixtures/trivial-workflows'),
      activities: { shout: async (s: string) => s.toUpperCase() },
    });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const result = await worker.runUntil(
      client.workflow.execute('greet', {
        taskQueue: 'trivial',
        workflowId: 'trivial-1',
        args: ['lab'],
      }),
    );
    assert.equal(result, 'hello, LAB');
    await connection.close();
    await workerConnection.close();

    await server.stop();
    await server.start();
    // Asserted with the temporal CLI, against the SQLite file that outlived the restart.
    const shown = await run([
      temporalBinary,
      'workflow',
      'describe',
      '--address',
      server.address,
      '-w',
      'trivial-1',
      '-o',
      'json',
    ]);
    const described = JSON.parse(shown.stdout) as { workflowExecutionInfo: { status: string } };
    assert.equal(described.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
  });

  it('registers the custom search attributes the workflows use', async () => {
    const out = (
      await run([
        temporalBinary,
        'operator',
        'search-attribute',
        'list',
        '--address',
        server.address,
      ])
    ).stdout;
    for (const name of ['Api7Cluster', 'Api7Phase', 'Api7Verdict'])
      assert.match(out, new RegExp(`${name}\\s+Keyword`));
  });
});
