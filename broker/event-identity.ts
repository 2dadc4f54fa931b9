// The identity of an event, written once for every part that keys on it: the edge (workerd and
// Node) sets Nats-Msg-Id from it, so JetStream's duplicate window drops retries; the bridge signs
// deliveries with a webhook-id derived from it and files attempts under it; the tests and benches
// that publish like the edge use it too. Runtime-neutral: no node:*, no side effects on import.
//
// CloudEvents 1.0 §3.1.1 (id): "Producers MUST ensure that source + id is unique for each distinct
// event". The id alone is unique only within one source, so two producers may both send id "42".
// For POST /v1/events/{type} the edge sets source = the API key's name and id = the
// Idempotency-Key (or a generated UUID), so retries with the same key from the same API key dedup
// and the same key from another API key does not.
// Synchronous SHA-256 that runs in workerd too (WebCrypto's digest is async, and the edge builds
// the message id on its synchronous path): the audited @noble/hashes, not a hand-written one.
import { sha256 } from "@noble/hashes/sha2.js";
import { percentEncode } from "./percent-encoding.ts";

const encoder = new TextEncoder();

/**
 * `<source> <id>`, each percent-encoded: one space, which percent-encoding never emits
 * (percent-encoding.ts), so no two (source, id) pairs give the same key. Printable ASCII,
 * unbounded in length.
 */
function identityKey(source: string, id: string): string {
  return `${percentEncode(source)} ${percentEncode(id)}`;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function digest(key: string): string {
  return base64url(sha256(encoder.encode(key)));
}

/** Longest Nats-Msg-Id kept readable; a longer identity is hashed (the dedup window holds every id in memory). */
export const MSG_ID_MAX_LENGTH = 256;
/** Marks a hashed Nats-Msg-Id; it holds no space, so it never equals a readable one. */
export const HASHED_MSG_ID_PREFIX = "sha256:";

/**
 * The Nats-Msg-Id of an event: `<source> <id>` percent-encoded (e.g. `/producer-a 42`) when that
 * fits in MSG_ID_MAX_LENGTH characters, else `sha256:<base64url of the SHA-256 of it>`. A readable
 * id holds exactly one space and a hashed one none, so the two forms never meet.
 */
export function eventMsgId(source: string, id: string): string {
  const key = identityKey(source, id);
  return key.length <= MSG_ID_MAX_LENGTH ? key : HASHED_MSG_ID_PREFIX + digest(key);
}

/**
 * The Standard Webhooks `webhook-id` of every delivery of an event: `msg_<base64url SHA-256 of
 * "<source> <id>">` (Svix-like, 47 characters). It depends only on the event's source and id,
 * which travel as ce-source and ce-id with the event into the DLQ and redrive and replay copies,
 * so retries, redrives and replays of one event share it and different events never do. The
 * subscriber still gets the CloudEvent's own id and source in the body or ce-* headers.
 */
export function webhookIdOf(source: string, id: string): string {
  return `msg_${digest(identityKey(source, id))}`;
}
