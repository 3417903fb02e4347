import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * A native binding dstore can do without, loaded on first use: the module `load` names, or
 * what `load` returns. The getter gives undefined where it does not load (no prebuilt one
 * for this platform, nothing to build it with) or where the environment variable
 * `disabledBy` is `0` (so that tests can run the other path on a platform that has it);
 * callers then do the work in JavaScript. `setUp` runs once on the loaded binding; if it
 * throws, the binding is not used.
 */
export function optionalBinding<T>(
  load: string | ((require: NodeJS.Require) => T),
  disabledBy: string,
  setUp?: (binding: T) => void,
): () => T | undefined {
  let binding: T | null | undefined;
  return () => {
    if (binding === undefined) {
      try {
        if (process.env[disabledBy] === "0") binding = null;
        else binding = typeof load === "string" ? (require(load) as T) : load(require);
        if (binding) setUp?.(binding);
      } catch {
        binding = null;
      }
    }
    return binding ?? undefined;
  };
}
