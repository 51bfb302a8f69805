// Drives `dokja serve` with the official openai client, raw HTTP and a
// bounded load of concurrent and malformed requests. Run by
// tests/cli/test_serve.sh: node serve_test.mjs BASE_URL API_KEY MODEL_ID EXPECT.json
// EXPECT.json holds the CLI's greedy outputs to compare with.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import OpenAI from "openai";

const [base, key, model, expectPath] = process.argv.slice(2);
const expect = JSON.parse(fs.readFileSync(expectPath, "utf8"));
// what the CLI printed: its text and the newline it ends with
const printed = (f) => fs.readFileSync(f, "utf8").replace(/\n$/, "");
expect.generate = expect.generate_files.map(printed);
// scripted chat prints a reply per line, its newlines and backslashes escaped
expect.chat_reply = printed(expect.chat_file).replace(/\\([nr\\])/g, (_, c) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\"));
const client = new OpenAI({ baseURL: base + "/v1", apiKey: key, maxRetries: 0, timeout: 60000 });
const greedy = { temperature: 0, top_p: 1 };
let checks = 0;
const ok = (what) => { checks++; if (process.env.VERBOSE) console.error("ok", what); };

async function raw(path, { method = "POST", body, headers = {} } = {}) {
  const r = await fetch(base + path, {
    method, body, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...headers },
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* Prometheus text, HTML */ }
  return { status: r.status, text, json };
}

async function metric(name) {
  const { text } = await raw("/metrics", { method: "GET" });
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return Number(line.split(" ")[1]);
}

// --- the API through the openai client -------------------------------------------------------
const models = await client.models.list();
assert.equal(models.data[0].id, model);
ok("models");

const chat = await client.chat.completions.create({ model, messages: [{ role: "user", content: expect.chat_user }], max_tokens: 24, ...greedy });
assert.equal(chat.object, "chat.completion");
assert.equal(chat.choices[0].message.role, "assistant");
assert.ok(["stop", "length"].includes(chat.choices[0].finish_reason));
assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);
assert.ok(chat.usage.completion_tokens >= 1 && chat.usage.completion_tokens <= 24);
// the CLI's scripted chat says the same (greedy)
assert.equal(chat.choices[0].message.content, expect.chat_reply);
ok("chat = CLI chat");

const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: expect.chat_user }], max_tokens: 24, stream: true, ...greedy });
let streamed = "", finish = null, usage = null, chunks = 0;
for await (const ch of stream) {
  chunks++;
  streamed += ch.choices[0]?.delta?.content ?? "";
  if (ch.choices[0]?.finish_reason) finish = ch.choices[0].finish_reason;
  if (ch.usage) usage = ch.usage;
}
assert.equal(streamed, chat.choices[0].message.content);
assert.equal(finish, chat.choices[0].finish_reason);
assert.deepEqual(usage, chat.usage);
assert.ok(chunks >= 2);
ok("chat stream");

// reasoning on: the prompt opens <think>, and the reply's reasoning is its own field
const ask = { model, messages: [{ role: "user", content: "why?" }], max_tokens: 8, ...greedy };
const think = await client.chat.completions.create({ ...ask, reasoning: true });
const plain = await client.chat.completions.create(ask);
assert.equal(typeof think.choices[0].message.reasoning_content, "string");
assert.equal(plain.choices[0].message.reasoning_content, undefined);
assert.equal(think.usage.prompt_tokens, plain.usage.prompt_tokens + 1);
ok("reasoning");

// completions: greedy text equals `dokja generate`, alone and with others decoding beside it
const one = await client.completions.create({ model, prompt: expect.prompts[0], max_tokens: expect.max_tokens, ...greedy });
assert.equal(one.object, "text_completion");
assert.equal(one.choices[0].text, expect.generate[0]);
const together = await Promise.all(expect.prompts.map((p) => client.completions.create({ model, prompt: p, max_tokens: expect.max_tokens, ...greedy })));
together.forEach((c, i) => assert.equal(c.choices[0].text, expect.generate[i], `prompt ${i} batched`));
ok("completions = CLI generate, batched and alone");

const cs = await client.completions.create({ model, prompt: expect.prompts[1], max_tokens: expect.max_tokens, stream: true, ...greedy });
let ctext = "";
for await (const ch of cs) ctext += ch.choices[0]?.text ?? "";
assert.equal(ctext, expect.generate[1]);
ok("completions stream");

// token ids in, stop strings, max_tokens
const ids = (await raw("/tokenize", { body: JSON.stringify({ content: expect.prompts[0] }) })).json.tokens;
const back = (await raw("/detokenize", { body: JSON.stringify({ tokens: ids }) })).json.content;
assert.equal(back, expect.prompts[0]);
const byIds = await client.completions.create({ model, prompt: [expect.bos, ...ids], max_tokens: expect.max_tokens, ...greedy });
assert.equal(byIds.choices[0].text, expect.generate[0]);
const cut = expect.generate[0].slice(3, 5);
if (cut.length === 2 && expect.generate[0].indexOf(cut) >= 0) {
  const stopped = await client.completions.create({ model, prompt: expect.prompts[0], max_tokens: expect.max_tokens, stop: [cut], ...greedy });
  assert.equal(stopped.choices[0].text, expect.generate[0].slice(0, expect.generate[0].indexOf(cut)));
  assert.equal(stopped.choices[0].finish_reason, "stop");
}
const short = await client.completions.create({ model, prompt: expect.prompts[0], max_tokens: 2, ...greedy });
assert.ok(short.usage.completion_tokens <= 2);
ok("ids, stop, max_tokens");

