/**
 * The optional per-batch schema for extracted fields. A violation dead-letters the URL, so a selector
 * that stopped matching on the target site shows up at once instead of as empty rows.
 * A `number` accepts an optional leading currency sign and thousands separators ("$1,234.50");
 * an `integer` accepts digits with an optional sign.
 */
import { z } from 'zod';

/** A field the schema checks before a record is stored. */
export const fieldRuleSchema = z
  .object({
    type: z.enum(['string', 'number', 'integer']),
    required: z.boolean().default(true).describe('a missing (null or empty) value dead-letters the URL'),
  })
  .strict();
export type FieldRule = z.output<typeof fieldRuleSchema>;

const NUMBER = /^[-+]?[$€£¥]?\s*\d{1,3}(,\d{3})*(\.\d+)?$|^[-+]?[$€£¥]?\s*\d+(\.\d+)?$/;
const INTEGER = /^[-+]?\d+$/;

/** Returns a description of each violation; empty when the fields conform. */
export function checkFields(
  fields: Record<string, string | null>,
  schema: Record<string, FieldRule>,
): string[] {
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(schema)) {
    // Own keys only: a field named `constructor` must not read Object.prototype's.
    const value = (Object.hasOwn(fields, name) ? fields[name] : undefined)?.trim() ?? '';
    if (value === '') {
      if (rule.required) problems.push(`${name}: required but missing`);
      continue;
    }
    if (rule.type === 'number' && !NUMBER.test(value))
      problems.push(`${name}: ${JSON.stringify(value)} is not a number`);
    if (rule.type === 'integer' && !INTEGER.test(value))
      problems.push(`${name}: ${JSON.stringify(value)} is not an integer`);
  }
  return problems;
}

/**
 * The number a `number` or `integer` field holds, as the schema reads it (`$1,299.00` → 1299), or
 * undefined when the text is not one. Change tracking compares such fields by this value.
 */
export function parseNumberField(value: string | null | undefined): number | undefined {
  const text = value?.trim() ?? '';
  if (!NUMBER.test(text) && !INTEGER.test(text)) return undefined;
  const n = Number(text.replace(/[$€£¥,\s]/g, ''));
  return Number.isFinite(n) ? n : undefined;
}
