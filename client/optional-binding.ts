import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * A native binding dstore can do without, loaded on first use. The getter gives undefined
 * where it does not load (no prebuilt one for this platform, nothing to build it with) or
 * where the environment variable `disabledBy` is `0` (so that tests can run the other
 * path on a platform that has it); callers then do the work in JavaScript. `setUp` runs
 * once on the loaded binding.
 */
export function optionalBinding<T>(
  specifier: string,
  disabledBy: string,
  setUp?: (binding: T) => void,
): () => T | undefined {
  let binding: T | null | undefined;
  return () => {
    if (binding === undefined) {
      try {
        binding = process.env[disabledBy] === "0" ? null : (require(specifier) as T);
        if (binding) setUp?.(binding);
      } catch {
        binding = null;
      }
    }
    return binding ?? undefined;
  };
}
