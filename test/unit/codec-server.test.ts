// The codec server the Web UI decodes payloads with: the Temporal protocol, and CORS that
// lets exactly the UI's origins call it. Also how the embedded dev server is pointed at it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCodecServer } from '../../src/cli/codec';
import { EncryptionCodec, newKeyLine, parseCodecKeys } from '../../src/temporal/codec';
import { devServerArgv, uiOrigins } from '../../src/temporal/server';

const keys = parseCodecKeys(newKeyLine('k1'), 'test');
const UI = 'http://localhost:8233';

describe('codec server', () => {
  let server: http.Server;
  let url: string;
  before(async () => {
    server = await startCodecServer({ host: '127.0.0.1', port: 0, origins: uiOrigins(), keys });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((r) => server.close(r)));

  it('decodes what the codec encrypted, for the UI and for clients without an origin', async () => {
    const [enc] = await new EncryptionCodec(keys).encode([
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"ha4: gateway"') },
    ]);
    const body = JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(enc!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
          ),
          data: Buffer.from(enc!.data!).toString('base64'),
        },
      ],
    });
    for (const headers of [{ origin: UI }, {}] as Array<Record<string, string>>) {
      const r = await fetch(`${url}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      assert.equal(r.status, 200);
      const { payloads } = (await r.json()) as { payloads: Array<{ data: string }> };
      assert.equal(Buffer.from(payloads[0]!.data, 'base64').toString(), '"ha4: gateway"');
      assert.equal(r.headers.get('access-control-allow-origin'), 'origin' in headers ? UI : null);
    }
  });

  it("answers the UI's preflight, also Chromium's private-network one", async () => {
    for (const origin of [UI, 'http://127.0.0.1:8233']) {
      const r = await fetch(`${url}/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
          'access-control-request-private-network': 'true',
        },
      });
      assert.equal(r.status, 204);
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
      assert.match(r.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
      assert.equal(r.headers.get('access-control-allow-private-network'), 'true');
    }
  });

  it('refuses any other web page', async () => {
    for (const method of ['OPTIONS', 'POST']) {
      const r = await fetch(`${url}/encode`, {
        method,
        headers: { origin: 'http://evil.example' },
        body: method === 'POST' ? '{"payloads":[]}' : undefined,
      });
      assert.equal(r.status, 403, method);
      assert.equal(r.headers.get('access-control-allow-origin'), null);
    }
  });
});

describe('the embedded dev server and its codec server', () => {
  it('points the Web UI at the codec endpoint only when there is one', () => {
    const argv = devServerArgv({ codecEndpoint: 'http://127.0.0.1:8081' });
    assert.equal(argv[argv.indexOf('--ui-codec-endpoint') + 1], 'http://127.0.0.1:8081');
    assert.ok(!devServerArgv({}).includes('--ui-codec-endpoint'));
  });

  it('allows the origins a browser may load the UI from', () => {
    assert.deepEqual(uiOrigins('127.0.0.1', 28233), [
      'http://localhost:28233',
      'http://127.0.0.1:28233',
    ]);
    assert.deepEqual(uiOrigins('10.1.2.3', 8233), [
      'http://localhost:8233',
      'http://127.0.0.1:8233',
      'http://10.1.2.3:8233',
    ]);
  });
});
