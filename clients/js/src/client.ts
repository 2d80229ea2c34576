// The /v1 REST client over fetch. For servers and edge functions: it holds a secret key.
// Every POST carries an Idempotency-Key (random unless given) kept across retries;
// 429 and 503 are retried after the Retry-After the service sent. Jobs are polled by waitForJob.

export interface FocalPoint { x: number; y: number }
export interface AssetUrls { original: string; presets: Record<string, string>; srcset: string }
export interface Asset {
  id: string; source: "generated" | "uploaded"; mime: string; width: number; height: number; bytes: number;
  focal_point: FocalPoint; alt_text: string; tags: string[]; colors: string[]; names: string[];
  prompt: string | null; enhanced_prompt: string | null; style: string | null; model: string | null;
  offline: boolean; created_at: string; urls: AssetUrls;
  /** The root (or upload) a derived master was made from; null for every other asset. */
  parent_id: string | null;
  /** How a derived master was made from its parent: "extend", outpainted to another aspect class. */
  derivation: "extend" | null;
}
export interface Generation { asset: Asset; generated: boolean; link: string | null; step: { flow: number; position: number } | null }
export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export interface Job {
  id: string; status: JobStatus; stage: string; count: number; asset_ids: string[]; asset_urls: string[];
  error: string | null; attempts: number; prompt: string; created_at: string; started_at: string | null;
  finished_at: string | null; url: string;
}
export interface AssetPage { items: Asset[]; next_cursor: string | null }
export interface Name { name: string; asset_id: string; updated_at: string; url: string }
export interface Style { name: string; prompt: string; aspect_ratio: string | null; default: boolean; created_at: string; updated_at: string }
export interface Preset { name: string; query: string; builtin: boolean; updated_at: string | null }
export interface Flow { id: number; title: string; created_at: string; steps: { position: number; reference: string; prompt: string; asset: Asset | null }[] }
export interface Key {
  id: string; kind: string; name: string; scopes: string[]; allowed_origins: string[]; rate_limit: number | null;
  created_at: string; expires_at: string | null; revoked_at: string | null; last_used_at: string | null; replaced_by: string | null;
}
export interface CreatedKey { key: Key; secret: string }
export interface SigningSecret { key_id: string; signing_secret: string; others_retire_at: string }
export interface SignedLink { url: string; path: string; expires: number | null }
export interface Balance { account: Record<string, unknown> & { plan: string; balance: number }; remaining: number | null; low: boolean }
export interface UsageRow { group: string; generations: number; credits: number }
export interface Usage {
  since: string; until: string; per: "day" | "month"; periods: UsageRow[]; by_project: UsageRow[];
  by_model: UsageRow[]; by_key: UsageRow[]; total: { generations: number; credits: number };
}

export interface GenerationOrder {
  prompt: string; style?: string; aspect_ratio?: string; seed?: number; model?: string;
  references?: string[]; flow?: number; name?: string;
}

export interface JobOrder extends GenerationOrder {
  /** Candidates to draw, 1–4; `name` and `flow` take one image, so they go with `count` 1 only. */
  count?: number;
}

export interface WaitOptions {
  /** Seconds to wait in all before rejecting with a TimeoutError (300). */
  timeout?: number;
  /** Seconds before the first poll (0.5); each later poll waits 1.5 times longer, up to `maxPoll` (5). */
  poll?: number;
  maxPoll?: number;
}

/** A problem-details answer: the service's status, title and public message. */
export class PromptpixError extends Error {
  constructor(readonly status: number, readonly title: string, readonly detail: string, readonly retryAfter: number | null) {
    super(`${status} ${title}: ${detail}`);
    this.name = "PromptpixError";
  }
}

/** waitForJob saw the job fail or be cancelled: `job` is its last state, `detail` its error; `status` is the
 * poll's own HTTP status (200): the request worked, the job did not. */
export class JobFailedError extends PromptpixError {
  constructor(readonly job: Job) {
    super(200, job.status === "failed" ? "Job failed" : "Job cancelled", job.error ?? `the job was ${job.status}`, null);
    this.name = "JobFailedError";
  }
}

export interface ClientOptions {
  maxRetries?: number;
  /** Longest wait between retries, in seconds. */
  maxRetryWait?: number;
  fetch?: typeof fetch;
}

interface Call {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | undefined | null>;
  json?: unknown;
  form?: () => FormData;
  idempotencyKey?: string;
}

function retryAfter(response: Response): number | null {
  const value = response.headers.get("retry-after");
  if (value === null) return null;
  const seconds = Number(value);
  if (!Number.isNaN(seconds)) return Math.max(0, seconds);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}

const strip = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
const stringify = (params: Record<string, string | number>): Record<string, string> =>
  Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));

export class PromptpixClient {
  readonly baseUrl: string;
  private readonly maxRetries: number;
  private readonly maxRetryWait: number;
  private readonly fetcher: typeof fetch;

