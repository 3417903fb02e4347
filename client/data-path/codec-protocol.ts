import type { CodingParams } from "../protocol/layout.ts";

/** What a codec worker starts with. */
export interface CodecWorkerData {
  fileKey: Uint8Array;
  fileId: Uint8Array;
  layout: CodingParams;
}

/** Seal (unless already sealed) and erasure-code one segment; optionally root every piece. */
export interface EncodeRequest {
  op: "encode";
  id: number;
  index: number;
  data: ArrayBuffer;
  sealed: boolean;
  roots: boolean;
}

/** Decode and open one segment from its pieces (null where missing). */
export interface DecodeRequest {
  op: "decode";
  id: number;
  index: number;
  pieces: (ArrayBuffer | null)[];
}

export type CodecRequest = EncodeRequest | DecodeRequest;

/** A piece as a view into a transferred buffer. */
export interface PieceView {
  buffer: ArrayBuffer;
  offset: number;
  length: number;
}

/** A worker's answer: pieces (and roots), plaintext, an authentication failure, or an error. */
export type CodecResponse =
  | { id: number; pieces: PieceView[]; roots?: ({ root: ArrayBuffer; height: number } | null)[] }
  | { id: number; plain: ArrayBuffer }
  | { id: number; failed: true; pieces: (ArrayBuffer | null)[] }
  | { id: number; error: { name: string; message: string } };
