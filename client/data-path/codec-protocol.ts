import type { CodingParams } from "../protocol/layout.ts";
import type { SlotLayout } from "./segment-ring.ts";

/** The file a codec worker works on: the first message a pool sends it. */
export interface CodecWorkerData {
  fileKey: Uint8Array;
  fileId: Uint8Array;
  layout: CodingParams;
  ring: SharedArrayBuffer;
  slots: SlotLayout;
}

/**
 * Seal the segment in a slot's segment region (unless it is sealed already) and
 * erasure-code it into the slot's piece regions; with `roots`, also give the Merkle
 * subtree root of every piece that sits on the leaf grid.
 */
export interface EncodeRequest {
  op: "encode";
  id: number;
  index: number;
  slot: number;
  sealed: boolean;
  roots: boolean;
}

/**
 * Rebuild the missing data pieces of a slot from those `present`, open the segment and
 * put the plaintext at `shift` (0 to the slot's head) from the slot's start (opening in
 * place: when the tag fails, the slot's data pieces are lost).
 */
export interface DecodeRequest {
  op: "decode";
  id: number;
  index: number;
  slot: number;
  present: boolean[];
  shift: number;
}

export type CodecRequest = EncodeRequest | DecodeRequest;

/**
 * What a worker posts once, when its modules are loaded: only then may it be stopped
 * (stopping it while a native addon initialises aborts the whole process).
 */
export const CODEC_READY = "ready";

/** A worker's answer. */
export type CodecResponse =
  | { id: number; roots?: ({ root: Uint8Array; height: number } | null)[] }
  | { id: number; opened: boolean }
  | { id: number; error: { name: string; message: string } };
