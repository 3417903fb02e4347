import { parentPort, workerData } from "node:worker_threads";
import { SegmentCipher } from "../crypto/segment-cipher.ts";
import { isDstoreError } from "../errors.ts";
import { FileLayout } from "../protocol/layout.ts";
import { alignedSubtreeRoot } from "../protocol/merkle.ts";
import type { CodecRequest, CodecResponse, CodecWorkerData } from "./codec-protocol.ts";
import { decodeSegment, encodeSegment } from "./segment-codec.ts";

// One worker of a CodecPool: seals and erasure-codes segments (with the Merkle subtree
// root of every aligned piece), or decodes and opens them, off the main thread.
const init = workerData as CodecWorkerData;
const cipher = new SegmentCipher(Buffer.from(init.fileKey), Buffer.from(init.fileId));
const layout = new FileLayout(init.layout);

async function handle(
  request: CodecRequest,
): Promise<{ response: CodecResponse; transfer: ArrayBuffer[] }> {
  if (request.op === "encode") {
    const input = Buffer.from(request.data);
    const sealed = request.sealed
      ? input
      : cipher.seal(input, request.index, layout.isLast(request.index));
    const pieces = await encodeSegment(layout, request.index, sealed);
    const roots = request.roots
      ? pieces.map((piece) => {
          const aligned = alignedSubtreeRoot(piece);
          return aligned ? { root: toArrayBuffer(aligned.root), height: aligned.height } : null;
        })
      : undefined;
    // Data pieces share one buffer, parity pieces another: send both buffers whole.
    const buffers = [...new Set(pieces.map((piece) => piece.buffer as ArrayBuffer))];
    const response: CodecResponse = {
      id: request.id,
      pieces: pieces.map((piece) => ({
        buffer: piece.buffer as ArrayBuffer,
        offset: piece.byteOffset,
        length: piece.length,
      })),
      ...(roots ? { roots } : {}),
    };
    return { response, transfer: buffers };
  }
  const pieces = request.pieces.map((piece) => (piece ? Buffer.from(piece) : undefined));
  try {
    const sealed = await decodeSegment(layout, request.index, pieces);
    const plain = cipher.open(sealed, request.index, layout.isLast(request.index));
    const out = toArrayBuffer(plain);
    return { response: { id: request.id, plain: out }, transfer: [out] };
  } catch (error) {
    if (!isDstoreError(error, "DecryptionError") && !isDstoreError(error, "IntegrityError"))
      throw error;
    // Hand the pieces back: the caller searches them for the corrupt one.
    const back = request.pieces.filter((piece): piece is ArrayBuffer => piece !== null);
    return { response: { id: request.id, failed: true, pieces: request.pieces }, transfer: back };
  }
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength)
    return buffer.buffer as ArrayBuffer;
  return buffer.buffer.slice(
    buffer.byteOffset,
    buffer.byteOffset + buffer.byteLength,
  ) as ArrayBuffer;
}

parentPort!.on("message", (request: CodecRequest) => {
  handle(request).then(
    ({ response, transfer }) => parentPort!.postMessage(response, transfer),
    (error: unknown) =>
      parentPort!.postMessage({
        id: request.id,
        error: { name: (error as Error).name, message: (error as Error).message },
      }),
  );
});
