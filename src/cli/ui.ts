// Links into the Temporal Web UI of the server the CLI is connected to: TEMPORAL_UI_URL
// when set; else the embedded server's own UI when that is the server (it records its
// ports when it starts); else Temporal Cloud's UI for a Cloud address; else a dev
// server's convention, the Web UI on the gRPC port + 1000 of the same host (what
// `temporal server start-dev` and `api7-ha server` do unless told otherwise).
import type { Client } from '@temporalio/client';
import { connectConfig } from '../temporal/connection';
import { defaultUiPort, readEmbeddedServer, type EmbeddedServer } from '../temporal/server';

const GRPC_DEFAULT_PORT = 7233;
const CLOUD_UI = 'https://cloud.temporal.io';
const CLOUD_ADDRESS = /\.(tmprl\.cloud|api\.temporal\.io)$/i;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/** host and port of a `host:port` address (IPv6 in brackets), the port defaulting to gRPC's. */
function split(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(address.trim());
  if (!m) return { host: address, port: GRPC_DEFAULT_PORT };
  return { host: (m[1] ?? m[2])!.toLowerCase(), port: m[3] ? Number(m[3]) : GRPC_DEFAULT_PORT };
}

/** Whether two addresses reach the same server (all loopback names are one host). */
export function sameServer(a: string, b: string): boolean {
  const x = split(a);
  const y = split(b);
  const host = (h: string) => (LOOPBACK.has(h) ? 'loopback' : h);
  return x.port === y.port && host(x.host) === host(y.host);
}

/** Pure: the base URL of the Web UI that shows the runs of the server at `address`. */
export function uiBaseFor(
  address: string,
  known: { explicit?: string; embedded?: Pick<EmbeddedServer, 'address' | 'ui'> } = {},
): string {
  if (known.explicit) return known.explicit.replace(/\/+$/, '');
  if (known.embedded && sameServer(known.embedded.address, address)) return known.embedded.ui;
  const { host, port } = split(address);
  if (CLOUD_ADDRESS.test(host)) return CLOUD_UI;
  return `http://${host.includes(':') ? `[${host}]` : host}:${defaultUiPort(port)}`;
}

/** The Web UI of the server the CLI's connection settings point at. */
export function uiBase(): string {
  return uiBaseFor(connectConfig().connectionOptions.address, {
    explicit: process.env.TEMPORAL_UI_URL,
    embedded: readEmbeddedServer(),
  });
}

export function uiUrl(client: Client, workflowId: string, runId?: string): string {
  const ns = encodeURIComponent(client.options.namespace);
  return `${uiBase()}/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
}
