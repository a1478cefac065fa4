// Connection settings the Temporal way (@temporalio/envconfig): TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS variables and temporal.toml profiles
// (TEMPORAL_PROFILE). With none set, the embedded dev server on localhost:7233.
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { dataConverter } from './codec';

export const DEFAULT_ADDRESS = 'localhost:7233';

export function connectConfig() {
  const { connectionOptions, namespace } = loadClientConnectConfig({
    profile: process.env.TEMPORAL_PROFILE,
  });
  return {
    connectionOptions: {
      ...connectionOptions,
      address: connectionOptions.address ?? DEFAULT_ADDRESS,
    },
    namespace: namespace ?? 'default',
  };
}

export async function connectClient(): Promise<Client> {
  const { connectionOptions, namespace } = connectConfig();
  const converter = dataConverter(); // no key: a clear error before anything is sent
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions, connectTimeout: '5s' });
  } catch {
    throw new Error(
      `cannot reach the Temporal server at ${connectionOptions.address}: start the embedded one with \`api7-ha server --detach\`, or point TEMPORAL_ADDRESS (or a temporal.toml profile) at yours`,
    );
  }
  return new Client({ connection, namespace, dataConverter: converter });
}

export async function connectWorkerConnection(): Promise<{
  connection: NativeConnection;
  namespace: string;
}> {
  const { connectionOptions, namespace } = connectConfig();
  return { connection: await NativeConnection.connect(connectionOptions), namespace };
}

let shared: Promise<Client> | undefined;

/** One client per worker process, made on first use (activities' lookups of other runs). */
export function sharedClient(): Promise<Client> {
  shared ??= connectClient();
  return shared;
}
