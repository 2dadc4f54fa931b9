// Standard Webhooks v1 signatures (https://www.standardwebhooks.com): the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", HMAC-SHA256 with the base64 key after `whsec_`, sent
// as "v1,<base64>". During rotation every live secret signs and the signatures are space-separated;
// a receiver accepts the delivery if any one verifies.
import { Webhook } from "standardwebhooks";

const signers = new Map<string, Webhook>();

function signer(secret: string): Webhook {
  let webhook = signers.get(secret);
  if (!webhook) {
    webhook = new Webhook(secret);
    // Secrets are few and long-lived; the bound only stops a rotation storm from growing the map.
    if (signers.size > 10_000) signers.clear();
    signers.set(secret, webhook);
  }
  return webhook;
}

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** The three Standard Webhooks headers for one attempt. */
export function signHeaders(id: string, body: string, secrets: string[], at: Date = new Date()): SignedHeaders {
  const timestamp = Math.floor(at.getTime() / 1000);
  const signatures = secrets.map((secret) => signer(secret).sign(id, new Date(timestamp * 1000), body));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}

/** Verifies with the standardwebhooks package; true when any v1 signature matches `secret`. */
export function verifySignature(secret: string, body: string, headers: Record<string, string>): boolean {
  try {
    signer(secret).verify(body, headers, { jsonParse: false });
    return true;
  } catch {
    return false;
  }
}
