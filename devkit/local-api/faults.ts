/**
 * Deterministic fault injection, for tests and benchmarks.
 *
 * A rule matches a request when its endpoint is listed in `endpoints` (default: `scrape` and
 * `async_submit`) and the target URL matches `match`: a glob where `*` stands for any run of characters
 * (the whole URL must match), or a regular expression written `/.../flags`. Rules are tried in order and
 * the first that fires wins; rules after it are not consulted, so their counts do not advance.
 *
 * Whether a matching rule fires:
 * - `first: N`: only for the first N requests that reach the rule (counted per rule);
 * - `fraction: f` (with `seed`, default 0): for a request whose hash of (seed, target URL, how many times
 *   this rule has seen this URL before) falls below f. The same URLs give the same faults whatever the
 *   order they arrive in;
 * - both: both conditions must hold; neither: every matching request.
 *
 * Actions: `status` answers 401, 402, 429 (with `Retry-After`), 500, 502 or 503 as the real errors would
 * be answered (and counted); `success_false` answers HTTP 200 with `success: false` and
 * `error: 'injected_failure'`, charging nothing; `latency` waits `latencyMs` while holding a concurrency
 * slot, then carries on; `hang` holds the request until the client goes away (at most the server's
 * `maxHangMs`, after which the connection is closed without an answer). On `async_submit`, a `status`
 * rule answers the submit itself; the other actions apply to the job, and `success_false` makes it end
 * `failed`. On `async_poll` (matched against the job's URL), `success_false` is not allowed.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Endpoint } from './counters.js';

export const FAULT_STATUSES = [401, 402, 429, 500, 502, 503] as const;
export const FAULT_ACTIONS = ['status', 'success_false', 'latency', 'hang'] as const;
export const ENDPOINTS = ['scrape', 'async_submit', 'async_poll'] as const;

/** `/body/flags` as a RegExp, or undefined when the pattern is a glob. */
function regexOf(pattern: string): RegExp | undefined {
  const m = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  return m ? new RegExp(m[1] ?? '', m[2]) : undefined;
}

/** A predicate on target URLs for a glob (`*` = any characters) or `/regex/flags` pattern. */
export function compileMatcher(pattern: string): (url: string) => boolean {
  const regex = regexOf(pattern);
  if (regex) return (url) => regex.test(url);
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const glob = new RegExp(`^${body}$`, 's');
  return (url) => glob.test(url);
}

export const faultRuleSchema = z
  .object({
    id: z.string().min(1).max(200).optional(),
    match: z
      .string()
      .min(1)
      .max(2000)
      .refine((p) => {
        try {
          regexOf(p);
          return true;
        } catch {
          return false;
        }
      }, 'is not a valid /regular expression/'),
    action: z.enum(FAULT_ACTIONS),
    status: z.literal(FAULT_STATUSES).optional(),
    /** Retry-After of a forced 429, in seconds. @default the server's retryAfterSec */
    retryAfterSec: z.number().int().min(0).max(3600).optional(),
    /** Delay of a `latency` rule, in ms. */
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    /** Fire only for the first N matching requests. */
    first: z.number().int().min(0).optional(),
    /** Fire for this deterministic fraction of matching requests. */
    fraction: z.number().min(0).max(1).optional(),
    /** Seed of the `fraction` hash. @default 0 */
    seed: z.number().int().default(0),
    /** @default ['scrape', 'async_submit'] */
    endpoints: z.array(z.enum(ENDPOINTS)).min(1).default(['scrape', 'async_submit']),
    /**
     * A 429 rule's Retry-After is enforced: once the rule answered a URL 429, every request for that URL
     * until `retryAfterSec` has passed is answered 429 too (an API whose rate limiter holds a client to
     * its Retry-After), so a client that retries at once gains nothing. Off: each request is a fresh draw.
     */
    holdRetryAfter: z.boolean().optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.action === 'status' && rule.status === undefined)
      ctx.addIssue({ code: 'custom', path: ['status'], message: 'is required when action is status' });
    if (rule.holdRetryAfter && (rule.status !== 429 || rule.retryAfterSec === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['holdRetryAfter'],
        message: 'needs action status with status 429 and retryAfterSec',
      });
    if (rule.action === 'latency' && rule.latencyMs === undefined)
      ctx.addIssue({ code: 'custom', path: ['latencyMs'], message: 'is required when action is latency' });
    if (rule.action === 'success_false' && rule.endpoints.includes('async_poll'))
      ctx.addIssue({
        code: 'custom',
        path: ['endpoints'],
        message: 'success_false cannot apply to async_poll',
      });
  });

