// NATS errors the bridge acts on, recognised by class and JetStream API code (nats.js v3
// jetstream/src/jserrors.ts; the codes are nats-server's errors.json), never by message text. Only
// these mean "absent" or "taken"; every other error (a timeout, a permission violation, a cluster
// without a leader) is a failure and goes on to the caller, or through untilReady when it means
// "not ready yet" (broker/jetstream/ready.ts).
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** The durable (or ordered) consumer does not exist: JSConsumerNotFoundErr, 10014. */
export function isConsumerNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound;
}

/** The stream does not exist: JSStreamNotFoundErr, 10059. */
export function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

/**
 * An expected-last-sequence check failed (JSStreamWrongLastSequenceErrF 10071, or 10164 when the
 * last sequence is unknown): for a KV bucket, the key already exists (create) or changed since the
 * revision that was read (update). This is how @nats-io/kv itself tells "exists" apart.
 */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
