import { parentPort } from "node:worker_threads";
import { SegmentCipher } from "../crypto/segment-cipher.ts";
import { encodeParity, reconstructData } from "../erasure/reed-solomon.ts";
import { isDstoreError } from "../errors.ts";
import { FileLayout } from "../protocol/layout.ts";
import { alignedSubtreeRoot } from "../protocol/merkle.ts";
import {
  CODEC_READY,
  type CodecRequest,
  type CodecResponse,
  type CodecWorkerData,
} from "./codec-protocol.ts";

// One worker of a CodecPool: seals and erasure-codes segments (with the Merkle subtree
// root of every aligned piece), or rebuilds and opens them, in slots of the shared ring.
// It may start before its file is known: the file comes as its first message.
let ring: SharedArrayBuffer;
let cipher: SegmentCipher;
let layout: FileLayout;
let slotSize: number;
let pieceSize: number;
let head: number;
/** Bytes of a slot from `offset`, counted from the slot's start (head included). */
const region = (slot: number, offset: number, length: number) =>
  Buffer.from(ring, slot * slotSize + offset, length);
/** Bytes of a slot's piece area from `offset`. */
const pieces = (slot: number, offset: number, length: number) =>
  region(slot, head + offset, length);

function setUp(file: CodecWorkerData): void {
  ring = file.ring;
  cipher = new SegmentCipher(Buffer.from(file.fileKey), Buffer.from(file.fileId));
  layout = new FileLayout(file.layout);
  ({ slotSize, pieceSize, head } = file.slots);
}

/**
 * The data and parity areas of segment `index` in `slot`: the slot itself for full-size
 * pieces, else compact copies (a short last segment) that `writeBack` returns to the slot.
 */
function areas(index: number, slot: number) {
  const size = layout.pieceSize(index);
  if (size === pieceSize) {
    return {
      size,
      data: pieces(slot, 0, layout.k * size),
      parity: pieces(slot, layout.k * size, layout.m * size),
      compact: false,
    };
  }
  return {
    size,
    data: Buffer.alloc(layout.k * size),
    parity: Buffer.alloc(layout.m * size),
    compact: true,
  };
}

function pieceOf(data: Buffer, parity: Buffer, size: number, i: number): Buffer {
  return i < layout.k
    ? data.subarray(i * size, (i + 1) * size)
    : parity.subarray((i - layout.k) * size, (i - layout.k + 1) * size);
}

async function encode(request: Extract<CodecRequest, { op: "encode" }>): Promise<CodecResponse> {
  const { index, slot } = request;
  const { size, data, parity, compact } = areas(index, slot);
  const cipherLength = layout.cipherLength(index);
  if (request.sealed) {
    if (compact) data.set(pieces(slot, 0, cipherLength));
  } else {
    // The plaintext sits at the start of the pieces; seal it in place (or into the copy).
    cipher.sealInto(pieces(slot, 0, layout.plainLength(index)), index, layout.isLast(index), data);
  }
  data.fill(0, cipherLength);
  await encodeParity(layout.k, layout.m, data, parity);
  const coded = Array.from({ length: layout.shards }, (_, i) => pieceOf(data, parity, size, i));
  if (compact)
    for (const [i, piece] of coded.entries()) pieces(slot, i * pieceSize, size).set(piece);
  if (!request.roots) return { id: request.id };
  return {
    id: request.id,
    roots: coded.map((piece) => {
      const aligned = alignedSubtreeRoot(piece);
      return aligned ? { root: new Uint8Array(aligned.root), height: aligned.height } : null;
    }),
  };
}

async function decode(request: Extract<CodecRequest, { op: "decode" }>): Promise<CodecResponse> {
  const { index, slot, present, shift } = request;
  const { size, data, parity, compact } = areas(index, slot);
  if (compact) {
    for (let i = 0; i < layout.shards; i++) {
      if (present[i]) pieceOf(data, parity, size, i).set(pieces(slot, i * pieceSize, size));
    }
  }
  try {
    await reconstructData(layout.k, layout.m, data, parity, present);
    // Opened in place, `head - shift` bytes to the left of the sealed data pieces (for a
    // short last segment, from the compact copy): the plaintext lands at `shift` in the
    // slot. A failed open leaves zeros there; the caller fetches the pieces again.
    const sealed = data.subarray(0, layout.cipherLength(index));
    const out = region(slot, shift, layout.plainLength(index));
    cipher.openInto(sealed, index, layout.isLast(index), out);
    return { id: request.id, opened: true };
  } catch (error) {
    if (isDstoreError(error, "DecryptionError")) return { id: request.id, opened: false };
    throw error;
  }
}

parentPort!.on("message", (request: CodecRequest | CodecWorkerData) => {
  if (!("op" in request)) {
    setUp(request);
    return;
  }
  (request.op === "encode" ? encode(request) : decode(request)).then(
    (response) => parentPort!.postMessage(response),
    (error: unknown) =>
      parentPort!.postMessage({
        id: request.id,
        error: { name: (error as Error).name, message: (error as Error).message },
      }),
  );
});
parentPort!.postMessage(CODEC_READY);
