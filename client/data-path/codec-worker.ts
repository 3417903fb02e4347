import { parentPort } from "node:worker_threads";
import { CODEC_READY, type CodecRequest, type CodecWorkerData } from "./codec-protocol.ts";
import { SegmentCoder } from "./segment-coder.ts";

// One worker of a CodecPool: its SegmentCoder works on segments in slots of the shared
// ring. It may start before its file is known: the file comes as its first message.
let coder: SegmentCoder;

parentPort!.on("message", (request: CodecRequest | CodecWorkerData) => {
  if (!("op" in request)) {
    coder = new SegmentCoder(request);
    return;
  }
  void coder.run(request).then((response) => parentPort!.postMessage(response));
});
parentPort!.postMessage(CODEC_READY);
