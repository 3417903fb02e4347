/**
 * Errors of the storage node. Routes throw these; one middleware maps `name` to an HTTP
 * status and a `{ "error": name, "message": text }` body (see `http-errors.ts`).
 */
export class NodeServiceError extends Error {
  override name: NodeServiceErrorName;

  constructor(name: NodeServiceErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

/** Every error name a node answers with, and its HTTP status. */
export const ERROR_STATUS = {
  InvalidShardId: 400,
  InvalidRequest: 400,
  /** The client went away mid-request; nobody reads the answer. */
  RequestAborted: 400,
  ShardIdMismatch: 400,
  Unauthorized: 401,
  BadSignature: 401,
  AuthorizationExpired: 401,
  /** An upload signed without its root ended without the root (a proxy dropped the trailer?). */
  RootTrailerMissing: 401,
  /** A PUT that asked for an upgrade which a proxy on the way did not pass on. */
  UpgradeLost: 400,
  WrongDomain: 403,
  WrongNode: 403,
  NonceReused: 403,
  NotOwner: 403,
  ShardNotFound: 404,
  NotFound: 404,
  ShardExists: 409,
  ShardTooLarge: 413,
  BodyTooLarge: 413,
  RangeNotSatisfiable: 416,
  SizeMismatch: 422,
  RootMismatch: 422,
  InsufficientStorage: 507,
  ServiceUnavailable: 503,
  Internal: 500,
} as const;

export type NodeServiceErrorName = keyof typeof ERROR_STATUS;
