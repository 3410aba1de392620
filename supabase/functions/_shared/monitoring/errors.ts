/**
 * Errors the module raises, only ever in strict mode: by default nothing
 * here reaches the function's own code.
 */

/** Root of every error the module raises. */
export class MonitoringError extends Error {
  override name = "MonitoringError";
}

/** A bad argument, refused before anything is buffered or sent. */
export class InvalidInputError extends MonitoringError {
  override name = "InvalidInputError";
  /** The argument, column or tag name at fault (the Python SDK's field names). */
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field} ${message}`);
    this.field = field;
  }
}

const JWT_LIKE = /eyJ[\w-]+\.[\w-]+\.[\w-]*/g;

/** Text safe to log: anything shaped like a JWT (an API key) is redacted. */
export function redact(text: string): string {
  return text.replace(JWT_LIKE, "[redacted]");
}

/** A short, key-free description of any thrown value or supabase-js error. */
export function describe(error: unknown): string {
  if (error instanceof Error) return redact(`${error.name}: ${error.message}`);
  if (error && typeof error === "object") {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const text = [code, message].filter((part) => part !== undefined && part !== "").join(": ");
    return redact(text || "unknown error");
  }
  return redact(String(error));
}
