/**
 * `fn` over `items` with at most `limit` calls in flight (requests to the bucket, pack indexing, parts of
 * a transfer), results in the items' order. After the first failure no new call starts, the calls in
 * flight finish, and that failure is thrown: a failed batch stops quickly and leaves nothing running.
 * `items` may be lazy (a generator), so memory stays bounded by `limit`, not by the number of items.
 */
export async function mapLimit<T, R>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const iterator = items[Symbol.iterator]();
  const results: R[] = [];
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    for (let item = iterator.next(); !item.done && !failure; item = iterator.next()) {
      const index = next++;
      try {
        results[index] = await fn(item.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure) throw failure.error;
  return results;
}
