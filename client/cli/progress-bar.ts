import { Presets, SingleBar } from "cli-progress";
import type { ProgressEvent, ProgressListener, ProgressPhase } from "../progress.ts";
import { formatSize } from "../units.ts";

const LABEL: Record<ProgressPhase, string> = {
  transfer: "upload",
  register: "chain",
  fetch: "download",
  decode: "decode",
  write: "write",
};

/**
 * A progress bar per phase on stderr, when it is a terminal and output is for people.
 * The chain phase shows its own bar ("waiting") so nothing sits at 100 % meanwhile.
 */
export function progressBars(enabled: boolean): {
  listener: ProgressListener | undefined;
  stop(): void;
} {
  if (!enabled || !process.stderr.isTTY) return { listener: undefined, stop() {} };
  let phase: ProgressPhase | undefined;
  let bar: SingleBar | undefined;
  let started = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const listener = (event: ProgressEvent) => {
    if (event.phase !== phase) {
      stop();
      phase = event.phase;
      started = Date.now();
      const bytes = event.phase !== "register";
      bar = new SingleBar(
        {
          stream: process.stderr,
          format: bytes
            ? `${LABEL[event.phase].padEnd(14)} {bar} {percentage}% | {doneText} / {totalText} | {rate}`
            : `${LABEL[event.phase].padEnd(14)} {bar} {state}`,
          hideCursor: true,
          clearOnComplete: false,
        },
        Presets.shades_classic,
      );
      bar.start(Math.max(event.total, 1), 0, payload(event));
    }
    bar?.update(event.done, payload(event));
  };
  const payload = (event: ProgressEvent) => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    return {
      doneText: formatSize(event.done),
      totalText: formatSize(event.total),
      rate: `${formatSize(event.done / seconds)}/s`,
      state: event.done >= event.total ? "confirmed" : "waiting for confirmation",
    };
  };
  return { listener, stop };
}
