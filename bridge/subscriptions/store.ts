// Subscriptions in a NATS KV bucket, so every bridge instance sees the same set and reacts to
// changes live (DESIGN.md decision 8). A second small bucket holds per-subscription health (when
// the current run of failures began) so auto-disable is judged across instances.
import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { untilReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { BridgeError } from "../errors.ts";
import { isWrongLastSequence } from "../nats-errors.ts";
import { recordBackfill } from "../delivery/backfill.ts";
import type { Subscription } from "./model.ts";
import { eventsReplicas, SUBSCRIPTIONS_BUCKET } from "./buckets.ts";

export { SUBSCRIPTIONS_BUCKET };

const BUCKET_STREAM = `KV_${SUBSCRIPTIONS_BUCKET}`;
const KEY_PREFIX = `$KV.${SUBSCRIPTIONS_BUCKET}.`;

/** The last message of a key's subject, read through the stream leader; null once deleted. */
async function leaderRead(jsm: JetStreamManager, subject: string): Promise<{ sub: Subscription; revision: number; at: Date } | null> {
  const m = await jsm.streams.getMessage(BUCKET_STREAM, { last_by_subj: subject });
  const op = m?.header?.get("KV-Operation");
  if (!m || op === "DEL" || op === "PURGE") return null;
  return { sub: m.json<Subscription>(), revision: m.seq, at: m.time };
}
const HEALTH_BUCKET = "jetgate_subscription_health";

interface SubscriptionHealth {
  /** When the current run of failures began; absent once a delivery succeeds. */
  failingSince: string;
}

/** A change seen in the bucket; `at` is the server time of the revision (DESIGN decision 16). */
export type SubscriptionChange = { op: "put"; id: string; sub: Subscription; revision: number; at: Date } | { op: "delete"; id: string; revision: number };

function decode(entry: KvEntry): Subscription {
  return entry.json<Subscription>();
}

export class SubscriptionStore {
  private constructor(
    readonly kv: KV,
    readonly health: KV,
    private readonly nc: NatsConnection,
  ) {}

  /**
   * Opens (creating idempotently) the buckets with the EVENTS stream's replicas, waiting for each
   * bucket's stream to have a leader (after an abrupt stop the buckets elect theirs one by one).
   */
  static async open(nc: NatsConnection, wait: UntilReadyOptions = {}): Promise<SubscriptionStore> {
    const replicas = await eventsReplicas(nc, wait);
    const kvm = new Kvm(nc);
    const bucket = (name: string, history: number, description: string) =>
      untilReady(`KV bucket ${name} (stream KV_${name})`, () => kvm.create(name, { replicas, history, description }), wait);
    const kv = await bucket(SUBSCRIPTIONS_BUCKET, 5, "Jetgate webhook subscriptions");
    const health = await bucket(HEALTH_BUCKET, 1, "Jetgate subscription health");
    return new SubscriptionStore(kv, health, nc);
  }

  async get(id: string): Promise<{ sub: Subscription; revision: number; at: Date } | null> {
    const entry = await this.kv.get(id);
    if (!entry || entry.operation !== "PUT") return null;
    return { sub: decode(entry), revision: entry.revision, at: entry.created };
  }

  async require(id: string): Promise<{ sub: Subscription; revision: number }> {
    const found = await this.get(id);
    if (!found) throw new BridgeError("SUBSCRIPTION_NOT_FOUND", `no subscription ${JSON.stringify(id)}`, { id });
    return found;
  }

  async list(): Promise<Subscription[]> {
    return (await this.entries()).map((e) => e.sub);
  }

  /**
   * Every subscription with its revision and revision time, read from the bucket's stream leader:
   * the subjects it holds (one stream info), then each one's last message, a few hundred in flight.
   * Not kv.keys() and kv.get(): a key listing can come back short while the cluster recovers, and a
   * direct get may be answered by a replica that has not caught up, and the fan-out takes what is
   * missing from its view for "no such subscription" (an event would reach nobody; seen in the
   * fault run).
   */
  private async entries(): Promise<Array<{ sub: Subscription; revision: number; at: Date }>> {
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(BUCKET_STREAM, { subjects_filter: `${KEY_PREFIX}>` });
    const subjects = Object.keys(info.state.subjects ?? {}).sort();
    const out: Array<{ sub: Subscription; revision: number; at: Date } | null> = [];
    for (let i = 0; i < subjects.length; i += 256) {
      out.push(...(await Promise.all(subjects.slice(i, i + 256).map((subject) => leaderRead(jsm, subject)))));
    }
    return out.filter((s) => s !== null);
  }

  /** The subscription as the bucket's stream leader has it (never a lagging replica's answer). */
  async getFromLeader(id: string): Promise<Subscription | null> {
    return (await leaderRead(await jetstreamManager(this.nc), KEY_PREFIX + id))?.sub ?? null;
  }

  /**
   * Creates the subscription, then stamps it with `joinedAt`, the server time of that first
   * revision: the moment from which the fan-out owes it events (DESIGN decision 16). The server's
   * clock and not the creator's, so the fan-out can tell for every event whether this revision
   * was already committed when the event was stored. Until the stamp lands, readers take the
   * first revision's own time. A start position before that (all, a sequence, a time) is a
   * backfill, recorded before the stamp (backfill.ts). Returns the stamped subscription.
   */
  async create(sub: Subscription): Promise<Subscription> {
    let revision: number;
    try {
      revision = await this.kv.create(sub.id, JSON.stringify(sub));
    } catch (err) {
      // Only the failed "no entry yet" check means the id is taken; a timeout is not a conflict.
      if (!isWrongLastSequence(err)) throw err;
      throw new BridgeError("SUBSCRIPTION_EXISTS", `subscription ${sub.id} exists already`, { id: sub.id }, { cause: err });
    }
    const first = await this.kv.get(sub.id, { revision });
    const joinedAt = first?.created ?? new Date();
    const stamped = { ...sub, joinedAt: joinedAt.toISOString() };
    await recordBackfill(this.nc, stamped, joinedAt);
    await this.kv.update(sub.id, JSON.stringify(stamped), revision).catch((err: unknown) => {
      // Changed in between by another writer, who kept our first revision's time as theirs.
      if (!isWrongLastSequence(err)) throw err;
    });
    return stamped;
  }


  /** Writes a subscription; with `revision`, only if nobody changed it since (optimistic lock). */
  async put(sub: Subscription, revision?: number): Promise<number> {
    if (revision === undefined) return this.kv.put(sub.id, JSON.stringify(sub));
    return this.kv.update(sub.id, JSON.stringify(sub), revision);
  }

  /** Reads, changes and writes back, retrying when another writer got in between. */
  async modify(id: string, change: (sub: Subscription) => Subscription): Promise<Subscription> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { sub, revision } = await this.require(id);
      const next = change(structuredClone(sub));
      try {
        await this.put(next, revision);
        return next;
      } catch (err) {
        // Lost a race with another writer (the revision moved on): read again. Anything else fails.
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new BridgeError("SUBSCRIPTION_CONFLICT", `subscription ${id} kept changing under us; try again`, { id });
  }

  /**
   * Health goes first: a failure there leaves the subscription in place, to be deleted again,
   * instead of a stale failure run that a new subscription with the same id would inherit.
   */
  async delete(id: string): Promise<void> {
    await this.require(id);
    await this.health.delete(id);
    await this.kv.delete(id);
  }

  /**
   * Calls onChange for the current set, then for every change, until stop(). The current set is
   * read first and the watch resumes just after the bucket's last revision at that moment, so
   * nothing falls between; a change seen twice is harmless because handlers are idempotent. If the
   * watch itself fails, this instance no longer follows changes: `onError` hears it.
   */
  async watch(onChange: (change: SubscriptionChange) => void | Promise<void>, onError: (err: unknown) => void): Promise<{ stop(): void; revision: number }> {
    const last = await this.lastRevision();
    for (const { sub, revision, at } of await this.entries()) await onChange({ op: "put", id: sub.id, sub, revision, at });
    const iter = await this.kv.watch(last > 0 ? { resumeFromRevision: last + 1 } : {});
    (async () => {
      for await (const entry of iter) {
        const change: SubscriptionChange =
          entry.operation === "PUT"
            ? { op: "put", id: entry.key, sub: decode(entry), revision: entry.revision, at: entry.created }
            : { op: "delete", id: entry.key, revision: entry.revision };
        await onChange(change);
      }
    })().catch(onError);
    return { stop: () => iter.stop(), revision: last };
  }

  /** The bucket's last revision now: every change committed before this call has one ≤ it. */
  async lastRevision(): Promise<number> {
    const status = await this.kv.status();
    return status.streamInfo.state.last_seq;
  }

  async getHealth(id: string): Promise<SubscriptionHealth | null> {
    const entry = await this.health.get(id);
    return entry && entry.operation === "PUT" ? entry.json<SubscriptionHealth>() : null;
  }

  async markFailing(id: string, since: Date): Promise<SubscriptionHealth> {
    const existing = await this.getHealth(id);
    if (existing) return existing;
    const health = { failingSince: since.toISOString() };
    await this.health.create(id, JSON.stringify(health)).catch((err: unknown) => {
      // Another instance marked it first: its start of the run is the one read back below.
      if (!isWrongLastSequence(err)) throw err;
    });
    return (await this.getHealth(id)) ?? health;
  }

  async markHealthy(id: string): Promise<void> {
    await this.health.delete(id);
  }
}
