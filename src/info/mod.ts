/**
 * `nook info`: what nook sees on this host, one section per concern. Other
 * concerns register their own section in {@link INFO_PROVIDERS}.
 *
 * @module
 */
export { collectInfo, formatInfo, INFO_PROVIDERS, type InfoProvider, type InfoSection, type InfoValue } from "./providers.ts";
