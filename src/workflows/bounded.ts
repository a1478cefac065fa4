// Run work for many items with at most `limit` in flight. Deterministic: it uses only
// workflow promises, no timers or randomness.
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}

/** Like mapBounded, but every item runs to the end; failures are collected, not thrown. */
export async function settleBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<Array<{ item: T; ok: true; value: R } | { item: T; ok: false; error: unknown }>> {
  return mapBounded(items, limit, async (item) => {
    try {
      return { item, ok: true as const, value: await fn(item) };
    } catch (error) {
      return { item, ok: false as const, error };
    }
  });
}
