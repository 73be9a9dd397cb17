/**
 * A monitor's timing as given (no Temporal): a bad --cron, --timezone or --every is one error naming
 * its field, before anything is stored or a schedule made.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scheduleOf } from '../../src/client/monitors.js';
import { isAppError } from '../../src/errors.js';

const refused = (request: Parameters<typeof scheduleOf>[0], field: string) =>
  assert.throws(
    () => scheduleOf(request),
    (err: unknown) => isAppError(err, 'invalid_request') && (err as { field?: string }).field === field,
  );

describe('monitor timing', () => {
  it('refuses a bad cron, an unknown time zone and an interval under 1 minute, naming the field', () => {
    refused({ cron: 'every monday' }, 'cron');
    refused({ cron: '* * *' }, 'cron');
    refused({ cron: '0 * * * *', timezone: 'Mars/Olympus' }, 'timezone');
    refused({ every: '30s' }, 'every');
    refused({ every: 'soon' }, 'every');
    assert.deepEqual(scheduleOf({ cron: ' 0 */6 * * * ', timezone: 'Europe/Paris' }), {
      cron: '0 */6 * * *',
      timezone: 'Europe/Paris',
      catchupWindow: '1h',
    });
    assert.equal(scheduleOf({ cron: '@hourly' }).cron, '@hourly');
  });
});
