// The lab's network in the root namespace: one bridge, one netns + veth per host, and
// the single iptables rule that lets bridged traffic through once Docker has set FORWARD to DROP.
import { run } from '../src/util/exec';
import { BRIDGE, GATEWAY_IP, IPTABLES_COMMENT, PREFIX_LEN, type LabHost } from './layout';

const ok = async (argv: string[]) => (await run(argv, { allowFailure: true })).code === 0;

export const vethName = (host: LabHost) => `a7v-${host.name}`;

const forwardRule = [
  'FORWARD',
  '-i',
  BRIDGE,
  '-o',
  BRIDGE,
  '-m',
  'comment',
  '--comment',
  IPTABLES_COMMENT,
  '-j',
  'ACCEPT',
];

export async function ensureBridge(): Promise<void> {
  if (!(await ok(['ip', 'link', 'show', BRIDGE]))) {
    await run(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    await run(['ip', 'addr', 'add', `${GATEWAY_IP}/${PREFIX_LEN}`, 'dev', BRIDGE]);
  }
  await run(['ip', 'link', 'set', BRIDGE, 'up']);
  if (!(await ok(['iptables', '-C', ...forwardRule])))
    await run(['iptables', '-I', ...forwardRule]);
}

export async function ensureHostNetwork(host: LabHost): Promise<void> {
  const netnsExists = (await run(['ip', 'netns', 'list'])).stdout
    .split('\n')
    .some((l) => l.split(' ')[0] === host.netns);
  if (!netnsExists) await run(['ip', 'netns', 'add', host.netns]);
  const inNs = (...args: string[]) => ['ip', '-n', host.netns, ...args];
  if (!(await ok(['ip', 'link', 'show', vethName(host)]))) {
    await run([
      'ip',
      'link',
      'add',
      vethName(host),
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      host.netns,
    ]);
  }
  await run(['ip', 'link', 'set', vethName(host), 'master', BRIDGE, 'up']);
  const addrs = (await run(inNs('-4', 'addr', 'show', 'dev', 'eth0'))).stdout;
  if (!addrs.includes(`${host.address}/`))
    await run(inNs('addr', 'add', `${host.address}/${PREFIX_LEN}`, 'dev', 'eth0'));
  await run(inNs('link', 'set', 'lo', 'up'));
  await run(inNs('link', 'set', 'eth0', 'up'));
  await run(inNs('route', 'replace', 'default', 'via', GATEWAY_IP));
}

export async function netnsPids(host: LabHost): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', host.netns], { allowFailure: true });
  if (r.code !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

export async function removeHostNetwork(host: LabHost): Promise<void> {
  if (await ok(['ip', 'link', 'show', vethName(host)]))
    await run(['ip', 'link', 'del', vethName(host)]);
  const listed = (await run(['ip', 'netns', 'list'], { allowFailure: true })).stdout;
  if (listed.split('\n').some((l) => l.split(' ')[0] === host.netns))
    await run(['ip', 'netns', 'del', host.netns]);
}

export async function removeBridge(): Promise<void> {
  while (await ok(['iptables', '-C', ...forwardRule]))
    await run(['iptables', '-D', ...forwardRule]);
  if (await ok(['ip', 'link', 'show', BRIDGE])) await run(['ip', 'link', 'del', BRIDGE]);
}

export async function bridgePresent(): Promise<boolean> {
  return ok(['ip', 'link', 'show', BRIDGE]);
}
