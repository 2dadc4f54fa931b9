// The client's types as a page uses them: publish is typed by an event map (type → data), so a
// wrong type name or a wrong data shape fails `npm run typecheck`, not the edge. The lines that
// expect a type error are the test: tsc fails if one of them stops being an error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { JetgateClient, type Ack } from "../../client/index.ts";

interface OrderCreated {
  orderId: string;
  total: { amount: string; currency: string };
}

/** An interface, as json-schema-to-typescript writes them. */
interface Events {
  "order.created": OrderCreated;
}

/** Never called: tsc checks it, the test only proves it exists. */
async function typedUse(client: JetgateClient<Events>): Promise<Ack<"order.created">> {
  // @ts-expect-error: not a type of the map
  await client.publish({ type: "order.deleted", data: {} });
  // @ts-expect-error: the data lacks `total`
  await client.publish({ type: "order.created", data: { orderId: "o-1" } });
  return client.publish({ type: "order.created", data: { orderId: "o-1", total: { amount: "1.00", currency: "EUR" } } });
}

test("publish is typed by the client's event map (checked by npm run typecheck)", () => {
  assert.equal(typeof typedUse, "function");
});
