// The arena's pages in headless Chromium: vote, reload and see the vote
// counted; bad form posts refused with a message; an expert review stored.
// node arena_test.mjs BASE_URL SCREENSHOT.png
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";

const [base, shot] = process.argv.slice(2);
const browser = await launch();
const text = async (page, sel) => (await page.textContent(sel)).trim();
// a form post the page itself could make, answered with a status and a message
const post = (page, url, fields) => page.evaluate(async ([url, fields]) => {
  const r = await fetch(url, { method: "POST", body: new URLSearchParams(fields), redirect: "manual" });
  return { status: r.status, body: await r.text() };
}, [url, fields]);

try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => assert.ok(r.url().startsWith(base), `the page fetched ${r.url()}`));

  await page.goto(base + "/?rater=tester");
  assert.equal(await text(page, "#votes"), "0");
  assert.ok((await text(page, "#prompt")).length > 0, "no prompt");
  assert.equal(await page.isVisible("#notice"), false);
  const token = await page.getAttribute("input[name=token]", "value");
  assert.match(token, /^[0-9a-f]{32}$/);

  // vote: the page comes back with the vote counted and the models revealed
  await Promise.all([page.waitForNavigation(), page.click("#vote-a")]);
  assert.ok(page.url().includes("voted=" + token), page.url());
  assert.equal(await text(page, "#votes"), "1");
  assert.equal(await text(page, "#mine"), "1");
  const notice = await text(page, "#notice");
  assert.match(notice, /A is better/);
  assert.match(notice, /A was .*, B was /);
  await page.reload();
  assert.equal(await text(page, "#votes"), "1", "the vote is not counted after a reload");

  // bad posts: refused with a message, nothing counted
  let r = await post(page, "/vote", { token, vote: "b" });
  assert.equal(r.status, 400);
  assert.match(r.body, /already has a vote/);
  const fresh = await page.getAttribute("input[name=token]", "value");
  r = await post(page, "/vote", { token: fresh, vote: "maybe" });
  assert.equal(r.status, 400);
  assert.match(r.body, /must be a, b, tie or both_bad/);
  r = await post(page, "/vote", { token: "0".repeat(32), vote: "a" });
  assert.equal(r.status, 400);
  assert.match(r.body, /unknown comparison/);
  r = await post(page, "/vote", { vote: "a" });
  assert.equal(r.status, 400);
  assert.match(r.body, /needs the fields/);
  await page.reload();
  assert.equal(await text(page, "#votes"), "1");
  await page.screenshot({ path: shot, fullPage: true });

  // expert review: a score for every criterion and a comment
  await page.goto(base + "/expert");
  assert.equal(await text(page, "#reviews"), "0");
  const names = await page.$$eval("fieldset.criterion input[value='1']", (xs) => xs.map((x) => x.name));
  assert.deepEqual(names, ["score_accuracy", "score_korean_fluency", "score_cultural_fit", "score_safety"]);
  const etoken = await page.getAttribute("input[name=token]", "value");
  r = await post(page, "/expert", { token: etoken, score_accuracy: "4" });
  assert.equal(r.status, 400);
  assert.match(r.body, /&quot;korean_fluency&quot; needs a score from 1 to 5/);
  for (const n of names) await page.check(`input[name=${n}][value='4']`);
  await page.fill("#comment", "문법은 맞지만 내용이 부족하다");
  await Promise.all([page.waitForNavigation(), page.click("#submit")]);
  assert.match(await text(page, "#notice"), /review is stored/);
  assert.equal(await text(page, "#reviews"), "1");
  assert.deepEqual(errors, []);
  console.log("1 passed, 0 failed");
} finally {
  await browser.close();
}
