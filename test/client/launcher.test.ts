import { copyFile, mkdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runScript } from "../helpers/cli.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";

const LAUNCHER = fileURLToPath(new URL("../../client/dstore.js", import.meta.url));

/** A checkout with the real launcher, a source CLI and a built one that say which they are. */
async function checkout(): Promise<{
  root: string;
  age: (path: string, seconds: number) => Promise<void>;
}> {
  const root = await tempDir("dstore-launcher-");
  await mkdir(join(root, "client", "cli"), { recursive: true });
  await mkdir(join(root, "dist", "client"), { recursive: true });
  await copyFile(LAUNCHER, join(root, "client", "dstore.js"));
  await writeFile(join(root, "client", "cli.ts"), 'console.log("sources", process.argv[2]);\n');
  await writeFile(join(root, "client", "cli", "part.ts"), "export {};\n");
  await writeFile(
    join(root, "dist", "client", "cli.js"),
    'console.log("build", process.argv[2]);\n',
  );
  const now = Date.now() / 1000;
  const age = (path: string, seconds: number) =>
    utimes(join(root, path), now - seconds, now - seconds);
  for (const source of ["client/cli.ts", "client/cli/part.ts"]) await age(source, 60);
  return { root, age };
}

describe("the dstore launcher", () => {
  afterAll(removeTempDirs);

  it("runs the build when it is newer than every source, with the command's arguments", async () => {
    const { root } = await checkout();
    const run = await runScript(join(root, "client", "dstore.js"), ["get"], {});
    expect(run.stdout.trim()).toBe("build get");
  });

  it("runs the sources when any source changed after the build, or there is no build", async () => {
    const edited = await checkout();
    await edited.age("dist/client/cli.js", 30);
    await edited.age("client/cli/part.ts", 0);
    const stale = await runScript(join(edited.root, "client", "dstore.js"), ["put"], {});
    expect(stale.stdout.trim()).toBe("sources put");

    const unbuilt = await checkout();
    await rm(join(unbuilt.root, "dist"), { recursive: true });
    const missing = await runScript(join(unbuilt.root, "client", "dstore.js"), ["ls"], {});
    expect(missing.stdout.trim()).toBe("sources ls");
  });

  it("runs the sources when the installed packages changed after the build (npm update)", async () => {
    const updated = await checkout();
    await writeFile(join(updated.root, "package-lock.json"), "{}\n");
    await updated.age("dist/client/cli.js", 30);
    const run = await runScript(join(updated.root, "client", "dstore.js"), ["get"], {});
    expect(run.stdout.trim()).toBe("sources get");
  });

  it("is not thrown by a dangling link among the sources (an editor's lock file)", async () => {
    const locked = await checkout();
    await symlink("nowhere@host.1234", join(locked.root, "client", ".#cli.ts"));
    const run = await runScript(join(locked.root, "client", "dstore.js"), ["rm"], {});
    expect(run.stdout.trim()).toBe("build rm");
  });

  it("prints the package's version for dstore --version, as the real CLI", async () => {
    const { version } = JSON.parse(
      await readFile(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8"),
    ) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const run = await runScript(LAUNCHER, [flag], {});
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(version);
    }
  });

  it("loads child_process, readline, https and zlib only when a command uses them", async () => {
    // A command that loads ethers and fails at its first chain request, with a preload that
    // lists the built-in modules loaded by then.
    const dir = await tempDir("dstore-builtins-");
    const preload = join(dir, "report.cjs");
    await writeFile(
      preload,
      'process.on("exit", () => require("node:fs").writeSync(2, "loaded: " + ' +
        'process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).join(",") + "\\n"));\n',
    );
    const run = await runScript(LAUNCHER, ["ls"], {
      NODE_OPTIONS: `--require ${preload}`,
      DSTORE_RPC_URL: "http://127.0.0.1:9",
      DSTORE_FILE_REGISTRY: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      DSTORE_NODE_REGISTRY: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    });
    expect(run.stderr).toContain("cannot reach the chain");
    const loaded = run.stderr.split("loaded: ")[1]!.trim().split(",");
    expect(loaded).toContain("NativeModule http");
    for (const lazy of ["child_process", "readline", "https", "zlib"]) {
      expect(loaded).not.toContain(`NativeModule ${lazy}`);
    }
  });
});
