/**
 * A shard upload on the connection itself, after an HTTP/1.1 upgrade (RFC 9110 §7.8).
 *
 * The client sends `PUT /v1/shards/<id>` with `Connection: Upgrade`, `Upgrade:`
 * {@link UPLOAD_PROTOCOL}, {@link UPLOAD_UPGRADE_HEADER} and the authorization, and no
 * body. The node answers what it would answer a plain PUT before reading its body (an
 * error, or 200 with the receipt of a shard it already keeps), or 101; after a 101 the
 * client sends exactly the shard's bytes, then, for an authorization signed without its
 * root, the authorization naming the root and CRLF; the node answers as an HTTP/1.1
 * response (201 and the receipt, or an error) and closes the connection.
 *
 * Why: node:http hands a node's request body to it as a fresh buffer per ≤64 KiB read
 * (and copies it once more on the way); on the upgraded connection the kernel reads the
 * bytes straight into the blocks they are written to disk from (bench/README.md).
 */
export const UPLOAD_PROTOCOL = "dstore-shard/1";

/**
 * Sent with the upgrade and kept by every proxy (unlike `Connection` and `Upgrade`, which
 * a proxy that does not pass upgrades on drops): a node that gets it on a plain PUT knows
 * the upgrade was lost on the way, and refuses it with `UpgradeLost` before any byte of a
 * body that will never come; the client then sends the shard as a plain PUT.
 */
export const UPLOAD_UPGRADE_HEADER = "x-dstore-upgrade";

/** Most bytes of the line after the body (the authorization naming the root). */
export const ROOT_LINE_LIMIT = 16 * 1024;