  constructor(baseUrl: string, private readonly apiKey: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.maxRetries = options.maxRetries ?? 3;
    this.maxRetryWait = options.maxRetryWait ?? 60;
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async send<T>(call: Call): Promise<T> {
    return this.decode<T>(await this.respond(call));
  }

  /** The last answer to `call`, after the retries of 429 and 503. */
  private async respond(call: Call): Promise<Response> {
    const url = new URL(this.baseUrl + call.path);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Authorization: `Bearer ${this.apiKey}` };
    if (call.method === "POST") headers["Idempotency-Key"] = call.idempotencyKey ?? crypto.randomUUID();
    if (call.json !== undefined) headers["Content-Type"] = "application/json";
    for (let attempt = 0; ; attempt++) {
      const body = call.form ? call.form() : call.json !== undefined ? JSON.stringify(call.json) : undefined;
      const response = await this.fetcher(url, { method: call.method, headers, body });
      if ((response.status === 429 || response.status === 503) && attempt < this.maxRetries) {
        const hinted = retryAfter(response);
        await response.body?.cancel();
        await new Promise((r) => setTimeout(r, 1000 * Math.min(this.maxRetryWait, hinted ?? 0.5 * 2 ** attempt)));
        continue;
      }
      return response;
    }
  }

  private async decode<T>(response: Response): Promise<T> {
    if (response.status >= 400) {
      const problem = (await response.json().catch(() => ({}))) as { title?: string; detail?: string };
      throw new PromptpixError(response.status, problem.title ?? response.statusText, problem.detail ?? response.statusText, retryAfter(response));
    }
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  createGeneration(order: GenerationOrder, idempotencyKey?: string): Promise<Generation> {
    return this.send({ method: "POST", path: "/v1/generations", json: order, idempotencyKey });
  }

  /** Queue a generation of `count` (1–4) candidates and get its job at once (`"wait": false`). */
  submitGeneration(order: JobOrder, idempotencyKey?: string): Promise<Job> {
    return this.send({ method: "POST", path: "/v1/generations", json: { ...order, wait: false }, idempotencyKey });
  }

  getJob(id: string): Promise<Job> {
    return this.send({ method: "GET", path: `/v1/jobs/${encodeURIComponent(id)}` });
  }

  /** The project's jobs, newest first; `before` is the last item's `created_at` for the next page. */
  listJobs(filters: { status?: JobStatus; limit?: number; before?: string } = {}): Promise<Job[]> {
    return this.send({ method: "GET", path: "/v1/jobs", query: filters });
  }

  /** Cancel a job no worker has taken (its reservations are refunded); a 409 PromptpixError once one has. */
  cancelJob(id: string): Promise<Job> {
    return this.send({ method: "DELETE", path: `/v1/jobs/${encodeURIComponent(id)}` });
  }

  /** Poll until the job succeeds; rejects with JobFailedError when it fails or is cancelled, a TimeoutError after `timeout`.
   * Waits what Retry-After says when the service sends it. */
  async waitForJob(id: string, options: WaitOptions = {}): Promise<Job> {
    const timeout = options.timeout ?? 300;
    const maxPoll = options.maxPoll ?? 5;
    let interval = options.poll ?? 0.5;
    if (!(timeout > 0 && interval > 0 && maxPoll >= interval)) throw new RangeError("timeout and poll must be positive, and maxPoll at least poll");
    const deadline = Date.now() + 1000 * timeout;
    const call: Call = { method: "GET", path: `/v1/jobs/${encodeURIComponent(id)}` };
    for (;;) {
      const response = await this.respond(call);
      const hinted = retryAfter(response);
      const job = await this.decode<Job>(response);
      if (job.status === "succeeded") return job;
      if (job.status === "failed" || job.status === "cancelled") throw new JobFailedError(job);
      const left = deadline - Date.now();
      if (left <= 0) throw new DOMException(`job ${id} is still ${job.status} after ${timeout} s`, "TimeoutError");
      await new Promise((r) => setTimeout(r, Math.min(left, 1000 * (hinted ?? interval))));
      interval = Math.min(maxPoll, interval * 1.5);
    }
  }

  uploadAsset(file: Blob, options: { filename?: string; name?: string; altText?: string; idempotencyKey?: string } = {}): Promise<Asset> {
    const form = () => {
      const data = new FormData();
      data.set("file", file, options.filename ?? "image");
      if (options.name !== undefined) data.set("name", options.name);
      if (options.altText !== undefined) data.set("alt_text", options.altText);
      return data;
    };
    return this.send({ method: "POST", path: "/v1/assets", form, idempotencyKey: options.idempotencyKey });
  }

  listAssets(filters: { limit?: number; cursor?: string; name?: string; tag?: string; source?: "generated" | "uploaded"; flow?: number; parent?: string; q?: string } = {}): Promise<AssetPage> {
    return this.send({ method: "GET", path: "/v1/assets", query: filters });
  }

  async *iterAssets(filters: Omit<Parameters<PromptpixClient["listAssets"]>[0] & object, "cursor"> = {}): AsyncGenerator<Asset> {
    let cursor: string | undefined;
    do {
      const page = await this.listAssets({ ...filters, cursor });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  getAsset(id: string): Promise<Asset> {
    return this.send({ method: "GET", path: `/v1/assets/${encodeURIComponent(id)}` });
  }

  updateAsset(id: string, patch: { focal_point?: FocalPoint; alt_text?: string; name?: string }): Promise<Asset> {
    return this.send({ method: "PATCH", path: `/v1/assets/${encodeURIComponent(id)}`, json: strip(patch) });
  }

  deleteAsset(id: string): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/assets/${encodeURIComponent(id)}` });
  }

  listNames(): Promise<Name[]> {
    return this.send({ method: "GET", path: "/v1/names" });
  }

  putName(name: string, assetId: string): Promise<Name> {
    return this.send({ method: "PUT", path: `/v1/names/${encodeURIComponent(name)}`, json: { asset_id: assetId } });
  }

  deleteName(name: string): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/names/${encodeURIComponent(name)}` });
  }

