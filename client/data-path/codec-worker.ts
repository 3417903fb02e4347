import { parentPort, workerData } from "node:worker_threads";
import { SegmentCipher } from "../crypto/segment-cipher.ts";
import { encodeParity, reconstructData } from "../erasure/reed-solomon.ts";
import { isDstoreError } from "../errors.ts";
import { FileLayout } from "../protocol/layout.ts";
import { alignedSubtreeRoot } from "../protocol/merkle.ts";
import type { CodecRequest, CodecResponse, CodecWorkerData } from "./codec-protocol.ts";

// One worker of a CodecPool: seals and erasure-codes segments (with the Merkle subtree
// root of every aligned piece), or rebuilds and opens them, in slots of the shared ring.
const init = workerData as CodecWorkerData;
const cipher = new SegmentCipher(Buffer.from(init.fileKey), Buffer.from(init.fileId));
const layout = new FileLayout(init.layout);
const { slotSize, pieceSize, segmentOffset } = init.slots;
const region = (slot: number, offset: number, length: number) =>
  Buffer.from(init.ring, slot * slotSize + offset, length);

async function encode(request: Extract<CodecRequest, { op: "encode" }>): Promise<CodecResponse> {
  const { index, slot } = request;
  const size = layout.pieceSize(index);
  const cipherLength = layout.cipherLength(index);
  // Data pieces are contiguous in the slot only for full-size pieces; a short last
  // segment is coded in a compact copy and written back piece by piece.
  const compact = size !== pieceSize;
  const data = compact ? Buffer.alloc(layout.k * size) : region(slot, 0, layout.k * size);
  const parity = compact
    ? Buffer.alloc(layout.m * size)
    : region(slot, layout.k * size, layout.m * size);
  if (request.sealed) {
    data.set(region(slot, segmentOffset, cipherLength), 0);
  } else {
    const plain = region(slot, segmentOffset, layout.plainLength(index));
    cipher.sealInto(plain, index, layout.isLast(index), data);
  }
  data.fill(0, cipherLength);
  await encodeParity(layout.k, layout.m, data, parity);
  const pieces: Buffer[] = [];
  for (let i = 0; i < layout.shards; i++) {
    const piece =
      i < layout.k
        ? data.subarray(i * size, (i + 1) * size)
        : parity.subarray((i - layout.k) * size, (i - layout.k + 1) * size);
    if (compact) region(slot, i * pieceSize, size).set(piece);
    pieces.push(piece);
  }
  if (!request.roots) return { id: request.id };
  return {
    id: request.id,
    roots: pieces.map((piece) => {
      const aligned = alignedSubtreeRoot(piece);
      return aligned ? { root: new Uint8Array(aligned.root), height: aligned.height } : null;
    }),
  };
}

async function decode(request: Extract<CodecRequest, { op: "decode" }>): Promise<CodecResponse> {
  const { index, slot, present } = request;
  const size = layout.pieceSize(index);
  const compact = size !== pieceSize;
  const data = compact ? Buffer.alloc(layout.k * size) : region(slot, 0, layout.k * size);
  const parity = compact
    ? Buffer.alloc(layout.m * size)
    : region(slot, layout.k * size, layout.m * size);
  if (compact) {
    for (let i = 0; i < layout.shards; i++) {
      if (!present[i]) continue;
      const target =
        i < layout.k ? data.subarray(i * size) : parity.subarray((i - layout.k) * size);
      target.set(region(slot, i * pieceSize, size));
    }
  }
  try {
    await reconstructData(layout.k, layout.m, data, parity, present);
    const plain = cipher.open(
      data.subarray(0, layout.cipherLength(index)),
      index,
      layout.isLast(index),
    );
    region(slot, segmentOffset, plain.length).set(plain);
    return { id: request.id, opened: true };
  } catch (error) {
    if (isDstoreError(error, "DecryptionError")) return { id: request.id, opened: false };
    throw error;
  }
}

parentPort!.on("message", (request: CodecRequest) => {
  (request.op === "encode" ? encode(request) : decode(request)).then(
    (response) => parentPort!.postMessage(response),
    (error: unknown) =>
      parentPort!.postMessage({
        id: request.id,
        error: { name: (error as Error).name, message: (error as Error).message },
      }),
  );
});
