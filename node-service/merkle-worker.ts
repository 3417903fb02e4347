import { parentPort } from "node:worker_threads";
import type { SharedWasmMemory } from "../client/data-path/aligned-blocks.ts";
import { HASH_SIZE, LEAF_SIZE, MerkleBuilder } from "../client/protocol/merkle.ts";
import type { MerkleRequest, MerkleResponse } from "./merkle-protocol.ts";

// A storage node's Merkle worker: it hashes uploads block by block, reading the blocks
// where the node's FileWriter filled them (shared memory), so the node's event loop only
// moves bytes. See merkle-hasher.ts.

const port = parentPort!;
let memory: SharedWasmMemory | undefined;

/** An upload's builder, and where the leaf hashes of the request at hand go. */
interface Upload {
  builder: MerkleBuilder;
  leaves: Buffer;
  filled: number;
}
const uploads = new Map<number, Upload>();

function uploadOf(id: number): Upload {
  let upload = uploads.get(id);
  if (!upload) {
    const fresh: Upload = {
      builder: new MerkleBuilder((leaf) => {
        fresh.filled += leaf.copy(fresh.leaves, fresh.filled);
      }),
      leaves: Buffer.alloc(0),
      filled: 0,
    };
    upload = fresh;
    uploads.set(id, upload);
  }
  return upload;
}

/** Run `feed`, collecting the leaf hashes it completes (at most `bytes` / 4 KiB + 1). */
function leavesOf(upload: Upload, bytes: number, feed: () => void): Uint8Array {
  // A buffer of its own (not from Buffer's pool), so the answer can hand it over.
  upload.leaves = Buffer.allocUnsafeSlow((Math.floor(bytes / LEAF_SIZE) + 1) * HASH_SIZE);
  upload.filled = 0;
  feed();
  return upload.leaves.subarray(0, upload.filled);
}

port.on("message", (message: MerkleRequest) => {
  if (message.op === "memory") {
    memory = message.memory;
    return;
  }
  if (message.op === "drop") {
    uploads.delete(message.id);
    return;
  }
  let response: MerkleResponse;
  try {
    const upload = uploadOf(message.id);
    if (message.op === "update") {
      const { offset, length } = message;
      const bytes = new Uint8Array(memory!.buffer, offset, length);
      response = { leaves: leavesOf(upload, length, () => upload.builder.update(bytes)) };
    } else {
      let root: Uint8Array = new Uint8Array(0);
      const leaves = leavesOf(upload, 0, () => {
        root = upload.builder.digest();
      });
      uploads.delete(message.id);
      response = { leaves, root };
    }
  } catch (error) {
    uploads.delete(message.id);
    response = { leaves: new Uint8Array(0), error: (error as Error).message };
  }
  // The leaf hashes move to the node rather than being copied.
  port.postMessage(
    response,
    response.leaves.length > 0 ? [response.leaves.buffer as ArrayBuffer] : [],
  );
});
