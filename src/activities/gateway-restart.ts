// The gateway-restart-degraded drill's look at the restarted gateway: is it back (and if
// not, why, from its own container state and log), and does the data-plane load
// balancer send it traffic again (its own request counter, apisix_http_status, grows
// while requests go through the load balancer only).
import { containerExitArgv, containerLogTailArgv, serviceContainersArgv } from '../commands/docker';
import { bundled } from '../model/components';
import { errorText } from '../util/errors';
import { pollUntil, withHost, keepHeartbeating, type DeployInput } from './context';
import { gatewayMetrics, gatewayServing } from './health';
import { dataPlaneOnce } from './probe';

export interface GatewayRestart {
  back: boolean;
  /** From the restart to serving the test route directly. */
  backAfterMs?: number;
  /** When not back: the container's state and the last log lines that say why. */
  cause?: string;
  /** Requests through the data-plane load balancer reached this gateway again. */
  takesLbTraffic: boolean;
  problems: string[];
}

/** Sum of apisix_http_status over every label set: the requests the gateway answered. */
export const answeredRequests = (metrics: string) =>
  metrics
    .split('\n')
    .filter((l) => l.startsWith('apisix_http_status{') || l.startsWith('apisix_http_status '))
    .reduce((sum, l) => sum + (Number(l.trim().split(/\s+/).pop()) || 0), 0);

export async function gatewayRestartChecks(
  input: DeployInput,
  hostName: string,
  timeoutMs: number,
): Promise<GatewayRestart> {
  const ticker = keepHeartbeating();
  const t0 = Date.now();
  const out: GatewayRestart = { back: false, takesLbTraffic: false, problems: [] };
  try {
    out.back = await pollUntil(
      `the gateway on ${hostName} to serve again`,
      async () => ((await gatewayServing(input, hostName)) ? undefined : true),
      timeoutMs,
      250,
    ).catch(() => false);
    if (!out.back) {
      out.cause = await gatewayCause(input, hostName).catch(
        (e: unknown) => `its state could not be read: ${errorText(e)}`,
      );
      return out;
    }
    out.backAfterMs = Date.now() - t0;
    // Health checks bring it back into the pool within a few seconds.
    out.takesLbTraffic = await pollUntil(
      `the data-plane load balancer to send requests to ${hostName} again`,
      async () => {
        const before = answeredRequests(await gatewayMetrics(input, hostName));
        for (let i = 0; i < 10; i++) await dataPlaneOnce(input).catch(() => undefined);
        const after = answeredRequests(await gatewayMetrics(input, hostName));
        return after > before ? true : undefined;
      },
      30_000,
      500,
    ).catch((e: unknown) => {
      out.problems.push(errorText(e));
      return false;
    });
  } finally {
    clearInterval(ticker);
  }
  return out;
}

/** Why a gateway is not back: its container's state and its last log lines. */
async function gatewayCause(input: DeployInput, hostName: string): Promise<string> {
  return withHost(input, hostName, async (ssh) => {
    const ids = (await ssh.exec(serviceContainersArgv(bundled(input.inventory, 'data-plane'))))
      .split('\n')
      .filter(Boolean);
    if (!ids[0]) return 'no gateway container exists';
    const [status = '?', code = '?', restarts = '?'] = (await ssh.exec(containerExitArgv([ids[0]])))
      .trim()
      .split(' ');
    const logs = await ssh.execRaw(containerLogTailArgv(ids[0], 20));
    const lines = `${logs.stdout}\n${logs.stderr}`.split('\n').filter((l) => l.trim());
    const telling = lines.filter((l) => /etcd|error|fail|exit/i.test(l)).slice(-3);
    return `container ${status} (exit code ${code}, ${restarts} restarts)${telling.length ? `; it logged: ${telling.join(' / ')}` : ''}`;
  });
}