export type FaultRuleInput = z.input<typeof faultRuleSchema>;
export type FaultRuleSpec = z.output<typeof faultRuleSchema>;
export type FaultRule = FaultRuleSpec & { id: string };

/** A rule as the admin endpoint lists it, with its counts. */
/** `held`: requests answered 429 again because they came within a `holdRetryAfter` rule's Retry-After. */
export type FaultRuleView = FaultRule & { matched: number; fired: number; held: number };

/** A number in [0, 1) from (seed, url, n), the same on every run. */
export function fractionHash(seed: number, url: string, n: number): number {
  const digest = createHash('sha256').update(`${seed}\n${url}\n${n}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

interface RuleState {
  rule: FaultRule;
  test: (url: string) => boolean;
  matched: number;
  fired: number;
  held: number;
  seen: Map<string, number>;
  /** `holdRetryAfter`: URL → when its Retry-After ends (ms since the epoch). */
  heldUntil: Map<string, number>;
}

export class FaultInjector {
  /** Emits `fired` with the rule, endpoint and URL each time a rule fires (tests wait on it). */
  readonly events = new EventEmitter<{ fired: [FaultRule, Endpoint, string] }>();
  #rules: RuleState[] = [];
  #nextId = 1;

  readonly #now: () => number;

  constructor(rules: readonly FaultRuleSpec[] = [], now: () => number = Date.now) {
    this.#now = now;
    this.add(rules);
  }

  /** Appends rules; throws when an id is already taken. Returns the rules as stored. */
  add(rules: readonly FaultRuleSpec[]): FaultRule[] {
    const taken = new Set(this.#rules.map((s) => s.rule.id));
    const added = rules.map((spec) => {
      const id = spec.id ?? `rule-${this.#nextId++}`;
      if (taken.has(id)) throw new Error(`a fault rule with id ${id} already exists`);
      taken.add(id);
      return { ...spec, id };
    });
    for (const rule of added)
      this.#rules.push({
        rule,
        test: compileMatcher(rule.match),
        matched: 0,
        fired: 0,
        held: 0,
        seen: new Map(),
        heldUntil: new Map(),
      });
    return added;
  }

  replace(rules: readonly FaultRuleSpec[]): FaultRule[] {
    const old = this.#rules;
    this.#rules = [];
    try {
      return this.add(rules);
    } catch (err) {
      this.#rules = old;
      throw err;
    }
  }

  /** Removes one rule by id, or every rule without one. Returns how many were removed. */
  remove(id?: string): number {
    const before = this.#rules.length;
    this.#rules = id === undefined ? [] : this.#rules.filter((s) => s.rule.id !== id);
    return before - this.#rules.length;
  }

  list(): FaultRuleView[] {
    return this.#rules.map((s) => ({ ...s.rule, matched: s.matched, fired: s.fired, held: s.held }));
  }

  /** The rule that fires for this request, if any, advancing the counts of the rules consulted. */
  decide(endpoint: Endpoint, url: string): FaultRule | undefined {
    for (const state of this.#rules) {
      if (!state.rule.endpoints.includes(endpoint) || !state.test(url)) continue;
      const now = this.#now();
      if ((state.heldUntil.get(url) ?? 0) > now) {
        // Within the Retry-After this rule gave the URL: refused again, not a new draw.
        state.held += 1;
        this.events.emit('fired', state.rule, endpoint, url);
        return state.rule;
      }
      state.matched += 1;
      const seenBefore = state.seen.get(url) ?? 0;
      state.seen.set(url, seenBefore + 1);
      const { first, fraction, seed } = state.rule;
      if (first !== undefined && state.matched > first) continue;
      if (fraction !== undefined && fractionHash(seed, url, seenBefore) >= fraction) continue;
      state.fired += 1;
      if (state.rule.holdRetryAfter) state.heldUntil.set(url, now + (state.rule.retryAfterSec ?? 0) * 1000);
      this.events.emit('fired', state.rule, endpoint, url);
      return state.rule;
    }
    return undefined;
  }
}
