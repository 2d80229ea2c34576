// Compiled with `tsc --noEmit` only: what a TypeScript user writes must type-check, and misuse must not.
import { imageUrl, JobFailedError, PromptpixClient, PromptpixError, signLink, srcset, transform, type Asset, type Job, type Transform } from "../src/index.js";

const params: Transform = { w: 800, fit: "crop", fm: "webp", "fp-x": 0.3, custom: "passes through" };
const url: string = imageUrl("https://img.example.com", "abc", params);
const set: string = srcset(url, { fm: "avif" }, { maxWidth: 1024 });
const resized: string = transform(url, { width: 400, height: 300, format: "auto" });
const signed: Promise<string> = signLink("https://img.example.com", "site", "a fox", { keyId: "pk_x", signingSecret: "c2VjcmV0", expiresIn: 60 });

async function use(client: PromptpixClient): Promise<Asset> {
  const made = await client.createGeneration({ prompt: "a fox", aspect_ratio: "16:9" });
  const width: number = made.asset.width;
  for await (const asset of client.iterAssets({ q: "fox" })) void asset.urls.srcset;
  for await (const derived of client.iterAssets({ parent: made.asset.id })) {
    const root: string | null = derived.parent_id;
    const how: "extend" | null = derived.derivation;
    void [root, how];
  }
  // @ts-expect-error fit takes only the documented values
  imageUrl("https://img.example.com", "abc", { fit: "cover" });
  // @ts-expect-error a generation needs a prompt
  await client.createGeneration({ seed: 1 });
  const job: Job = await client.submitGeneration({ prompt: "a fox", count: 2 });
  const done: Job = await client.waitForJob(job.id, { timeout: 60, poll: 0.2 });
  const ids: string[] = done.asset_ids;
  void [ids, await client.listJobs({ status: "queued", limit: 10 }), await client.cancelJob(job.id)];
  try {
    await client.waitForJob(job.id);
  } catch (error) {
    const failed: PromptpixError | null = error instanceof JobFailedError ? error : null;
    if (error instanceof JobFailedError) void error.job.error;
    void failed;
  }
  // @ts-expect-error a job's status is one of the five the service names
  await client.listJobs({ status: "done" });
  // @ts-expect-error waitForJob takes the job's id
  await client.waitForJob(done);
  return width > 0 ? made.asset : client.getAsset(made.asset.id);
}
void [set, resized, signed, use];
