import { parentPort } from "node:worker_threads";
import { CODEC_READY, type CodecRequest, type CodecWorkerData } from "./codec-protocol.ts";
import { SlotCoder } from "./slot-coder.ts";

// One worker of a CodecPool: its SlotCoder works on segments in slots of the shared
// ring. It may start before its file is known: the file comes as its first message.
let coder: SlotCoder;

parentPort!.on("message", (request: CodecRequest | CodecWorkerData) => {
  if (!("op" in request)) {
    coder = new SlotCoder(request);
    return;
  }
  void coder.run(request).then((response) => parentPort!.postMessage(response));
});
parentPort!.postMessage(CODEC_READY);
