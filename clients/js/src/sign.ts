// Signed /g/ links with WebCrypto (Node 18+, Deno, Bun, Cloudflare Workers, Vercel Edge).
// Keep signing secrets on servers: a secret in a browser lets anyone sign links billed to you.
import { encode, sortedPairs, type Transform } from "./urls.js";

export interface SignOptions {
  /** The publishable key id (`pk_…`) the link names. */
  keyId: string;
  /** The base64url signing secret `POST /v1/projects/{p}/keys/{id}/signing-secrets` returned. */
  signingSecret: string;
  params?: Transform & { style?: string; seed?: number; model?: string };
  /** Seconds from now the link stays valid. */
  expiresIn?: number;
  /** Unix time the link stops working. */
  expiresAt?: number;
}

function fromBase64Url(value: string): Uint8Array {
  const b64 = value.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (value.length % 4)) % 4);
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function toBase64Url(bytes: ArrayBuffer): string {
  let raw = "";
  for (const b of new Uint8Array(bytes)) raw += String.fromCharCode(b);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The query of a signed link: pairs sorted, `sig` = base64url(HMAC-SHA256(secret, `path?query`)) last. */
export async function signedQuery(secret: Uint8Array, path: string, pairs: [string, string][]): Promise<string> {
  const body = pairs
    .filter(([k]) => k !== "sig")
    .map(([k, v]) => `${encode(k)}=${encode(v)}`)
    .join("&");
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const digest = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${path}?${body}`));
  return `${body}&sig=${toBase64Url(digest)}`;
}

/** A signed `/g/` link, exactly as `POST /v1/projects/{p}/links` would make it. */
export async function signLink(base: string, project: string, prompt: string, options: SignOptions): Promise<string> {
  if (options.expiresIn !== undefined && options.expiresAt !== undefined) throw new Error("give expiresIn or expiresAt, not both");
  const exp = options.expiresIn !== undefined ? Math.floor(Date.now() / 1000) + options.expiresIn : options.expiresAt;
  const pairs = sortedPairs(options.params, { prompt, key: options.keyId, exp, sig: undefined }).filter(([k]) => k !== "sig");
  const path = `/g/${encode(project)}`;
  return `${base.replace(/\/+$/, "")}${path}?${await signedQuery(fromBase64Url(options.signingSecret), path, pairs)}`;
}
