// Links into the Temporal Web UI (the embedded server's by default; TEMPORAL_UI_URL otherwise).
import type { Client } from '@temporalio/client';

export function uiBase(): string {
  return process.env.TEMPORAL_UI_URL ?? 'http://localhost:8233';
}

export function uiUrl(client: Client, workflowId: string, runId?: string): string {
  const ns = encodeURIComponent(client.options.namespace);
  return `${uiBase()}/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
}
