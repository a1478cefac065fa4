// HS256 JSON Web Tokens, as manager-api issues them: every dashboard that shares
// authentication.secret accepts the others' tokens, so a load balancer may send a
// logged-in client to any of them.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  iat: number;
  exp: number;
}

const base64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

function signature(secret: string, signingInput: string): Buffer {
  return createHmac('sha256', secret).update(signingInput).digest();
}

export function signToken(
  secret: string,
  username: string,
  ttlSeconds: number,
  now = Date.now(),
): string {
  const iat = Math.floor(now / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ sub: username, iat, exp: iat + ttlSeconds }));
  const input = `${header}.${payload}`;
  return `${input}.${base64url(signature(secret, input))}`;
}

/** The claims of a valid, unexpired token; undefined for anything else. */
export function verifyToken(
  secret: string,
  token: string,
  now = Date.now(),
): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, sig] = parts as [string, string, string];
  try {
    const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string };
    // Only HS256: never let a token choose "none" or another algorithm.
    if (head.alg !== 'HS256') return undefined;
    const expected = signature(secret, `${header}.${payload}`);
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const claims = JSON.parse(
      Buffer.from(payload, 'base64url').toString('utf8'),
    ) as Partial<TokenClaims>;
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return undefined;
    if (claims.exp * 1000 <= now) return undefined;
    return { sub: claims.sub, iat: claims.iat ?? 0, exp: claims.exp };
  } catch {
    return undefined;
  }
}
