// @promptpix/client: image URLs and srcset (browser-safe), signed links (WebCrypto), the /v1 REST client,
// and an unpic-style `transform` for framework image components.
export { encode, generateUrl, imageUrl, namedUrl, SRCSET_WIDTHS, srcset, transform } from "./urls.js";
export type { Operations, Params, SrcsetOptions, Transform } from "./urls.js";
export { signedQuery, signLink } from "./sign.js";
export type { SignOptions } from "./sign.js";
export { JobFailedError, PromptpixClient, PromptpixError } from "./client.js";
export type * from "./client.js";
