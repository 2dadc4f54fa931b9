// `npm run nats:install`: makes sure a nats-server ≥ 2.10.23 is there (CI runs it before the tests,
// so the fetch shows in its log rather than inside the first test that starts a broker).
import { ensureNatsServer } from "./nats-binary.ts";

const found = ensureNatsServer((line) => console.log(`[nats] ${line}`));
console.log(`[nats] using nats-server ${found.version} at ${found.path}`);
