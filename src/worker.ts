// The worker: polls task queue `api7-ha`, runs deployHA / verifyHA and their activities.
import { Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { SshPool, type SshPoolOptions } from './ssh/pool';
import { dataConverter } from './temporal/codec';
import { connectWorkerConnection } from './temporal/connection';
import { sharedClient } from './temporal/connection';
import { TASK_QUEUE } from './temporal/search-attributes';

export async function createWorker(
  opts: { maxConcurrentActivities?: number; ssh?: SshPoolOptions } = {},
) {
  const { connection, namespace } = await connectWorkerConnection();
  // One SSH connection per host for all of this worker's activities (src/ssh/pool.ts).
  const ssh = new SshPool(opts.ssh);
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: TASK_QUEUE,
    workflowsPath: require.resolve('./workflows'),
    activities: createActivities({ ssh, temporalClient: sharedClient }),
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 100,
    // Heartbeats carry upload progress that `deploy --follow` shows; the default throttle
    // (0.8 × the 20 s heartbeat timeout) would show it only every 16 s.
    maxHeartbeatThrottleInterval: '2s',
    dataConverter: dataConverter(),
  });
  return { worker, connection, ssh };
}

export async function runWorker(): Promise<void> {
  const { worker, connection, ssh } = await createWorker();
  console.log(`api7-ha worker polling task queue ${TASK_QUEUE}`);
  try {
    await worker.run(); // returns after SIGINT/SIGTERM once in-flight work is handed back
  } finally {
    ssh.close();
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
