// manager-api names new objects with an 18-digit sonyflake-style number (time first, then
// randomness), and API7 uses the same shape for gateway cluster ids.
import { randomInt } from 'node:crypto';

/** 13 digits of milliseconds + 5 random digits: 18 digits, roughly ordered by creation time. */
export function flakeId(now = Date.now()): string {
  return `${now}${String(randomInt(0, 100_000)).padStart(5, '0')}`;
}
