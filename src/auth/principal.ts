/**
 * Who a request acts as, and what it may act on. A principal is an admin token (every account) or a
 * token scoped to account labels; every batch (and, later, every webhook endpoint and monitor) belongs
 * to one account, and `canAct` is the one rule for all of them: a scoped token acts on its accounts'
 * things only, and another account's are answered as not found.
 */
import { DEFAULT_ACCOUNT } from '../config/accounts.js';

export interface Principal {
  /** The token's name (`SCRAPEFLOW_API_TOKEN` for the environment's admin token). */
  name: string;
  /** Acts on every account. */
  admin: boolean;
  /** The account labels a scoped token acts on (empty for an admin token). */
  accounts: readonly string[];
}

/** The principal of SCRAPEFLOW_API_TOKEN. */
export const ENV_ADMIN: Principal = { name: 'SCRAPEFLOW_API_TOKEN', admin: true, accounts: [] };

/** Whether `principal` may act on what belongs to `account` (a thing with no recorded account is `default`'s). */
export function canAct(principal: Principal, account: string | undefined): boolean {
  return principal.admin || principal.accounts.includes(account ?? DEFAULT_ACCOUNT);
}

/** The accounts a listing is narrowed to: undefined (every one) for an admin. */
export function accountsOf(principal: Principal): readonly string[] | undefined {
  return principal.admin ? undefined : principal.accounts;
}
