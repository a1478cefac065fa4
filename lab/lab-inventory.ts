// The lab writes an inventory in exactly the format operators write for real hosts.
import { stringify } from 'yaml';
import type { InventoryInput } from '../src/config/inventory';
import {
  CONTROL_PLANE_LB_PORT,
  DATA_PLANE_LB_PORT,
  ECHO_PORT,
  GATEWAY_IP,
  LAB_BASTION,
  type LabHost,
} from './layout';

export interface LabArtifactRefs {
  controlPlaneBundle: { path: string; sha256: string };
  dataPlaneBundle: { path: string; sha256: string };
  etcdImageTarball: { path: string; sha256: string };
  etcdImage: string;
  dashboardImage: string;
  gatewayImage: string;
}

export function labInventory(opts: {
  hosts: LabHost[];
  hostKeyFingerprints: Record<string, string>;
  artifacts: LabArtifactRefs;
}): InventoryInput {
  return {
    apiVersion: 'api7-ha/v1',
    cluster: 'lab',
    ssh: {
      user: 'root',
      port: 22,
      // Paths are relative to this file.
      privateKey: 'file:ssh/id_ed25519',
      knownHosts: 'ssh/known_hosts',
    },
    hosts: opts.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      roles: h.roles,
      ssh: {
        // The host with a non-root login: sudo for exactly `api7-ha hosts sudoers` (lab/sudo-host.ts).
        ...(h.sudoUser ? { user: h.sudoUser, sudo: true } : {}),
        hostKey: opts.hostKeyFingerprints[h.name],
        // Its packet filter lets SSH in from the bastion only (lab/network.ts).
        ...(h.behindBastion
          ? {
              jump: [
                {
                  name: LAB_BASTION.name,
                  address: LAB_BASTION.address,
                  hostKey: opts.hostKeyFingerprints[LAB_BASTION.name],
                },
              ],
            }
          : {}),
      },
    })),
    etcd: {
      image: opts.artifacts.etcdImage,
      imageTarball: opts.artifacts.etcdImageTarball,
      // Secure by default: etcd auth and mutual TLS with the lab's own CA (lab/pki.ts).
      auth: { enabled: true, username: 'root', password: 'file:secrets/etcd-root-password' },
      tls: {
        ca: 'pki/ca.crt',
        memberCert: 'pki/{host}.crt',
        memberKey: 'file:pki/{host}.key',
        clientCert: 'pki/client.crt',
        clientKey: 'file:pki/client.key',
      },
    },
    dashboard: {
      bundle: opts.artifacts.controlPlaneBundle,
      image: opts.artifacts.dashboardImage,
      password: 'file:secrets/dashboard-password',
      tokenSecret: 'file:secrets/dashboard-token-secret',
    },
    gateway: {
      bundle: opts.artifacts.dataPlaneBundle,
      image: opts.artifacts.gatewayImage,
    },
    loadBalancers: {
      controlPlane: `http://${GATEWAY_IP}:${CONTROL_PLANE_LB_PORT}`,
      dataPlane: `http://${GATEWAY_IP}:${DATA_PLANE_LB_PORT}`,
    },
    smokeTest: { host: 'test.com', uri: '/get', upstream: [`${GATEWAY_IP}:${ECHO_PORT}`] },
  };
}

export function renderLabInventory(inv: InventoryInput): string {
  return `# Written by \`api7-ha lab up\` for the lab on this machine; the format is the one in docs/inventory.md.\n${stringify(inv)}`;
}
