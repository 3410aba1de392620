/**
 * Call-site checks for everything a function records, with the Python
 * SDK's rules (tests/contract/cases.json holds both to them). Each check
 * returns a value safe to put in a row (JSON-ready, detached from the
 * caller's objects) or throws InvalidInputError naming the field, before
 * anything is buffered or sent.
 */

import { InvalidInputError } from "./errors.ts";

/** Same bound as the tables' CHECK constraints on names. */
export const MAX_NAME_LENGTH = 200;
/** Tags are dimensions, not payloads: a few short keys of scalar values. */
export const MAX_TAGS = 64;
export const MAX_TAGS_BYTES = 8 * 1024;
/** Details of issues and events may carry more (and nested) context. */
export const MAX_DETAILS_BYTES = 64 * 1024;
export const MAX_MESSAGE_LENGTH = 10_000;
export const INT32_MAX = 2_147_483_647;
export const SEVERITIES = ["info", "warning", "error", "critical"] as const;
export type Severity = typeof SEVERITIES[number];

export type JsonScalar = string | number | boolean | null;
export type JsonValue = JsonScalar | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

const UNSTORABLE = "contains a NUL character or an unpaired surrogate, which Postgres cannot store";
/** ISO 8601 with an explicit offset: without one, Date reads local time. */
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** Postgres text and jsonb hold neither NUL nor a lone surrogate. */
function storable(text: string): boolean {
  return !text.includes("\0") && text.isWellFormed();
}

/** Length in code points, as Python and Postgres count it. */
function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** A non-blank string of at most MAX_NAME_LENGTH characters. */
export function checkName(value: unknown, field: string): string {
  if (typeof value !== "string") {
    throw new InvalidInputError(field, `must be a string, got ${kind(value)}`);
  }
  if (value.trim() === "") throw new InvalidInputError(field, "must not be empty");
  const length = codePoints(value);
  if (length > MAX_NAME_LENGTH) {
    throw new InvalidInputError(
      field,
      `is ${length} characters long; the limit is ${MAX_NAME_LENGTH}`,
    );
  }
  if (!storable(value)) throw new InvalidInputError(field, UNSTORABLE);
  return value;
}

/** A finite number (booleans and numeric strings refused). */
export function checkNumber(value: unknown, field: string, nonNegative = false): number {
  if (typeof value !== "number") {
    throw new InvalidInputError(field, `must be a number, got ${kind(value)}`);
  }
  if (!Number.isFinite(value)) {
    throw new InvalidInputError(field, `must be a finite number, got ${value}`);
  }
  if (nonNegative && value < 0) {
    throw new InvalidInputError(field, `must not be negative, got ${value}`);
  }
  return value;
}

/** A non-negative integer, at most 32-bit: the views cast count tags to integer. */
export function checkCount(value: unknown, field: string, maximum = INT32_MAX): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new InvalidInputError(field, `must be an integer, got ${kind(value)} ${String(value)}`);
  }
  if (value < 0) throw new InvalidInputError(field, `must not be negative, got ${value}`);
  if (value > maximum) {
    throw new InvalidInputError(field, `must be at most ${maximum}, got ${value}`);
  }
  return value;
}

/** A Date, or ISO 8601 text with an explicit offset, as ISO text in UTC. */
export function checkDatetime(value: unknown, field: string): string {
  let when: Date;
  if (value instanceof Date) {
    when = value;
  } else if (typeof value === "string") {
    if (!ISO_WITH_OFFSET.test(value)) {
      throw new InvalidInputError(
        field,
        "must be ISO 8601 text with an offset (Z or +hh:mm); without one it would be read as local time",
      );
    }
    when = new Date(value);
  } else {
    throw new InvalidInputError(field, `must be a Date or ISO 8601 text, got ${kind(value)}`);
  }
  if (Number.isNaN(when.getTime())) throw new InvalidInputError(field, "is not a valid date");
  return when.toISOString();
}

export function checkSeverity(value: unknown): Severity {
  if (typeof value === "string" && (SEVERITIES as readonly string[]).includes(value)) {
    return value as Severity;
  }
  throw new InvalidInputError(
    "severity",
    `must be one of ${SEVERITIES.join(", ")}; got ${JSON.stringify(value) ?? kind(value)}`,
  );
}

/** null/undefined (stored as null) or a string of at most maxLength characters. */
export function checkOptionalText(
  value: unknown,
  field: string,
  maxLength = MAX_MESSAGE_LENGTH,
): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") {
    throw new InvalidInputError(field, `must be a string or null, got ${kind(value)}`);
  }
  const length = codePoints(value);
  if (length > maxLength) {
    throw new InvalidInputError(field, `is ${length} characters long; the limit is ${maxLength}`);
  }
  if (!storable(value)) throw new InvalidInputError(field, UNSTORABLE);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A deep JSON copy of one value; throws a message (no field) when it is not JSON. */
function copyJson(value: unknown, depth: number): JsonValue {
  if (depth > 100) throw new Error("is nested too deeply");
  if (value === null || typeof value === "boolean") return value as JsonScalar;
  if (typeof value === "string") {
    if (!storable(value)) throw new Error(UNSTORABLE);
    return value;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new Error("contains NaN or infinity, which JSON cannot carry");
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => copyJson(item, depth + 1));
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      if (!storable(key)) throw new Error(`key ${UNSTORABLE}`);
      out[key] = copyJson(item, depth + 1);
    }
    return out;
  }
  throw new Error(`is not JSON-serialisable (${kind(value)})`);
}

export interface JsonObjectLimits {
  maxBytes: number;
  maxKeys?: number;
  /** Tags: only strings, numbers, booleans and null (rollups group by them). */
  scalarsOnly?: boolean;
}

/** A JSON object (non-empty string keys, JSON values) of bounded size, copied. */
export function checkJsonObject(
  value: unknown,
  field: string,
  { maxBytes, maxKeys, scalarsOnly = false }: JsonObjectLimits,
): JsonObject {
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new InvalidInputError(field, `must be an object of JSON values, got ${kind(value)}`);
  }
  const entries = Object.entries(value);
  if (maxKeys !== undefined && entries.length > maxKeys) {
    throw new InvalidInputError(field, `has ${entries.length} keys; the limit is ${maxKeys}`);
  }
  const out: JsonObject = {};
  for (const [key, item] of entries) {
    if (key === "") throw new InvalidInputError(field, "keys must not be empty");
    if (!storable(key)) throw new InvalidInputError(field, `key ${UNSTORABLE}`);
    if (codePoints(key) > MAX_NAME_LENGTH) {
      throw new InvalidInputError(field, `key is longer than ${MAX_NAME_LENGTH} characters`);
    }
    if (scalarsOnly && item !== null && typeof item === "object") {
      throw new InvalidInputError(
        field,
        `value of ${JSON.stringify(key)} is ${
          kind(item)
        }: tag values must be strings, numbers, booleans or null`,
      );
    }
    if (item === undefined) continue; // as JSON.stringify does
    try {
      out[key] = copyJson(item, 0);
    } catch (error) {
      throw new InvalidInputError(
        field,
        `value of ${JSON.stringify(key)} ${(error as Error).message}`,
      );
    }
  }
  const size = new TextEncoder().encode(JSON.stringify(out)).length;
  if (size > maxBytes) {
    throw new InvalidInputError(
      field,
      `is ${size} bytes of JSON; the limit is ${maxBytes} (tags are dimensions, not payloads)`,
    );
  }
  return out;
}
