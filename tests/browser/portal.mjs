// The portal in a real browser (issue #7): Debian's Chromium, driven by playwright-core,
// against the real server with demo data. Run by scripts/browser-tests.
//
// The story: a patient logs in, opens a lab chart, writes a personal note and asks to link
// their health log with the practice; the practice nurse accepts; the patient sees the
// nurse's access in "Who viewed my record"; the nurse cannot reach the note by any URL;
// an assistant without a treatment relationship is refused and uses break-the-glass; the
// privacy officer sees it in the review queue. Screenshots of the main pages are saved.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { chromium } from "playwright-core";

const BASE = process.env.ZK_URL;
const SHOTS = process.env.ZK_SHOTS;
const PASSWORD = "demo-lindeboom-veluwe-2026";
const TOTP_SECRET = "KRUGS4ZANFZSAYJAMRSW233PEBZWKY3S";

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as authenticator apps compute it.
function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret, step = Math.floor(Date.now() / 1000 / 30)) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
let step = "start";
const failures = [];

async function user(login, { staff = false, lang = "nl" } = {}) {
  const context = await browser.newContext({
    locale: lang === "en" ? "en-GB" : "nl-NL",
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  // Every page must be served without a console error (CSP violations show up here).
  page.on("console", (m) => {
    // Expected refusals (403/404 pages) are not errors; anything else (a CSP violation, a
    // failing script or stylesheet) is.
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) failures.push(`${login}: console error on ${page.url()}: ${m.text()}`);
  });
  await page.goto(`${BASE}/login`);
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", PASSWORD);
  if (staff) await page.fill("input[name=code]", totp(TOTP_SECRET));
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.ok(!page.url().includes("/login"), `${login} is logged in (now at ${page.url()})`);
  return { context, page };
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function status(page, path) {
  const response = await page.goto(`${BASE}${path}`);
  return response ? response.status() : 0;
}

async function click(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

async function main() {
  // ---- The patient --------------------------------------------------------------------
  step = "patient logs in";
  const patient = await user("patient.00000");
  const p = patient.page;
  assert.ok(p.url().endsWith("/patient"), `the patient lands on the portal, not ${p.url()}`);
  await shot(p, "patient-overview");

  step = "patient opens a lab chart";
  assert.equal(await status(p, "/patient/results"), 200);
  await shot(p, "patient-results");
  await click(p, p.locator("main a[href^='/patient/results/']").first());
  assert.ok((await p.locator("main figure.chart svg").count()) > 0, "a chart is drawn");
  assert.ok((await p.locator("main table").count()) > 0, "the values are also in a table");
  await shot(p, "patient-lab-chart");

  step = "patient sees the record and documents";
  assert.equal(await status(p, "/patient/record"), 200);
  await shot(p, "patient-record");
  assert.equal(await status(p, "/patient/documents"), 200);

  step = "patient writes a personal note";
  assert.equal(await status(p, "/patient/notes"), 200);
  const secret = "Alleen voor mij: vraag de huisarts naar de slaappillen.";
  await p.fill("#text-new", secret);
  await p.fill("#password-new", PASSWORD);
  await click(p, p.locator("form[action='/patient/notes/write'] button[type=submit]").last());
  await shot(p, "patient-notes-recovery-key");
  await p.goto(`${BASE}/patient/notes`);
  await p.fill("#password-open", PASSWORD);
  await click(p, p.locator("form[action='/patient/notes'] button[type=submit]"));
  assert.ok((await p.content()).includes(secret), "the patient reads the note back");
  const noteId = await p.locator("input[name=note_id]").first().getAttribute("value");
  assert.ok(noteId, "the note has an id");

  step = "patient asks to link the health log with the practice";
  assert.equal(await status(p, "/patient/links"), 200);
  const practice = p.locator("#organisation optgroup").first().locator("option").first();
  const practiceId = await practice.getAttribute("value");
  await p.selectOption("#organisation", practiceId);
  await click(p, p.locator("form[action='/patient/links'] button[type=submit]"));
  await shot(p, "patient-links");

  step = "pages refuse other patients' data";
  assert.equal(await status(p, "/staff/patients/00000000-0000-0000-0000-000000000000"), 403);
  assert.equal(await status(p, "/privacy-officer/audit"), 403);

  step = "the page language follows the switch";
  await p.goto(`${BASE}/patient`);
  await click(p, p.locator("header a.lang"));
  assert.equal(await p.getAttribute("html", "lang"), "en");
  await shot(p, "patient-overview-en");
  await click(p, p.locator("header a.lang"));
  assert.equal(await p.getAttribute("html", "lang"), "nl");

  // ---- The practice nurse -------------------------------------------------------------
  step = "the practice nurse accepts the link";
  const nurse = await user("poh.bakker", { staff: true });
  const n = nurse.page;
  assert.ok(n.url().endsWith("/staff"), `staff land on their patients, not ${n.url()}`);
  await shot(n, "staff-my-patients");
  const record = n.locator("main a[href^='/staff/patients/']", { hasText: "de Wit" }).first();
  const recordPath = await record.getAttribute("href");
  assert.ok(recordPath, "the nurse has the patient in care");
  await n.goto(`${BASE}/staff/links`);
  await shot(n, "staff-link-requests");
  await click(n, n.locator("form[action$='/accept'] button").first());

  step = "the nurse opens the record";
  assert.equal(await status(n, recordPath), 200);
  await shot(n, "staff-record");

  step = "the nurse cannot reach the note by any URL";
  for (const path of ["/patient/notes", `/fhir/Basic/${noteId}`, `/fhir/Basic/${noteId}/_history`]) {
    const code = await status(n, path);
    assert.ok(code === 403, `${path} answered ${code} to the nurse`);
    assert.ok(!(await n.content()).includes(secret), `${path} shows nothing of the note`);
  }

  step = "the patient sees the nurse in 'who viewed my record'";
  assert.equal(await status(p, "/patient/access-log"), 200);
  assert.ok((await p.content()).includes("Bakker"), "the nurse's access is listed");
  await shot(p, "patient-access-log");

  // ---- Without a relationship: refused, then the emergency procedure -----------------
  step = "an assistant without a relationship is refused";
  const patientPath = recordPath;
  let refusedAssistant = null;
  for (const login of ["assistent.degroot", "assistent.elamrani"]) {
    const a = await user(login, { staff: true });
    if ((await status(a.page, patientPath)) === 403) {
      refusedAssistant = a;
      break;
    }
    await a.context.close();
  }
  assert.ok(refusedAssistant, "one of the two assistants has no relationship with the patient");
  const ap = refusedAssistant.page;
  assert.ok(
    (await ap.locator(`a[href='${patientPath}/break-glass']`).count()) > 0,
    "the refusal points to the emergency procedure"
  );
  await shot(ap, "staff-refused");
  // DOMAIN.md: break-the-glass is for clinicians; an assistant is told so and refused.
  const assistantGlass = await status(ap, `${patientPath}/break-glass`);
  assert.equal(assistantGlass, 403, "the emergency procedure is not an assistant's");

  step = "a clinician without a relationship uses break-the-glass";
  let ward = null;
  for (const login of ["verpleegkundige.kuipers", "specialist.terhorst", "huisarts.devries", "huisarts.jansen"]) {
    const c = await user(login, { staff: true });
    if ((await status(c.page, patientPath)) === 403) {
      ward = { ...c, login };
      break;
    }
    await c.context.close();
  }
  assert.ok(ward, "a clinician without a relationship with the patient");
  const w = ward.page;
  const wardName = (await w.locator("header .who strong").textContent()).trim();
  assert.equal(await status(w, `${patientPath}/break-glass`), 200);
  await shot(w, "staff-break-glass");
  await w.fill("#bg-reason", "Patiënte aanspreekbaar op de SEH, medicatie onbekend");
  await w.check("input[name=confirm]");
  await click(w, w.locator("form button[type=submit].danger"));
  assert.ok(w.url().endsWith(patientPath), `after the emergency procedure the record opens (${w.url()})`);
  assert.equal(await status(w, patientPath), 200);

  // ---- The privacy officer ------------------------------------------------------------
  step = "the privacy officer sees it in the review queue";
  const fg = await user("fg.vandijk", { staff: true });
  const f = fg.page;
  assert.equal(await status(f, "/privacy-officer/review"), 200);
  const review = await f.content();
  assert.ok(review.includes(wardName), `the emergency access by ${wardName} is in the queue`);
  assert.ok(review.includes("medicatie onbekend"), "with its reason");
  await shot(f, "privacy-officer-review");
  await f.fill("textarea[name=remark]", "Besproken met de SEH: terecht gebruikt.");
  await click(f, f.locator("form[action^='/privacy-officer/review/'] button").first());
  assert.equal(await status(f, "/privacy-officer/audit"), 200);
  await shot(f, "privacy-officer-audit");

  step = "the patient sees the emergency access highlighted";
  assert.equal(await status(p, "/patient/access-log"), 200);
  assert.ok((await p.locator(".emergency").count()) > 0, "emergency access is highlighted");

  step = "the privacy statement is public";
  const anonymous = await browser.newContext();
  const ap2 = await anonymous.newPage();
  const r = await ap2.goto(`${BASE}/privacy-statement`);
  assert.equal(r.status(), 200);
  await shot(ap2, "privacy-statement");
}

try {
  await main();
} catch (e) {
  failures.push(`${step}: ${e.stack || e}`);
} finally {
  await browser.close();
}
if (failures.length) {
  console.error("browser tests FAILED:\n" + failures.join("\n"));
  process.exit(1);
}
console.log("browser tests: all steps passed");
