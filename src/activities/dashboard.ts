// Phase 8: configure and start the dashboards, and log in to the dashboard API through
// the control-plane load balancer.
import { ApplicationFailure } from '@temporalio/common';
import { DashboardApiError, DashboardClient } from '../api/dashboard';
import type { ComposeFlavor } from '../commands/compose';
import { renderDashboardConf } from '../commands/config-files';
import {
  etcdPassword,
  secret,
  type DeployInput,
  type StartOptions,
  type StepResult,
} from './context';
import { configureAndStart } from './compose';
import { dashboardProblem } from './health';

/** The vendor's dashboard takes tens of seconds to come up on a loaded host. */
const DASHBOARD_START_MS = 90_000;

/** A dashboard API client logged in through the control-plane load balancer. */
export async function dashboardLogin(input: DeployInput): Promise<DashboardClient> {
  const inv = input.inventory;
  const api = new DashboardClient(inv.loadBalancers.controlPlane);
  try {
    await api.login(
      inv.dashboard.username,
      secret(input, inv.dashboard.password, 'dashboard.password'),
    );
  } catch (e) {
    // Wrong credentials stay wrong; say which fields to check (never the values).
    if (e instanceof DashboardApiError && (e.status === 401 || e.status === 403))
      throw ApplicationFailure.nonRetryable(
        `the dashboard refused the login of dashboard.username "${inv.dashboard.username}": check dashboard.username and dashboard.password`,
        'LoginRefused',
      );
    throw e;
  }
  return api;
}

/** Phase 8 on one host: the dashboard's conf.yaml, compose up, until it is ready. */
export async function startDashboard(
  input: DeployInput,
  hostName: string,
  flavor: ComposeFlavor,
  options: StartOptions = {},
): Promise<StepResult> {
  const inv = input.inventory;
  const secrets = {
    dashboardPassword: secret(input, inv.dashboard.password, 'dashboard.password'),
    tokenSecret: secret(input, inv.dashboard.tokenSecret, 'dashboard.tokenSecret'),
    etcdPassword: etcdPassword(input),
  };
  return configureAndStart(input, hostName, {
    component: 'control-plane',
    flavor,
    render: (current) => renderDashboardConf(inv, secrets, current),
    deferRestart: options.deferRestart,
    problem: (ssh) => dashboardProblem(ssh, input, hostName),
    awaiting: `the dashboard on ${hostName} to be ready`,
    readyWithinMs: DASHBOARD_START_MS,
  });
}
