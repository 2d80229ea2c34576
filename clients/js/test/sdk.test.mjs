// node --test, against a live promptpix service (tests/integration/test_js_sdk.py starts one and sets the env):
// PROMPTPIX_URL, PROMPTPIX_API_KEY (secret), PROMPTPIX_PROJECT, PROMPTPIX_KEY_ID (publishable),
// PROMPTPIX_CLIENT_MODULE (the package to test: the packed one, or ../dist/index.js),
// PROMPTPIX_OUT (a folder: every image fetched is saved there for the Python side to decode).
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { pathToFileURL } from "node:url";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
};
const BASE = env("PROMPTPIX_URL");
const KEY = env("PROMPTPIX_API_KEY");
const PROJECT = env("PROMPTPIX_PROJECT");
const KEY_ID = env("PROMPTPIX_KEY_ID");
const OUT = env("PROMPTPIX_OUT");
const sdk = await import(pathToFileURL(env("PROMPTPIX_CLIENT_MODULE")).href);

/** Width and height from the image's own header (PNG, JPEG, WebP): what was served, not what was asked. */
function size(bytes) {
  const b = Buffer.from(bytes);
  if (b.subarray(1, 4).toString() === "PNG") return [b.readUInt32BE(16), b.readUInt32BE(20), "png"];
  if (b.subarray(0, 4).toString() === "RIFF" && b.subarray(8, 12).toString() === "WEBP") {
    const chunk = b.subarray(12, 16).toString();
    if (chunk === "VP8X") return [1 + b.readUIntLE(24, 3), 1 + b.readUIntLE(27, 3), "webp"];
    if (chunk === "VP8L") {
      const bits = b.readUInt32LE(21);
      return [1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff), "webp"];
    }
    return [b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff, "webp"];
  }
  if (b[0] === 0xff && b[1] === 0xd8) {
    for (let i = 2; i < b.length; ) {
      const marker = b[i + 1];
      const length = b.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5), "jpg"];
      i += 2 + length;
    }
  }
  throw new Error("not a PNG, JPEG or WebP");
}

let saved = 0;
async function fetchImage(url) {
  const response = await fetch(url);
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200, `${url}: ${new TextDecoder().decode(bytes).slice(0, 200)}`);
  const [width, height, format] = size(bytes);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, `${saved++}-${width}x${height}.${format}`), bytes);
  return { width, height, format };
}

const client = new sdk.PromptpixClient(BASE, KEY);
let asset;

before(async () => {
  const made = await client.createGeneration({ prompt: "a teal bicycle by a brick wall", aspect_ratio: "16:9" });
  assert.equal(made.generated, true);
  asset = made.asset;
  assert.deepEqual([asset.width, asset.height], [1344, 768]);
});

// First after `before`: tests/integration/test_js_sdk.py runs one worker taking one job at a time, and delays the
// second draw (this job's first candidate), so the second job stays queued behind this one until it is cancelled.
test("jobs are submitted, cancelled while queued, and waited for", async () => {
  const start = (await client.balance()).remaining;
  const job = await client.submitGeneration({ prompt: "two green pears", aspect_ratio: "1:1", count: 2 });
  assert.deepEqual([job.status, job.count, job.asset_ids], ["queued", 2, []]);
  const queued = await client.submitGeneration({ prompt: "a queued fox" });
  assert.equal((await client.balance()).remaining, start - 3);
  const cancelled = await client.cancelJob(queued.id);
  assert.deepEqual([cancelled.id, cancelled.status], [queued.id, "cancelled"]);
  assert.equal((await client.balance()).remaining, start - 2);  // refunded
  await assert.rejects(client.cancelJob(queued.id), (error) => error instanceof sdk.PromptpixError && error.status === 409);
  await assert.rejects(client.waitForJob(queued.id), (error) => error instanceof sdk.JobFailedError && error.job.status === "cancelled");

  const done = await client.waitForJob(job.id, { timeout: 120, poll: 0.1 });
  assert.equal(done.status, "succeeded");
  assert.equal(new Set(done.asset_ids).size, 2);
  for (const id of done.asset_ids) {
    assert.deepEqual(await fetchImage(sdk.imageUrl(BASE, id, { w: 64, fm: "png" })), { width: 64, height: 64, format: "png" });
  }
  assert.deepEqual((await client.listJobs()).map((j) => j.id), [queued.id, job.id]);
  assert.deepEqual((await client.listJobs({ status: "succeeded" })).map((j) => j.id), [job.id]);
  await assert.rejects(client.waitForJob(queued.id, { poll: 0 }), RangeError);
  await assert.rejects(client.getJob("job_000000000000000000000000"), (error) => error.status === 404);
});

