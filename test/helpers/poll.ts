/** Options of {@link eventually}. */
export interface EventuallyOptions {
  /** Most ms to wait (default 15 s). */
  timeout?: number;
  /** What is awaited, for the failure message. */
  what?: string;
}

/**
 * Poll `check` until it returns something other than `undefined`, `false` or `null`, and
 * return that. Errors thrown by `check` count as "not yet" (a node restarting refuses
 * connections); the last one is reported if time runs out. Never a fixed sleep: the wait
 * ends as soon as the condition holds.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  { timeout = 15_000, what = "the condition" }: EventuallyOptions = {},
): Promise<Exclude<T, undefined | false | null>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      const value = await check();
      if (value !== undefined && value !== false && value !== null) {
        return value as Exclude<T, undefined | false | null>;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen in ${timeout} ms`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