// --- errors: OpenAI's shapes and statuses ---------------------------------------------------
async function status(p) {
  try { await p; return 200; } catch (e) { assert.ok(e.error?.message || e.message); return e.status; }
}
const bad = new OpenAI({ baseURL: base + "/v1", apiKey: "wrong", maxRetries: 0 });
assert.equal(await status(bad.models.list()), 401);
assert.equal(await status(client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] })), 404);
assert.equal(await status(client.chat.completions.create({ model, messages: [{ role: "wizard", content: "x" }] })), 400);
assert.equal(await status(client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], temperature: "hot" })), 400);
assert.equal(await status(client.completions.create({ model, prompt: "x".repeat(expect.context * 4) })), 400);
assert.equal(await status(client.completions.create({ model, prompt: [1, 2, 99999999] })), 400);
const e400 = await raw("/v1/chat/completions", { body: "{\"messages\": [" });
assert.equal(e400.status, 400);
assert.equal(e400.json.error.type, "invalid_request_error");
assert.equal((await raw("/v1/completions", { method: "GET" })).status, 405);
assert.equal((await raw("/v1/nothing", { method: "GET" })).status, 404);
assert.equal((await raw("/v1/completions", { body: JSON.stringify({ prompt: "a".repeat(expect.max_body) }) })).status, 413);
assert.equal((await raw("/v1/models", { method: "GET", headers: { Authorization: "" } })).status, 401);
const long = await raw("/v1/completions", { body: JSON.stringify({ prompt: Array(expect.context).fill(5) }) });
assert.equal(long.status, 400);
assert.equal(long.json.error.code, "context_length_exceeded");
ok("errors");

// --- a client that leaves: its request is cancelled and its slot freed ----------------------
const before = await metric("dokja_generated_tokens_total");
const ac = new AbortController();
const r = await fetch(base + "/v1/completions", {
  method: "POST", signal: ac.signal, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
  body: JSON.stringify({ model, prompt: expect.prompts[0], max_tokens: expect.context, temperature: 1.5, stream: true }),
});
const reader = r.body.getReader();
await reader.read();
ac.abort();
for (let i = 0; i < 50 && (await metric("dokja_active_sequences")) > 0; i++) await new Promise((res) => setTimeout(res, 100));
assert.equal(await metric("dokja_active_sequences"), 0);
assert.ok((await metric("dokja_generated_tokens_total")) - before <= expect.context);
ok("cancel on disconnect");

// --- a bounded load: concurrent valid and malformed requests, and a full queue -------------
const malformed = [
  "", "null", "[]", "{", "{\"prompt\":", "{\"prompt\": 12}", "{\"prompt\": [\"a\", \"b\"]}", "{\"prompt\": \"a\", \"max_tokens\": -1}",
  "{\"prompt\": \"a\", \"max_tokens\": 1e300}", "{\"prompt\": \"a\", \"top_p\": 0}", "{\"prompt\": \"a\", \"stop\": [\"\"]}",
  "{\"prompt\": \"a\", \"n\": 3}", "{\"prompt\": [-1]}", "{\"prompt\": [1.5]}", "{\"prompt\": \"a\", \"seed\": \"x\"}",
  "[".repeat(5000), "{\"prompt\": \"\\ud800\"}", "\u0000\u0001\u0002", "{\"messages\": 5}",
  "{\"prompt\": \"a\", \"stream\": \"yes\"}", "{\"prompt\": \"a\", \"min_p\": 2}", "{\"prompt\": \"a\", \"repetition_penalty\": -1}",
];
const jobs = [];
for (let round = 0; round < 3; round++) {
  malformed.forEach((b, i) => jobs.push(raw(i % 2 ? "/v1/completions" : "/v1/chat/completions", { body: b }).then((x) => ["bad", x.status, b])));
  for (let i = 0; i < 12; i++)
    jobs.push(raw("/v1/completions", { body: JSON.stringify({ model, prompt: expect.prompts[i % 4], max_tokens: expect.context, temperature: 1 }) })
      .then((x) => ["good", x.status, x.json?.error?.message]));
}
// garbage that is not HTTP, and a connection that stops halfway through its body
for (let i = 0; i < 4; i++)
  jobs.push(new Promise((res) => {
    const port = Number(new URL(base).port);
    const s = net.connect(port, "127.0.0.1", () => {
      s.write(i % 2 ? "\x16\x03\x01garbage\r\n\r\n" : "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"prompt\"");
      setTimeout(() => { s.destroy(); res(["socket", 0]); }, 200);
    });
    s.on("error", () => res(["socket", 0]));
  }));
const results = await Promise.all(jobs);
let good = 0, busy = 0;
for (const [kind, st, info] of results) {
  if (kind === "bad") assert.ok(st === 400 || st === 413, `malformed body ${JSON.stringify(info).slice(0, 60)} got ${st}`);
  if (kind === "good") {
    assert.ok(st === 200 || st === 429, `valid request got ${st}: ${info}`);
    st === 200 ? good++ : busy++;
  }
}
assert.ok(good >= 1);
assert.ok(busy >= 1, "36 long requests against 2 slots and a queue of 4: some must be turned away");
assert.equal((await raw("/health", { method: "GET" })).status, 200);
const after = await client.completions.create({ model, prompt: expect.prompts[0], max_tokens: expect.max_tokens, ...greedy });
assert.equal(after.choices[0].text, expect.generate[0]);
const metrics = (await raw("/metrics", { method: "GET" })).text;
for (const m of ["dokja_http_requests_total", "dokja_generated_tokens_total", "dokja_queue_depth", "dokja_tokens_per_second"])
  assert.match(metrics, new RegExp(`^# TYPE ${m} (counter|gauge)$`, "m"));
ok(`load (${good} served, ${busy} turned away)`);
console.log(`${checks} passed, 0 failed`);
