import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sharedWasmMemory, WASM_PAGE } from "../../client/data-path/aligned-blocks.ts";
import { copyInto, freeBuffer } from "../../client/data-path/buffer-memory.ts";

describe("copyInto", () => {
  it("copies into shared memory at every alignment, as set() would, and nothing else", () => {
    const memory = sharedWasmMemory(1, 1);
    const target = Buffer.from(memory.buffer, 0, WASM_PAGE);
    const expected = Buffer.alloc(WASM_PAGE);
    for (let offset = 0; offset < 17; offset++) {
      target.fill(0);
      expected.fill(0);
      const source = randomBytes(3000 + offset);
      copyInto(target, source.subarray(offset % 5), offset);
      expected.set(source.subarray(offset % 5), offset);
      expect(target.equals(expected)).toBe(true);
    }
  });

  it("does nothing for an empty source and refuses a range past the target's end", () => {
    const target = Buffer.alloc(8, 7);
    copyInto(target, new Uint8Array(0), 8);
    expect(target).toEqual(Buffer.alloc(8, 7));
    expect(() => copyInto(target, Buffer.alloc(4), 6)).toThrow(RangeError);
  });
});

describe("freeBuffer", () => {
  it("empties a buffer that is its whole memory, and leaves pooled, sliced and shared memory alone", () => {
    const own = Buffer.allocUnsafeSlow(1024);
    freeBuffer(own);
    expect(own.length).toBe(0);
    const pooled = Buffer.from("a few bytes from Node's shared pool");
    const slice = Buffer.alloc(64).subarray(8, 16);
    const shared = Buffer.from(new SharedArrayBuffer(16));
    freeBuffer(pooled);
    freeBuffer(slice);
    freeBuffer(shared);
    expect(pooled.toString()).toBe("a few bytes from Node's shared pool");
    expect(slice.length).toBe(8);
    expect(shared.length).toBe(16);
  });
});
