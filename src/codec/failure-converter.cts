/**
 * The failure converter used when payloads are encrypted: error messages and stack traces move into an
 * encoded attribute payload, which the codec then encrypts (Temporal's `failureConverterPath` loads it
 * with `require`, hence CommonJS).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded by require(), so CommonJS
import common = require('@temporalio/common');

export = { failureConverter: new common.DefaultFailureConverter({ encodeCommonAttributes: true }) };
