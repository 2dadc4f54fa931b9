// The HTML of GET /demo (routes-demo.ts): plain markup and a little CSS around the bundled script
// (demo-script.ts, generated from client/demo/page.ts). The ids and data-* attributes are the
// page's interface to its script and to test/e2e/browser.test.ts.
import { DEV_API_KEY } from "../auth/keys.ts";

export interface DemoPageInput {
  /** The registered types, offered in the publish form. */
  types: string[];
  example: { type: string; data: unknown };
  /** An ES module's source. */
  script: string;
}

/** Text safe in HTML content and in a double-quoted attribute. */
function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/**
 * A script is raw text inside <script>, ended by the first "</script" whatever the JS means there
 * (HTML Living Standard §4.12.1.3); "<\/script" is the same JS string and ends nothing.
 */
function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 52rem; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
.warn { background: #fff4d6; border: 1px solid #e6c463; padding: .5rem .75rem; border-radius: 4px; }
label { display: block; margin: .4rem 0; } input, textarea { font: 13px ui-monospace, monospace; }
input { width: 22rem; } textarea { width: 100%; box-sizing: border-box; }
#status { font-weight: 600; } #status[data-status="open"] { color: #1a7f37; } #status[data-status="reconnecting"] { color: #b35900; }
[data-state="ack"] { color: #1a7f37; } [data-state="problem"], [data-state="error"] { color: #c62828; }
#events, #publish-log { font: 13px ui-monospace, monospace; max-height: 20rem; overflow: auto; }
`;

export function demoPage({ types, example, script }: DemoPageInput): string {
  const options = types.map((t) => `<option value="${escapeHtml(t)}"></option>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Jetgate demo</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Jetgate: events over a WebSocket</h1>
<p class="warn">Dev only. This page holds the local stack's dev API key and mints browser tokens with it; a real
app mints them in its backend (docs/browsers.md). The edge serves it only with <code>DEMO_PAGE=true</code>.</p>
<p id="status" data-status="connecting" data-opens="0">connecting…</p>

<h2>Connection</h2>
<label>API key (a token is minted with it, <code>POST /v1/tokens</code>, on every connect)
<input id="api-key" value="${escapeHtml(DEV_API_KEY)}" autocomplete="off" spellcheck="false"></label>

<h2>Publish</h2>
<form id="publish-form">
<label>Type <input id="publish-type" list="types" value="${escapeHtml(example.type)}" autocomplete="off"></label>
<datalist id="types">${options}</datalist>
<label>Data (JSON)<textarea id="publish-data" rows="12" spellcheck="false">${escapeHtml(JSON.stringify(example.data, null, 2))}</textarea></label>
<button id="publish" type="submit">Publish</button>
</form>
<div id="publish-result" data-state="idle"></div>
<ol id="publish-log"></ol>

<h2>Subscribe</h2>
<form id="subscribe-form">
<label>Types (globs, comma-separated) <input id="subscribe-types" value="order.*"></label>
<label>From (<code>new</code>, <code>last</code> or a seq) <input id="subscribe-from" value="new"></label>
<button id="subscribe" type="submit">Subscribe</button> <button id="unsubscribe" type="button">Unsubscribe</button>
</form>
<p id="subscription" data-state="none">not subscribed</p>
<ul id="events"></ul>

<script type="module">${inlineScript(script)}</script>
</body>
</html>
`;
}
