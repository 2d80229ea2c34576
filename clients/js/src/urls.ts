// Image URLs without a round trip: /i/{id}, /i/{project}/@{name}, /g/{project}?prompt=…, srcset.
// Pure string work, so it runs in browsers, Node, Deno, Bun and edge runtimes alike.
// Any parameter name passes through unchanged; pairs are written sorted (one spelling per URL).

/** The common transform parameters (docs/delivery.md); any other name passes through. */
export interface Transform {
  w?: number;
  h?: number;
  fit?: "clip" | "crop" | "max" | "min" | "fill" | "fillmax" | "scale" | "facearea";
  fm?: "avif" | "webp" | "jpg" | "jpeg" | "pjpg" | "png";
  q?: number;
  dpr?: number;
  ar?: string;
  crop?: "focalpoint" | "attention" | "entropy" | "center";
  "fp-x"?: number;
  "fp-y"?: number;
  auto?: "format" | "compress" | "format,compress";
  blur?: number;
  bg?: string;
  preset?: string;
  [param: string]: string | number | boolean | undefined | null;
}

export type Params = Record<string, string | number | boolean | undefined | null>;

/** The widths the service lists in an asset's own srcset. */
export const SRCSET_WIDTHS: readonly number[] = [320, 640, 960, 1280, 1920, 2560];

/** Percent-encode like Python's `quote(value, safe=…)`: only A-Z a-z 0-9 - . _ ~ and `safe` stay as they are. */
export function encode(value: string, safe = ""): string {
  let out = encodeURIComponent(value).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  for (const c of safe) {
    const escaped = "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0");
    out = out.split(escaped).join(c);
  }
  return out;
}

function text(value: string | number | boolean): string {
  if (typeof value === "boolean") return value ? "true" : "false";
  return String(value);
}

export function sortedPairs(...sources: (Params | undefined)[]): [string, string][] {
  const merged: Record<string, string> = {};
  for (const source of sources) {
    for (const [k, v] of Object.entries(source ?? {})) {
      if (v === undefined) continue;
      if (v === null) delete merged[k];  // null removes a param given earlier
      else merged[k] = text(v);
    }
  }
  return Object.entries(merged).sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
}

export function query(pairs: [string, string][], safe = ""): string {
  return pairs.map(([k, v]) => `${encode(k, safe)}=${encode(v, safe)}`).join("&");
}

function join(base: string, path: string, q: string): string {
  return base.replace(/\/+$/, "") + path + (q ? `?${q}` : "");
}

/** `/i/{assetId}` with transform params, written as the service writes an asset's URLs (`ar=16:9`). */
export function imageUrl(base: string, assetId: string, params: Transform = {}): string {
  return join(base, `/i/${encode(assetId)}`, query(sortedPairs(params), ":"));
}

/** `/i/{project}/@{name}`: follows the name when it moves (cached for a minute, not forever). */
export function namedUrl(base: string, project: string, name: string, params: Transform = {}): string {
  return join(base, `/i/${encode(project)}/@${encode(name)}`, query(sortedPairs(params), ":"));
}

/** An unsigned `/g/` link; the project must allow unsigned links from the page's origin. */
export function generateUrl(base: string, project: string, prompt: string, key: string, params: Transform = {}): string {
  return join(base, `/g/${encode(project)}`, query(sortedPairs(params, { prompt, key })));
}

export interface SrcsetOptions {
  widths?: readonly number[];
  /** The master's width: larger widths are left out and the master itself ends the list (never an upscale). */
  maxWidth?: number;
}

function split(url: string): [string, Params] {
  const at = url.indexOf("?");
  if (at < 0) return [url, {}];
  const params: Params = {};
  for (const [k, v] of new URLSearchParams(url.slice(at + 1))) params[k] = v;
  return [url.slice(0, at), params];
}

/**
 * A `srcset` for an `/i/` URL (which may already carry params): widths (`320w`, …),
 * or densities (1x, 2x, 3x) when `w` or `h` is fixed.
 */
export function srcset(url: string, params: Transform = {}, options: SrcsetOptions = {}): string {
  const [base, given] = split(url);
  const merged = { ...given, ...params };
  const fixed = merged.w != null || merged.h != null;
  if (fixed) {
    return [1, 2, 3].map((d) => `${join(base, "", query(sortedPairs(merged, { dpr: d > 1 ? d : undefined }), ":"))} ${d}x`).join(", ");
  }
  const widths = (options.widths ?? SRCSET_WIDTHS).filter((w) => options.maxWidth === undefined || w < options.maxWidth);
  const parts = widths.map((w) => `${join(base, "", query(sortedPairs(merged, { w }), ":"))} ${w}w`);
  if (options.maxWidth !== undefined) parts.push(`${join(base, "", query(sortedPairs(merged), ":"))} ${options.maxWidth}w`);
  return parts.join(", ");
}

/** unpic's operations: what framework image components pass to a transformer. */
export interface Operations {
  width?: number;
  height?: number;
  format?: "avif" | "webp" | "jpg" | "jpeg" | "png" | "auto";
  quality?: number;
  fit?: Transform["fit"];
  [param: string]: string | number | boolean | undefined | null;
}

/**
 * unpic-style transformer: the same promptpix image at another size or format.
 * Works on `/i/` URLs and unsigned `/g/` links; a signed `/g/` link cannot change
 * without its signature breaking, so it throws (sign a new one instead).
 */
export function transform(src: string | URL, operations: Operations = {}): string {
  const url = typeof src === "string" ? src : src.toString();
  const [base, given] = split(url);
  if (given.sig != null) throw new Error("a signed /g/ link cannot be transformed: sign one with the new params");
  const { width, height, format, quality, ...rest } = operations;
  const ops: Params = { ...rest };
  if (width !== undefined) ops.w = width;
  if (height !== undefined) ops.h = height;
  // A component's box is filled, not letterboxed: both sides given means cover and cut (imgix's default fit is clip).
  if (width !== undefined && height !== undefined && ops.fit === undefined && given.fit == null) ops.fit = "crop";
  if (quality !== undefined) ops.q = quality;
  if (format === "auto") {
    ops.auto = "format";
    ops.fm = null;
  } else if (format) {
    ops.fm = format;
  }
  const isGenerate = /\/g\/[^/]+$/.test(new URL(base, "http://x").pathname);
  return join(base, "", query(sortedPairs(given, ops), isGenerate ? "" : ":"));
}
