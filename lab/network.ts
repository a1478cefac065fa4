// The lab's network in the root namespace: one bridge, one netns + veth per host, and
// the single iptables rule that lets bridged traffic through once Docker has set FORWARD to DROP.
// A host behind the bastion also filters SSH inside its own namespace.
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

/**
 * Inside `host`'s namespace: SSH is accepted from the bastion only, and refused (TCP
 * reset, so a client fails at once) from everyone else, the machine's bridge address
 * included. Every other port stays open. The rules go with the namespace.
 */
export function sshFilterRules(bastionAddress: string): string[][] {
  const ssh = [
    'INPUT',
    '-p',
    'tcp',
    '--dport',
    '22',
    '-m',
    'comment',
    '--comment',
    IPTABLES_COMMENT,
  ];
  return [
    [...ssh, '-s', bastionAddress, '-j', 'ACCEPT'],
    [...ssh, '-j', 'REJECT', '--reject-with', 'tcp-reset'],
  ];
}

export async function ensureSshOnlyFrom(host: LabHost, bastionAddress: string): Promise<void> {
  const iptables = (...args: string[]) => [
    'nsenter',
    `--net=/var/run/netns/${host.netns}`,
    'iptables',
    ...args,
  ];
  const rules = sshFilterRules(bastionAddress);
  const present = await Promise.all(rules.map((r) => ok(iptables('-C', ...r))));
  if (present.every(Boolean)) return;
  // Start from nothing of ours, so the order (accept first) holds.
  for (const r of rules) while (await ok(iptables('-C', ...r))) await run(iptables('-D', ...r));
  for (const r of rules) await run(iptables('-A', ...r));
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
