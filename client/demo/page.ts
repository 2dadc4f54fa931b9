// The script of the edge's dev page GET /demo (worker/http/routes-demo.ts serves it, bundled with
// the client by `npm run build:client`): a token minted same-origin with the API key in the page,
// a publish form that shows each ack or problem, and a live list of the events of one
// subscription. Ids and data-* attributes are what test/e2e/browser.test.ts reads: keep them.
import { ClientError, JetgateClient, ProblemError, type Ack, type CloudEvent, type StatusChange, type Subscription } from "../index.ts";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the demo page has no #${id}`);
  return found as T;
}

const apiKey = element<HTMLInputElement>("api-key");
const status = element<HTMLParagraphElement>("status");
const publishForm = element<HTMLFormElement>("publish-form");
const publishType = element<HTMLInputElement>("publish-type");
const publishData = element<HTMLTextAreaElement>("publish-data");
const publishResult = element<HTMLDivElement>("publish-result");
const publishLog = element<HTMLOListElement>("publish-log");
const subscribeForm = element<HTMLFormElement>("subscribe-form");
const subscribeTypes = element<HTMLInputElement>("subscribe-types");
const subscribeFrom = element<HTMLInputElement>("subscribe-from");
const unsubscribeButton = element<HTMLButtonElement>("unsubscribe");
const subscription = element<HTMLParagraphElement>("subscription");
const events = element<HTMLUListElement>("events");

/** POST /v1/tokens with the page's API key, bound to this page's origin. */
async function mintToken(): Promise<string> {
  const res = await fetch("/v1/tokens", {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey.value.trim()}`, "content-type": "application/json" },
    body: JSON.stringify({ origin: location.origin }),
  });
  const body = (await res.json()) as { token?: string; title?: string; detail?: string };
  if (!res.ok || typeof body.token !== "string") throw new Error(`POST /v1/tokens answered ${res.status}: ${body.detail ?? body.title ?? "no token"}`);
  return body.token;
}

let opens = 0;

function showStatus(change: StatusChange): void {
  if (change.status === "open") opens++;
  status.dataset.status = change.status;
  status.dataset.opens = String(opens);
  const parts: string[] = [change.status];
  if (change.ready) parts.push(`as "${change.ready.sub}" until ${change.ready.expiresAt} (maxInFlight ${change.ready.maxInFlight})`);
  if (change.code !== undefined) parts.push(`closed ${change.code}${change.reason ? ` ${change.reason}` : ""}`);
  if (change.error !== undefined) parts.push(String(change.error instanceof Error ? change.error.message : change.error));
  if (change.retryInMs !== undefined) parts.push(`next try in ${change.retryInMs} ms (attempt ${change.attempt})`);
  status.textContent = parts.join(" · ");
}

const wsUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/ws`;
const client = new JetgateClient({ url: wsUrl, token: mintToken, source: `${location.origin}/demo`, onStatus: showStatus });

function line(tag: string, text: string, attributes: Record<string, string> = {}): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.dataset[name] = value;
  return node;
}

/** One publish: its line in the log, and the result box showing the latest answer. */
function settle(entry: HTMLElement, outcome: { ack: Ack } | { error: unknown }): void {
  publishResult.replaceChildren();
  if ("ack" in outcome) {
    const { ack } = outcome;
    const text = `stored at seq ${ack.seq}${ack.duplicate ? " (duplicate)" : ""} · ${ack.type} · id ${ack.id}`;
    for (const node of [publishResult, entry]) Object.assign(node.dataset, { state: "ack", seq: String(ack.seq), id: ack.id, duplicate: String(ack.duplicate) });
    publishResult.textContent = entry.textContent = text;
    return;
  }
  const { error } = outcome;
  if (error instanceof ProblemError) {
    const { problem } = error;
    for (const node of [publishResult, entry]) Object.assign(node.dataset, { state: "problem", problemType: problem.type, status: String(problem.status) });
    entry.textContent = `${problem.type}: ${problem.detail}`;
    publishResult.append(line("strong", problem.type, { field: "type" }), line("p", problem.detail, { field: "detail" }));
    const errors = Array.isArray(problem.errors) ? (problem.errors as Array<{ instancePath?: string; message?: string }>) : [];
    if (errors.length > 0) {
      const list = document.createElement("ul");
      list.id = "publish-errors";
      for (const e of errors) list.append(line("li", `${e.instancePath || "(the data)"}: ${e.message ?? ""}`, { instancePath: e.instancePath ?? "" }));
      publishResult.append(list);
    }
    return;
  }
  const code = error instanceof ClientError ? error.code : "ERROR";
  for (const node of [publishResult, entry]) Object.assign(node.dataset, { state: "error", code });
  publishResult.textContent = entry.textContent = error instanceof Error ? error.message : String(error);
}

publishForm.addEventListener("submit", (e) => {
  e.preventDefault();
  let data: unknown;
  try {
    data = JSON.parse(publishData.value);
  } catch (err) {
    const entry = line("li", "");
    publishLog.append(entry);
    settle(entry, { error: new Error(`the data is not JSON: ${err instanceof Error ? err.message : err}`) });
    return;
  }
  const entry = line("li", `${publishType.value}: waiting for the edge…`, { state: "pending" });
  publishLog.append(entry);
  Object.assign(publishResult.dataset, { state: "pending" });
  publishResult.textContent = "waiting for the edge…";
  client.publish({ type: publishType.value.trim(), data }).then(
    (ack) => settle(entry, { ack }),
    (error: unknown) => settle(entry, { error }),
  );
});

let current: Subscription | undefined;

function showEvent(event: CloudEvent, seq: number): void {
  const item = line("li", `#${seq} ${event.type} ${event.id}`, { seq: String(seq), type: event.type, id: event.id });
  item.id = `event-${seq}`;
  events.append(item);
}

function fromOf(raw: string): number | "new" | "last" {
  const value = raw.trim();
  if (value === "" || value === "new" || value === "last") return value === "last" ? "last" : "new";
  const seq = Number(value);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : "new";
}

subscribeForm.addEventListener("submit", (e) => {
  e.preventDefault();
  current?.unsubscribe();
  const types = subscribeTypes.value.split(",").map((t) => t.trim()).filter(Boolean);
  events.replaceChildren();
  Object.assign(subscription.dataset, { state: "pending", types: types.join(",") });
  subscription.textContent = `subscribing to ${types.join(", ")}…`;
  const sub = client.subscribe(types, {
    from: fromOf(subscribeFrom.value),
    onError: (problem) => {
      Object.assign(subscription.dataset, { state: "problem", problemType: problem.type });
      subscription.textContent = `refused: ${problem.type}: ${problem.detail}`;
    },
  }, showEvent);
  current = sub;
  sub.ready.then(
    (confirmed) => {
      if (current !== sub) return;
      subscription.dataset.state = "subscribed";
      subscription.textContent = `subscribed to ${confirmed.join(", ")} (${sub.rid})`;
    },
    () => {},
  );
});

unsubscribeButton.addEventListener("click", () => {
  current?.unsubscribe();
  current = undefined;
  subscription.dataset.state = "none";
  subscription.textContent = "not subscribed";
});
