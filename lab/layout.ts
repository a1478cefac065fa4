// The lab's fixed shape: addresses, names and the guide's role layout. Pure data.
import type { Role } from '../src/config/inventory';

export const BRIDGE = 'halab0';
export const GATEWAY_IP = '10.213.0.1';
export const PREFIX_LEN = 24;
export const NETNS_PREFIX = 'api7ha-';
export const IPTABLES_COMMENT = 'api7-ha-lab';

export const CONTROL_PLANE_LB_PORT = 9000;
export const DATA_PLANE_LB_PORT = 80;
export const HAPROXY_STATS_PORT = 8404;
export const ECHO_PORT = 8080;

/** Directories a real host owns alone; each gets a private bind mount inside the host. */
export const PRIVATE_DIRS = [
  '/root',
  '/home',
  '/run',
  '/tmp',
  '/opt',
  '/var/lib/docker',
  '/var/lib/containerd',
  // key.json here gives each engine its ID; real hosts do not share it.
  '/etc/docker',
  '/usr/local/etcd',
] as const;

/**
 * The last lab host is reached as this user, not root, with password-less sudo for
 * exactly the rules `api7-ha hosts sudoers` prints (inventory `ssh: {user, sudo: true}`).
 */
export const LAB_SUDO_USER = 'api7ops';

export interface LabHost {
  name: string;
  netns: string;
  address: string;
  roles: Role[];
  /** Set on the host api7-ha logs in to as a non-root user with sudo. */
  sudoUser?: string;
  /** Its packet filter refuses SSH from anywhere but the bastion (LAB_BASTION). */
  behindBastion?: boolean;
  /** Only sshd runs there, no Docker engine (the bastion). */
  sshOnly?: boolean;
}

/**
 * The jump host: sshd only, below ha1's address (ha1..ha20 use .11 to .30). The last
 * lab host accepts SSH only from it, so api7-ha reaches that host through it (ssh.jump).
 */
export const LAB_BASTION: LabHost = {
  name: 'bastion1',
  netns: `${NETNS_PREFIX}bastion1`,
  address: '10.213.0.10',
  roles: [],
  sshOnly: true,
};

/**
 * ha1..haN. With 5 hosts this is the vendor guide's layout: ha1, ha2 etcd + dashboard,
 * ha3 etcd, ha4, ha5 gateway. Fewer hosts double up; more add gateways. The last host
 * has the non-root login (LAB_SUDO_USER) and is reached through the bastion.
 */
export function labHosts(count: number): LabHost[] {
  if (!Number.isInteger(count) || count < 3 || count > 20)
    throw new Error('--hosts must be a whole number from 3 to 20');
  const firstGateway = Math.min(3, count - 2);
  return Array.from({ length: count }, (_, i) => {
    const roles: Role[] = [];
    if (i < 3) roles.push('etcd');
    if (i < 2) roles.push('control-plane');
    if (i >= firstGateway) roles.push('data-plane');
    const name = `ha${i + 1}`;
    const host: LabHost = {
      name,
      netns: `${NETNS_PREFIX}${name}`,
      address: `10.213.0.${11 + i}`,
      roles,
    };
    if (i === count - 1) Object.assign(host, { sudoUser: LAB_SUDO_USER, behindBastion: true });
    return host;
  });
}
