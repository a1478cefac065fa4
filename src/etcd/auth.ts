// Turning on etcd authentication on a running cluster, the way etcd documents it: a
// user named root with the root role, then `auth enable` — one raft proposal that every
// member applies. It needs quorum, which is why it runs after the members are up and
// not, as the bitnami image's ETCD_ROOT_PASSWORD does, inside each member at its first
// start (a lone member of a new 3-member cluster cannot commit anything).
import { EtcdAuthenticationFailedError, EtcdUserExistsError } from 'etcd3';
import { etcdClient, type EtcdAccess } from './client';

export type AuthOutcome = 'already-on' | 'enabled';

/** Raised when retrying cannot help; the message names what the operator must fix. */
export class EtcdAuthError extends Error {
  override name = 'EtcdAuthError';
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** True when auth is on and the user and password are accepted (and hold the root role). */
async function acceptsCredentials(access: EtcdAccess): Promise<boolean> {
  const auth = access.auth!;
  const c = etcdClient(access);
  try {
    const roles = await c.user(auth.username).roles();
    if (!roles.some((r) => r.name === 'root'))
      throw new EtcdAuthError(
        `etcd user ${auth.username} lacks the root role, which the dashboards and drills need`,
      );
    return true;
  } catch (e) {
    if (e instanceof EtcdAuthError) throw e;
    if (/authentication is not enabled/.test(message(e))) return false;
    if (e instanceof EtcdAuthenticationFailedError)
      throw new EtcdAuthError(
        `etcd has authentication on but refuses user ${auth.username} with the password from etcd.auth.password`,
      );
    throw e;
  } finally {
    c.close();
  }
}

export async function ensureEtcdAuth(access: EtcdAccess): Promise<AuthOutcome> {
  const auth = access.auth;
  if (!auth) throw new Error('ensureEtcdAuth needs a user and password');
  if (await acceptsCredentials(access)) return 'already-on';
  if (auth.username !== 'root')
    throw new EtcdAuthError(
      `etcd authentication is off; api7-ha turns it on only with the user root (etcd.auth.username is ${auth.username})`,
    );
  // Auth is off: anyone who can connect (with TLS: anyone with a client certificate of
  // the CA) may do this. Each call is idempotent, so a retry after a crash is safe.
  const c = etcdClient(access, access.endpoints, { withAuth: false });
  try {
    const root = c.user('root');
    await root.create(auth.password).catch(async (e: unknown) => {
      if (!(e instanceof EtcdUserExistsError)) throw e;
      await root.setPassword(auth.password);
    });
    await root.addRole('root'); // granting a granted role is a no-op in etcd
    await c.auth.authEnable();
  } finally {
    c.close();
  }
  if (!(await acceptsCredentials(access)))
    throw new Error('etcd still reports authentication off after auth enable');
  return 'enabled';
}
