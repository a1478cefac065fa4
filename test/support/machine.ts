// What the lab could leave behind on this machine: links, namespaces, iptables rules,
// mounts and lab-like processes. Compared before `lab up` and after `lab down`.
import { readdirSync, readFileSync } from 'node:fs';
import { isAlive, run } from '../../src/util/exec';

export interface MachineSnapshot {
  links: string[];
  netns: string[];
  iptables: string[];
  mounts: string[];
  processes: string[];
}

const LAB_PROCESSES = /^(dockerd|containerd|containerd-shim.*|sshd|haproxy|etcd|docker-proxy)$/;

function labProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      // A killed process may linger as a zombie until PID 1 reaps it: it holds nothing.
      if (!isAlive(Number(pid))) continue;
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (LAB_PROCESSES.test(comm) || cmd.includes('standins/echo.js')) out.push(`${comm}: ${cmd}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return out.sort();
}

export async function machineSnapshot(): Promise<MachineSnapshot> {
  const lines = async (argv: string[]) =>
    (await run(argv, { allowFailure: true })).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  return {
    links: (await lines(['ip', '-o', 'link', 'show']))
      .map((l) => l.split(':')[1]!.trim().split('@')[0]!)
      .sort(),
    netns: (await lines(['ip', 'netns', 'list'])).sort(),
    iptables: [
      ...(await lines(['iptables', '-S'])),
      ...(await lines(['iptables', '-t', 'nat', '-S'])),
    ].sort(),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[4]!)
      .sort(),
    processes: labProcesses(),
  };
}

if (require.main === module) machineSnapshot().then((s) => console.log(JSON.stringify(s, null, 2)));
