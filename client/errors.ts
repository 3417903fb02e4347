/**
 * Errors of the dstore client. Every error has a literal `name` that callers and tests
 * branch on, a short message for people, and the underlying error as `cause`.
 */
export class DstoreError extends Error {
  override name: DstoreErrorName;

  constructor(name: DstoreErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

/** The names a {@link DstoreError} can carry. */
export type DstoreErrorName =
  | "ConfigError"
  | "InvalidArgument"
  | "FileNotFound"
  | "OutputExists"
  | "OutputError"
  | "NotEnoughNodes"
  | "NotEnoughShards"
  | "IntegrityError"
  | "DecryptionError"
  | "NodeRequestError"
  | "UploadFailed"
  | "ChainError"
  | "NotOwner";

/** True when `error` is a {@link DstoreError} with the given name. */
export function isDstoreError(error: unknown, name?: DstoreErrorName): error is DstoreError {
  return error instanceof DstoreError && (name === undefined || error.name === name);
}
