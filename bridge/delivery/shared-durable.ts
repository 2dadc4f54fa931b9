// The bridge's shared durables (the fan-out's on EVENTS, the deliveries' on JETGATE_TASKS): created
// once by whichever instance comes first, then attached to. An existing one keeps its position and
// its config, but for the fields named in `live` (settings of the bridge, like the AckWait), which
// are brought to this instance's value. After a cluster restart a durable answers only once its Raft group has a leader;
// until then this waits (untilReady, DESIGN.md decision 15) instead of pulling into the void.
import type { ConsumerConfig, JetStreamClient, JetStreamManager, Consumer } from "@nats-io/jetstream";
import { LeaderMissingError, untilReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { isConsumerNotFound } from "../nats-errors.ts";

export async function sharedDurable(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  config: () => Partial<ConsumerConfig> & { durable_name: string },
  wait: UntilReadyOptions,
  live: Array<keyof ConsumerConfig> = [],
): Promise<Consumer> {
  const name = config().durable_name;
  const info = () =>
    jsm.consumers.info(stream, name).then(
      (found) => {
        if (found.cluster && !found.cluster.leader) throw new LeaderMissingError(`consumer ${name} on stream ${stream} has no leader`);
        return found;
      },
      (err: unknown) => {
        if (isConsumerNotFound(err)) return null;
        throw err;
      },
    );
  await untilReady(`consumer ${name} on stream ${stream}`, async () => {
    const existing = await info();
    if (existing) {
      const wanted = config();
      const changed = live.filter((key) => wanted[key] !== undefined && existing.config[key] !== wanted[key]);
      if (changed.length > 0) await jsm.consumers.update(stream, name, Object.fromEntries(changed.map((key) => [key, wanted[key]])));
      return;
    }
    // Another instance may create it between our look and our add: then it is there.
    await jsm.consumers.add(stream, config()).catch(async (err: unknown) => {
      if (!(await info())) throw err;
    });
    // A new R3 durable answers before its group has a leader: wait for one (a pull sent in that gap is lost).
    if (!(await info())) throw new LeaderMissingError(`consumer ${name} on stream ${stream} is not there yet`);
  }, wait);
  return untilReady(`consumer ${name} on stream ${stream}`, () => js.consumers.get(stream, name), wait);
}
