/**
 * A batch's Temporal task priority: every task of the batch (its workflow, its pages, their URL and
 * control activities) carries the batch's `priority` as `priorityKey` and its account as `fairnessKey`.
 * Pure and deterministic: workflows and the client both build it from the batch's options.
 *
 * Temporal's matcher (with `matching.useNewMatcher` / `matching.enableFairness` on the server) hands a
 * backlogged queue's tasks out lowest `priorityKey` first, and, within one priority, in turns among
 * fairness keys: one account's 100,000 queued URLs do not make another account's batch wait behind
 * them on the shared `scrape` and `scrapeflow` queues. A server without those settings accepts the
 * fields and dispatches first in, first out.
 */
import type { Priority } from '@temporalio/common';
import type { BatchOptions } from '../batch/options.js';
import { DEFAULT_PRIORITY } from '../batch/defaults.js';

/** Temporal's limit on a fairness key. */
const MAX_FAIRNESS_KEY_BYTES = 64;

/** UTF-8 length of one character (no TextEncoder needed inside the workflow sandbox). */
function utf8Bytes(char: string): number {
  const code = char.codePointAt(0)!;
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

/** 32-bit FNV-1a of `text`'s UTF-16 units, as 8 hex digits. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * The fairness key of an account label: the label itself when it fits Temporal's 64 bytes (account
 * labels may have 100 characters), else as much of it as fits with `~` and a hash of the whole, so two
 * long labels with one prefix stay two keys.
 */
export function fairnessKeyOf(account: string): string {
  const chars = [...account];
  if (chars.reduce((sum, char) => sum + utf8Bytes(char), 0) <= MAX_FAIRNESS_KEY_BYTES) return account;
  const hash = `~${fnv1a(account)}`;
  let key = '';
  let bytes = hash.length;
  for (const char of chars) {
    bytes += utf8Bytes(char);
    if (bytes > MAX_FAIRNESS_KEY_BYTES) break;
    key += char;
  }
  return key + hash;
}

/**
 * The Temporal priority of every task of a batch with these options. Options stored without a
 * `priority` get the default, the rank their batch's tasks already have.
 */
export function taskPriority(options: Pick<BatchOptions, 'priority' | 'account'>): Priority {
  return { priorityKey: options.priority ?? DEFAULT_PRIORITY, fairnessKey: fairnessKeyOf(options.account) };
}
