// Builds the JavaScript that the dstore command runs when it is current (client/dstore.js):
// the CLI and its workers (codec, a node's Merkle hashing), each bundled with the
// libraries every run loads (ethers, eciesjs, commander, ...), the parts only some
// commands need split into chunks loaded on demand. Node would otherwise strip the types
// of ~60 files and resolve ~250 modules at every start (bench/README.md). Packages that must stay as installed (native code,
// the node's server stack, Hardhat) are left out of the bundles.
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * `node:http` imported as an ES module cost every start ~40 ms here: Node reads each of
 * its exports to build the module's namespace, and three of them (WebSocket, CloseEvent,
 * MessageEvent) load the whole of undici when read. The bundles take the module from
 * `process.getBuiltinModule` instead, as a CommonJS module, whose properties are read
 * only where they are used (~7 ms).
 */
const httpWithoutUndici: Plugin = {
  name: "http-without-undici",
  setup(bundler) {
    bundler.onResolve({ filter: /^(node:)?http$/ }, () => ({
      path: "node:http",
      namespace: "builtin-http",
    }));
    bundler.onLoad({ filter: /.*/, namespace: "builtin-http" }, () => ({
      contents: 'module.exports = process.getBuiltinModule("node:http");',
      loader: "js",
    }));
  },
};

/**
 * Built-in modules that the bundled libraries import at the top but that a command almost
 * never touches: commander's `child_process` (for executable subcommands), cli-progress's
 * `readline` (on a terminal only), ethers' `https` and `zlib` (https endpoints, gzipped
 * answers). Loading the four (and `tls`, `dgram`, ... behind them) cost every start
 * ~12 ms here. Each becomes an object that loads the module on first use of one of its
 * properties; `__esModule`, which esbuild's interop asks of every CommonJS module, is
 * answered without loading it.
 */
const LAZY_BUILTINS = ["child_process", "readline", "https", "zlib"];
const lazyBuiltins: Plugin = {
  name: "lazy-builtins",
  setup(bundler) {
    bundler.onResolve({ filter: new RegExp(`^(node:)?(${LAZY_BUILTINS.join("|")})$`) }, (args) => ({
      path: args.path.replace(/^node:/, ""),
      namespace: "lazy-builtin",
    }));
    bundler.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      contents: `
        let real;
        const load = () => (real ??= process.getBuiltinModule(${JSON.stringify(`node:${args.path}`)}));
        module.exports = Object.create(new Proxy({}, {
          get: (_, key) => (key === "__esModule" ? undefined : load()[key]),
          has: (_, key) => key in load(),
        }));`,
      loader: "js",
    }));
  },
};

// dist/ is not emptied first: a process already running from an older build (a devnet
// left running, say) may still load its hash-named chunks, as when it starts a worker.
await build({
  absWorkingDir: root,
  entryPoints: [
    "client/cli.ts",
    "client/data-path/codec-worker.ts",
    "node-service/merkle-worker.ts",
  ],
  outdir: "dist",
  outbase: ".",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  external: [
    "@ronomon/reed-solomon",
    "express",
    "prom-client",
    "hardhat",
    "@nomicfoundation/*",
    "solc",
    "bufferutil",
    "utf-8-validate",
  ],
  // Bundled CommonJS (noble, ws) calls require(); an ES module has none of its own.
  banner: {
    js: 'import { createRequire as __dstoreRequire } from "node:module"; const require = __dstoreRequire(import.meta.url);',
  },
  plugins: [httpWithoutUndici, lazyBuiltins],
  logLevel: "warning",
});
