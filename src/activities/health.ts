// One readiness check per component (src/model/components.ts says what each one is),
// used by the deploy after a start, by the drills' steady state and their recovery wait.
// Each returns a problem a person can read, or undefined when the component is ready.
import { containerLogsArgv, runningServiceArgv } from '../commands/docker';
import { findHost } from '../commands/layout';
import { bundled, componentFacts } from '../model/components';
import type { SshSession } from '../ssh/session';
import { httpRequest } from '../util/http';
import type { DeployInput } from './context';

import { errorText } from '../util/errors';

/** The dashboard's metrics-free readiness: its container runs, logged the ready line, answers /ping. */
export async function dashboardProblem(
  ssh: SshSession,
  input: DeployInput,
  hostName: string,
): Promise<string | undefined> {
  const inv = input.inventory;
  const r = componentFacts(inv, 'control-plane').readiness;
  if (r.kind !== 'dashboard') throw new Error('the dashboard has a dashboard readiness');
  const ids = (await ssh.exec(runningServiceArgv(bundled(inv, 'control-plane'))))
    .split('\n')
    .filter(Boolean);
  if (!ids[0]) return `dashboard on ${hostName} is not running`;
  const logs = await ssh.execRaw(containerLogsArgv(ids[0]));
  if (!(logs.stdout + logs.stderr).includes(r.logLine))
    return `dashboard on ${hostName} has not logged "${r.logLine}" yet`;
  const address = findHost(inv, hostName).address;
  const ping = await httpRequest(`http://${address}:${r.port}${r.path}`, { timeoutMs: 2000 }).catch(
    (e: unknown) => ({ status: 0, body: errorText(e) }),
  );
  return ping.status === 200 && ping.body.trim() === r.body
    ? undefined
    : `dashboard on ${hostName} does not answer ${r.path}`;
}

/** A gateway's Prometheus export, read directly from its host. */
export async function gatewayMetrics(input: DeployInput, hostName: string): Promise<string> {
  const r = componentFacts(input.inventory, 'data-plane').readiness;
  if (r.kind !== 'gateway') throw new Error('the gateway has a gateway readiness');
  const address = findHost(input.inventory, hostName).address;
  const res = await httpRequest(`http://${address}:${r.port}${r.path}`, { timeoutMs: 2000 });
  if (res.status !== 200) throw new Error(`metrics answered HTTP ${res.status}`);
  return res.body;
}

export const etcdReachable = (metrics: string) => /^apisix_etcd_reachable\s+1\b/m.test(metrics);

/** The gateway's readiness: its metrics say it reaches etcd. */
export async function gatewayProblem(
  input: DeployInput,
  hostName: string,
): Promise<string | undefined> {
  try {
    return etcdReachable(await gatewayMetrics(input, hostName))
      ? undefined
      : `gateway on ${hostName} reports apisix_etcd_reachable 0`;
  } catch (e) {
    return `gateway on ${hostName} is not serving its metrics: ${errorText(e)}`;
  }
}
