// Root-namespace services of the lab: the two HAProxy load balancers and the echo upstream.
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readOwnPid, spawnDetached, terminate } from '../src/util/exec';
import {
  CONTROL_PLANE_LB_PORT,
  DATA_PLANE_LB_PORT,
  ECHO_PORT,
  GATEWAY_IP,
  HAPROXY_STATS_PORT,
  type LabHost,
} from './layout';

export interface LbPorts {
  dashboard: number;
  gatewayHttp: number;
  gatewayMetrics: number;
}

/**
 * Both load balancers with active health checks. The retry settings are what lets a
 * gateway be stopped with zero failed requests: a refused or empty connection is retried
 * on another server instead of reaching the client (docs/verify.md).
 */
export function renderHaproxyConfig(hosts: LabHost[], ports: LbPorts): string {
  const servers = (role: LabHost['roles'][number], port: number, extra = '') =>
    hosts
      .filter((h) => h.roles.includes(role))
      .map((h) => `  server ${h.name} ${h.address}:${port} check${extra}`)
      .join('\n');
  return `# Written by api7-ha lab; do not edit.
global
  maxconn 4096

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 1s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout 503
  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions

frontend stats
  bind ${GATEWAY_IP}:${HAPROXY_STATS_PORT}
  stats enable
  stats uri /stats
  http-request use-service prometheus-exporter if { path /metrics }

frontend control_plane
  bind ${GATEWAY_IP}:${CONTROL_PLANE_LB_PORT}
  default_backend dashboards

backend dashboards
  balance roundrobin
  option httpchk GET /ping
  http-check expect string pong
${servers('control-plane', ports.dashboard)}

frontend data_plane
  bind ${GATEWAY_IP}:${DATA_PLANE_LB_PORT}
  default_backend gateways

backend gateways
  balance roundrobin
  option httpchk GET /apisix/prometheus/metrics
  http-check expect status 200
${servers('data-plane', ports.gatewayHttp, ` port ${ports.gatewayMetrics}`)}
`;
}

function startLogged(argv: string[], logFile: string, pidFile: string): number {
  const fd = openSync(logFile, 'a');
  try {
    const pid = spawnDetached(argv, fd);
    writeFileSync(pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(fd);
  }
}

export interface ServicePaths {
  haproxyConfig: string;
  haproxyPid: string;
  haproxyLog: string;
  echoPid: string;
  echoLog: string;
}

export function servicePaths(labDir: string): ServicePaths {
  return {
    haproxyConfig: path.join(labDir, 'haproxy.cfg'),
    haproxyPid: path.join(labDir, 'haproxy.pid'),
    haproxyLog: path.join(labDir, 'haproxy.log'),
    echoPid: path.join(labDir, 'echo.pid'),
    echoLog: path.join(labDir, 'echo.log'),
  };
}

export const HAPROXY_COMMAND = /^haproxy /;
export const ECHO_COMMAND = /standins\/echo\.js/;

export async function ensureHaproxy(p: ServicePaths, config: string): Promise<void> {
  const running = readOwnPid(p.haproxyPid, HAPROXY_COMMAND);
  const current = existsSync(p.haproxyConfig) ? readFileSync(p.haproxyConfig, 'utf8') : '';
  if (running !== undefined && current === config) return;
  // The old one must have let go of its ports before the new one binds them.
  if (running !== undefined) await stopService(p.haproxyPid, HAPROXY_COMMAND);
  writeFileSync(p.haproxyConfig, config);
  // -db: stay in the foreground so the pid we record is HAProxy's own.
  startLogged(['haproxy', '-db', '-f', p.haproxyConfig], p.haproxyLog, p.haproxyPid);
}

export function ensureEcho(p: ServicePaths, echoScript: string): void {
  if (readOwnPid(p.echoPid, ECHO_COMMAND) !== undefined) return;
  startLogged(
    [
      process.execPath,
      echoScript,
      '--listen',
      `${GATEWAY_IP}:${ECHO_PORT}`,
      '--name',
      'lab-upstream',
    ],
    p.echoLog,
    p.echoPid,
  );
}

/** Stop the process in a pid file if it is still ours, and wait until it is gone. */
export async function stopService(pidFile: string, command: RegExp): Promise<void> {
  const pid = readOwnPid(pidFile, command);
  if (pid !== undefined) await terminate(pid, { graceMs: 5000 });
}
