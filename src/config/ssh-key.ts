// An SSH private key reference is checked for what it must hold before any host is
// touched: a key ssh2 can parse, private, and not encrypted (api7-ha takes no
// passphrase). The message names the field and the reference, never the key.
import { utils } from 'ssh2';
import type { Inventory, JumpHost } from './inventory';
import { resolveSecret, SecretError } from './secrets';

/** Every SSH key reference of an inventory, with its field (jump hosts' included). */
export function sshKeyRefs(inv: Inventory): Array<[string, string]> {
  const jumpKeys = (field: string, hops: JumpHost[] = []) =>
    hops.flatMap((hop, i): Array<[string, string]> =>
      hop.privateKey ? [[`${field}[${i}].privateKey`, hop.privateKey]] : [],
    );
  return [
    ['ssh.privateKey', inv.ssh.privateKey],
    ...jumpKeys('ssh.jump', inv.ssh.jump),
    ...inv.hosts.flatMap((h, i): Array<[string, string]> => [
      ...(h.ssh?.privateKey
        ? [[`hosts[${i}].ssh.privateKey`, h.ssh.privateKey] as [string, string]]
        : []),
      ...jumpKeys(`hosts[${i}].ssh.jump`, h.ssh?.jump),
    ]),
  ];
}

/** Why the key behind `ref` cannot log in, or undefined when it can. */
export function checkSshKey(ref: string, field: string, baseDir: string): string | undefined {
  let text: string;
  try {
    text = resolveSecret(ref, field, baseDir);
  } catch (e) {
    return e instanceof SecretError ? e.message : `${field}: cannot be read`;
  }
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error)
    return /encrypted/i.test(parsed.message)
      ? `${field} (${ref}) is encrypted; api7-ha takes no passphrase — use an unencrypted key kept readable only by the operator`
      : `${field} (${ref}) is not an SSH private key that can be parsed (OpenSSH, PEM or PuTTY format)`;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) return `${field} (${ref}) is a public key; it must be the private key`;
  return undefined;
}
