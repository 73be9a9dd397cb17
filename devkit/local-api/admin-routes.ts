/**
 * The admin endpoints, under `/admin`, guarded by `Authorization: Bearer <adminToken>` (checked in
 * server.ts; without a configured token they do not exist and answer 404):
 * - `GET /admin/counters`, `POST /admin/counters/reset`
 * - `GET /admin/faults`; `POST /admin/faults` adds rules (a rule, an array of rules, or `{ rules }`),
 *   `PUT /admin/faults` or `POST /admin/faults?replace=true` replaces them all; `DELETE /admin/faults`
 *   removes all, `DELETE /admin/faults/:id` one
 * - `POST /admin/balance` with `{ account, balance }` sets a balance, `{ account, add }` tops it up
 *   (never below what requests in flight hold: billing.ts)
 * - `GET /admin/accounts`: ids, balances, concurrency and slots in use, never keys
 * - `GET /admin/charges`: the charge ledger, one entry per charge kept (charges.ts); `?account=` and
 *   `?keyPrefix=` (an `Idempotency-Key` prefix, e.g. one batch's) narrow it
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError, badRequest, firstIssue } from './api-error.js';
import { setBalance } from './billing.js';
import { faultRuleSchema, type FaultRuleSpec } from './faults.js';
import type { LocalApiState } from './state.js';

const balanceSchema = z.union([
  z.object({ account: z.string().min(1), balance: z.number().int().min(0) }).strict(),
  z.object({ account: z.string().min(1), add: z.number().int() }).strict(),
]);

function parseWith<T>(schema: z.ZodType<T>, value: unknown, prefix = ''): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const { field, message } = firstIssue(parsed.error, prefix);
  throw badRequest(field, message);
}

/** A rule, an array of rules, or `{ rules: [...] }`. */
function parseRules(body: unknown): FaultRuleSpec[] {
  if (Array.isArray(body)) return parseWith(z.array(faultRuleSchema), body);
  if (typeof body === 'object' && body !== null && 'rules' in body)
    return parseWith(z.object({ rules: z.array(faultRuleSchema) }).strict(), body).rules;
  return [parseWith(faultRuleSchema, body)];
}

export function registerAdminRoutes(app: FastifyInstance, state: LocalApiState): void {
  const { accounts, charges, counters, faults } = state;

  app.get('/admin/counters', () => counters.snapshot());

  app.post('/admin/counters/reset', () => {
    counters.reset();
    charges.reset();
    return counters.snapshot();
  });

  app.get<{ Querystring: { account?: string; keyPrefix?: string } }>('/admin/charges', (request) => {
    const { account, keyPrefix } = parseWith(
      z.object({ account: z.string().min(1).optional(), keyPrefix: z.string().min(1).optional() }).strict(),
      request.query,
    );
    return {
      charges: charges.list({
        ...(account !== undefined ? { account } : {}),
        ...(keyPrefix !== undefined ? { keyPrefix } : {}),
      }),
    };
  });

  app.get('/admin/accounts', () => ({ accounts: accounts.list() }));

  app.post('/admin/balance', (request) => {
    const body = parseWith(balanceSchema, request.body);
    const account = accounts.byId(body.account);
    if (!account) throw new ApiError(404, 'not_found', `no account ${body.account}`, { field: 'account' });
    setBalance(account, 'balance' in body ? body.balance : account.balance + body.add);
    return accounts.list().find((a) => a.id === account.id);
  });

  app.get('/admin/faults', () => ({ rules: faults.list() }));

  const store = (rules: FaultRuleSpec[], replace: boolean) => {
    try {
      const added = replace ? faults.replace(rules) : faults.add(rules);
      return { added, rules: faults.list() };
    } catch (err) {
      throw badRequest('id', (err as Error).message);
    }
  };

  app.post<{ Querystring: { replace?: string } }>('/admin/faults', (request) =>
    store(parseRules(request.body), request.query.replace === 'true'),
  );

  app.put('/admin/faults', (request) => store(parseRules(request.body), true));

  app.delete('/admin/faults', () => ({ removed: faults.remove() }));

  app.delete<{ Params: { id: string } }>('/admin/faults/:id', (request) => {
    const removed = faults.remove(request.params.id);
    if (removed === 0) throw new ApiError(404, 'not_found', `no fault rule ${request.params.id}`);
    return { removed };
  });
}
