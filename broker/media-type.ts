// The data's media type, read the same way on both sides of the broker: the edge takes only data
// it can validate (JSON), and the bridge splices JSON data into structured-mode deliveries as it is.

/** What the data is when no datacontenttype says otherwise: the edge only ever stores JSON. */
export const DEFAULT_DATA_CONTENT_TYPE = "application/json";

/** The media type of a Content-Type value, without parameters, lower-cased. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** JSON media types (RFC 8259 `application/json`, `text/json`, and any `+json` suffix, RFC 6839). */
export function isJsonMediaType(contentType: string | undefined): boolean {
  const type = mediaType(contentType);
  return type === "application/json" || type === "text/json" || /^[a-z0-9.+-]+\/[a-z0-9.+-]+\+json$/.test(type);
}
