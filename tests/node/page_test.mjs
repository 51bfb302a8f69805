// The chat page in headless Chromium: type a message, see a reply stream in,
// take a screenshot. node page_test.mjs BASE_URL API_KEY SCREENSHOT.png
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [base, key, shot] = process.argv.slice(2);
// Flags for a machine without network: nothing in the background reaches out
// (playwright gives the browser a fresh profile of its own).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // the page loads no outside resource
  page.on("request", (r) => assert.ok(r.url().startsWith(base), `the page fetched ${r.url()}`));
  await page.goto(base + "/");
  await page.fill("#key", key);
  await page.dispatchEvent("#key", "change");
  await page.fill("#input", "안녕하세요");
  let chunks = 0;
  page.on("response", (r) => { if (r.url().endsWith("/v1/chat/completions")) chunks++; });
  await page.click("#send");
  await page.waitForSelector(".msg.assistant[data-done='1']", { timeout: 60000 });
  const reply = await page.textContent(".msg.assistant");
  assert.ok(reply.length > 0, "the reply is empty");
  assert.equal(await page.textContent(".msg.user"), "안녕하세요");
  assert.equal(chunks, 1);
  assert.deepEqual(errors, []);
  await page.screenshot({ path: shot });
  console.log("1 passed, 0 failed");
} finally {
  await browser.close();
}
