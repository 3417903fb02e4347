import { encodeParity, reconstructData } from "../erasure/reed-solomon.ts";
import { DstoreError } from "../errors.ts";
import type { FileLayout } from "../protocol/layout.ts";

/** The k + m pieces of one segment (data pieces first), each `pieceSize` bytes. */
export type Pieces = Buffer[];

/**
 * Split sealed segment `index` into k data pieces (zero-padded) and compute m parity
 * pieces. `sealed` may be copied into a fresh buffer; the pieces never alias it.
 */
export async function encodeSegment(
  layout: FileLayout,
  index: number,
  sealed: Uint8Array,
): Promise<Pieces> {
  const pieceSize = layout.pieceSize(index);
  if (sealed.length !== layout.cipherLength(index)) {
    throw new DstoreError(
      "IntegrityError",
      `segment ${index} has ${sealed.length} sealed bytes, expected ${layout.cipherLength(index)}`,
    );
  }
  const data = Buffer.alloc(layout.k * pieceSize);
  data.set(sealed, 0);
  // Never from the shared pool: pieces may be transferred to another thread whole.
  const parity = Buffer.allocUnsafeSlow(layout.m * pieceSize);
  await encodeParity(layout.k, layout.m, data, parity);
  return splitPieces(layout, pieceSize, data, parity);
}

/**
 * Rebuild sealed segment `index` from any k of its pieces (`pieces[i]` undefined when
 * missing). Which pieces are right is for the caller to judge: the AEAD tag tells.
 */
export async function decodeSegment(
  layout: FileLayout,
  index: number,
  pieces: readonly (Uint8Array | undefined)[],
): Promise<Buffer> {
  const pieceSize = layout.pieceSize(index);
  const { k, m } = layout;
  const present = Array.from({ length: k + m }, (_, i) => pieces[i] !== undefined);
  const data = Buffer.alloc(k * pieceSize);
  // Fast path: all data pieces at hand, no decoding (the code is systematic).
  const needParity = present.slice(0, k).some((has) => !has);
  const parity = Buffer.alloc(needParity ? m * pieceSize : 0);
  for (let i = 0; i < k + m; i++) {
    const piece = pieces[i];
    if (!piece) continue;
    if (piece.length !== pieceSize) {
      throw new DstoreError(
        "IntegrityError",
        `piece ${i} of segment ${index} has ${piece.length} bytes, expected ${pieceSize}`,
      );
    }
    if (i < k) data.set(piece, i * pieceSize);
    else if (needParity) parity.set(piece, (i - k) * pieceSize);
  }
  if (needParity) await reconstructData(k, m, data, parity, present);
  return data.subarray(0, layout.cipherLength(index));
}

function splitPieces(layout: FileLayout, pieceSize: number, data: Buffer, parity: Buffer): Pieces {
  const pieces: Pieces = [];
  for (let i = 0; i < layout.k; i++) pieces.push(data.subarray(i * pieceSize, (i + 1) * pieceSize));
  for (let i = 0; i < layout.m; i++)
    pieces.push(parity.subarray(i * pieceSize, (i + 1) * pieceSize));
  return pieces;
}
