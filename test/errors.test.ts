/** The application errors and their one table: what the CLI and the service answer for each code. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toCliError } from '../src/cli/context.js';
import { CliError, ExitCode } from '../src/cli/exit.js';
import {
  BatchEndedError,
  BatchIdTakenError,
  BatchNotFoundError,
  ConfigError,
  InputError,
  isAppError,
  StoreUnavailableError,
  TemporalNotSetUpError,
  ValidationError,
} from '../src/errors.js';
import { httpAnswer, underField } from '../src/service/errors.js';

describe('application errors', () => {
  it('carry their code, name, data fields and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new StoreUnavailableError('no database', {
      target: 'db:5432/x',
      causeCode: 'ECONNREFUSED',
      cause,
    });
    assert.equal(err.code, 'store_unavailable');
    assert.equal(err.name, 'StoreUnavailableError');
    assert.equal(err.message, 'no database');
    assert.equal(err.target, 'db:5432/x');
    assert.equal(err.causeCode, 'ECONNREFUSED');
    assert.equal(err.cause, cause);
    assert.ok(!('cause' in new BatchNotFoundError('no batch "x"')), 'no cause unless given');
    const line = new InputError('is not a URL', 3);
    assert.deepEqual([line.message, line.line], ['line 3: is not a URL', 3]);
    assert.equal(new ConfigError('X: bad').hint, 'fix the environment variable');
    assert.equal(new ValidationError('priority: too big', 'priority').field, 'priority');
  });

  it('are matched on their code, so a copy of the class loaded twice still maps', () => {
    const twin = Object.assign(new Error('no batch "b"'), { code: 'batch_not_found' });
    assert.ok(isAppError(twin));
    assert.ok(isAppError(twin, 'batch_not_found'));
    assert.ok(!isAppError(twin, 'batch_ended'));
    assert.ok(!isAppError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })));
    assert.ok(!isAppError(undefined));
  });
});

describe('ERROR_ANSWERS in the CLI', () => {
  const cli = (err: unknown) => {
    const mapped = toCliError(err);
    return mapped && { line: mapped.message, exit: mapped.exitCode };
  };

  it('gives each code its exit code and the line with what to do next', () => {
    assert.deepEqual(cli(new BatchNotFoundError('no batch "b"')), {
      line: 'no batch "b": check the id with `scrapeflow list`',
      exit: ExitCode.notFound,
    });
    assert.deepEqual(cli(new BatchEndedError('b', 'completed', 'resume')), {
      line: 'batch b has already ended (completed), so it cannot be resumed; see `scrapeflow status b`',
      exit: ExitCode.batchEnded,
    });
    assert.deepEqual(cli(new ConfigError('TEMPORAL_ADDRESS: bad', 'fix the file')), {
      line: 'TEMPORAL_ADDRESS: bad (fix the file)',
      exit: ExitCode.usage,
    });
    assert.deepEqual(cli(new InputError('is not a URL', 2)), {
      line: 'input line 2: is not a URL',
      exit: ExitCode.usage,
    });
    assert.equal(cli(new BatchIdTakenError('b', 'running'))?.exit, ExitCode.batchIdTaken);
    assert.equal(cli(new TemporalNotSetUpError('no namespace', { namespace: 'n', missing: ['n'] }))?.exit, 3);
  });

  it('passes its own CliError through and leaves anything else unmapped', () => {
    const own = new CliError('--port must be a number', ExitCode.usage);
    assert.equal(toCliError(own), own);
    assert.equal(toCliError(new Error('bug')), undefined);
  });
});

describe('ERROR_ANSWERS in the service', () => {
  it('gives each code its status and body fields', () => {
    assert.deepEqual(httpAnswer(new BatchIdTakenError('b', 'completed')), {
      status: 409,
      code: 'batch_id_taken',
      message: new BatchIdTakenError('b', 'completed').message,
      extra: { field: 'batchId', state: 'completed' },
    });
    assert.deepEqual(httpAnswer(new InputError('is not a URL', 2)), {
      status: 400,
      code: 'invalid_input',
      message: 'line 2: is not a URL',
      extra: { field: 'body', line: 2 },
    });
    assert.equal(httpAnswer(new BatchEndedError('b', 'failed', 'pause')).status, 409);
    assert.deepEqual(httpAnswer(new TemporalNotSetUpError('x', { namespace: 'n', missing: ['A'] })).extra, {
      missing: ['A'],
    });
  });

  it('names a field under the part of the request it came from', () => {
    const inner = new ValidationError('retry.upstreamRetries: too big', 'retry.upstreamRetries');
    assert.deepEqual(httpAnswer(underField('options', inner)).extra, {
      field: 'options.retry.upstreamRetries',
    });
    const other = new BatchNotFoundError('no batch "b"');
    assert.equal(underField('options', other), other);
  });

  it('hides what the client cannot act on behind a 500', () => {
    for (const err of [new ConfigError('OMNISCRAPE_KEY: secret detail'), new Error('bug')])
      assert.deepEqual(httpAnswer(err), {
        status: 500,
        code: 'internal_error',
        message: 'internal error (see the service log)',
      });
  });
});
