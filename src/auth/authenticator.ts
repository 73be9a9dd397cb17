/**
 * From an `Authorization: Bearer <token>` header to the principal it acts as: SCRAPEFLOW_API_TOKEN (an
 * admin, compared in constant time) or a token of the token store (found by its hash). The HTTP
 * service and the codec server share it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ENV_ADMIN, type Principal } from './principal.js';
import { hashToken, type TokenStore } from './tokens.js';

/** Shortest SCRAPEFLOW_API_TOKEN the service accepts. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;
/** A token's last use is written at most this often, so a storm of requests is not a storm of writes. */
export const LAST_USED_EVERY_MS = 60_000;

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

export interface AuthenticatorOptions {
  /** SCRAPEFLOW_API_TOKEN: an admin token. */
  adminToken?: string | undefined;
  /** The tokens `scrapeflow tokens create` made. */
  tokens?: TokenStore | undefined;
  /** Told when recording a token's last use failed (the request goes on). */
  onTouchError?: (err: unknown) => void;
}

export class Authenticator {
  private readonly admin: Buffer | undefined;
  private readonly touched = new Map<string, number>();

  constructor(private readonly options: AuthenticatorOptions) {
    this.admin = options.adminToken ? digest(options.adminToken) : undefined;
  }

  /** The principal of the header's token, or undefined for no token or an unknown one. */
  async principalOf(header: string | undefined): Promise<Principal | undefined> {
    const given = /^Bearer ([^\s]+)\s*$/i.exec(header ?? '')?.[1];
    if (given === undefined) return undefined;
    if (this.admin && timingSafeEqual(digest(given), this.admin)) return ENV_ADMIN;
    const record = await this.options.tokens?.find(hashToken(given));
    if (!record) return undefined;
    this.touch(record.name);
    return { name: record.name, admin: record.admin, accounts: record.accounts };
  }

  private touch(name: string): void {
    const now = Date.now();
    if (now - (this.touched.get(name) ?? 0) < LAST_USED_EVERY_MS) return;
    this.touched.set(name, now);
    this.options.tokens?.touch(name, new Date(now)).catch((err: unknown) => this.options.onTouchError?.(err));
  }
}