  listStyles(): Promise<Style[]> {
    return this.send({ method: "GET", path: "/v1/styles" });
  }

  getStyle(name: string): Promise<Style> {
    return this.send({ method: "GET", path: `/v1/styles/${encodeURIComponent(name)}` });
  }

  putStyle(name: string, style: { prompt: string; aspect_ratio?: string; default?: boolean }): Promise<Style> {
    return this.send({ method: "PUT", path: `/v1/styles/${encodeURIComponent(name)}`, json: strip(style) });
  }

  deleteStyle(name: string): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/styles/${encodeURIComponent(name)}` });
  }

  listPresets(): Promise<Preset[]> {
    return this.send({ method: "GET", path: "/v1/presets" });
  }

  getPreset(name: string): Promise<Preset> {
    return this.send({ method: "GET", path: `/v1/presets/${encodeURIComponent(name)}` });
  }

  putPreset(name: string, params: Record<string, string | number>): Promise<Preset> {
    return this.send({ method: "PUT", path: `/v1/presets/${encodeURIComponent(name)}`, json: { params: stringify(params) } });
  }

  deletePreset(name: string): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/presets/${encodeURIComponent(name)}` });
  }

  createFlow(title = "", idempotencyKey?: string): Promise<Flow> {
    return this.send({ method: "POST", path: "/v1/flows", json: { title }, idempotencyKey });
  }

  getFlow(id: number): Promise<Flow> {
    return this.send({ method: "GET", path: `/v1/flows/${id}` });
  }

  createKey(project: string, key: { kind: "publishable" | "secret"; name?: string; scopes?: string[]; expires_in?: number; allowed_origins?: string[]; rate_limit?: number }): Promise<CreatedKey> {
    return this.send({ method: "POST", path: `/v1/projects/${encodeURIComponent(project)}/keys`, json: strip(key) });
  }

  listKeys(project: string): Promise<Key[]> {
    return this.send({ method: "GET", path: `/v1/projects/${encodeURIComponent(project)}/keys` });
  }

  revokeKey(project: string, keyId: string): Promise<Key> {
    return this.send({ method: "DELETE", path: `/v1/projects/${encodeURIComponent(project)}/keys/${encodeURIComponent(keyId)}` });
  }

  rotateKey(project: string, keyId: string, graceSeconds?: number): Promise<CreatedKey> {
    const path = `/v1/projects/${encodeURIComponent(project)}/keys/${encodeURIComponent(keyId)}/rotate`;
    return this.send({ method: "POST", path, json: strip({ grace_seconds: graceSeconds }) });
  }

  rotateSigningSecret(project: string, keyId: string, graceSeconds?: number): Promise<SigningSecret> {
    const path = `/v1/projects/${encodeURIComponent(project)}/keys/${encodeURIComponent(keyId)}/signing-secrets`;
    return this.send({ method: "POST", path, json: strip({ grace_seconds: graceSeconds }) });
  }

  signLink(project: string, params: Record<string, string | number>, options: { keyId?: string; expiresIn?: number } = {}): Promise<SignedLink> {
    const json = strip({ params: stringify(params), key_id: options.keyId, expires_in: options.expiresIn });
    return this.send({ method: "POST", path: `/v1/projects/${encodeURIComponent(project)}/links`, json });
  }

  balance(): Promise<Balance> {
    return this.send({ method: "GET", path: "/v1/billing/balance" });
  }

  ledger(options: { limit?: number; before?: number } = {}): Promise<Record<string, unknown>[]> {
    return this.send({ method: "GET", path: "/v1/billing/ledger", query: options });
  }

  usage(options: { per?: "day" | "month"; since?: string; until?: string } = {}): Promise<Usage> {
    return this.send({ method: "GET", path: "/v1/billing/usage", query: options });
  }
}