test("URL builder output decodes to the requested sizes", async () => {
  assert.deepEqual(await fetchImage(sdk.imageUrl(BASE, asset.id, { w: 300, h: 200, fit: "crop", fm: "webp" })), { width: 300, height: 200, format: "webp" });
  assert.deepEqual(await fetchImage(sdk.imageUrl(BASE, asset.id, { w: 250, ar: "1:1", fit: "crop", fm: "jpg", "fp-x": 0.1 })), { width: 250, height: 250, format: "jpg" });
  assert.equal(sdk.imageUrl(BASE, asset.id, { w: 200, h: 200, fit: "crop" }), asset.urls.presets.thumb);
  assert.equal(sdk.srcset(asset.urls.original, {}, { maxWidth: asset.width }), asset.urls.srcset);
  for (const candidate of sdk.srcset(sdk.imageUrl(BASE, asset.id, { fm: "png" }), {}, { maxWidth: asset.width }).split(", ")) {
    const [url, descriptor] = candidate.split(" ");
    const got = await fetchImage(url);
    assert.equal(`${got.width}w`, descriptor);
    assert.equal(got.format, "png");
  }
  const dense = sdk.srcset(sdk.imageUrl(BASE, asset.id), { w: 100, h: 100 }).split(", ");
  assert.deepEqual(dense.map((c) => c.split(" ")[1]), ["1x", "2x", "3x"]);
  assert.equal((await fetchImage(dense[2].split(" ")[0])).width, 300);
});

test("unpic-style transform resizes any promptpix URL", async () => {
  const wide = sdk.transform(asset.urls.original, { width: 480, height: 270, format: "webp" });
  assert.deepEqual(await fetchImage(wide), { width: 480, height: 270, format: "webp" });
  const narrower = sdk.transform(new URL(wide), { width: 160, height: 90 });  // keeps fm=webp
  assert.deepEqual(await fetchImage(narrower), { width: 160, height: 90, format: "webp" });
  const widthOnly = sdk.transform(asset.urls.original, { width: 168, format: "png" });  // the master's 7:4, an eighth of it
  assert.deepEqual(await fetchImage(widthOnly), { width: 168, height: 96, format: "png" });
  assert.throws(() => sdk.transform(`${BASE}/g/${PROJECT}?key=pk&prompt=x&sig=abc`, { width: 10 }), /signed/);
});

test("signer output is accepted by the server and equals the server's own signature", async () => {
  const secret = await client.rotateSigningSecret(PROJECT, KEY_ID, 0);
  const params = { w: "320", ar: "4:3", fit: "crop", fm: "webp", seed: "3" };
  const prompt = "a fox & a hound: 100% friends (again)!";
  const served = await client.signLink(PROJECT, { prompt, ...params }, { expiresIn: 3600 });
  const ours = await sdk.signLink(BASE, PROJECT, prompt, { keyId: KEY_ID, signingSecret: secret.signing_secret, params, expiresAt: served.expires });
  assert.equal(ours, served.url);
  assert.deepEqual(await fetchImage(ours), { width: 320, height: 240, format: "webp" });
  const tampered = ours.replace("w=320", "w=321");
  assert.equal((await fetch(tampered)).status, 403);
});

test("the REST client round-trips and reports problems", async () => {
  const named = await client.putName("bike", asset.id);
  assert.equal(named.url, `${BASE}/i/${PROJECT}/@bike`);
  assert.equal((await fetchImage(sdk.namedUrl(BASE, PROJECT, "bike", { w: 64 }))).width, 64);
  const found = [];
  for await (const a of client.iterAssets({ q: "teal bicycle", limit: 1 })) found.push(a.id);
  assert.deepEqual(found, [asset.id]);
  const uploaded = await client.uploadAsset(new Blob([await (await fetch(sdk.imageUrl(BASE, asset.id, { w: 40, fm: "png" }))).arrayBuffer()]), { filename: "x.png", name: "small" });
  assert.deepEqual([uploaded.width, uploaded.names], [40, ["small"]]);
  const style = await client.putStyle("ink", { prompt: "ink drawing", aspect_ratio: "1:1" });
  assert.equal(style.aspect_ratio, "1:1");
  assert.equal((await client.balance()).remaining, 6);  // 10 granted: `before`, the job's two candidates, the signed link
  await client.deleteStyle("ink");
  await assert.rejects(client.getStyle("ink"), (error) => error instanceof sdk.PromptpixError && error.status === 404);
  await assert.rejects(client.createGeneration({ prompt: "" }), (error) => error.status === 400);
});

test("a 429 is retried after Retry-After", async () => {
  // The first answer is a 429 from a wrapped fetch (the Python suite meets a real one); the retry reaches the service.
  let calls = 0;
  const flaky = async (input, init) => {
    calls += 1;
    if (calls === 1) return new Response('{"title":"Too Many Requests","detail":"slow down","status":429}', { status: 429, headers: { "Retry-After": "1" } });
    return fetch(input, init);
  };
  const started = Date.now();
  const balance = await new sdk.PromptpixClient(BASE, KEY, { fetch: flaky }).balance();
  assert.equal(calls, 2);
  assert.ok(Date.now() - started >= 1000, "retried before Retry-After");
  assert.equal(balance.account.plan, "prepaid");
  const refusing = async () => new Response('{"title":"Too Many Requests","detail":"slow down"}', { status: 429, headers: { "Retry-After": "7" } });
  const impatient = new sdk.PromptpixClient(BASE, KEY, { fetch: refusing, maxRetries: 0 });
  await assert.rejects(impatient.balance(), (error) => error.status === 429 && error.retryAfter === 7 && error.detail === "slow down");
});
