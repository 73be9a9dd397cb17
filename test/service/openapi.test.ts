/** The OpenAPI document names what the service accepts and answers on the page-workflow design. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openApiDocument } from '../../src/service/openapi.js';
import { readFileSync } from 'node:fs';
import { ROUTES } from '../../src/service/routes.js';
import { batchProgressSchema } from '../../src/batch/progress.js';
import { EVENT_TYPES } from '../../src/events/types.js';

interface Schema {
  properties?: Record<string, Schema & { enum?: string[]; $ref?: string }>;
  required?: string[];
}

describe('OpenAPI document', () => {
  const doc = openApiDocument(ROUTES) as unknown as {
    info: { version: string };
    components: { schemas: Record<string, Schema> };
    paths: Record<
      string,
      { post?: { requestBody?: { content: Record<string, { schema: { $ref: string } }> } } }
    >;
  };

  it('lists every pause reason, the credit cap and the pages in the progress', () => {
    const progress = doc.components.schemas.BatchProgress?.properties ?? {};
    assert.deepEqual(progress.pauseReason?.enum, ['auth', 'balance', 'manual', 'outage', 'budget']);
    assert.ok(progress.maxCredits);
    assert.ok(progress.pages?.properties?.running);
  });

  it('shows the progress schema the clients answer with, every field of it', () => {
    const progress = doc.components.schemas.BatchProgress;
    assert.deepEqual(Object.keys(progress?.properties ?? {}), Object.keys(batchProgressSchema.shape));
    assert.ok(progress?.properties?.continuedAsNew);
    assert.ok(progress?.required?.includes('continuedAsNew'));
    assert.ok(!progress?.required?.includes('failure'));
  });

  it("carries the package's version", () => {
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    assert.equal(doc.info.version, manifest.version);
  });

  it('documents the resume body {maxCredits}', () => {
    const body = doc.paths['/v1/batches/{batchId}/resume']?.post?.requestBody;
    assert.equal(body?.content['application/json']?.schema.$ref, '#/components/schemas/Resume');
    assert.ok(doc.components.schemas.Resume?.properties?.maxCredits);
  });

  it('has the page and budget options in the start body', () => {
    const start = doc.components.schemas.StartBatch?.properties?.options;
    for (const field of ['pageSize', 'pagesInFlight', 'maxCredits'])
      assert.ok(start?.properties?.[field], field);
  });

  it('documents every event type as a webhook whose body is the envelope with that type', () => {
    const webhooks = (
      openApiDocument(ROUTES) as unknown as {
        webhooks: Record<
          string,
          { post: { requestBody: { content: { 'application/json': { schema: Schema } } } } }
        >;
      }
    ).webhooks;
    assert.deepEqual(Object.keys(webhooks), [...EVENT_TYPES]);
    for (const type of EVENT_TYPES) {
      const body = webhooks[type]?.post.requestBody.content['application/json'].schema;
      assert.deepEqual(body?.required, ['id', 'type', 'timestamp', 'sequence', 'data'], type);
      assert.equal((body?.properties?.type as { const?: string } | undefined)?.const, type);
    }
    const page = webhooks['batch.page.completed']?.post.requestBody.content['application/json'].schema;
    assert.ok(page?.properties?.data?.properties?.failures, 'the page event lists its failures');
  });
});
