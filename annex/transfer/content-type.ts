import { basename } from "node:path";

/**
 * What the S3 console shows for an annexed object: a content type guessed from the original name, and the
 * name itself as user metadata (S3 metadata is ASCII, so other names are percent-encoded).
 */
const TYPES: Record<string, string> = {
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  json: "application/json",
  xml: "application/xml",
  html: "text/html",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tgz: "application/gzip",
  tar: "application/x-tar",
  xz: "application/x-xz",
  "7z": "application/x-7z-compressed",
  iso: "application/x-iso9660-image",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
  tif: "image/tiff",
  tiff: "image/tiff",
  svg: "image/svg+xml",
  mp3: "audio/mpeg",
  flac: "audio/flac",
  wav: "audio/wav",
  ogg: "audio/ogg",
  m4a: "audio/mp4",
  mp4: "video/mp4",
  mov: "video/quicktime",
  mkv: "video/x-matroska",
  webm: "video/webm",
  avi: "video/x-msvideo",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  odt: "application/vnd.oasis.opendocument.text",
};

export function contentTypeFor(fileName: string): string {
  const ext = basename(fileName).split(".").pop()?.toLowerCase() ?? "";
  return TYPES[ext] ?? "application/octet-stream";
}

export function objectMetadata(fileName: string | undefined): Record<string, string> {
  if (!fileName) return {};
  const name = basename(fileName);
  // Printable ASCII is all an HTTP header value may carry as is.
  return { filename: /^[\x20-\x7e]*$/.test(name) ? name : encodeURIComponent(name) };
}
