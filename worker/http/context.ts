// What handlers record on the request for the access log (access-log.ts).
interface RequestFacts {
  reqId: string;
  keyName?: string;
  eventType?: string;
  eventId?: string;
  /** Batch: events received and accepted. */
  events?: number;
  accepted?: number;
}

export type AppEnv = { Variables: { facts: RequestFacts } };
