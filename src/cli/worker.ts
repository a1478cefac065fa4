// `api7-ha worker`: run the worker in the foreground, or --detach / --stop a background one.
import path from 'node:path';
import { daemonFiles, daemonPid, startDaemon, stopDaemon } from '../util/daemon';
import { runWorker } from '../worker';

export const WORKER_DAEMON = 'worker';

export async function workerCommand(opts: { detach?: boolean; stop?: boolean }): Promise<void> {
  if (opts.stop) {
    console.log((await stopDaemon(WORKER_DAEMON)) ? 'worker stopped' : 'worker was not running');
    return;
  }
  if (!opts.detach) return runWorker();
  if (daemonPid(WORKER_DAEMON) === undefined)
    startDaemon(WORKER_DAEMON, [process.execPath, path.join(__dirname, '..', 'worker.js')]);
  console.log(`worker running in the background (log: ${daemonFiles(WORKER_DAEMON).log})`);
}
