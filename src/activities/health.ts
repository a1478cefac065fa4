// One readiness check per component (src/model/components.ts says what each one is),
// used by the deploy after a start, by the drills' steady state and their recovery wait.
// Each returns a problem a person can read, or undefined when the component is ready.
import { containerLogsArgv, runningServiceArgv } from '../commands/docker';
import { findHost } from '../commands/layout';
import { bundled, componentFacts, type ComponentName } from '../model/components';
import type { SshSession } from '../ssh/session';
import { errorText } from '../util/errors';
import { httpRequest } from '../util/http';
import { pollUntil, withHost, type DeployInput } from './context';
import { etcdCaughtUp } from './etcd';

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

/** Ready, and answering the test route directly (not through the load balancer). */
export async function gatewayServing(
  input: DeployInput,
  hostName: string,
): Promise<string | undefined> {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  try {
    const notReady = await gatewayProblem(input, hostName);
    if (notReady) return notReady;
    const r = await httpRequest(
      `http://${host.address}:${inv.gateway.httpPort}${inv.smokeTest.uri}`,
      { headers: { host: inv.smokeTest.host }, timeoutMs: 3000 },
    );
    return r.status === 200
      ? undefined
      : `gateway on ${hostName} answers the test route with HTTP ${r.status}`;
  } catch (e) {
    return `gateway on ${hostName} is not serving: ${errorText(e)}`;
  }
}

/** Wait until the restored component is healthy again; returns how long that took. */
export async function waitRecovered(
  input: DeployInput,
  hostName: string,
  component: ComponentName,
  timeoutMs: number,
): Promise<number> {
  const t0 = Date.now();
  const [what, recovered] = recoveryCheck(input, hostName, component);
  await pollUntil(what, async () => ((await recovered()) ? true : undefined), timeoutMs, 250);
  return Date.now() - t0;
}

/** What "recovered" means for each component, and how to say what is awaited. */
function recoveryCheck(
  input: DeployInput,
  hostName: string,
  component: ComponentName,
): [string, () => Promise<boolean>] {
  switch (component) {
    case 'data-plane':
      return [
        `the gateway on ${hostName} to serve again`,
        async () => !(await gatewayServing(input, hostName)),
      ];
    case 'control-plane':
      return [
        `the dashboard on ${hostName} to be ready again`,
        async () =>
          !(await withHost(input, hostName, (ssh) => dashboardProblem(ssh, input, hostName))),
      ];
    case 'etcd':
      return [`etcd on ${hostName} to rejoin and catch up`, () => etcdCaughtUp(input, hostName)];
  }
}
