/**
 * `scrapeflow webhooks` as a user runs it (filesystem store): add prints the id and the secret once,
 * list shows a prefix and why an endpoint is disabled, test sends a signed ping, deliveries shows each
 * attempt, redeliver, rotate-secret, remove; a mistake is one line naming the flag or the URL's fault.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { FsWebhookStore } from '../../src/webhooks/fs-store.js';
import { runCli } from '../support/cli.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

let dir: string;
let receiver: WebhookReceiver;
let stack: { temporal: { address: string }; dataDir: string };
const env = { SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' };
const cli = (...args: string[]) => runCli(stack, ['webhooks', ...args], { env });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webhooks-cli-'));
  stack = { temporal: { address: '127.0.0.1:1' }, dataDir: dir };
  receiver = await startWebhookReceiver();
});
after(async () => {
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('scrapeflow webhooks', () => {
  it('add, list, test, disable, enable, deliveries, redeliver, rotate-secret, remove', async () => {
    const added = await cli(
      'add',
      receiver.url,
      '--allow-http',
      '--events',
      'batch.*',
      '--account',
      'default',
      '--json',
    );
    assert.equal(added.code, 0, added.stderr);
    const endpoint = JSON.parse(added.stdout) as { id: string; secret: string; events: string[] };
    assert.match(endpoint.id, /^ep_[0-9a-f]{16}$/);
    assert.match(endpoint.secret, /^whsec_/);
    assert.deepEqual(endpoint.events, ['batch.*']);

    const listed = await cli('list');
    assert.match(
      listed.stdout,
      new RegExp(`^${endpoint.id} +enabled +default +batch\\.\\* +http://127\\.0\\.0\\.1`, 'm'),
    );
    assert.ok(!listed.stdout.includes(endpoint.secret.slice(10)), 'a prefix only');

    const ping = await cli('test', endpoint.id);
    assert.equal(ping.code, 0, ping.stderr);
    assert.match(ping.stdout, /^HTTP 204 in \d+ ms/);
    const [req] = receiver.accepted;
    assert.equal(
      (
        new Webhook(endpoint.secret).verify(req!.body, req!.headers as Record<string, string>) as {
          type: string;
        }
      ).type,
      'ping',
    );

    assert.equal((await cli('disable', endpoint.id)).code, 0);
    assert.match((await cli('list')).stdout, /DISABLED \(manual /);
    assert.equal((await cli('enable', endpoint.id)).code, 0);

    await new FsWebhookStore(dir).record(
      [
        {
          id: 'b1.completed',
          type: 'batch.completed',
          account: 'default',
          subject: 'b1',
          data: { batchId: 'b1' },
        },
      ],
      new Date(),
    );
    const deliveries = await cli('deliveries', '--status', 'pending', '--json');
    assert.equal(deliveries.code, 0, deliveries.stderr);
    const [delivery] = deliveries.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { eventId: string; endpointId: string });
    assert.deepEqual([delivery?.eventId, delivery?.endpointId], ['b1.completed', endpoint.id]);
    const redelivered = await cli('redeliver', 'b1.completed', '--json');
    assert.deepEqual(JSON.parse(redelivered.stdout), { eventId: 'b1.completed', endpoints: [endpoint.id] });

    const rotated = await cli('rotate-secret', endpoint.id, '--grace', '1h');
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /the old one signs too until/);
    const ping2 = await cli('test', endpoint.id);
    assert.equal(ping2.code, 0);
    assert.equal(String(receiver.accepted[1]?.headers['webhook-signature']).split(' ').length, 2);

    assert.equal((await cli('remove', endpoint.id)).code, 0);
    const gone = await cli('remove', endpoint.id);
    assert.equal(gone.code, 4);
    assert.match(gone.stderr, /no webhook endpoint "ep_[0-9a-f]+": see `scrapeflow webhooks list`/);
  });

  it('a mistake is one line naming what is wrong, exit 2', async () => {
    for (const [args, message] of [
      [['add', 'http://example.com/hook'], /url: must be https/],
      [
        ['add', 'https://169.254.169.254/'],
        /url: 169\.254\.169\.254 resolves to 169\.254\.169\.254, a loopback, private/,
      ],
      [['add', 'https://example.com/', '--events', 'nope.*'], /events: "nope\.\*" is no event type/],
      [['rotate-secret', 'ep_0000000000000000', '--grace', 'soon'], /--grace must look like/],
      [['deliveries', '--status', 'lost'], /--status must be one of pending, delivered, failed/],
    ] as const) {
      const run = await runCli(stack, ['webhooks', ...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    }
  });
});
