// Opens a page written by `blockheap browse` in headless Chromium, from disk, and checks what a person
// would look at: the grid shows every block, clicking an object shows its size, the timeline slider
// switches the heap shown. Saves a screenshot. Run by tests/cli/browse.sh.
//
//   node check.mjs PAGE.html SCREENSHOT.png EXPECT_JSON
//   EXPECT_JSON: {"blocks": N, "snapshots": S,
//                 "object": {"block": B, "blocks": K, "bytes": BYTES},  (optional: a known object)
//                 "failure": true}                                      (optional: a failed replay)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [pagePath, shotPath, expectJson] = process.argv.slice(2);
const expect = JSON.parse(expectJson);
let failures = 0, passes = 0;
function check(ok, what, detail = "") {
  if (ok) passes++; else failures++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? ": " + detail : ""}`);
}

const profile = mkdtempSync(join(tmpdir(), "blockheap-chromium-"));   // a fresh user-data-dir each run
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
  viewport: { width: 1280, height: 900 },
  timeout: 60000,
});
try {
  const page = context.pages()[0] || await context.newPage();
  // The page must be self-contained: any request other than the file itself is a failure.
  const foreign = [];
  await page.route("**/*", route => {
    const url = route.request().url();
    if (url.startsWith("file:")) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });

  await page.goto(pathToFileURL(resolve(pagePath)).href);
  const grid = page.locator("#grid");
  const attr = async (sel, name) => page.locator(sel).getAttribute(name);

  // 1. the grid shows every block of the heap
  const blocks = Number(await attr("#grid", "data-blocks"));
  check(blocks === expect.blocks, "grid shows every block", `${blocks} shown, ${expect.blocks} expected`);
  const box = await grid.boundingBox();
  const cols = Number(await attr("#grid", "data-cols")), cell = Number(await attr("#grid", "data-cell"));
  check(box && Math.round(box.width) === cols * cell && Math.round(box.height) >= Math.ceil(blocks / cols) * cell,
        "grid is drawn at its size", `${box && box.width}x${box && box.height} px, ${cols} per row, ${cell} px/block`);

  // 2. clicking a known object shows its size (click the middle of its last block)
  const clickBlock = async b => {
    const at = { x: (b % cols) * cell + cell / 2, y: Math.floor(b / cols) * cell + cell / 2 };
    await page.locator("#overlay").click({ position: at });
  };
  const o = expect.object;
  if (o) {
    await clickBlock(o.block + o.blocks - 1);
    const sel = page.locator("#selection");
    const shownBlocks = Number(await sel.getAttribute("data-blocks"));
    const shownStart = Number(await sel.getAttribute("data-start"));
    const text = await sel.innerText();
    check(shownStart === o.block && shownBlocks === o.blocks && text.includes(`${o.bytes} bytes`),
          "clicking an object shows its size", text.split("\n").slice(0, 2).join(" | "));
  }

  // 2b. a failed replay opens at its failure, which says what failed
  if (expect.failure) {
    const box = page.locator("#failure");
    const text = (await box.isVisible()) ? await box.innerText() : "";
    check(/failed here: (fragmented|exhausted)/.test(text), "the failure is shown", text);
    check(await attr("#grid", "data-snapshot") === String(expect.snapshots - 1), "the page opens at the failure");
  }

  // 3. the timeline slider switches the heap shown: the snapshot, its figures and the pixels change
  const snapshots = Number(await page.locator("#slider").getAttribute("max")) + 1;
  check(snapshots === expect.snapshots, "timeline has every snapshot", `${snapshots} on the slider`);
  const before = { snap: await attr("#grid", "data-snapshot"), used: await attr("#figures", "data-used-bytes"),
                   pixels: await grid.evaluate(c => c.toDataURL()) };
  // from the first snapshot to the last, or back from the last (where a failed replay opens)
  const target = before.snap === "0" ? snapshots - 1 : 0;
  await page.locator("#slider").focus();
  await page.keyboard.press(target ? "End" : "Home");
  const after = { snap: await attr("#grid", "data-snapshot"), used: await attr("#figures", "data-used-bytes"),
                  pixels: await grid.evaluate(c => c.toDataURL()) };
  check(after.snap === String(target) && after.snap !== before.snap, "slider shows another snapshot",
        `snapshot ${before.snap} -> ${after.snap}`);
  check(after.used !== before.used, "its figures change", `used bytes ${before.used} -> ${after.used}`);
  check(after.pixels !== before.pixels, "the grid is redrawn");

  check(foreign.length === 0, "no network request", foreign.join(" "));
  check(errors.length === 0, "no script error", errors.join(" | "));

  // for the screenshot: the same object selected in the heap now shown
  if (o) await clickBlock(o.block);
  await page.screenshot({ path: shotPath, fullPage: true });
  console.log(`screenshot: ${resolve(shotPath)}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`browser: ${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
