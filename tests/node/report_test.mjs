// report.html in headless Chromium: it renders its sections, tables and
// charts from the file alone (nothing fetched, no script errors), and a
// screenshot is taken. node report_test.mjs REPORT.html SCREENSHOT.png
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { launch } from "./chromium.mjs";

const [file, shot] = process.argv.slice(2);
const url = pathToFileURL(path.resolve(file)).href;
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [], fetched = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("request", (r) => { if (r.url() !== url) fetched.push(r.url()); });
  await page.goto(url);
  const h2 = await page.$$eval("h2", (xs) => xs.map((x) => x.textContent));
  for (const s of ["Composite stage score", "Training", "Data", "Tokenizer", "Benchmarks", "User evaluation (arena)", "Expert review", "Provenance"])
    assert.ok(h2.includes(s), `no section "${s}" in ${h2}`);
  // three charts drawn with their lines: the loss curve has a point per step
  const figs = await page.$$eval("figure svg", (xs) => xs.map((s) => {
    const b = s.getBoundingClientRect(), lines = [...s.querySelectorAll("polyline.series")];
    return { w: b.width, h: b.height, points: lines.map((l) => l.points.numberOfItems) };
  }));
  assert.equal(figs.length, 3);
  for (const f of figs) assert.ok(f.w > 300 && f.h > 100 && f.points.length >= 1, JSON.stringify(f));
  assert.ok(figs[0].points[0] >= 20 && figs[0].points.length === 2, "the loss chart: " + JSON.stringify(figs[0]));
  const cells = await page.$$eval("td", (xs) => xs.map((x) => x.textContent));
  assert.ok(cells.includes("kobest_copa"), "no benchmark row");
  assert.ok(cells.includes("Benchmarks") && cells.includes("User evaluation (arena)"), "no composite table");
  assert.match(await page.textContent("body"), /Ledger: \d+ records, chain intact/);
  assert.deepEqual(fetched, []);
  assert.deepEqual(errors, []);
  await page.screenshot({ path: shot, fullPage: true });
  console.log("report.html rendered; screenshot " + shot);
} finally {
  await browser.close();
}
