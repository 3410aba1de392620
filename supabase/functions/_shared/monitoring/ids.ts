/**
 * Time-ordered UUIDv7 ids (RFC 9562), generated where the row is recorded.
 *
 * A row carries its id from the moment it is recorded, so a retried upsert
 * (`ON CONFLICT (id) DO NOTHING`) can never duplicate it, and ids sort by
 * creation time like the Python SDK's. Method 1 of the RFC: the 12-bit
 * `rand_a` field is a counter seeded randomly each millisecond, so ids made
 * in the same millisecond still sort in creation order.
 */

const COUNTER_MAX = 0xfff;
let lastMs = 0;
let counter = 0;

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, "0");
}

/** A new UUIDv7 in canonical form, monotonic within this isolate. */
export function uuid7(): string {
  const random = new Uint16Array(5);
  crypto.getRandomValues(random);
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = random[0] & 0x7ff; // leave headroom for increments
  } else if (++counter > COUNTER_MAX) {
    lastMs += 1; // counter exhausted: borrow the next millisecond
    counter = random[0] & 0x7ff;
  }
  const ms = lastMs;
  return [
    hex(Math.floor(ms / 0x10000), 8),
    hex(ms % 0x10000, 4),
    hex(0x7000 | counter, 4),
    hex(0x8000 | (random[1] & 0x3fff), 4),
    hex(random[2], 4) + hex(random[3], 4) + hex(random[4], 4),
  ].join("-");
}
